// Benchmark 4: history query. `--rows` (default 1,000,000) event versions over 10 daily partitions
// (30 % of them count bumps of an earlier event, so "latest version per Event" has work to do);
// then the presenter's own `/events` query (lib/presenter/events-query.ts queryEvents, exactly the SQL the
// route runs; HTTP, JWT and the RBAC review are not part of this figure) is timed for first pages
// with common filters and for deep cursor pages. Baseline in the same run: the simplest
// single-table `select ... from k8s_events order by created_at desc limit 50`.
// Usage: bun bench/query.ts [--rows 1000000] [--iterations 200] [--window 20000]
import postgres from 'postgres';
import { createSql } from '../lib/storage/db.ts';
import { insertEventRows, recordColumns } from '../lib/storage/event-store.ts';
import { encodeEventsCursor, decodeEventsCursor } from '../lib/presenter/core/cursor.ts';
import { parseEventsRequest, queryEvents } from '../lib/presenter/events-query.ts';
import { defaultLimits } from '../lib/presenter/presenter.ts';
import type { VisibleScope } from '../lib/presenter/access/event-visibility.ts';
import type { FilterInput } from '../lib/presenter/core/filters.ts';
import { createEventGenerator, generateStoredEvents, toRecords } from './support/events.ts';
import { toBatches } from './support/insert-forms.ts';
import { openBenchDatabase } from './support/pg.ts';
import { log, machineInfo, numberFlag, printResults, summarize, type ResultRow } from './support/report.ts';

const totalRows = numberFlag('rows', 1_000_000);
const iterations = numberFlag('iterations', 200);
// Rows one windowed page reads (EVENTS_SCAN_WINDOW_ROWS; docs/decisions/014-history-scan-window.md).
const window = { scanWindowRows: numberFlag('window', defaultLimits.eventsScanWindowRows) };
const days = 10;
const dayMs = 86_400_000;
const todayStart = Math.floor(Date.now() / dayMs) * dayMs;
const firstDay = todayStart - (days - 1) * dayMs;

await using db = await openBenchDatabase();
const sql = createSql(db.url, { max: 2 });
const admin = postgres(db.url, { max: 1, onnotice: () => {} });

// --- data: one generated day, copied server-side onto the 9 following days ----------------------
const perDay = Math.ceil(totalRows / days);
log(`loading ${perDay} rows for day 1`);
const seedOptions = { seed: 5, startMs: firstDay, stepMs: dayMs / perDay };
const records = toRecords(generateStoredEvents(perDay, seedOptions));
for (const batch of toBatches(records, 1000)) await insertEventRows(sql, batch);
const cols = recordColumns.join(', ');
for (let d = 1; d < days; d++) {
  const day = new Date(firstDay + d * dayMs).toISOString().slice(0, 10);
  await admin`select ensure_k8s_events_partition(${day}::date)`;
  const select = recordColumns
    .map((c) =>
      c === 'created_at' || c === 'first_seen'
        ? `${c} + interval '${d} days'`
        : c === 'uid'
          ? `uid || '-${d}'`
          : c === 'global_uid'
            ? `global_uid || '-${d}'`
            : c,
    )
    .join(', ');
  log(`copying to ${day}`);
  await admin.unsafe(`insert into k8s_events (${cols}) select ${select} from k8s_events where created_at < '${new Date(firstDay + dayMs).toISOString()}' order by seq`);
}
await admin`vacuum analyze k8s_events`;
const [{ n: rowCount, partitions }] = (await admin<{ n: number; partitions: number }[]>`
  select count(*)::int as n, (select count(*)::int from pg_inherits where inhparent = 'k8s_events'::regclass) as partitions from k8s_events`) as unknown as [{ n: number; partitions: number }];
log(`${rowCount} rows in ${partitions} partitions`);

// --- the queries ----------------------------------------------------------------------------------
const gen = createEventGenerator({ seed: 5 });
const rbacNamespaces = gen.namespaces.slice(0, 20);
// Rows are stored as cluster `bench` (toRecords); a cluster-wide user's scope is that cluster.
const everything: VisibleScope = [{ cluster: 'bench' }];
const limited: VisibleScope = [{ cluster: 'bench', namespaces: rbacNamespaces }];
const [{ composition_id: compositionId }] = (await admin<{ composition_id: string }[]>`
  select composition_id from k8s_events where composition_id is not null group by 1 order by count(*) desc limit 1`) as unknown as [{ composition_id: string }];

async function timeIt(fn: () => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < 5; i++) await fn(); // warm caches and prepared statements
  const samples: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const t = performance.now();
    await fn();
    samples.push(performance.now() - t);
  }
  return samples;
}

const page = (input: FilterInput, scope: VisibleScope) => () => queryEvents(sql, parseEventsRequest(input, { maxLimit: 1000 }), scope, window);

