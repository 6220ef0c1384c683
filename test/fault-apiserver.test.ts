import { describe, expect, test } from 'bun:test';
import { startSimulator, type Simulator } from '../dev/simulator/index.ts';
import { runMigrations } from '../lib/storage/db.ts';
import { silentLogger } from '../lib/runtime/log.ts';
import { createTestMeter, expectTableEqualsHistory, produceEvents } from './support/fault-kit.ts';
import { buildKubeEvent, openSql, readVersionKeys, startTestIngester, waitFor } from './support/ingester-fixtures.ts';
import { createTestDatabase } from './support/pg.ts';

// Composition lookups are off: they are not under test here, and each would be one more request
// for the injected API faults to hit.
const ingesterEnv = { COMPOSITION_LOOKUP: 'false' };

async function setUp() {
  const db = await createTestDatabase();
  await runMigrations(db.url, { log: silentLogger });
  const sim = await startSimulator({ tls: true, bookmarkEveryMs: 100 });
  const metrics = createTestMeter();
  const sql = openSql(db.url);
  const ingester = await startTestIngester({ databaseUrl: db.url, kubeconfig: await sim.adminKubeconfig(), env: ingesterEnv, meter: metrics.meter });
  return {
    db,
    sim,
    sql,
    ingester,
    metrics,
    async [Symbol.asyncDispose]() {
      await ingester.stop();
      await sql[Symbol.asyncDispose]();
      await metrics[Symbol.asyncDispose]();
      await sim.close();
      await db[Symbol.asyncDispose]();
    },
  };
}

/** Runs `fault` every `everyMs` until `until` settles; resolves with how many times it ran. */
async function repeatWhile(until: Promise<unknown>, everyMs: number, fault: () => void | Promise<void>): Promise<number> {
  let done = false;
  void until.finally(() => (done = true));
  let runs = 0;
  while (!done) {
    await Bun.sleep(everyMs);
    if (done) break;
    await fault();
    runs++;
  }
  return runs;
}

const relists = async (read: (name: string) => Promise<Record<string, number>>) =>
  (await read('events_ingester.watch.relists'))['{"namespace":"*","reason":"expired"}'] ?? 0;

describe('API server faults', () => {
  test('watch connections dropped every 250 ms while 2,000 events are created lose no version and store none twice', async () => {
    await using env = await setUp();
    const producing = produceEvents(env.sim, { total: 2000, perTick: 40, everyMs: 20 });
    const drops = await repeatWhile(producing, 250, () => env.sim.closeWatches());
    // Count bumps of events the watch already delivered, also across drops.
    const bumped = (await producing).slice(0, 200);
    for (const event of bumped) env.sim.updateEvent({ ...event, count: 2 });
    env.sim.closeWatches();
    await expectTableEqualsHistory(env.sql, env.sim);
    expect(drops).toBeGreaterThanOrEqual(3);
  }, 30_000);

  test('a 410 storm (history compacted 8 times while events flow, each forcing a relist) loses no version and stores none twice', async () => {
    await using env = await setUp();
    const producing = produceEvents(env.sim, { total: 1500, perTick: 30, everyMs: 20 });
    const rounds = 8;
    for (let round = 1; round <= rounds; round++) {
      // Dropped, then written to and compacted before the ingester can reconnect (it backs off
      // first): its resume version is gone, so the reconnect gets 410 and must relist.
      env.sim.closeWatches();
      for (let i = 0; i < 50; i++) env.sim.createEvent(buildKubeEvent());
      env.sim.compact();
      // Each relist re-reads everything (up to ~1,900 events): generous on a loaded CI machine.
      // The relist counts when it starts; waiting for the watch after it means its list was served,
      // so the next round's compaction is sure to expire that watch's version.
      await waitFor(async () => (await relists(env.metrics.read)) >= round && env.sim.openWatches() === 1, { what: `relist ${round}`, timeoutMs: 15_000 });
    }
    await producing;
    await expectTableEqualsHistory(env.sql, env.sim);
    expect(await relists(env.metrics.read)).toBeGreaterThanOrEqual(rounds);
  }, 90_000);

  test('bursts of 500, 502, 503, 504 and 429 answers on watch and relist are retried until nothing is lost or duplicated', async () => {
    await using env = await setUp();
    const reconnects = async () => (await env.metrics.read('events_ingester.watch.reconnects'))['{"namespace":"*"}'] ?? 0;
    const producing = produceEvents(env.sim, { total: 900, perTick: 30, everyMs: 20 });
    let expected = 0;
    for (const statuses of [[500, 502], [503, 504], [429, 500]]) {
      // The drop and the two failed reconnects each count; backoff 200, 400, 800 ms, then the watch is back.
      for (const status of statuses) env.sim.failNext(1, status, '/api/v1/events');
      env.sim.closeWatches();
      expected += 3;
      await waitFor(async () => (await reconnects()) === expected && env.sim.openWatches() === 1, { what: `watch back after ${statuses}` });
      // Progress on the new watch resets its backoff (a watch that delivers nothing does not).
      const marker = env.sim.createEvent(buildKubeEvent());
      await waitFor(async () => (await env.sql`select 1 from k8s_events where uid = ${marker.metadata.uid}`).length === 1, { what: 'marker stored' });
    }
    // A burst that hits the relist: the reconnect gets 410, then three list requests fail.
    env.sim.closeWatches();
    for (let i = 0; i < 20; i++) env.sim.createEvent(buildKubeEvent());
    env.sim.compact();
    env.sim.failNext(3, 503, '/api/v1/events');
    expected += 4;
    await producing;
    await expectTableEqualsHistory(env.sql, env.sim);
    expect({ reconnects: await reconnects(), relists: await relists(env.metrics.read) }).toEqual({ reconnects: expected, relists: 1 });
  }, 30_000);

  test('a 3-second API server outage (the issue\'s 30 s, scaled down: same reconnect path) loses nothing created meanwhile', async () => {
    await using env = await setUp();
    for (let i = 0; i < 100; i++) env.sim.createEvent(buildKubeEvent());
    await waitFor(async () => (await readVersionKeys(env.sql)).length === 100, { what: 'rows before the outage' });
    env.sim.setOutage(true);
    await produceEvents(env.sim, { total: 300, perTick: 10, everyMs: 100 }); // 3 s of events during the outage
    expect(env.sim.openWatches()).toBe(0);
    env.sim.setOutage(false);
    await expectTableEqualsHistory(env.sql, env.sim, 15_000);
  }, 30_000);

  test('a relist of 50,000 events, half of them already stored, writes the other half once and duplicates nothing', async () => {
    await using env = await setUp();
    const firstHalf = 25_000;
    for (let i = 0; i < firstHalf; i++) env.sim.createEvent(buildKubeEvent());
    await expectTableEqualsHistory(env.sql, env.sim, 30_000);
    env.sim.closeWatches();
    for (let i = 0; i < 50_000 - firstHalf; i++) env.sim.createEvent(buildKubeEvent());
    env.sim.compact();
    const started = performance.now();
    await expectTableEqualsHistory(env.sql, env.sim, 30_000);
    const seconds = (performance.now() - started) / 1000;
    expect(await relists(env.metrics.read)).toBe(1);
    const listed = await env.metrics.read('events_ingester.events.received');
    expect(listed['{"source":"list"}']).toBe(50_000);
    expect(seconds).toBeLessThan(30);
  }, 90_000);
});
