// Benchmark 2: sustained ingest, simulator watch → `bun ingester.ts` (a real subprocess) →
// committed rows, with a zero-loss check; PostgreSQL, the ingester and the simulator (this process)
// share the machine's cores. Measured in the same run:
//   baseline  the same kind of rows inserted straight into k8s_events by the fastest plain
//             multi-row INSERT on two connections (no ON CONFLICT);
//   drain     the simulator → watch transport alone: the ingester's own watch code (lib/ingest/event-watch.ts)
//             with a counting sink in a subprocess, no database — the ceiling the simulator allows.
// Zero loss is checked without a copy of the versions: rows == versions created, no (uid, rv) twice,
// and two checksums computed on both sides (sum of resourceVersions; sum of the first 48 bits of
// md5("uid/rv"), in two 24-bit halves).
// Usage: bun bench/ingest.ts [--events 200000 | --seconds 600] [--plain-http] [--max-backlog 40000]
//        [--skip-drain] [--watch-window 120000] [--event-ttl SECONDS] [--skip-end-baseline]
//        [--profile-dir DIR]  (the ingester writes a markdown CPU profile there on exit)
//        (the issue's long run: --seconds 600 or --events 5000000. The simulator then keeps only
//        the newest --watch-window changes for resuming watches, and deletes events after
//        --event-ttl seconds (default 60 for runs over 500k events or with --seconds, else never),
//        sending DELETED to the ingester as a real API server does, so its memory stays bounded.)
//        A long run also measures the baseline again at the end, on the grown table, and reports
//        the ratio to it and to the mean of both (unless --skip-end-baseline).
import postgres from 'postgres';
import { ApiError, type Simulator, type StoredObject } from '../dev/simulator/index.ts';
import { createEventGenerator, describeRecords, generateStoredEvents, toRecords } from './support/events.ts';
import { measureInsertRate, plainValuesInsert, toBatches } from './support/insert-forms.ts';
import { openBenchDatabase } from './support/pg.ts';
import { flag, log, machineBusySeconds, machineInfo, numberFlag, printResults, processCpuSeconds, processRssBytes, type ResultRow } from './support/report.ts';
import { committedCounter, postgresCpuSeconds, spawnIngester, startBenchSimulator } from './support/stack.ts';

const durationSeconds = numberFlag('seconds', 0);
const total = numberFlag('events', durationSeconds > 0 ? Number.MAX_SAFE_INTEGER : 200_000);
const maxBacklog = numberFlag('max-backlog', 40_000);
const longRun = durationSeconds > 0 || total > 500_000;
// Wider than anything the ingester can lag behind (the backlog plus the deletions meanwhile), so a
// resuming watch never needs a relist; a smaller window tests the relist path instead.
const watchWindow = numberFlag('watch-window', Math.max(120_000, 3 * maxBacklog));
const eventTtlSeconds = numberFlag('event-ttl', longRun ? 60 : 0);
const tls = flag('plain-http') === undefined;
const skipDrain = flag('skip-drain') !== undefined;
const seed = numberFlag('seed', 11);

/** What the producer created: the count and the checksums the table must match. */
interface Produced {
  versions: number;
  rvSum: number;
  hashA: number;
  hashB: number;
  /** Time spent in the generator (the "cluster's emitters"), included in this process's CPU. */
  generatorMs: number;
}

function account(produced: Produced, stored: StoredObject): void {
  const rv = stored.metadata.resourceVersion;
  const h = Bun.CryptoHasher.hash('md5', `${stored.metadata.uid}/${rv}`) as Uint8Array;
  produced.versions++;
  produced.rvSum += Number(rv);
  produced.hashA += (h[0]! << 16) | (h[1]! << 8) | h[2]!;
  produced.hashB += (h[3]! << 16) | (h[4]! << 8) | h[5]!;
}

/**
 * Creates `count` Event versions in the simulator as fast as it allows (or until `deadline`, a
 * performance.now() value), yielding to I/O every `chunk` writes and pausing while more than
 * `maxBacklog` versions are not yet consumed.
 */
