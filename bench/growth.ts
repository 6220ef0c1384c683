// Benchmark 6: cost of growth. The table is grown step by step (default: empty, 100k, 1M rows over
// 10 daily partitions, filled server-side by copying generated rows, see growTo); at each size, measured:
// `insertEventRows` (1 connection, 1000-row batches) writing `--probe` fresh rows into today's
// partition, and the `/events` query (presenter's queryEvents: first page, RBAC user with 20
// namespaces, type=Warning; and three filters that match nothing, which the scan window bounds) p99. Baseline: the same measurements at the first (smallest) size.
// Usage: bun bench/growth.ts [--sizes 0,100000,1000000] [--probe 30000] [--iterations 100] [--base 50000] [--fill-connections 2]
//        (the issue's sizes: --sizes 0,100000,1000000,5000000)
//        [--perf-dir DIR]  (Linux `perf` on PATH: profiles the PostgreSQL backend during each size's insert
//        probe with call graphs and writes DIR/pg-insert-<rows>.txt, a flat profile of its top symbols)
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import postgres from 'postgres';
import { createSql } from '../lib/storage/db.ts';
import { insertEventRows, recordColumns } from '../lib/storage/event-store.ts';
import { defaultLimits } from '../lib/presenter/presenter.ts';
import { parseEventsRequest, queryEvents } from '../lib/presenter/events-query.ts';
import type { FilterInput } from '../lib/presenter/core/filters.ts';
import { createEventGenerator, generateStoredEvents, toRecords } from './support/events.ts';
import { toBatches } from './support/insert-forms.ts';
import { openBenchDatabase } from './support/pg.ts';
import { flag, log, machineInfo, numberFlag, printResults, summarize, type ResultRow } from './support/report.ts';

const sizes = (flag('sizes') ?? '0,100000,1000000').split(',').map(Number);
const probe = numberFlag('probe', 30_000);
const iterations = numberFlag('iterations', 100);
const dayMs = 86_400_000;
const todayStart = Math.floor(Date.now() / dayMs) * dayMs;
const firstDay = todayStart - 9 * dayMs;

await using db = await openBenchDatabase();
const sql = createSql(db.url, { max: 1 });
const admin = postgres(db.url, { max: 1, onnotice: () => {} });
// Ten days up to today, and tomorrow for the latest copies' millisecond shifts.
for (let d = 0; d < 11; d++) await admin`select ensure_k8s_events_partition(${new Date(firstDay + d * dayMs).toISOString().slice(0, 10)}::date)`;

