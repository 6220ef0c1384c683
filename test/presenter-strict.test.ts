import { describe, expect, test } from 'bun:test';
import { KubeConfig } from '@kubernetes/client-node';
import type { EventsPage } from '../lib/presenter/core/wire.ts';
import { createKindResolver, parseResourceKind } from '../lib/presenter/access/kind-resolver.ts';
import { createDiscoveryClient } from '../lib/kube/discovery.ts';
import { silentLogger } from '../lib/runtime/log.ts';
import { startSimulator, type RbacRule } from '../dev/simulator/index.ts';
import { buildRecord } from './support/builders.ts';
import { createTestClock, listEventsIn, startPresenterHarness, type PresenterHarness } from './support/presenter-harness.ts';
import { openSse, type SseFrame } from './support/sse-client.ts';

const getIn = (apiGroups: string[], resources: string[], namespaces?: string[]): RbacRule => ({
  verbs: ['get'],
  apiGroups,
  resources,
  ...(namespaces ? { namespaces } : {}),
});

/** Alice may list events in team-a and get deployments and FireworksApps there, but not pods. */
const aliceRules = [
  ...listEventsIn(['team-a']),
  getIn(['apps'], ['deployments'], ['team-a']),
  getIn(['composition.krateo.io'], ['fireworksapps'], ['team-a']),
];

/** One event per kind in team-a, plus a Deployment event in team-b (not listable by alice). */
const kindRecords = () => [
  buildRecord({ namespace: 'team-a', resource_kind: 'v1.Pod', resource_name: 'pod' }),
  buildRecord({ namespace: 'team-a', resource_kind: 'apps/v1.Deployment', resource_name: 'deploy' }),
  buildRecord({ namespace: 'team-a', resource_kind: 'composition.krateo.io/v1-2-0.FireworksApp', resource_name: 'fireworks' }),
  buildRecord({ namespace: 'team-a', resource_kind: 'Deployment', resource_name: 'bare-deploy' }),
  buildRecord({ namespace: 'team-a', resource_kind: 'example.com/v1.Widget', resource_name: 'unknown-kind' }),
  buildRecord({ namespace: 'team-b', resource_kind: 'apps/v1.Deployment', resource_name: 'other-ns' }),
];

async function strictWorld(strict: boolean) {
  const h = await startPresenterHarness({ authzStrict: strict });
  h.sim.setObject({ apiVersion: 'composition.krateo.io/v1-2-0', kind: 'FireworksApp', metadata: { namespace: 'team-a', name: 'fireworks' } });
  const alice = await h.addUser('alice', aliceRules);
  return { h, alice };
}

const names = (page: EventsPage) => page.resources.map((r) => r.resource_name).toSorted();
const frameNames = (frames: SseFrame[]) =>
  frames.filter((f) => f.event === 'krateo').map((f) => (JSON.parse(f.data!) as { resource_name: string }).resource_name).toSorted();
const listEvents = async (h: PresenterHarness, token: string, query = '') =>
  (await (await fetch(`${h.url}/events${query}`, { headers: { authorization: `Bearer ${token}` } })).json()) as EventsPage;

