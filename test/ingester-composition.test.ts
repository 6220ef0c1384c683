import { describe, expect, test } from 'bun:test';
import { startSimulator } from '../dev/simulator/index.ts';
import { createCompositionResolver, type LabelLookup, type ObjectRef } from '../lib/ingest/composition.ts';
import { runMigrations } from '../lib/storage/db.ts';
import { silentLogger } from '../lib/runtime/log.ts';
import { createTestDatabase } from './support/pg.ts';
import { buildKubeEvent, openSql, startTestIngester, waitFor } from './support/ingester-fixtures.ts';

const compositionUid = '11111111-1111-4111-8111-111111111111';
const labelledId = '22222222-2222-4222-8222-222222222222';
const eventLabelId = '33333333-3333-4333-8333-333333333333';

function buildPodEvent(name: string, podName: string, extra: Record<string, unknown> = {}) {
  return buildKubeEvent({
    metadata: { name, namespace: 'apps' },
    involvedObject: { apiVersion: 'v1', kind: 'Pod', namespace: 'apps', name: podName },
    ...extra,
  });
}

describe('composition correlation against the simulator', () => {
  test('each way of finding the composition id is stored on the row', async () => {
    await using db = await createTestDatabase();
    await runMigrations(db.url, { log: silentLogger });
    await using sim = await startSimulator({ tls: true });
    await using sql = openSql(db.url);
    // The ingester's own identity: may watch events and read pods, not deployments.
    sim.setRbac('ingester', [
      { verbs: ['list', 'watch'], resources: ['events'], apiGroups: [''] },
      { verbs: ['get'], resources: ['pods'], apiGroups: [''] },
    ]);
    sim.setObject({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'labelled', namespace: 'apps', labels: { 'krateo.io/composition-id': labelledId } } });
    sim.setObject({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'plain', namespace: 'apps' } });
    sim.setObject({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'not-a-uuid', namespace: 'apps', labels: { 'krateo.io/composition-id': 'hello' } } });
    sim.setObject({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'hidden', namespace: 'apps', labels: { 'krateo.io/composition-id': labelledId } } });
    await using _ingester = await startTestIngester({ databaseUrl: db.url, kubeconfig: await sim.kubeconfigFor('ingester') });

    sim.createEvent(buildKubeEvent({
      metadata: { name: 'own', namespace: 'apps' },
      involvedObject: { apiVersion: 'composition.krateo.io/v1alpha1', kind: 'FireworksApp', namespace: 'apps', name: 'fw', uid: compositionUid },
    }));
    sim.createEvent(buildPodEvent('on-object', 'labelled'));
    sim.createEvent(buildPodEvent('on-event', 'plain', { metadata: { name: 'on-event', namespace: 'apps', labels: { 'krateo.io/composition-id': eventLabelId } } }));
    sim.createEvent(buildPodEvent('without-label', 'plain'));
    sim.createEvent(buildPodEvent('missing-object', 'gone'));
    sim.createEvent(buildPodEvent('bad-value', 'not-a-uuid'));
    sim.createEvent(buildKubeEvent({ metadata: { name: 'forbidden', namespace: 'apps' }, involvedObject: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'apps', name: 'hidden' } }));
    sim.createEvent(buildKubeEvent({ metadata: { name: 'unknown-kind', namespace: 'apps' }, involvedObject: { apiVersion: 'example.com/v1', kind: 'Widget', namespace: 'apps', name: 'w' } }));

    const rows = await waitFor(async () => {
      const found = await sql<{ name: string; composition_id: string | null }[]>`
        select raw->'metadata'->>'name' as name, composition_id from k8s_events order by 1`;
      return found.length === 8 && found;
    });
    expect(Object.fromEntries(rows.map((r) => [r.name, r.composition_id]))).toEqual({
      own: compositionUid,
      'on-object': labelledId,
      'on-event': eventLabelId,
      'without-label': null,
      'missing-object': null,
      'bad-value': null,
      forbidden: null,
      'unknown-kind': null,
    });
  });

  test('repeated events about one object are resolved from the cache with a single lookup', async () => {
    await using db = await createTestDatabase();
    await runMigrations(db.url, { log: silentLogger });
    await using sim = await startSimulator({ tls: true });
    await using sql = openSql(db.url);
    sim.setObject({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'busy', namespace: 'apps', labels: { 'krateo.io/composition-id': labelledId } } });
    await using _ingester = await startTestIngester({ databaseUrl: db.url, kubeconfig: await sim.adminKubeconfig() });
    for (let i = 0; i < 10; i++) sim.createEvent(buildPodEvent(`busy-${i}`, 'busy'));
    const ids = await waitFor(async () => {
      const found = await sql<{ composition_id: string }[]>`select composition_id from k8s_events`;
      return found.length === 10 && found.map((r) => r.composition_id);
    });
    expect(ids).toEqual(Array(10).fill(labelledId));
    expect(sim.requests().filter((r) => r.path.includes('/pods/busy')).length).toBe(1);
  });
});

describe('createCompositionResolver', () => {
  const event = (name: string) => ({ metadata: { uid: name }, involvedObject: { apiVersion: 'v1', kind: 'Pod', namespace: 'a', name } });

  test('a failed lookup resolves to null, is cached briefly and retried after that', async () => {
    let nowMs = 0;
    let calls = 0;
    const resolver = createCompositionResolver({
      lookup: async () => {
        calls++;
        if (calls === 1) throw new Error('connection refused');
        return { status: 'found', labels: { 'krateo.io/composition-id': labelledId } };
      },
      ttlMs: 60_000,
      failureTtlMs: 5_000,
      concurrency: 2,
      now: () => nowMs,
      log: silentLogger,
    });
    expect(await resolver.resolve(event('p'))).toBeNull();
    expect(resolver.resolve(event('p'))).toBeNull();
    nowMs = 5_001;
    expect(await resolver.resolve(event('p'))).toBe(labelledId);
    expect(resolver.resolve(event('p'))).toBe(labelledId);
    expect(calls).toBe(2);
  });

  test('no more than the configured number of lookups run at once', async () => {
    let running = 0;
    let peak = 0;
    const releases: (() => void)[] = [];
    const resolver = createCompositionResolver({
      lookup: async (_ref: ObjectRef): Promise<LabelLookup> => {
        running++;
        peak = Math.max(peak, running);
        await new Promise<void>((resolve) => releases.push(resolve));
        running--;
        return { status: 'not_found' };
      },
      ttlMs: 60_000,
      concurrency: 3,
      log: silentLogger,
    });
    const all = Array.from({ length: 10 }, (_, i) => resolver.resolve(event(`p${i}`)));
    for (let done = 0; done < 10; done++) {
      await waitFor(() => releases.length > 0);
      releases.shift()!();
    }
    expect(await Promise.all(all)).toEqual(Array(10).fill(null));
    expect(peak).toBe(3);
  });
});