const cases: { name: string; run: () => Promise<unknown> }[] = [
  { name: 'first page, admin, no filter', run: page({}, everything) },
  { name: 'first page, RBAC user with 20 namespaces', run: page({}, limited) },
  { name: 'first page, composition_id', run: page({ composition_id: compositionId }, everything) },
  { name: 'first page, type=Warning, RBAC 20 namespaces', run: page({ type: 'Warning' }, limited) },
  { name: 'first page, namespace=one, kind=v1.Pod', run: page({ namespace: gen.namespaces[3]!, kind: 'v1.Pod' }, everything) },
];

// Every /events filter alone, with a value that matches and one that matches nothing (the costly
// case without an index: the newest-first walk finds no row to stop at).
const [sample] = await admin<Record<string, string>[]>`
  select resource_name, reason, involved_object_uid, cluster_name, labels::text as labels
  from k8s_events where labels is not null and involved_object_uid is not null and reason is not null order by seq desc limit 1`;
const label = Object.entries(JSON.parse(sample!.labels!) as Record<string, string>)[0]!;
const hourAgo = new Date(Date.now() - 3_600_000).toISOString();
const fiveDaysAgo = new Date(Date.now() - 5 * dayMs).toISOString();
const filterCases: [string, FilterInput][] = [
  ['namespace=one', { namespace: gen.namespaces[3]! }],
  ['namespace=no match', { namespace: 'no-such-namespace' }],
  ['kind=v1.Pod', { kind: 'v1.Pod' }],
  ['kind=no match', { kind: 'v1.NoSuchKind' }],
  ['name=existing', { name: sample!.resource_name! }],
  ['name=no match', { name: 'no-such-pod' }],
  ['type=Warning', { type: 'Warning' }],
  ['type=no match', { type: 'NoSuchType' }],
  ['reason=existing', { reason: sample!.reason! }],
  ['reason=no match', { reason: 'NoSuchReason' }],
  ['labels=existing', { labels: `${label[0]}=${label[1]}` }],
  ['labels=no match', { labels: 'no=such' }],
  ['composition_id=no match', { composition_id: '00000000-0000-4000-8000-000000000000' }],
  ['involved_object_uid=existing', { involved_object_uid: sample!.involved_object_uid! }],
  ['involved_object_uid=no match', { involved_object_uid: 'no-such-uid' }],
  ['cluster=existing', { cluster: sample!.cluster_name! }],
  ['cluster=no match', { cluster: 'no-such-cluster' }],
  ['since=1h ago', { since: hourAgo }],
  ['until=5 days ago', { until: fiveDaysAgo }],
];
for (const [name, input] of filterCases) cases.push({ name: `filter ${name}, admin`, run: page(input, everything) });
for (const [name, input] of filterCases.filter(([n]) => n.endsWith('no match'))) cases.push({ name: `filter ${name}, RBAC 20 namespaces`, run: page(input, limited) });
// An indexed filter with one that matches nothing (the window is read through the namespace's own
// rows), and a user allowed a single namespace (its scope is one value).
const oneNamespace: VisibleScope = [{ cluster: 'bench', namespaces: [gen.namespaces[3]!] }];
for (const [name, input] of [['name', { name: 'no-such-pod' }], ['reason', { reason: 'NoSuchReason' }], ['labels', { labels: 'no=such' }]] as const) {
  cases.push({ name: `filter namespace=one & ${name}=no match, admin`, run: page({ namespace: gen.namespaces[3]!, ...input }, everything) });
  cases.push({ name: `filter ${name}=no match, RBAC 1 namespace`, run: page(input, oneNamespace) });
}
cases.push({ name: 'first page, RBAC 1 namespace, no filter', run: page({}, oneNamespace) });
// Several namespace values: the window's inner read is left to the planner (an ordered walk of the
// table filtered by namespace, or the rows of those namespaces sorted).
const threeNamespaces = gen.namespaces.slice(3, 6).join(',');
cases.push({ name: 'filter namespace=3 values, admin', run: page({ namespace: threeNamespaces }, everything) });
cases.push({ name: 'filter namespace=3 values & name=no match, admin', run: page({ namespace: threeNamespaces, name: 'no-such-pod' }, everything) });

// Deep pages: a cursor half-way back (day 5), and the 200th page reached by following cursors.
const first = await queryEvents(sql, parseEventsRequest({}, { maxLimit: 1000 }), limited, window);
const firstCursor = decodeEventsCursor(first.cursor!);
const midCreated = new Date(firstDay + 5 * dayMs + dayMs / 2).toISOString();
const [mid] = await admin<{ seq: number; created: string }[]>`
  select seq, created_at::text as created from k8s_events where created_at <= ${midCreated} order by created_at desc, seq desc limit 1`;