describe('strict authorisation (AUTHZ_STRICT)', () => {
  test('a user who may list events but not get pods sees no Pod events, but the kinds it may get: on /events, live and on replay', async () => {
    const { h, alice } = await strictWorld(true);
    await using _ = h;
    const expected = ['bare-deploy', 'deploy', 'fireworks'];
    await using live = await openSse(`${h.url}/notifications`, { authorization: `Bearer ${alice}` });
    await live.next();
    const seqs = await h.insert(...kindRecords());
    const [marker] = await h.insert(buildRecord({ namespace: 'team-a', resource_kind: 'apps/v1.Deployment', resource_name: 'marker' }));
    expect(frameNames(await live.until((f) => f.id === String(marker)))).toEqual([...expected, 'marker'].toSorted());

    expect(names(await listEvents(h, alice))).toEqual([...expected, 'marker'].toSorted());
    expect(names(await listEvents(h, alice, '?kind=v1.Pod'))).toEqual([]);
    expect(names(await listEvents(h, alice, '?kind=apps/v1.Deployment&namespace=team-a'))).toEqual(['deploy', 'marker']);

    await using replay = await openSse(`${h.url}/notifications?lastEventId=${seqs[0]! - 1}`, { authorization: `Bearer ${alice}` });
    await replay.next();
    expect(frameNames(await replay.until((f) => f.id === String(marker)))).toEqual([...expected, 'marker'].toSorted());
  });

  test('in normal mode the same user sees the Pod events of the namespaces it may list', async () => {
    const { h, alice } = await strictWorld(false);
    await using _ = h;
    await h.insert(...kindRecords());
    expect(names(await listEvents(h, alice))).toEqual(['bare-deploy', 'deploy', 'fireworks', 'pod', 'unknown-kind']);
  });

  test('a kind API discovery does not know is hidden, even from a user who may get everything everywhere', async () => {
    const { h } = await strictWorld(true);
    await using _ = h;
    const root = await h.addUser('root', [...listEventsIn(), { verbs: ['get'], resources: ['*'] }]);
    await h.insert(...kindRecords());
    expect(names(await listEvents(h, root))).toEqual(['bare-deploy', 'deploy', 'fireworks', 'other-ns', 'pod']);
  });

  test('a revoked get permission hides that kind within the cache TTL', async () => {
    const clock = createTestClock();
    const h = await startPresenterHarness({ authzStrict: true, authzCacheTtlMs: 200 }, { now: clock.now });
    await using _ = h;
    const alice = await h.addUser('alice', [...listEventsIn(['team-a']), getIn([''], ['pods'], ['team-a'])]);
    await h.insert(buildRecord({ namespace: 'team-a', resource_name: 'pod' }));
    expect(names(await listEvents(h, alice))).toEqual(['pod']);
    h.sim.setRbac('alice', listEventsIn(['team-a']));
    // Within the TTL the cached permission still holds; once it has passed, the kind is hidden.
    clock.advance(199);
    expect(names(await listEvents(h, alice))).toEqual(['pod']);
    clock.advance(2);
    expect(names(await listEvents(h, alice))).toEqual([]);
  });
});

describe('mapping resource_kind to a resource with API discovery', () => {
  test('splits the stored kind formats into group, version and kind', () => {
    const cases = ['v1.Pod', 'apps/v1.Deployment', 'composition.krateo.io/v1-2-0.FireworksApp', 'Pod', 'weird/'];
    expect(cases.map(parseResourceKind)).toEqual([
      { group: '', version: 'v1', kind: 'Pod' },
      { group: 'apps', version: 'v1', kind: 'Deployment' },
      { group: 'composition.krateo.io', version: 'v1-2-0', kind: 'FireworksApp' },
      { kind: 'Pod' },
      { kind: '' },
    ]);
  });

  test('resolves core, named-group, CRD, unserved-version and bare kinds, and unknown kinds to null, asking discovery once per kind', async () => {
    await using sim = await startSimulator();
    sim.setObject({ apiVersion: 'composition.krateo.io/v1-2-0', kind: 'FireworksApp', metadata: { namespace: 'a', name: 'x' } });
    sim.setObject({ apiVersion: 'example.com/v1', kind: 'Lease', metadata: { namespace: 'a', name: 'x' } });
    const admin = new KubeConfig();
    admin.loadFromString(await sim.adminKubeconfig());
    const resolver = createKindResolver({ discovery: createDiscoveryClient(admin), ttlMs: 60_000, log: silentLogger });
    const kinds = [
      'v1.Pod', 'apps/v1.Deployment', 'composition.krateo.io/v1-2-0.FireworksApp', 'composition.krateo.io/v1-1-0.FireworksApp',
      'Deployment', 'Lease', 'example.com/v1.Widget', 'v1.Widget', 'Widget',
    ];
    const answers = await Promise.all(kinds.map((k) => resolver.resolve(k)));
    expect(Object.fromEntries(kinds.map((k, i) => [k, answers[i]]))).toEqual({
      'v1.Pod': { group: '', resource: 'pods', namespaced: true },
      'apps/v1.Deployment': { group: 'apps', resource: 'deployments', namespaced: true },
      'composition.krateo.io/v1-2-0.FireworksApp': { group: 'composition.krateo.io', resource: 'fireworksapps', namespaced: true },
      'composition.krateo.io/v1-1-0.FireworksApp': { group: 'composition.krateo.io', resource: 'fireworksapps', namespaced: true },
      Deployment: { group: 'apps', resource: 'deployments', namespaced: true },
      Lease: null,
      'example.com/v1.Widget': null,
      'v1.Widget': null,
      Widget: null,
    });
    const discoveryCalls = sim.requests().filter((r) => r.path.startsWith('/api')).length;
    await Promise.all(kinds.map((k) => resolver.resolve(k)));
    expect(sim.requests().filter((r) => r.path.startsWith('/api')).length).toBe(discoveryCalls);
  });
});