// Growth is filled server-side: `--base` generated rows (one day, same shape and distribution as
// every benchmark's events) are staged once; each step then inserts copies of them, spread evenly
// over the 10 daily partitions, with `insert … select` from the staging table × generate_series
// (a copy gets its own uid suffix and a day/millisecond shift), on `--fill-connections`. Copies of
// one base row follow each other, so within a day seq order follows created_at as in a live
// table. The statement triggers are off during the fill; the measurements run with every trigger
// and index in place.
const baseSize = numberFlag('base', 50_000);
const fillConnections = numberFlag('fill-connections', 2);
const filler = postgres(db.url, { max: fillConnections, onnotice: () => {} });
let staged = false;
let copies = 0;
const cols = recordColumns.join(', ');
const count = async () => ((await admin<{ n: number }[]>`select count(*)::int as n from k8s_events`)[0]?.n ?? 0);
async function stage(): Promise<void> {
  const base = toRecords(generateStoredEvents(baseSize, { seed: 9, startMs: firstDay, stepMs: dayMs / baseSize }));
  await admin.unsafe(`create unlogged table growth_base (ord int primary key, ${recordColumns.map((c) => `${c} ${columnType(c)}`).join(', ')})`);
  for (const [b, batch] of toBatches(base, 1000).entries()) {
    const rows = batch.map((r, i) => ({ ...r, ord: b * 1000 + i }));
    await admin`insert into growth_base ${admin(rows, 'ord', ...recordColumns)}`;
  }
  await admin`analyze growth_base`;
  staged = true;
}
/** SQL type of a record column, as in k8s_events. */
function columnType(column: string): string {
  if (column === 'created_at' || column === 'first_seen') return 'timestamptz';
  if (column === 'composition_id') return 'uuid';
  if (column === 'raw' || column === 'labels') return 'jsonb';
  if (column === 'count') return 'int';
  return 'text';
}
async function growTo(target: number): Promise<void> {
  let n = await count();
  if (n >= target) return;
  if (!staged) await stage();
  const started = performance.now();
  const statements: string[] = [];
  const perDay = Math.ceil((target - n) / 10);
  for (let day = 0, planned = n; day < 10 && planned < target; day++) {
    const rows = Math.min(perDay, target - planned);
    planned += rows;
    // Full copies of the base (one statement), then a partial one of evenly spread base rows.
    const parts: { copies: number; limit: number }[] = [];
    if (rows >= baseSize) parts.push({ copies: Math.floor(rows / baseSize), limit: baseSize });
    if (rows % baseSize > 0) parts.push({ copies: 1, limit: rows % baseSize });
    for (const { copies: k, limit } of parts) {
      const from = copies + 1;
      copies += k;
      // The i-th of k copies of a base row lands i * step/(k+1) ms after it: interleaved, in order.
      const offsetMs = `(g.c - ${from}) * ${Math.floor(dayMs / baseSize / (k + 1))}`;
      const select = recordColumns
        .map((c) =>
          c === 'created_at' || c === 'first_seen'
            ? `b.${c} + interval '${day} days' + make_interval(secs => (${offsetMs}) / 1000.0)`
            : c === 'uid' || c === 'global_uid'
              ? `b.${c} || '-g' || g.c`
              : `b.${c}`,
        )
        .join(', ');
      // (ord * limit) mod base < limit holds for exactly `limit` rows, spread over the whole day.
      statements.push(
        `insert into k8s_events (${cols}) select ${select} from (select * from growth_base where (ord::bigint * ${limit}) % ${baseSize} < ${limit} order by ord) b cross join lateral generate_series(${from}, ${copies}) as g(c)`,
      );
    }
  }
  // Nobody reads during the fill: the NOTIFY trigger's transition table would spool every copied
  // row, and the commit-order lock would serialise the fill connections.
  await admin`alter table k8s_events disable trigger k8s_events_notify_statement`;
  await admin`alter table k8s_events disable trigger k8s_events_lock_seq`;
  try {
    await onPool(statements, async (statement) => {
      const inserted = (await filler.unsafe(statement)).count;
      n += inserted;
    });
  } finally {
    await admin`alter table k8s_events enable trigger k8s_events_notify_statement`;
    await admin`alter table k8s_events enable trigger k8s_events_lock_seq`;
  }
  const fillSeconds = (performance.now() - started) / 1000;
  // As autovacuum would have left a live table: visibility map set, statistics current.
  const partitions = await admin<{ name: string }[]>`select inhrelid::regclass::text as name from pg_inherits where inhparent = 'k8s_events'::regclass`;
  await onPool(partitions, ({ name }) => filler.unsafe(`vacuum ${name}`).then(() => {}));
  await admin`analyze k8s_events`;
  log(`filled to ${n} rows in ${fillSeconds.toFixed(1)} s (+ vacuum/analyze ${((performance.now() - started) / 1000 - fillSeconds).toFixed(1)} s)`);
}

/** Runs `work` over `items` on `fillConnections` concurrent workers. */
async function onPool<T>(items: readonly T[], work: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: fillConnections }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item);
    }),
  );
}

// `--perf-dir`: where PostgreSQL's own CPU goes per inserted row, and how that changes with size.
const perfDir = flag('perf-dir');
async function startBackendProfile(rows: number) {
  const [{ pid }] = (await sql<{ pid: number }[]>`select pg_backend_pid() as pid`) as unknown as [{ pid: number }];
  mkdirSync(perfDir!, { recursive: true });
  const data = join(perfDir!, `pg-insert-${rows}.data`);
  const recorder = Bun.spawn(['perf', 'record', '-F', '999', '-g', '-p', String(pid), '-o', data], { stdout: 'ignore', stderr: 'ignore' });
  await Bun.sleep(300); // perf attaches asynchronously
  return {
    async stop() {
      recorder.kill('SIGINT');
      await recorder.exited;
      const report = Bun.spawnSync(['perf', 'report', '-i', data, '--stdio', '--no-children', '--sort', 'symbol', '--percent-limit', '0.7', '-g', 'none'], { stdout: 'pipe', stderr: 'ignore' });
      writeFileSync(join(perfDir!, `pg-insert-${rows}.txt`), report.stdout);
      log(`perf profile of the backend at ${rows} rows: ${join(perfDir!, `pg-insert-${rows}.txt`)}`);
    },
  };
}

