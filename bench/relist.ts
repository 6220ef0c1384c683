// Benchmark 3: relist burst. `--events` (default 100,000) Event versions are present in the
// simulator when `bun ingester.ts` starts, half of them already stored (as a restart after a crash
// would find them); measured: time from spawning the ingester until every event is committed.
// Baseline in the same run: the same rows written straight by insertEventRows on one connection
// (half conflicting), i.e. the database part of the work alone.
// Usage: bun bench/relist.ts [--events 100000] [--plain-http] [--profile-dir DIR]
import postgres from 'postgres';
import { createSql } from '../lib/storage/db.ts';
import { buildEventRecord } from '../lib/ingest/event-record.ts';
import { insertEventRows, type EventRecord } from '../lib/storage/event-store.ts';
import { createEventGenerator, describeRecords } from './support/events.ts';
import { toBatches } from './support/insert-forms.ts';
import { openBenchDatabase } from './support/pg.ts';
import { flag, log, machineBusySeconds, machineInfo, numberFlag, printResults, processCpuSeconds } from './support/report.ts';
import { postgresCpuSeconds, spawnIngester, startBenchSimulator } from './support/stack.ts';

const total = numberFlag('events', 100_000);
const tls = flag('plain-http') === undefined;

await using db = await openBenchDatabase();
const generator = createEventGenerator({ seed: 21, updateShare: 0 });
const bench = await startBenchSimulator({ tls, generator });
log(`creating ${total} events in the simulator`);
for (let i = 0; i < total; i++) bench.sim.createEvent(generator.next().event as never);
const stored = bench.sim.history();
const nowIso = new Date().toISOString();
const records: EventRecord[] = stored.map((event) => {
  const built = buildEventRecord(event as never, { clusterName: 'bench', compositionId: null, nowIso });
  if (!built.ok) throw new Error('unbuildable');
  return built.record;
});
const shape = describeRecords(records);

/** The relist on the database at `url`: baseline (insertEventRows alone), then the spawned ingester. */
async function measureRelist(url: string) {
  const admin = postgres(url, { max: 1, onnotice: () => {} });
  // Baseline: the database work alone (half new, half conflicting), insertEventRows, 1000-row batches.
  const writer = createSql(url, { max: 1 });
  const half = records.filter((_, i) => i % 2 === 0);
  for (const batch of toBatches(half, 1000)) await insertEventRows(writer, batch);
  await admin`checkpoint`;
  let t = performance.now();
  for (const batch of toBatches(records, 1000)) await insertEventRows(writer, batch);
  const baselineSeconds = (performance.now() - t) / 1000;
  log(`baseline (insertEventRows, half conflicting) ${baselineSeconds.toFixed(2)} s`);
  // Reset to the half-stored state.
  await admin`truncate k8s_events`;
  for (const batch of toBatches(half, 1000)) await insertEventRows(writer, batch);
  await writer.end();
  await admin`checkpoint`;

  t = performance.now();
  const spawnedAtMs = Date.now();
  const cpu0 = { sim: processCpuSeconds(process.pid), pg: postgresCpuSeconds(db.embedded?.pid), machine: machineBusySeconds() };
  const ingester = await spawnIngester({ databaseUrl: url, kubeconfigPath: bench.kubeconfigPath, cpuProfileDir: flag('profile-dir') });
  let committed = 0;
  let readyMs: number | undefined;
  void ingester.ready(60_000).then((ms) => (readyMs = ms), () => {});
  const deadline = t + 120_000;
  while (performance.now() < deadline) {
    const [row] = await admin<{ n: number }[]>`select count(*)::int as n from k8s_events`;
    committed = row?.n ?? 0;
    if (committed >= total) break;
    await Bun.sleep(20);
  }
  const seconds = (performance.now() - t) / 1000;
  // CPU over the burst (the simulator shares the benchmark's process with its polling).
  const cpu = {
    ingester: +ingester.cpuSeconds().toFixed(1),
    postgres: +(postgresCpuSeconds(db.embedded?.pid) - cpu0.pg).toFixed(1),
    simulator: +(processCpuSeconds(process.pid) - cpu0.sim).toFixed(1),
    machine_busy: +(machineBusySeconds() - cpu0.machine).toFixed(1),
  };
  log(`cpu: ingester ${cpu.ingester} s, postgres ${cpu.postgres} s, simulator+bench ${cpu.simulator} s, machine busy ${cpu.machine_busy} of ${(seconds * 2).toFixed(1)} core-s`);
  // Where the time went, from the ingester's own log lines (ms after spawn).
  const phases: Record<string, number> = {};
  for (const line of ingester.output().split('\n')) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as { time?: string; msg?: string };
    if (entry.msg && entry.time && !(entry.msg in phases)) phases[entry.msg] = Date.parse(entry.time) - spawnedAtMs;
  }
  const phaseNote = ['ingester starting', 'leadership acquired', 'events listed']
    .map((msg) => `${msg} +${phases[msg] ?? 'n/a'} ms`)
    .join(', ');
  log(`phases: ${phaseNote}`);
  const [check] = await admin<{ n: number }[]>`select count(distinct (uid, resource_version))::int as n from k8s_events`;
  await ingester.stop();
  await admin.end();
  ingester.removeLogs();

  return { seconds, baselineSeconds, cpu, phaseNote, readyMs, rows: check?.n ?? 0 };
}

// Storage v2 against today's DDL (migrations up to 0001: raw jsonb, seven indexes) in the same
// run, same simulator and events: today first, then v2.
const todayUrl = await db.another({ upToTag: '0001_own_schema' });
const today = await measureRelist(todayUrl);
log(`today's DDL: ${today.seconds.toFixed(2)} s (insertEventRows alone ${today.baselineSeconds.toFixed(2)} s)`);
const v2 = await measureRelist(db.url);
await bench.dispose();
const { seconds, baselineSeconds, cpu, phaseNote, readyMs } = v2;
const check = { n: v2.rows };
const lossless = check?.n === total;
printResults(
  [
    {
      bench: 'relist',
      metric: `relist burst: ${total} listed, half stored → all committed (from spawn)`,
      value: seconds,
      unit: 's',
      baseline: baselineSeconds,
      baselineName: 'insertEventRows alone',
      ratio: seconds / baselineSeconds,
      target: '≤ 2.5 s',
      met: seconds <= 2.5 && lossless,
      note: `${phaseNote}; process start to leader+watch ready ${readyMs === undefined ? 'n/a' : Math.round(readyMs)} ms (the list runs before the watch, so ready ≈ list done); rows ${check?.n}/${total}`,
    },
  ],
  { machine: machineInfo(), postgres: db.version, events: total, tls, shape, cpu, cpu_today: today.cpu },
);
