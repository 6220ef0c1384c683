// Diagnostic (not in run.ts): where PostgreSQL's per-row insert cost goes. The same rows are copied
// server-side (no client, no protocol) from a staging table in 1000-row autocommitted statements
// into trigger-free twins of k8s_events that differ in one respect each: all indexes vs only the
// unique key + seq index, and `raw`/`labels` as jsonb vs json. Backend CPU per row is reported.
// Usage: bun bench/schema-cost.ts [--events 50000]
import postgres from 'postgres';
import { createSql } from '../lib/storage/db.ts';
import { insertEventRows, recordColumns } from '../lib/storage/event-store.ts';
import { generateStoredEvents, toRecords } from './support/events.ts';
import { toBatches } from './support/insert-forms.ts';
import { openBenchDatabase } from './support/pg.ts';
import { log, machineInfo, numberFlag, printResults, processCpuSeconds, type ResultRow } from './support/report.ts';

const total = numberFlag('events', 50_000);
await using db = await openBenchDatabase();
const records = toRecords(generateStoredEvents(total, { seed: 3 }));
const writer = createSql(db.url, { max: 1 });
for (const batch of toBatches(records, 1000)) await insertEventRows(writer, batch);
await writer.end();
const sql = postgres(db.url, { max: 1, onnotice: () => {} });
const cols = recordColumns.join(', ');
await sql.unsafe(`create table stage as select (row_number() over (order by seq) - 1) / 1000 as b, ${cols} from k8s_events`);
await sql.unsafe(`create index on stage (b)`);
await sql.unsafe(`truncate k8s_events`);
const days = [...new Set(records.map((r) => r.created_at.slice(0, 10)))];
const [{ pid }] = (await sql`select pg_backend_pid() as pid`) as unknown as [{ pid: number }];

type Variant = { name: string; indexes: 'all' | 'key'; json: 'jsonb' | 'json'; triggers?: boolean };
const variants: Variant[] = [
  { name: 'k8s_events as migrated (triggers, all indexes, jsonb)', indexes: 'all', json: 'jsonb', triggers: true },
  { name: 'twin: all indexes, jsonb, no triggers', indexes: 'all', json: 'jsonb' },
  { name: 'twin: all indexes, raw/labels json', indexes: 'all', json: 'json' },
  { name: 'twin: unique key + seq index only, jsonb', indexes: 'key', json: 'jsonb' },
  { name: 'twin: unique key + seq index only, json', indexes: 'key', json: 'json' },
];
const rows: ResultRow[] = [];
let reference: number | undefined;
for (const v of variants) {
  let table = 'k8s_events';
  if (!v.triggers) {
    table = `twin_${rows.length}`;
    await sql.unsafe(`create table ${table} (like k8s_events including defaults${v.indexes === 'all' ? ' including indexes' : ''}) partition by range (created_at)`);
    if (v.indexes === 'key') {
      await sql.unsafe(`create unique index on ${table} (cluster_name, uid, resource_version, created_at)`);
      await sql.unsafe(`create index on ${table} (seq)`);
    }
    if (v.json === 'json') await sql.unsafe(`alter table ${table} alter column raw type json, alter column labels type json`);
    for (const day of days) {
      const next = new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
      await sql.unsafe(`create table ${table}_${day.replaceAll('-', '_')} partition of ${table} for values from ('${day} 00:00:00+00') to ('${next} 00:00:00+00')`);
    }
  }
  await sql`checkpoint`;
  const cpu0 = processCpuSeconds(pid);
  const t = performance.now();
  const select = v.json === 'json' ? cols.replace('raw', 'raw::json').replace('labels', 'labels::json') : cols;
  for (let b = 0; b * 1000 < total; b++) await sql.unsafe(`insert into ${table} (${cols}) select ${select} from stage where b = ${b}`);
  const seconds = (performance.now() - t) / 1000;
  const cpuUs = ((processCpuSeconds(pid) - cpu0) / total) * 1e6;
  reference ??= cpuUs;
  log(`${v.name}: ${Math.round(total / seconds)} rows/s, ${cpuUs.toFixed(1)} µs backend CPU/row`);
  rows.push({ bench: 'schema-cost', metric: v.name, value: cpuUs, unit: 'µs CPU/row', baseline: reference, baselineName: 'as migrated', ratio: cpuUs / reference, note: `${Math.round(total / seconds)} rows/s wall, server-side insert … select` });
}
await sql.end();
printResults(rows, { machine: machineInfo(), postgres: db.version, events: total });
