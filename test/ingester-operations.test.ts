import { describe, expect, test } from 'bun:test';
import { startSimulator } from '../dev/simulator/index.ts';
import { runMigrations } from '../lib/storage/db.ts';
import { silentLogger } from '../lib/runtime/log.ts';
import { createTestDatabase } from './support/pg.ts';
import { createTestMeter } from './support/fault-kit.ts';
import { buildKubeEvent, openSql, startTestIngester, waitFor } from './support/ingester-fixtures.ts';

async function setUp() {
  const db = await createTestDatabase();
  await runMigrations(db.url, { log: silentLogger });
  const sim = await startSimulator({ tls: true, bookmarkEveryMs: 200 });
  return { db, sim };
}

describe('ingester operations', () => {
  test('metrics count received events, inserted rows, relists, leadership and flushes', async () => {
    const { db, sim } = await setUp();
    await using _db = db;
    await using _sim = sim;
    await using sql = openSql(db.url);
    await using metrics = createTestMeter();
    sim.createEvent(buildKubeEvent());
    await using ingester = await startTestIngester({ databaseUrl: db.url, kubeconfig: await sim.adminKubeconfig(), meter: metrics.meter });
    // The listed row is committed before the watched ones exist: two flushes at least (rows that
    // arrive together may share one).
    await waitFor(async () => (await sql`select 1 from k8s_events`).length === 1);
    for (let i = 0; i < 4; i++) sim.createEvent(buildKubeEvent());
    await waitFor(async () => (await sql`select 1 from k8s_events`).length === 5);
    await waitFor(async () => (await metrics.read('events_ingester.db.insert.rows'))['{}'] === 5);
    expect(await metrics.read('events_ingester.events.received')).toEqual({ '{"source":"list"}': 1, '{"source":"watch"}': 4 });
    expect(await metrics.read('events_ingester.watch.relists')).toEqual({ '{"namespace":"*","reason":"start"}': 1 });
    expect(await metrics.read('events_ingester.leader')).toEqual({ '{}': 1 });
    const flushes = await metrics.read('events_ingester.batch.flush.duration_seconds');
    expect(flushes['{}']).toBeGreaterThanOrEqual(2);
    await ingester.stop();
  });

  test('NAMESPACES limits the watch to the listed namespaces, one watch each', async () => {
    const { db, sim } = await setUp();
    await using _db = db;
    await using _sim = sim;
    await using sql = openSql(db.url);
    await using _ingester = await startTestIngester({
      databaseUrl: db.url,
      kubeconfig: await sim.adminKubeconfig(),
      env: { NAMESPACES: ' team-a, team-b,,team-a ' },
    });
    expect(sim.openWatches()).toBe(2);
    for (const namespace of ['team-a', 'team-b', 'team-c']) sim.createEvent(buildKubeEvent({ metadata: { name: `e-${namespace}`, namespace } }));
    sim.createEvent(buildKubeEvent({ metadata: { name: 'last', namespace: 'team-b' } }));
    await waitFor(async () => (await sql`select 1 from k8s_events`).length === 3);
    const rows = await sql<{ namespace: string }[]>`select namespace from k8s_events order by namespace`;
    expect(rows.map((r) => r.namespace)).toEqual(['team-a', 'team-b', 'team-b']);
  });

  test('without CLUSTER_NAME the kubeconfig cluster name prefixes global_uid', async () => {
    const { db, sim } = await setUp();
    await using _db = db;
    await using _sim = sim;
    await using sql = openSql(db.url);
    await using ingester = await startTestIngester({ databaseUrl: db.url, kubeconfig: await sim.adminKubeconfig(), env: { CLUSTER_NAME: '' } });
    const event = sim.createEvent(buildKubeEvent());
    const [row] = await waitFor(async () => {
      const found = await sql<{ cluster_name: string; global_uid: string }[]>`select cluster_name, global_uid from k8s_events`;
      return found.length > 0 && found;
    });
    expect(ingester.clusterName).toBe('sim');
    expect(row).toEqual({ cluster_name: 'sim', global_uid: `sim:${event.metadata.uid}` });
  });

  test('readyz answers 503 while the API server is unreachable and 200 once the watch is back', async () => {
    const { db, sim } = await setUp();
    await using _db = db;
    await using _sim = sim;
    await using ingester = await startTestIngester({ databaseUrl: db.url, kubeconfig: await sim.adminKubeconfig() });
    const probe = async () => {
      const response = await fetch(`http://127.0.0.1:${ingester.port}/readyz`);
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    expect((await fetch(`http://127.0.0.1:${ingester.port}/livez`)).status).toBe(200);
    expect(await probe()).toEqual({
      status: 200,
      body: { ready: true, role: 'leader', database: true, watch_established: true, buffered_rows: 0 },
    });
    sim.setOutage(true);
    await waitFor(async () => (await probe()).status === 503, { what: 'not ready during outage' });
    sim.setOutage(false);
    await waitFor(async () => (await probe()).status === 200, { what: 'ready after outage', timeoutMs: 15_000 });
  }, 30_000);
});