const deepCursor = encodeEventsCursor({ createdAt: mid!.created, seq: Number(mid!.seq), maxSeq: firstCursor.maxSeq });
cases.push({ name: 'deep cursor page (5 days back), RBAC 20 namespaces', run: page({ cursor: deepCursor }, limited) });
cases.push({ name: 'deep cursor page (5 days back), type=Warning, RBAC 20', run: page({ cursor: deepCursor, type: 'Warning' }, limited) });
let cursor = first.cursor;
for (let i = 0; i < 199 && cursor; i++) cursor = (await queryEvents(sql, parseEventsRequest({ cursor }, { maxLimit: 1000 }), limited, window)).cursor;
const page200 = cursor!;
cases.push({ name: 'page 200 by following cursors, RBAC 20 namespaces', run: page({ cursor: page200 }, limited) });

const baselineSamples = await timeIt(() => sql`select seq, event_id, created_at, namespace, resource_kind, resource_name, event_type, reason, message, raw::text as raw from k8s_events order by created_at desc limit 50`);
const baseline = summarize(baselineSamples);
log(`baseline p50 ${baseline.p50.toFixed(2)} ms p99 ${baseline.p99.toFixed(2)} ms`);
const rows: ResultRow[] = [{ bench: 'query', metric: 'baseline: select … order by created_at desc limit 50 (p99)', value: baseline.p99, unit: 'ms', note: `p50 ${baseline.p50.toFixed(2)} ms` }];
for (const c of cases) {
  const s = summarize(await timeIt(c.run));
  log(`${c.name}: p50 ${s.p50.toFixed(2)} ms p99 ${s.p99.toFixed(2)} ms`);
  rows.push({
    bench: 'query',
    metric: `${c.name} (p99)`,
    value: s.p99,
    unit: 'ms',
    baseline: baseline.p99,
    baselineName: 'simple limit 50',
    ratio: s.p99 / baseline.p99,
    target: '< 50 ms',
    met: s.p99 < 50,
    note: `p50 ${s.p50.toFixed(2)} ms, max ${s.max.toFixed(1)} ms`,
  });
}
const explain = await admin.unsafe(`explain (analyze, buffers, costs off)
  select e.seq from k8s_events e
  where e.seq <= ${firstCursor.maxSeq} and e.event_type = 'Warning' and e.namespace = any(array[${rbacNamespaces.map((n) => `'${n}'`).join(',')}])
    and not exists (select 1 from k8s_events n where n.global_uid = e.global_uid and n.seq <= ${firstCursor.maxSeq} and (n.created_at, n.seq) > (e.created_at, e.seq))
  order by e.created_at desc, e.seq desc limit 51`);
log(`plan of 'type=Warning, RBAC 20':\n${explain.map((r) => (r as Record<string, string>)['QUERY PLAN']).join('\n')}`);
const noMatch = await admin.unsafe(`explain (analyze, buffers, costs off)
  select e.seq from k8s_events e
  where e.seq <= ${firstCursor.maxSeq} and e.resource_name = 'no-such-pod'
    and not exists (select 1 from k8s_events n where n.global_uid = e.global_uid and n.seq <= ${firstCursor.maxSeq} and (n.created_at, n.seq) > (e.created_at, e.seq))
  order by e.created_at desc, e.seq desc limit 51`);
log(`plan of 'name=no-such-pod', admin, without the scan window (the whole table):\n${noMatch.map((r) => (r as Record<string, string>)['QUERY PLAN']).join('\n')}`);
// The same filter as queryEvents now runs it: through the scan window (lib/presenter/events-query.ts queryWindow).
const windowed = await admin.unsafe(`explain (analyze, buffers, costs off)
  select e.seq, e.n, (e.n <> ${window.scanWindowRows} or (e.hit and not exists (select 1 from k8s_events n where n.global_uid = e.global_uid and n.seq + 0 <= ${firstCursor.maxSeq} and (n.created_at, n.seq) > (e.created_at, e.seq)))) as shown
  from (
    select e.*, coalesce(e.resource_name = 'no-such-pod', false) as hit, row_number() over (order by e.created_at desc, e.seq desc) as n
    from k8s_events e where e.seq <= ${firstCursor.maxSeq}
    order by e.created_at desc, e.seq desc limit ${window.scanWindowRows}
  ) e
  where (e.hit and not exists (select 1 from k8s_events n where n.global_uid = e.global_uid and n.seq + 0 <= ${firstCursor.maxSeq} and (n.created_at, n.seq) > (e.created_at, e.seq))) or e.n = ${window.scanWindowRows}
  order by e.created_at desc, e.seq desc limit 51`);
log(`plan of 'name=no-such-pod', admin, through the scan window of ${window.scanWindowRows} rows:\n${windowed.map((r) => (r as Record<string, string>)['QUERY PLAN']).join('\n')}`);
await sql.end();
await admin.end();
printResults(rows, { machine: machineInfo(), postgres: db.version, table_rows: rowCount, partitions, iterations });
