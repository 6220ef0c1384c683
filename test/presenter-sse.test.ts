import { describe, expect, test } from 'bun:test';
import { buildRecord } from './support/builders.ts';
import { listEventsIn, startPresenterHarness } from './support/presenter-harness.ts';
import { openSse, type SseFrame } from './support/sse-client.ts';

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const eventFrames = (frames: SseFrame[]) => frames.filter((f) => f.event === 'krateo');

describe('GET /notifications', () => {
  test('starts with a retry hint carrying the live start id, then sends exact event frames', async () => {
    await using h = await startPresenterHarness();
    const token = await h.addUser('alice', listEventsIn(['team-a']));
    const [firstSeq] = await h.insert(buildRecord({ namespace: 'team-a' }));
    await using stream = await openSse(`${h.url}/notifications`, bearer(token));
    expect(stream.response.status).toBe(200);
    expect(stream.response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const open = await stream.next();
    expect(open.text).toBe(`: connected\nretry: 3000\nid: ${firstSeq}\n\n`);

    const record = buildRecord({
      namespace: 'team-a',
      created_at: '2025-03-04T05:06:07.123Z',
      composition_id: '11111111-2222-3333-4444-555555555555',
      involved_object_uid: 'pod-uid-1',
      reason: 'BackOff',
      message: 'restarting "x"',
      event_type: 'Warning',
    });
    const [seq] = await h.insert(record);
    const frame = await stream.next();
    const [row] = await h.sql<{ event_id: string }[]>`select event_id from k8s_events where seq = ${seq!}`;
    const data = JSON.stringify({
      event_id: row!.event_id,
      global_uid: record.global_uid,
      cluster_name: 'test',
      namespace: 'team-a',
      resource_kind: 'v1.Pod',
      resource_name: 'pod-1',
      involved_object_uid: 'pod-uid-1',
      event_type: 'Warning',
      reason: 'BackOff',
      message: 'restarting "x"',
      composition_id: '11111111-2222-3333-4444-555555555555',
      created_at: '2025-03-04T05:06:07.123Z',
    });
    expect(frame.text).toBe(`id: ${seq}\nevent: krateo\ndata: ${data}\n\n`);
  });

  test('sends comment heartbeats on a quiet stream and keeps it open past several intervals', async () => {
    await using h = await startPresenterHarness({ heartbeatIntervalMs: 200 });
    const token = await h.addUser('alice', listEventsIn(['team-a']));
    await using stream = await openSse(`${h.url}/notifications`, bearer(token));
    await stream.next();
    const heartbeats = [await stream.next(2000), await stream.next(2000), await stream.next(2000), await stream.next(2000)];
    expect(heartbeats.map((f) => f.text)).toEqual(Array(4).fill(': heartbeat\n\n'));
    expect(stream.ended).toBe(false);
  });

  test('two users with different RBAC each receive exactly the namespaces they may list, a cluster-wide user all', async () => {
    await using h = await startPresenterHarness();
    const alice = await h.addUser('alice', listEventsIn(['team-a']));
    const bob = await h.addUser('bob', listEventsIn(['team-b', 'shared']));
    const root = await h.addUser('root', listEventsIn());
    await using a = await openSse(`${h.url}/notifications`, bearer(alice));
    await using b = await openSse(`${h.url}/notifications`, bearer(bob));
    await using r = await openSse(`${h.url}/notifications`, bearer(root));
    for (const s of [a, b, r]) await s.next();
    const seqs = await h.insert(
      buildRecord({ namespace: 'team-a' }),
      buildRecord({ namespace: 'team-b' }),
      buildRecord({ namespace: 'shared' }),
      buildRecord({ namespace: 'other' }),
    );
    const marker = await h.insert(buildRecord({ namespace: 'team-a' }), buildRecord({ namespace: 'team-b' }));
    const rootFrames = eventFrames(await r.until((f) => f.id === String(marker[1])));
    const aliceFrames = eventFrames(await a.until((f) => f.id === String(marker[0])));
    const bobFrames = eventFrames(await b.until((f) => f.id === String(marker[1])));
    expect(aliceFrames.map((f) => f.id)).toEqual([seqs[0], marker[0]].map(String));
    expect(bobFrames.map((f) => f.id)).toEqual([seqs[1], seqs[2], marker[1]].map(String));
    expect(rootFrames.map((f) => f.id)).toEqual([...seqs, ...marker].map(String));
  });
});
