import { describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator, type Simulator } from '../dev/simulator/index.ts';
import { runMigrations } from '../lib/storage/db.ts';
import { silentLogger } from '../lib/runtime/log.ts';
import { createTestDatabase } from './support/pg.ts';
import { buildKubeEvent, historyKeys, openSql, readVersionKeys, spawnIngester, waitFor } from './support/ingester-fixtures.ts';

async function writeKubeconfig(sim: Simulator) {
  const dir = mkdtempSync(join(tmpdir(), 'ingester-kube-'));
  const path = join(dir, 'config');
  writeFileSync(path, await sim.adminKubeconfig());
  return { path, [Symbol.dispose]: () => rmSync(dir, { recursive: true, force: true }) };
}

describe('ingester process', () => {
  test('SIGTERM writes every buffered row before the process exits with 0', async () => {
    await using db = await createTestDatabase();
    await runMigrations(db.url, { log: silentLogger });
    await using sim = await startSimulator({ tls: true });
    using kubeconfig = await writeKubeconfig(sim);
    await using sql = openSql(db.url);
    await using ingester = spawnIngester({
      DATABASE_URL: db.url,
      KUBECONFIG: kubeconfig.path,
      CLUSTER_NAME: 'proc',
      PORT: '0',
      // Rows stay buffered until shutdown: only the drain can write them.
      BATCH_FLUSH_INTERVAL: '1h',
      COMPOSITION_LOOKUP: 'false',
    });
    await waitFor(async () => (await ingester.readiness()).ready === true, { what: 'ingester ready', timeoutMs: 15_000 });
    for (let i = 0; i < 50; i++) sim.createEvent(buildKubeEvent());
    await waitFor(async () => (await ingester.readiness()).buffered_rows === 50, { what: '50 rows buffered' });
    expect(await readVersionKeys(sql)).toEqual([]);

    ingester.proc.kill('SIGTERM');
    expect(await ingester.proc.exited).toBe(0);
    expect(await readVersionKeys(sql)).toEqual(historyKeys(sim.history()));
    expect(ingester.logs.find((l) => l.msg === 'ingester stopped')).toMatchObject({ lost_rows: 0 });
  }, 30_000);

  test('of two ingesters one watches and the other waits; after kill -9 of the active one the standby takes over', async () => {
    await using db = await createTestDatabase();
    await runMigrations(db.url, { log: silentLogger });
    await using sim = await startSimulator({ tls: true });
    using kubeconfig = await writeKubeconfig(sim);
    await using sql = openSql(db.url);
    const env = { DATABASE_URL: db.url, KUBECONFIG: kubeconfig.path, CLUSTER_NAME: 'ha', PORT: '0', COMPOSITION_LOOKUP: 'false' };
    await using first = spawnIngester(env);
    await waitFor(async () => (await first.readiness()).role === 'leader' && (await first.readiness()).ready, { what: 'first leads', timeoutMs: 15_000 });
    await using second = spawnIngester(env);
    await waitFor(async () => (await second.readiness()).ready === true, { what: 'second ready', timeoutMs: 15_000 });
    expect(await second.readiness()).toMatchObject({ ready: true, role: 'standby' });
    expect(sim.openWatches()).toBe(1);

    for (let i = 0; i < 20; i++) sim.createEvent(buildKubeEvent());
    await waitFor(async () => (await readVersionKeys(sql)).length === 20, { what: 'first batch stored' });

    first.proc.kill('SIGKILL');
    await first.proc.exited;
    const killedAt = Date.now();
    for (let i = 0; i < 20; i++) sim.createEvent(buildKubeEvent());
    await waitFor(async () => (await second.readiness()).role === 'leader', { what: 'standby takes over', timeoutMs: 10_000 });
    const takeoverMs = Date.now() - killedAt;
    await waitFor(async () => JSON.stringify(await readVersionKeys(sql)) === JSON.stringify(historyKeys(sim.history())), {
      what: 'table equals history',
    });
    expect(takeoverMs).toBeLessThan(5_000);
    expect(sim.openWatches()).toBe(1);
  }, 45_000);
});