const namespaces = createEventGenerator({ seed: 9 }).namespaces.slice(0, 20);
const rows: ResultRow[] = [];
let baseRate: number | undefined;
let baseP99: number | undefined;
let baseNoMatch: number[] | undefined;
const noMatchCases: FilterInput[] = [{ name: 'no-such-pod' }, { reason: 'NoSuchReason' }, { labels: 'no=such' }];

/** p50/p99 of the presenter's own `/events` query for a user allowed 20 namespaces (after 5 warm-up runs). */
async function timeQuery(input: FilterInput) {
  const request = parseEventsRequest(input, { maxLimit: 1000 });
  const run = () => queryEvents(sql, request, [{ cluster: 'bench', namespaces }], { scanWindowRows: defaultLimits.eventsScanWindowRows });
  for (let i = 0; i < 5; i++) await run();
  const samples: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const q = performance.now();
    await run();
    samples.push(performance.now() - q);
  }
  return summarize(samples);
}
for (const [step, size] of sizes.entries()) {
  await growTo(size);
  const [{ n }] = (await admin<{ n: number }[]>`select count(*)::int as n from k8s_events`) as unknown as [{ n: number }];
  await admin`checkpoint`;
  const fresh = toRecords(generateStoredEvents(probe, { seed: 100 + step, startMs: Date.now() }));
  const profile = perfDir ? await startBackendProfile(n) : undefined;
  const t = performance.now();
  for (const batch of toBatches(fresh, 1000)) await insertEventRows(sql, batch);
  const rate = probe / ((performance.now() - t) / 1000);
  await profile?.stop();
  const s = await timeQuery({ type: 'Warning' });
  // Windowed filters that match nothing (decision 014): the cost must not grow with the table.
  const noMatch: ReturnType<typeof summarize>[] = [];
  for (const input of noMatchCases) noMatch.push(await timeQuery(input));
  baseRate ??= rate;
  baseP99 ??= s.p99;
  baseNoMatch ??= noMatch.map((q) => q.p99);
  log(`${n} rows: insertEventRows ${Math.round(rate)} rows/s, query p50 ${s.p50.toFixed(2)} p99 ${s.p99.toFixed(2)} ms`);
  const at = n.toLocaleString('en-US');
  rows.push(
    { bench: 'growth', metric: `insertEventRows at ${at} rows`, value: rate, unit: 'rows/s', baseline: baseRate, baselineName: `at ${sizes[0]} rows`, ratio: rate / baseRate },
    { bench: 'growth', metric: `/events type=Warning RBAC 20 ns p99 at ${at} rows`, value: s.p99, unit: 'ms', baseline: baseP99, baselineName: `at ${sizes[0]} rows`, ratio: s.p99 / baseP99, target: '< 50 ms', met: s.p99 < 50, note: `p50 ${s.p50.toFixed(2)} ms` },
    ...noMatchCases.map((input, i) => ({
      bench: 'growth',
      metric: `/events ${Object.entries(input).map(([k, v]) => `${k}=${v}`).join('&')} (no match) RBAC 20 ns p99 at ${at} rows`,
      value: noMatch[i]!.p99,
      unit: 'ms',
      baseline: baseNoMatch![i]!,
      baselineName: `at ${sizes[0]} rows`,
      ratio: noMatch[i]!.p99 / baseNoMatch![i]!,
      target: '< 50 ms',
      met: noMatch[i]!.p99 < 50,
      note: `p50 ${noMatch[i]!.p50.toFixed(2)} ms`,
    })),
  );
}
await sql.end();
await filler.end();
await admin.end();
printResults(rows, { machine: machineInfo(), postgres: db.version, sizes, probe });
