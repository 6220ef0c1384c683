// Benchmark: ingest latency, the simulator's write → the NOTIFY of the committed row's batch
// (simulator → `bun ingester.ts` → PostgreSQL; no presenter, no SSE client), open loop at `--rate`
// events/s. Each row's latency is the arrival of the first notification whose max_seq covers it,
// minus the write time stamped into its message; nothing is queried while measuring.
// Baseline in the same run (order A B A): the same load with the previous default `BATCH_FLUSH_INTERVAL=5ms`
// (a row reaching an idle writer waited 5 ms for company); the default now writes at the end of the
// event-loop turn the row arrived in (docs/decisions/007-batch-on-arrival.md).
// Usage: bun bench/ingest-latency.ts [--rate 1000] [--seconds 10] [--warmup 3]
import postgres from 'postgres';
import { createEventGenerator } from './support/events.ts';
import { openBenchDatabase } from './support/pg.ts';
import { log, machineInfo, numberFlag, printResults, summarize, type ResultRow } from './support/report.ts';
import { nowMs, startOpenLoop } from './support/sse-stack.ts';
import { spawnIngester, startBenchSimulator } from './support/stack.ts';

const rate = numberFlag('rate', 1000);
const seconds = numberFlag('seconds', 10);
const warmupSeconds = numberFlag('warmup', 3);

await using db = await openBenchDatabase();
const generator = createEventGenerator({ seed: 41, objects: 1000 });
const bench = await startBenchSimulator({ tls: true, generator });
const sql = postgres(db.url, { max: 1, onnotice: () => {} });

/** Runs the load against an ingester started with `env`; returns the write → NOTIFY latencies (ms). */
async function measure(env: Record<string, string>): Promise<number[]> {
  const [start] = await sql<{ seq: string }[]>`select coalesce(max(seq), 0)::text as seq from k8s_events`;
  const startSeq = start!.seq;
  const ingester = await spawnIngester({ databaseUrl: db.url, kubeconfigPath: bench.kubeconfigPath, env });
  await ingester.ready();
  // [arrival epoch ms, max_seq] in arrival order.
  const notifications: [number, number][] = [];
  const { unlisten } = await sql.listen('events_stack', (payload) => notifications.push([nowMs(), Number(JSON.parse(payload).max_seq)]));
  const producer = startOpenLoop(bench.sim, generator, rate);
  await Bun.sleep(warmupSeconds * 1000);
  const windowStart = nowMs();
  await Bun.sleep(seconds * 1000);
  await producer.stop();
  await Bun.sleep(1000);
  await unlisten();
  await ingester.stop();
  ingester.removeLogs();
  const rows = await sql<{ seq: string; message: string | null }[]>`
    select seq, message from k8s_events where seq > ${startSeq} order by seq`; // bigint: a string
  // Commit order is seq order (docs/decisions/002), so max_seq only grows; keep the running max anyway.
  let high = 0;
  const covered = notifications.map(([at, maxSeq]) => [at, (high = Math.max(high, maxSeq))] as const);
  const latencies: number[] = [];
  let n = 0;
  for (const row of rows) {
    const stamp = Number(/^t=(\d+\.\d+) /.exec(row.message ?? '')?.[1]);
    if (!(stamp >= windowStart)) continue;
    const seq = Number(row.seq);
    while (n < covered.length && covered[n]![1] < seq) n++;
    if (n === covered.length) throw new Error(`no notification covers seq ${seq}`);
    latencies.push(covered[n]![0] - stamp);
  }
  return latencies;
}

// A B A: the table grows and warms during the run, so the default is measured before and after
// the baseline and its samples pooled.
const onArrival = { name: 'flush at the end of the turn (default)', env: {} };
const timer = { name: 'BATCH_FLUSH_INTERVAL=5ms (previous default)', env: { BATCH_FLUSH_INTERVAL: '5ms' } };
const samples = { onArrival: [] as number[], timer: [] as number[] };
for (const [key, variant] of [['onArrival', onArrival], ['timer', timer], ['onArrival', onArrival]] as const) {
  const latencies = await measure(variant.env);
  log(`${variant.name}: ${JSON.stringify(summarize(latencies))}`);
  samples[key].push(...latencies);
}
const results = [summarize(samples.onArrival), summarize(samples.timer)];
await sql.end();
await bench.dispose();

const [now, before] = results as [ReturnType<typeof summarize>, ReturnType<typeof summarize>];
const rows: ResultRow[] = (['p50', 'p99'] as const).map((p) => ({
  bench: 'ingest-latency',
  metric: `write → NOTIFY ${p}, ${rate} events/s (${now.n} rows)`,
  value: Number(now[p].toFixed(2)),
  unit: 'ms',
  baseline: Number(before[p].toFixed(2)),
  baselineName: '5 ms flush timer',
  ratio: now[p] / before[p],
}));
printResults(rows, { machine: machineInfo(), rate, seconds });
process.exit(0);
