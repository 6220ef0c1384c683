// Benchmark 2: sustained ingest, simulator watch → `bun ingester.ts` (a real subprocess) →
// committed rows, with a zero-loss check; PostgreSQL, the ingester and the simulator (this process)
// share the machine's cores. Measured in the same run:
//   baseline  the same kind of rows inserted straight into k8s_events by the fastest plain
//             multi-row INSERT on two connections (no ON CONFLICT);
//   drain     the simulator → watch transport alone: the ingester's own watch code (lib/event-watch.ts)
//             with a counting sink in a subprocess, no database — the ceiling the simulator allows.
// Usage: bun bench/ingest.ts [--events 200000] [--plain-http] [--max-backlog 40000] [--skip-drain]
//        [--profile-dir DIR]  (the ingester writes a markdown CPU profile there on exit)
//        (the long run: --events 5000000; needs ≈ 8 GB of simulator memory)
import postgres from 'postgres';
import type { Simulator } from '../dev/simulator/index.ts';
import { createEventGenerator, describeRecords, generateStoredEvents, toRecords } from './support/events.ts';
import { measureInsertRate, plainValuesInsert, toBatches } from './support/insert-forms.ts';
import { openBenchDatabase } from './support/pg.ts';
import { flag, log, machineBusySeconds, machineInfo, numberFlag, printResults, processCpuSeconds, type ResultRow } from './support/report.ts';
import { committedCounter, postgresCpuSeconds, spawnIngester, startBenchSimulator } from './support/stack.ts';

const total = numberFlag('events', 200_000);
const maxBacklog = numberFlag('max-backlog', 40_000);
const tls = flag('plain-http') === undefined;
const skipDrain = flag('skip-drain') !== undefined;
const seed = numberFlag('seed', 11);

/**
 * Creates `count` Event versions in the simulator as fast as it allows, yielding to I/O every
 * `chunk` writes and pausing while more than `maxBacklog` versions are not yet consumed.
 */
async function produce(sim: Simulator, gen: ReturnType<typeof createEventGenerator>, count: number, consumed: () => number, chunk = 250) {
  let created = 0;
  while (created < count) {
    while (created - consumed() > maxBacklog) await Bun.sleep(2);
    const end = Math.min(count, created + chunk);
    for (; created < end; created++) {
      const { event, update } = gen.next();
      if (update) sim.updateEvent(event as never);
      else sim.createEvent(event as never);
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
}

await using db = await openBenchDatabase();
const admin = postgres(db.url, { max: 1, onnotice: () => {} });
const results: ResultRow[] = [];

// --- baseline: plain multi-row insert, two connections, same row shape ---------------------------
const baselineCount = Math.min(total, 200_000);
log(`baseline: generating ${baselineCount} rows`);
const baselineRecords = toRecords(generateStoredEvents(baselineCount, { seed }));
const shape = describeRecords(baselineRecords);
for (const day of new Set(baselineRecords.map((r) => r.created_at.slice(0, 10)))) await admin`select ensure_k8s_events_partition(${day}::date)`;
await admin`checkpoint`;
const baselineRun = await measureInsertRate(
  db.url,
  { name: 'baseline', connections: 2, table: 'k8s_events', write: (sql, r) => plainValuesInsert(sql, 'k8s_events', r) },
  toBatches(baselineRecords, 1000),
);
const baseline = baselineCount / baselineRun.seconds;
log(`baseline ${Math.round(baseline)} rows/s`);
await admin`truncate k8s_events`;
await admin`checkpoint`;

// --- drain: simulator → watch, no database -----------------------------------------------------
const generator = createEventGenerator({ seed });
const bench = await startBenchSimulator({ tls, generator });
let drainRate: number | undefined;
if (!skipDrain) {
  const drainCount = Math.min(total, 200_000);
  const drainGen = createEventGenerator({ seed: seed + 1000 });
  const drainSim = await startBenchSimulator({ tls, generator: drainGen });
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
log(`ingester ready in ${Math.round(readyMs)} ms; producing ${total} events`);
const cpu0 = { sim: processCpuSeconds(process.pid), ingester: ingester.cpuSeconds(), pg: postgresCpuSeconds(db.embedded?.pid), machine: machineBusySeconds() };
const started = performance.now();
let lastReport = started;
const progress = setInterval(() => {
  const now = performance.now();
  log(`committed ${counter.rows} / ${total} (${Math.round(counter.rows / ((now - started) / 1000))}/s), ingester rss ${Math.round(ingester.rssBytes() / 2 ** 20)} MB`);
  lastReport = now;
}, 5000);
await produce(bench.sim, generator, total, () => counter.rows);
const producedMs = performance.now() - started;
let giveUp: ReturnType<typeof setTimeout> | undefined;
await Promise.race([counter.until(total), new Promise((resolve) => (giveUp = setTimeout(resolve, 120_000)))]);
clearTimeout(giveUp); // a pending timer would keep the process alive after the report
clearInterval(progress);
const seconds = (performance.now() - started) / 1000;
const cpu1 = { sim: processCpuSeconds(process.pid), ingester: ingester.cpuSeconds(), pg: postgresCpuSeconds(db.embedded?.pid), machine: machineBusySeconds() };
void lastReport;
const ingesterRss = ingester.rssBytes();

// --- loss check -----------------------------------------------------------------------------------
const versions = bench.sim.history().length;
const [stored] = await admin<{ n: number; versions: number }[]>`
  select count(*)::int as n, count(distinct (uid, resource_version))::int as versions from k8s_events`;
if (stored?.n !== versions) {
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
if (stored?.n !== versions) log(`LOSS: ingester output:\n${ingester.output()}`);
await counter.end();
await admin.end();
await bench.dispose();
ingester.removeLogs();

const rate = total / seconds;
const cpu = {
  simulator: +(cpu1.sim - cpu0.sim).toFixed(1),
  ingester: +(cpu1.ingester - cpu0.ingester).toFixed(1),
  postgres: +(cpu1.pg - cpu0.pg).toFixed(1),
  machine_busy: +(cpu1.machine - cpu0.machine).toFixed(1),
  wall: +seconds.toFixed(1),
};
const lossless = stored?.n === versions && stored?.versions === versions;
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
    metric: 'zero loss (rows == versions created)',
    value: stored?.n ?? 0,
    unit: 'rows',
    baseline: versions,
    baselineName: 'versions in simulator',
    target: 'equal',
    met: lossless,
    note: `distinct (uid,rv) ${stored?.versions}; ingester exit code ${exitCode}`,
  },
  {
    bench: 'ingest',
    metric: 'CPU seconds per 10k events (ingester / postgres / simulator)',
    value: (cpu.ingester / total) * 10_000,
    unit: 'cpu-s',
    note: `ingester ${cpu.ingester}s, postgres ${cpu.postgres}s, simulator ${cpu.simulator}s, machine busy ${cpu.machine_busy}s of ${(cpu.wall * 2).toFixed(1)} core-s; ingester RSS ${Math.round(ingesterRss / 2 ** 20)} MB; all events created after ${(producedMs / 1000).toFixed(1)} s`,
  },
);
if (drainRate !== undefined) {
  results.push({ bench: 'ingest', metric: 'simulator→watch alone (no database)', value: drainRate, unit: 'events/s', baseline: rate, baselineName: 'sustained', ratio: drainRate / rate, note: 'the ceiling the simulator (this process) and the watch transport allow' });
}
printResults(results, { machine: machineInfo(), postgres: db.version, events: total, tls, shape, cpu, baseline_rows: baselineCount });
