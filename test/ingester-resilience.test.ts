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
import { noPostgresRestart, skipNote } from './support/environment.ts';

const dayMs = 86_400_000;
const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const settings = { partitionsAheadDays: 2, retentionMs: 3 * dayMs, retentionMaxBytes: 0 };

describe('database restart', () => {
  test.skipIf(noPostgresRestart !== undefined)(`events created while PostgreSQL is down are all stored exactly once after it is back${skipNote(noPostgresRestart)}`, async () => {
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
  test.skipIf(noPostgresRestart !== undefined)(`a paused watch and a full buffer still stop within SHUTDOWN_TIMEOUT, and the next ingester stores what was lost${skipNote(noPostgresRestart)}`, async () => {
    await using db = await createTestDatabase();
    await runMigrations(db.url, { log: silentLogger });
    await using sim = await startSimulator({ tls: true });
    const kubeconfig = await sim.adminKubeconfig();
    const env = { SHUTDOWN_TIMEOUT: '1s', BATCH_MAX_ROWS: '5', BUFFER_MAX_ROWS: '10', COMPOSITION_LOOKUP: 'false' };
    const first = await startTestIngester({ databaseUrl: db.url, kubeconfig, env });
    let outcome: { lostRows: number } | undefined;
    // The stop completes while PostgreSQL is still down (inside whileDown): it gave up on the
    // buffered rows after SHUTDOWN_TIMEOUT instead of waiting for the database.
    await restartTestPostgres(async () => {
      for (let i = 0; i < 30; i++) sim.createEvent(buildKubeEvent());
      await waitFor(async () => (await first.readiness()).buffered_rows === 10, { what: 'buffer full' });
      outcome = await first.stop();
    });
    expect(outcome).toEqual({ lostRows: 10 });
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
    // Noon today on the real clock: the partitions the migration made (around the real today) and
    // the ones this pass makes and drops are on one clock.
    const nowMs = Date.parse(`${dayOf(Date.now())}T12:00:00Z`);
    const daysAgo = (n: number) => dayOf(nowMs - n * dayMs);
    const madeByMigration = (await listPartitions(sql)).map((p) => p.day);
    // Rows on days without a partition get one on demand.
    for (const day of [14, 4, 3, 2, 1].map(daysAgo)) {
      await insertEventRows(sql, [buildRecord({ created_at: `${day}T10:00:00Z` })]);
    }
    const result = await runMaintenanceOnce(sql, settings, nowMs);
    const kept = [...new Set([...madeByMigration, ...[3, 2, 1, 0, -1, -2].map(daysAgo)])].sort();
    expect(result.dropped).toEqual([14, 4].map((n) => `k8s_events_${daysAgo(n).replaceAll('-', '_')}`));
    expect((await listPartitions(sql)).map((p) => p.day)).toEqual(kept);
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
