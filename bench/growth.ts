// Benchmark 6: cost of growth. The table is grown step by step (default: empty, 100k, 1M rows over
// 10 daily partitions, filled server-side by copying generated rows); at each size, measured:
// `insertEventRows` (1 connection, 1000-row batches) writing `--probe` fresh rows into today's
// partition, and the `/events` query (presenter's queryEvents: first page, RBAC user with 20
// namespaces, type=Warning) p99. Baseline: the same measurements at the first (smallest) size.
// Usage: bun bench/growth.ts [--sizes 0,100000,1000000] [--probe 30000] [--iterations 100]
import postgres from 'postgres';
import { createSql } from '../lib/db.ts';
import { insertEventRows, recordColumns } from '../lib/event-store.ts';
import { parseEventsRequest, queryEvents } from '../lib/events-query.ts';
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
for (let d = 0; d < 10; d++) await admin`select ensure_k8s_events_partition(${new Date(firstDay + d * dayMs).toISOString().slice(0, 10)}::date)`;

// Base rows for growth (day 1), copied with a uid suffix and a day shift.
const baseSize = 50_000;
let based = false;
let copies = 0;
const cols = recordColumns.join(', ');
async function growTo(target: number): Promise<void> {
  const count = async () => ((await admin<{ n: number }[]>`select count(*)::int as n from k8s_events`)[0]?.n ?? 0);
  let n = await count();
  if (n >= target) return;
  if (!based) {
    const base = toRecords(generateStoredEvents(baseSize, { seed: 9, startMs: firstDay, stepMs: dayMs / baseSize }));
    for (const batch of toBatches(base, 1000)) await insertEventRows(sql, batch);
    based = true;
    n = await count();
  }
  while (n < target) {
    copies++;
    const shift = copies % 10;
    const select = recordColumns
      .map((c) =>
        c === 'created_at' || c === 'first_seen' ? `${c} + interval '${shift} days'` : c === 'uid' || c === 'global_uid' ? `${c} || '-g${copies}'` : c,
      )
      .join(', ');
    await admin.unsafe(`insert into k8s_events (${cols}) select ${select} from k8s_events where created_at < '${new Date(firstDay + dayMs).toISOString()}' and uid not like '%-g%' order by seq limit ${Math.min(baseSize, target - n)}`);
    n = await count();
  }
  await admin`vacuum analyze k8s_events`;
}

const namespaces = createEventGenerator({ seed: 9 }).namespaces.slice(0, 20);
const rows: ResultRow[] = [];
let baseRate: number | undefined;
let baseP99: number | undefined;
for (const [step, size] of sizes.entries()) {
  await growTo(size);
  const [{ n }] = (await admin<{ n: number }[]>`select count(*)::int as n from k8s_events`) as unknown as [{ n: number }];
  await admin`checkpoint`;
  const fresh = toRecords(generateStoredEvents(probe, { seed: 100 + step, startMs: Date.now() }));
  const t = performance.now();
  for (const batch of toBatches(fresh, 1000)) await insertEventRows(sql, batch);
  const rate = probe / ((performance.now() - t) / 1000);
  const request = parseEventsRequest({ type: 'Warning' }, { maxLimit: 1000 });
  for (let i = 0; i < 5; i++) await queryEvents(sql, request, [{ namespaces }]);
  const samples: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const q = performance.now();
    await queryEvents(sql, request, [{ namespaces }]);
    samples.push(performance.now() - q);
  }
  const s = summarize(samples);
  baseRate ??= rate;
  baseP99 ??= s.p99;
  log(`${n} rows: insertEventRows ${Math.round(rate)} rows/s, query p50 ${s.p50.toFixed(2)} p99 ${s.p99.toFixed(2)} ms`);
  rows.push(
    { bench: 'growth', metric: `insertEventRows at ${n.toLocaleString('en-US')} rows`, value: rate, unit: 'rows/s', baseline: baseRate, baselineName: `at ${sizes[0]} rows`, ratio: rate / baseRate },
    { bench: 'growth', metric: `/events type=Warning RBAC 20 ns p99 at ${n.toLocaleString('en-US')} rows`, value: s.p99, unit: 'ms', baseline: baseP99, baselineName: `at ${sizes[0]} rows`, ratio: s.p99 / baseP99, target: '< 50 ms', met: s.p99 < 50, note: `p50 ${s.p50.toFixed(2)} ms` },
  );
}
await sql.end();
await admin.end();
printResults(rows, { machine: machineInfo(), postgres: db.version, sizes, probe });
