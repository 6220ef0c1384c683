import { describe, expect, test } from 'bun:test';
import type { EventsPage } from '../lib/presenter/core/wire.ts';
import { buildRecord } from './support/builders.ts';
import { buildKubeEvent, startTestIngester, waitFor } from './support/ingester-fixtures.ts';
import { listEventsIn, startPresenterHarness, type PresenterHarness } from './support/presenter-harness.ts';

const get = async (h: PresenterHarness, token: string, query = '') => {
  const response = await fetch(`${h.url}/events${query}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: response.status, body: (await response.json()) as EventsPage & { code?: string; message?: string } };
};
const names = (page: EventsPage) => page.resources.map((r) => r.resource_name);
// RFC 3339 as the API writes it: no fraction when it is zero.
const at = (minute: number) => new Date(Date.UTC(2025, 0, 1, 12, minute)).toISOString().replace('.000Z', 'Z');

describe('GET|POST /events', () => {
  test('returns the latest version of each event, newest first, with raw as a JSON string', async () => {
    await using h = await startPresenterHarness();
    const token = await h.addUser('root', listEventsIn());
    await h.insert(
      buildRecord({ uid: 'e1', global_uid: 'test:e1', resource_name: 'one', created_at: at(1), resource_version: '1', count: 1 }),
      buildRecord({ uid: 'e2', global_uid: 'test:e2', resource_name: 'two', created_at: at(2), resource_version: '2' }),
    );
    await h.insert(buildRecord({ uid: 'e1', global_uid: 'test:e1', resource_name: 'one', created_at: at(3), resource_version: '3', count: 2, raw: '{"count":2}' }));
    const { status, body } = await get(h, token);
    expect(status).toBe(200);
    expect(body).toEqual({
      resources: [
        expect.objectContaining({ global_uid: 'test:e1', resource_name: 'one', created_at: at(3), raw: '{"count":2}' }),
        expect.objectContaining({ global_uid: 'test:e2', resource_name: 'two', created_at: at(2) }),
      ],
    });
    expect(Object.keys(body.resources[0]!)).toEqual([
      'event_id', 'global_uid', 'cluster_name', 'namespace', 'resource_kind', 'resource_name', 'involved_object_uid',
      'event_type', 'reason', 'message', 'composition_id', 'created_at', 'raw',
    ]);
  });

  test('created_at keeps the stored microseconds, trailing zeros dropped as Go writes RFC 3339', async () => {
    await using h = await startPresenterHarness();
    const token = await h.addUser('root', listEventsIn());
    const stamps = ['2025-01-01T12:00:00.654321Z', '2025-01-01T12:00:01.5Z', '2025-01-01T12:00:02.000100Z', '2025-01-01T12:00:03Z'];
    await h.insert(...stamps.map((created_at, i) => buildRecord({ resource_name: `r${i}`, created_at })));
    const response = await fetch(`${h.url}/events`, { headers: { authorization: `Bearer ${token}` } });
    const text = await response.text();
    expect([...text.matchAll(/"created_at":"([^"]+)"/g)].map((m) => m[1])).toEqual([
      '2025-01-01T12:00:03Z',
      '2025-01-01T12:00:02.0001Z',
      '2025-01-01T12:00:01.5Z',
      '2025-01-01T12:00:00.654321Z',
    ]);
  });

  test('labels matches the Event\'s own labels, not those of its involved object', async () => {
    await using h = await startPresenterHarness();
    const token = await h.addUser('root', listEventsIn());
    const comp = '44444444-4444-4444-8444-444444444444';
    h.sim.setObject({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'apps', labels: { app: 'web', 'krateo.io/composition-id': comp } } });
    // The harness presenter's own cluster is 'test': the ingester stores its rows under that name.
    await using _ingester = await startTestIngester({ databaseUrl: h.db.url, kubeconfig: await h.sim.adminKubeconfig(), env: { CLUSTER_NAME: 'test' } });
    h.sim.createEvent(buildKubeEvent({
      metadata: { name: 'web.1', namespace: 'apps', labels: { source: 'event' } },
      involvedObject: { apiVersion: 'v1', kind: 'Pod', namespace: 'apps', name: 'web' },
    }));
    await waitFor(async () => ((await get(h, token)).body.resources.length === 1 ? true : undefined), { what: 'the event stored' });
    const queries = ['?labels=source=event', '?labels=app=web', `?labels=krateo.io/composition-id=${comp}`, `?composition_id=${comp}`];
    const answers = await Promise.all(queries.map(async (q) => [q, names((await get(h, token, q)).body)]));
    expect(answers).toEqual([
      ['?labels=source=event', ['web']],
      ['?labels=app=web', []],
      [`?labels=krateo.io/composition-id=${comp}`, []],
      [`?composition_id=${comp}`, ['web']],
    ]);
  });

  test('answers resources [] when nothing matches', async () => {
    await using h = await startPresenterHarness();
    const token = await h.addUser('root', listEventsIn());
    expect(await get(h, token)).toEqual({ status: 200, body: { resources: [] } });
  });

  test('each user sees only the namespaces it may list; a cluster-wide user sees all', async () => {
    await using h = await startPresenterHarness();
    const alice = await h.addUser('alice', listEventsIn(['team-a']));
    const bob = await h.addUser('bob', listEventsIn(['team-b']));
    const root = await h.addUser('root', listEventsIn());
    await h.insert(
      buildRecord({ namespace: 'team-a', resource_name: 'a', created_at: at(1) }),
      buildRecord({ namespace: 'team-b', resource_name: 'b', created_at: at(2) }),
      buildRecord({ namespace: 'other', resource_name: 'o', created_at: at(3) }),
    );
    expect(names((await get(h, alice)).body)).toEqual(['a']);
    expect(names((await get(h, bob)).body)).toEqual(['b']);
    expect(names((await get(h, root)).body)).toEqual(['o', 'b', 'a']);
    expect(names((await get(h, alice, '?namespace=team-b')).body)).toEqual([]);
  });

  test('applies each filter, on GET and on POST with a JSON body', async () => {
    // Cluster c2 is authorised by the same API server, so the cluster filter has rows to choose.
    await using h = await startPresenterHarness({}, { sameSimClusters: ['c2'] });
    const token = await h.addUser('root', listEventsIn());
    const comp = '11111111-2222-3333-4444-555555555555';
    await h.insert(
      buildRecord({ resource_name: 'base', created_at: at(1) }),
      buildRecord({ resource_name: 'cluster', cluster_name: 'c2', created_at: at(2) }),
      buildRecord({ resource_name: 'ns', namespace: 'ns2', created_at: at(3) }),
      buildRecord({ resource_name: 'kind', resource_kind: 'apps/v1.Deployment', created_at: at(4) }),
      buildRecord({ resource_name: 'warn', event_type: 'Warning', created_at: at(5) }),
      buildRecord({ resource_name: 'reason', reason: 'BackOff', created_at: at(6) }),
      buildRecord({ resource_name: 'comp', composition_id: comp, created_at: at(7) }),
      buildRecord({ resource_name: 'iou', involved_object_uid: 'obj-1', created_at: at(8) }),
      buildRecord({ resource_name: 'labelled', labels: JSON.stringify({ 'krateo.io/composition-id': comp, app: 'x' }), created_at: at(9) }),
    );
    const cases: [string, string[]][] = [
      ['?cluster=c2', ['cluster']],
      ['?namespace=ns2', ['ns']],
      ['?namespace=ns2&namespace=default&limit=2', ['labelled', 'iou']],
      ['?kind=apps/v1.Deployment', ['kind']],
      ['?name=warn', ['warn']],
      ['?type=Warning', ['warn']],
      ['?reason=BackOff', ['reason']],
      [`?composition_id=${comp}`, ['comp']],
      ['?involved_object_uid=obj-1', ['iou']],
      [`?labels=krateo.io/composition-id=${comp},app=x`, ['labelled']],
      [`?since=${at(8)}`, ['labelled', 'iou']],
      [`?until=${at(2)}`, ['base']],
      [`?since=${at(2)}&until=${at(4)}`, ['ns', 'cluster']],
    ];
    for (const [query, expected] of cases) {
      expect({ query, names: names((await get(h, token, query)).body) }).toEqual({ query, names: expected });
    }
    const posted = await fetch(`${h.url}/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ namespace: ['ns2'], limit: 5 }),
    });
    expect(names((await posted.json()) as EventsPage)).toEqual(['ns']);
    const krateo = await get(h, token, `?composition_id=${comp}&limit=200`);
    expect(names(krateo.body)).toEqual(['comp']);
  });

  test('pages to the end with no duplicates or gaps while rows are inserted, the last page without a cursor', async () => {
    await using h = await startPresenterHarness();
    const token = await h.addUser('root', listEventsIn());
    const initial = Array.from({ length: 23 }, (_, i) => buildRecord({ resource_name: `r${i}`, created_at: at(i % 5) }));
    await h.insert(...initial);
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = (await get(h, token, `?limit=5${cursor ? `&cursor=${cursor}` : ''}`)).body;
      seen.push(...page.resources.map((r) => r.global_uid));
      cursor = page.cursor;
      pages++;
      // Newer rows and a newer version of an already listed event arrive between pages.
      await h.insert(buildRecord({ created_at: at(30 + pages) }), { ...initial[pages]!, resource_version: `v${pages}`, created_at: at(40 + pages) });
    } while (cursor);
    expect(pages).toBe(5);
    expect(seen.toSorted()).toEqual(initial.map((r) => r.global_uid).toSorted());
  });

  test('answers 400 JSON with a stable code and no SQL text for bad input', async () => {
    await using h = await startPresenterHarness();
    const token = await h.addUser('root', listEventsIn());
    const cases: [string, string][] = [
      ['?cursor=abc', 'invalid_cursor'],
      [`?cursor=${Buffer.from('["x\'; drop table k8s_events; --",1,2]').toString('base64url')}`, 'invalid_cursor'],
      ['?limit=0', 'invalid_limit'],
      ['?limit=1001', 'invalid_limit'],
      ['?limit=ten', 'invalid_limit'],
      ['?labels=a=b=c', 'invalid_parameter'],
      ['?labels=%3Dvalue', 'invalid_parameter'],
      ['?since=yesterday', 'invalid_parameter'],
      ['?until=2025-13-45T99:00:00Z', 'invalid_parameter'],
      ['?composition_id=not-a-uuid', 'invalid_parameter'],
    ];
    for (const [query, code] of cases) {
      const { status, body } = await get(h, token, query);
      expect({ query, status, code: body.code }).toEqual({ query, status: 400, code });
      expect(body.message).not.toMatch(/select|k8s_events|syntax|postgres/i);
    }
    const badBody = await fetch(`${h.url}/events`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: '[1' });
    expect({ status: badBody.status, body: await badBody.json() }).toEqual({
      status: 400,
      body: { code: 'invalid_body', message: 'body must be a JSON object' },
    });
  });
});
