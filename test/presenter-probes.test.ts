import { describe, expect, test } from 'bun:test';
import { listEventsIn, startPresenterHarness } from './support/presenter-harness.ts';
import { openSse } from './support/sse-client.ts';

describe('presenter probes and shutdown', () => {
  test('serves /livez, /readyz and the OpenAPI document without a token', async () => {
    await using h = await startPresenterHarness();
    const live = await fetch(`${h.url}/livez`);
    const ready = await fetch(`${h.url}/readyz`);
    const spec = await fetch(`${h.url}/openapi.json`);
    expect([live.status, await live.json()]).toEqual([200, { status: 'ok' }]);
    expect([ready.status, await ready.json()]).toEqual([200, { status: 'ready' }]);
    const doc = (await spec.json()) as { openapi: string; paths: Record<string, unknown> };
    expect([spec.status, Object.keys(doc.paths)]).toEqual([200, ['/livez', '/readyz', '/notifications', '/events', '/events/histogram', '/events/facets']]);
    const unknown = await fetch(`${h.url}/nope`);
    expect([unknown.status, await unknown.json()]).toEqual([404, { code: 'not_found', message: 'no such endpoint' }]);
  });

  test('on shutdown tells open streams to resume from their last id and closes them', async () => {
    await using h = await startPresenterHarness();
    const token = await h.addUser('alice', listEventsIn(['team-a']));
    await using s = await openSse(`${h.url}/notifications`, { authorization: `Bearer ${token}` });
    const open = await s.next();
    await h.presenter.stop();
    const last = await s.next();
    expect(open.id).toBe('0');
    expect(last.text).toBe(`id: 0\nevent: resume\ndata: {"last_event_id":"0","reason":"shutdown"}\n\n`);
    await expect(s.next()).rejects.toThrow('stream ended');
  });
});