async function produce(sim: Simulator, gen: ReturnType<typeof createEventGenerator>, count: number, consumed: () => number, deadline = Infinity, chunk = 250): Promise<Produced> {
  const produced: Produced = { versions: 0, rvSum: 0, hashA: 0, hashB: 0, generatorMs: 0 };
  while (produced.versions < count && performance.now() < deadline) {
    while (produced.versions - consumed() > maxBacklog) await Bun.sleep(2);
    const end = Math.min(count, produced.versions + chunk);
    while (produced.versions < end) {
      const t = performance.now();
      const { event, update } = gen.next();
      produced.generatorMs += performance.now() - t;
      try {
        account(produced, update ? sim.updateEvent(event as never) : sim.createEvent(event as never));
      } catch (err) {
        // A count bump of an event the TTL already deleted: the emitter creates it again.
        if (!(update && err instanceof ApiError && err.code === 404)) throw err;
        account(produced, sim.createEvent(event as never));
      }
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  return produced;
}

await using db = await openBenchDatabase();
const admin = postgres(db.url, { max: 1, onnotice: () => {} });
const results: ResultRow[] = [];

// --- baseline: plain multi-row insert, two connections, same row shape ---------------------------
const baselineCount = Math.min(total, 200_000);
log(`baseline: generating ${baselineCount} rows`);
// In a function so the rows are garbage before the long part (this process is the simulator).
async function measureBaseline(baselineSeed: number) {
  const baselineRecords = toRecords(generateStoredEvents(baselineCount, { seed: baselineSeed }));
  for (const day of new Set(baselineRecords.map((r) => r.created_at.slice(0, 10)))) await admin`select ensure_k8s_events_partition(${day}::date)`;
  await admin`checkpoint`;
  const baselineRun = await measureInsertRate(
    db.url,
    { name: 'baseline', connections: 2, table: 'k8s_events', write: (sql, r) => plainValuesInsert(sql, 'k8s_events', r) },
    toBatches(baselineRecords, 1000),
  );
  return { baseline: baselineCount / baselineRun.seconds, shape: describeRecords(baselineRecords) };
}
const { baseline, shape } = await measureBaseline(seed);
log(`baseline ${Math.round(baseline)} rows/s`);
await admin`truncate k8s_events`;
await admin`checkpoint`;

// --- drain: simulator → watch, no database -----------------------------------------------------
const generator = createEventGenerator({ seed });
const bench = await startBenchSimulator({ tls, generator, watchWindow, eventTtlSeconds });
let drainRate: number | undefined;
if (!skipDrain) {
  const drainCount = Math.min(total, 200_000);
  const drainGen = createEventGenerator({ seed: seed + 1000 });
  const drainSim = await startBenchSimulator({ tls, generator: drainGen, watchWindow });
  const child = Bun.spawn(['bun', `${import.meta.dir}/support/watch-drain.ts`, drainSim.kubeconfigPath, String(drainCount)], { stdout: 'pipe', stderr: 'inherit' });
  const reader = child.stdout.getReader();
  const decoder = new TextDecoder();
  let text = '';
  while (!text.includes('ESTABLISHED')) {
    const { value, done } = await reader.read();
    if (done) throw new Error('watch drain exited early');
    text += decoder.decode(value);
  }
  const started = performance.now();
  const done = (async () => {
    while (!text.includes('"count"')) {
      const { value, done: end } = await reader.read();
      if (end) break;
      text += decoder.decode(value);
    }
  })();
  // The drain has no progress signal: no backlog bound (the simulator's socket buffers hold it).
  await produce(drainSim.sim, drainGen, drainCount, () => Infinity);
  await done;
  const seconds = (performance.now() - started) / 1000;
  drainRate = drainCount / seconds;
  log(`drain ${Math.round(drainRate)} events/s`);
  await child.exited;
  await drainSim.dispose();
}

// --- sustained: simulator → ingester subprocess → PostgreSQL ------------------------------------
const counter = await committedCounter(db.url);
const ingester = await spawnIngester({ databaseUrl: db.url, kubeconfigPath: bench.kubeconfigPath, cpuProfileDir: flag('profile-dir') });
const readyMs = await ingester.ready();
log(`ingester ready in ${Math.round(readyMs)} ms; producing ${durationSeconds > 0 ? `for ${durationSeconds} s` : `${total} events`} (watch window ${watchWindow}, event TTL ${eventTtlSeconds || 'none'})`);
const cpu0 = { sim: processCpuSeconds(process.pid), ingester: ingester.cpuSeconds(), pg: postgresCpuSeconds(db.embedded?.pid), machine: machineBusySeconds() };
const started = performance.now();
let lastReport = started;
let simRssMax = 0;
const progress = setInterval(() => {
  const now = performance.now();
  const simRss = processRssBytes(process.pid);
  simRssMax = Math.max(simRssMax, simRss);
  const held = bench.sim.eventStats();
  log(`committed ${counter.rows} (${Math.round(counter.rows / ((now - started) / 1000))}/s), ingester rss ${Math.round(ingester.rssBytes() / 2 ** 20)} MB, simulator rss ${Math.round(simRss / 2 ** 20)} MB (${held.objects} events, ${held.retainedChanges} changes held)`);
  lastReport = now;
}, 5000);
const produced = await produce(bench.sim, generator, total, () => counter.rows, durationSeconds > 0 ? started + durationSeconds * 1000 : Infinity);
const producedMs = performance.now() - started;
let giveUp: ReturnType<typeof setTimeout> | undefined;
await Promise.race([counter.until(produced.versions), new Promise((resolve) => (giveUp = setTimeout(resolve, 120_000)))]);
clearTimeout(giveUp); // a pending timer would keep the process alive after the report
clearInterval(progress);
const seconds = (performance.now() - started) / 1000;
const cpu1 = { sim: processCpuSeconds(process.pid), ingester: ingester.cpuSeconds(), pg: postgresCpuSeconds(db.embedded?.pid), machine: machineBusySeconds() };
void lastReport;
const ingesterRss = ingester.rssBytes();

// --- loss check -----------------------------------------------------------------------------------
const versions = produced.versions;
const [stored] = await admin<{ n: number; versions: number; rv_sum: string; hash_a: string; hash_b: string }[]>`
  select count(*)::int as n, count(distinct (uid, resource_version))::int as versions,
    coalesce(sum(resource_version::bigint), 0)::text as rv_sum,
    coalesce(sum(('x' || substr(md5(uid || '/' || resource_version), 1, 6))::bit(24)::int), 0)::text as hash_a,
    coalesce(sum(('x' || substr(md5(uid || '/' || resource_version), 7, 6))::bit(24)::int), 0)::text as hash_b
  from k8s_events`;
const checksumsEqual = stored?.rv_sum === String(produced.rvSum) && stored?.hash_a === String(produced.hashA) && stored?.hash_b === String(produced.hashB);
const stats = bench.sim.eventStats();
// The version-by-version diagnosis needs the whole history, which only a run without compaction has.
const wholeHistory = stats.retainedChanges === stats.versions + stats.deleted;
if ((stored?.n !== versions || !checksumsEqual) && wholeHistory) {
  const have = new Set((await admin<{ k: string }[]>`select uid || '/' || resource_version as k from k8s_events`).map((r) => r.k));
  const missing = bench.sim.history().filter((e) => !have.has(`${e.metadata.uid}/${e.metadata.resourceVersion}`));
  const kinds = new Map<string, number>();
  for (const e of missing) {
    const io = e.involvedObject as { apiVersion?: string; kind?: string };
    const key = `${io.apiVersion}/${io.kind} labels=${e.metadata.labels ? 'y' : 'n'} count=${String((e as { count?: number }).count ?? (e as { series?: { count?: number } }).series?.count ?? '-')}`;
    kinds.set(key, (kinds.get(key) ?? 0) + 1);
  }
  log(`missing rvs ${missing.map((e) => e.metadata.resourceVersion).join(",").slice(0, 3000)}`);
  log(`missing ${missing.length}: ${JSON.stringify([...kinds])}; first ${JSON.stringify(missing[0]).slice(0, 600)}`);
}
const exitCode = await ingester.stop();
const lossless = stored?.n === versions && stored?.versions === versions && checksumsEqual;
if (!lossless) log(`LOSS: table ${JSON.stringify(stored)} vs produced ${JSON.stringify(produced)}; ingester output:\n${ingester.output()}`);
// A long run ends on a table of millions of rows, where every insert costs PostgreSQL more than on
// the empty table the first baseline saw: the same baseline again, on the grown table (other uids).
let endBaseline: number | undefined;
if (longRun && flag('skip-end-baseline') === undefined) {
  log(`baseline again on the grown table (${versions} rows)`);
  endBaseline = (await measureBaseline(seed + 2000)).baseline;
  log(`end baseline ${Math.round(endBaseline)} rows/s`);
}
await counter.end();
await admin.end();
await bench.dispose();
ingester.removeLogs();

const rate = versions / seconds;
const cpu = {
  simulator: +(cpu1.sim - cpu0.sim).toFixed(1),
  ingester: +(cpu1.ingester - cpu0.ingester).toFixed(1),
  postgres: +(cpu1.pg - cpu0.pg).toFixed(1),
  machine_busy: +(cpu1.machine - cpu0.machine).toFixed(1),
  wall: +seconds.toFixed(1),
};
results.push(
  { bench: 'ingest', metric: 'sustained events/s (sim→ingester→committed)', value: rate, unit: 'events/s', target: '≥ 40,000', met: rate >= 40_000 },
  {
    bench: 'ingest',
    metric: 'sustained / baseline',
    value: rate,
    unit: 'events/s',
    baseline,
    baselineName: 'plain-values-2conn',
    ratio: rate / baseline,
    target: '≥ 0.6×',
    met: rate / baseline >= 0.6,
  },
  {
    bench: 'ingest',
    metric: 'zero loss (rows == versions created, checksums equal)',
    value: stored?.n ?? 0,
    unit: 'rows',
    baseline: versions,
    baselineName: 'versions created',
    target: 'equal',
    met: lossless,
    note: `distinct (uid,rv) ${stored?.versions}; checksums ${checksumsEqual ? 'equal' : `DIFFER (table ${stored?.rv_sum}/${stored?.hash_a}/${stored?.hash_b}, created ${produced.rvSum}/${produced.hashA}/${produced.hashB})`}; ingester exit code ${exitCode}`,
  },
  {
    bench: 'ingest',
    metric: 'CPU seconds per 10k events (ingester / postgres / simulator)',
    value: (cpu.ingester / versions) * 10_000,
    unit: 'cpu-s',
    note: `ingester ${cpu.ingester}s, postgres ${cpu.postgres}s, simulator ${cpu.simulator}s (of which generating events ${(produced.generatorMs / 1000).toFixed(1)}s), machine busy ${cpu.machine_busy}s of ${(cpu.wall * 2).toFixed(1)} core-s; ingester RSS ${Math.round(ingesterRss / 2 ** 20)} MB; simulator RSS max ${Math.round(simRssMax / 2 ** 20)} MB, ${stats.deleted} events expired by TTL; all events created after ${(producedMs / 1000).toFixed(1)} s`,
  },
);
if (endBaseline !== undefined) {
  const meanBaseline = (baseline + endBaseline) / 2;
  results.push(
    { bench: 'ingest', metric: `sustained / baseline on the grown table (${versions} rows)`, value: rate, unit: 'events/s', baseline: endBaseline, baselineName: 'plain-values-2conn, end', ratio: rate / endBaseline },
    { bench: 'ingest', metric: 'sustained / mean of the start and end baselines', value: rate, unit: 'events/s', baseline: meanBaseline, baselineName: 'plain-values-2conn, mean', ratio: rate / meanBaseline, note: 'the run grows the table from 0 rows; the mean stands for the baseline over that growth' },
  );
}
if (drainRate !== undefined) {
  results.push({ bench: 'ingest', metric: 'simulator→watch alone (no database)', value: drainRate, unit: 'events/s', baseline: rate, baselineName: 'sustained', ratio: drainRate / rate, note: 'the ceiling the simulator (this process) and the watch transport allow' });
}
printResults(results, { machine: machineInfo(), postgres: db.version, events: versions, seconds: durationSeconds || undefined, watch_window: watchWindow, event_ttl_seconds: eventTtlSeconds || undefined, tls, shape, cpu, baseline_rows: baselineCount });
