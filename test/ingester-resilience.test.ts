import { describe, expect, test } from 'bun:test';
import { startSimulator } from '../dev/simulator/index.ts';
import { runMigrations } from '../lib/storage/db.ts';
import { insertEventRows } from '../lib/storage/event-store.ts';
import { silentLogger } from '../lib/runtime/log.ts';
import { runMaintenanceOnce } from '../lib/storage/partition-maintenance.ts';
import { listPartitions } from '../lib/storage/partitions.ts';
import { buildRecord } from './support/builders.ts';
import { buildKubeEvent, historyKeys, openSql, readVersionKeys, startTestIngester, waitFor } from './support/ingester-fixtures.ts';
import { createTestDatabase, restartTestPostgres } from './support/pg.ts';

const dayMs = 86_400_000;
const settings = { partitionsAheadDays: 2, retentionMs: 3 * dayMs, retentionMaxBytes: 0 };

describe('database restart', () => {
  test('events created while PostgreSQL is down are all stored exactly once after it is back', async () => {
    if (process.env.DATABASE_URL) return; // an external server cannot be restarted from here
    await using db = await createTestDatabase();
    await runMigrations(db.url, { log: silentLogger });
    await using sim = await startSimulator({ tls: true });
    await using _ingester = await startTestIngester({ databaseUrl: db.url, kubeconfig: await sim.adminKubeconfig() });
    for (let i = 0; i < 10; i++) sim.createEvent(buildKubeEvent());
    {
      await using sql = openSql(db.url);
      await waitFor(async () => (await readVersionKeys(sql)).length === 10, { what: 'first rows' });
    }
    await restartTestPostgres(async () => {
      for (let i = 0; i < 30; i++) sim.createEvent(buildKubeEvent());
    });
    await using sql = openSql(db.url);
    await waitFor(async () => JSON.stringify(await readVersionKeys(sql)) === JSON.stringify(historyKeys(sim.history())), {
      what: 'table equals history after restart',
      timeoutMs: 20_000,
    });
    const [dupes] = await sql`select count(*)::int as n from (select uid, resource_version from k8s_events group by 1, 2 having count(*) > 1) d`;
    expect(dupes).toEqual({ n: 0 });
  }, 45_000);
});

describe('shutdown with the database down', () => {
  test('a paused watch and a full buffer still stop within SHUTDOWN_TIMEOUT, and the next ingester stores what was lost', async () => {
    if (process.env.DATABASE_URL) return;
    await using db = await createTestDatabase();
    await runMigrations(db.url, { log: silentLogger });
    await using sim = await startSimulator({ tls: true });
    const kubeconfig = await sim.adminKubeconfig();
    const env = { SHUTDOWN_TIMEOUT: '1s', BATCH_MAX_ROWS: '5', BUFFER_MAX_ROWS: '10', COMPOSITION_LOOKUP: 'false' };
    const first = await startTestIngester({ databaseUrl: db.url, kubeconfig, env });
    let outcome: { lostRows: number } | undefined;
    let stopMs = 0;
    await restartTestPostgres(async () => {
      for (let i = 0; i < 30; i++) sim.createEvent(buildKubeEvent());
      await waitFor(async () => (await first.readiness()).buffered_rows === 10, { what: 'buffer full' });
      const started = Date.now();
      outcome = await first.stop();
      stopMs = Date.now() - started;
    });
    expect(outcome).toEqual({ lostRows: 10 });
    expect(stopMs).toBeLessThan(5_000);
    await using _second = await startTestIngester({ databaseUrl: db.url, kubeconfig, env });
    await using sql = openSql(db.url);
    await waitFor(async () => JSON.stringify(await readVersionKeys(sql)) === JSON.stringify(historyKeys(sim.history())), {
      what: 'table equals history',
      timeoutMs: 20_000,
    });
  }, 45_000);
});

describe('partition maintenance', () => {
  test('partitions past the retention are dropped, recent and future ones kept and created ahead', async () => {
    await using db = await createTestDatabase();
    await runMigrations(db.url, { log: silentLogger });
    await using sql = openSql(db.url);
    const nowMs = Date.parse('2030-06-15T12:00:00Z');
    // Rows on days without a partition get one on demand.
    for (const day of ['2030-06-01', '2030-06-11', '2030-06-12', '2030-06-13', '2030-06-14']) {
      await insertEventRows(sql, [buildRecord({ created_at: `${day}T10:00:00Z` })]);
    }
    const result = await runMaintenanceOnce(sql, settings, nowMs);
    const days = (await listPartitions(sql)).map((p) => p.day).filter((d) => d.startsWith('2030'));
    expect(result.dropped.filter((n) => n.includes('2030')).sort()).toEqual(['k8s_events_2030_06_01', 'k8s_events_2030_06_11']);
    expect(days).toEqual(['2030-06-12', '2030-06-13', '2030-06-14', '2030-06-15', '2030-06-16', '2030-06-17']);
  });

  test('a far-future event is stored in its own partition and a far-past one is kept only until the next maintenance pass', async () => {
    await using db = await createTestDatabase();
    await runMigrations(db.url, { log: silentLogger });
    await using sql = openSql(db.url);
    const nowMs = Date.now();
    const future = buildRecord({ created_at: '2099-01-01T00:00:00Z' });
    const past = buildRecord({ created_at: '1999-01-01T00:00:00Z' });
    expect(await insertEventRows(sql, [future, past])).toBe(2);
    await runMaintenanceOnce(sql, settings, nowMs);
    const rows = await sql<{ uid: string }[]>`select uid from k8s_events`;
    expect(rows.map((r) => r.uid)).toEqual([future.uid]);
  });
});
