import { describe, expect, test } from 'bun:test';
import type { EventsPage } from '../lib/presenter/core/wire.ts';
import { buildRecord } from './support/builders.ts';
import { createKrateoLikeClient } from './support/krateo-client.ts';
import { listEventsIn, startPresenterHarness } from './support/presenter-harness.ts';

/** The Go events-presenter's payload keys, in its order. */
const goPayloadKeys = [
  'event_id', 'global_uid', 'cluster_name', 'namespace', 'resource_kind', 'resource_name', 'involved_object_uid',
  'event_type', 'reason', 'message', 'composition_id', 'created_at',
];
const composition = '0b9f3c2e-1d4a-4c6b-9e8f-123456789abc';

describe('the Krateo frontend contract', () => {
  test('a client written like the frontend sees the Go payload fields, survives a reconnect via lastEventId without loss, and dedupes by global_uid', async () => {
    await using h = await startPresenterHarness();
    const token = await h.addUser('portal-user', listEventsIn(['demo']));
    await using client = createKrateoLikeClient({ url: `${h.url}/notifications?composition_id=${composition}`, token });
    await client.connect();
    const first = buildRecord({ namespace: 'demo', composition_id: composition, uid: 'ev-1', global_uid: 'test:ev-1', count: 1, resource_version: '10' });
    const [firstSeq] = await h.insert(first, buildRecord({ namespace: 'demo', resource_name: 'other-composition' }));
    await client.waitForDeliveries(1);

    await client.reconnect();
    // Missed while reconnecting: a count bump of the same Event, and a new one.
    await h.insert(
      { ...first, resource_version: '11', count: 2, message: 'seen twice', created_at: new Date(Date.now() + 1000).toISOString() },
      buildRecord({ namespace: 'demo', composition_id: composition, uid: 'ev-2', global_uid: 'test:ev-2' }),
    );
    await client.waitForDeliveries(3);

    expect(client.requestedUrls).toEqual([
      `/notifications?composition_id=${composition}`,
      `/notifications?composition_id=${composition}&lastEventId=${firstSeq}`,
    ]);
    expect(client.deliveries.map((e) => Object.keys(e))).toEqual(Array(3).fill(goPayloadKeys));
    expect([...client.events.values()].map((e) => ({ global_uid: e.global_uid, message: e.message, composition_id: e.composition_id }))).toEqual([
      { global_uid: 'test:ev-1', message: 'seen twice', composition_id: composition },
      { global_uid: 'test:ev-2', message: 'started container', composition_id: composition },
    ]);
  });

  test('/events?composition_id=X&limit=200 answers .resources with the composition\'s events', async () => {
    await using h = await startPresenterHarness();
    const token = await h.addUser('portal-user', listEventsIn(['demo']));
    await h.insert(
      buildRecord({ namespace: 'demo', composition_id: composition, resource_name: 'fireworks' }),
      buildRecord({ namespace: 'demo', resource_name: 'unrelated' }),
    );
    const response = await fetch(`${h.url}/events?composition_id=${composition}&limit=200`, { headers: { authorization: `Bearer ${token}` } });
    const body = (await response.json()) as EventsPage;
    expect({ status: response.status, names: body.resources.map((r) => r.resource_name), keys: Object.keys(body.resources[0]!) }).toEqual({
      status: 200,
      names: ['fireworks'],
      keys: [...goPayloadKeys, 'raw'],
    });
  });
});
