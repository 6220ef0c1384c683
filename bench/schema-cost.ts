// Where PostgreSQL's per-row insert cost goes, and what the storage candidates save. The same rows
// are copied server-side (no client, no protocol) from a staging table (raw and labels kept as
// text, so every variant pays its own JSON input conversion, as it does when a client sends text)
// in 1000-row autocommitted statements into twins of k8s_events that differ in their indexes, in
// `raw` as jsonb or json, in storage settings and in the statement triggers (none unless the
// variant says so). The reference is a twin with today's DDL (0000: seven indexes, raw jsonb,
// no triggers), measured in the same run; variants are interleaved over rounds and the best round
// of each is reported. Backend CPU per row and wall rows/s are reported; the backend's pid is
// logged for a profiler (`perf record -p PID`).
// Usage: bun bench/schema-cost.ts [--events 50000] [--rounds 2] [--only 3,7 (variants by position; 0 always runs)]
import postgres from 'postgres';
import { createSql } from '../lib/storage/db.ts';
import { insertEventRows, recordColumns } from '../lib/storage/event-store.ts';
import { generateStoredEvents, toRecords } from './support/events.ts';
import { toBatches } from './support/insert-forms.ts';
import { openBenchDatabase } from './support/pg.ts';
import { flag, log, machineInfo, numberFlag, printResults, processCpuSeconds, type ResultRow } from './support/report.ts';

const total = numberFlag('events', 50_000);
const rounds = numberFlag('rounds', 2);
await using db = await openBenchDatabase();
const records = toRecords(generateStoredEvents(total, { seed: 3 }));
const writer = createSql(db.url, { max: 1 });
for (const batch of toBatches(records, 1000)) await insertEventRows(writer, batch);
await writer.end();
const sql = postgres(db.url, { max: 1, onnotice: () => {} });
const cols = recordColumns.join(', ');
// The staging rows hold every value uncompressed, as a client sends it: `|| ''` builds new values
// (a value PostgreSQL had compressed would be copied compressed, and a variant would store it
// without compressing it itself), and the staging table never compresses them again.
const staged = cols.replace('message', "message || '' as message").replace('raw', "raw::text || '' as raw").replace('labels', 'labels::text as labels');
await sql.unsafe(`create table stage with (toast_tuple_target = 8160) as select (row_number() over (order by seq) - 1) / 1000 as b, ${staged} from k8s_events`);
await sql.unsafe(`create index on stage (b)`);
await sql.unsafe(`truncate k8s_events`);
const days = [...new Set(records.map((r) => r.created_at.slice(0, 10)))];
const [{ pid }] = (await sql`select pg_backend_pid() as pid`) as unknown as [{ pid: number }];
log(`measuring backend pid ${pid}`);

// Storage v2's indexes: the version key leads with global_uid and carries seq, so the /events
// "is there a newer version" anti-join is answered from it and the separate global_uid index goes.
const v2Indexes = [
  'create unique index on {t} (global_uid, created_at, resource_version) include (seq)',
  'create index on {t} (seq)',
  'create index on {t} (created_at, seq)',
  'create index on {t} (namespace, created_at)',
  'create index on {t} (composition_id, created_at) where composition_id is not null',
  'create index on {t} (involved_object_uid, created_at) where involved_object_uid is not null',
];
const brinSeq = v2Indexes.map((i) => (i.endsWith('(seq)') ? 'create index on {t} using brin (seq)' : i));
const filterIndexes = [
  'create index on {t} (resource_name, created_at)',
  'create index on {t} (reason, created_at)',
  'create index on {t} (event_type, created_at)',
  'create index on {t} (resource_kind, created_at)',
  'create index on {t} using gin (labels jsonb_path_ops)',
];
// Rows up to 8160 bytes stay inline and uncompressed (the default target, ≈ 2 KB, makes PostgreSQL
// try pglz on the larger columns of every row above it). A storage parameter of each partition:
// PostgreSQL 15 refuses storage parameters on a partitioned table.
const noCompression = 'toast_tuple_target = 8160';
/** The index statement with its pages filled to 100 % (the btree default is 90 %). */
function withFullPages(ddl: string): string {
  return ddl.includes(' where ') ? ddl.replace(' where ', ' with (fillfactor = 100) where ') : `${ddl} with (fillfactor = 100)`;
}

type Variant = {
  name: string;
  indexes: 'today' | string[];
  raw: 'jsonb' | 'json' | 'text';
  /** Storage parameters of each partition (`with (...)`). */
  partitionWith?: string;
  /** Statements run on the parent after it is created (`{t}` is the table). */
  alter?: string[];
  /** The statement triggers of k8s_events: none (default), the commit-order lock, or both. */
  triggers?: 'lock' | 'both';
};
const lockTrigger = 'create trigger {t}_lock before insert on {t} for each statement execute function k8s_events_lock_seq()';
const notifyTrigger = 'create trigger {t}_notify after insert on {t} referencing new table as new_rows for each statement execute function k8s_events_notify()';
const allVariants: Variant[] = [
  { name: 'today (0000): 7 indexes, raw jsonb', indexes: 'today', raw: 'jsonb' },
  { name: 'today\'s indexes, raw json', indexes: 'today', raw: 'json' },
  { name: 'merged version key (global_uid idx dropped), raw jsonb', indexes: v2Indexes, raw: 'jsonb' },
  { name: 'v2: merged version key, raw json', indexes: v2Indexes, raw: 'json' },
  { name: 'v2 columns, no index at all (heap, WAL, defaults)', indexes: [], raw: 'json' },
  { name: 'v2 + BRIN(seq) instead of btree(seq)', indexes: brinSeq, raw: 'json' },
  { name: 'v2 + indexes for name, reason, type, kind, labels (GIN)', indexes: [...v2Indexes, ...filterIndexes], raw: 'json' },
  { name: 'v2, partitions with toast_tuple_target 8160 (no pglz)', indexes: v2Indexes, raw: 'json', partitionWith: noCompression },
  { name: 'v2, raw storage external (no pglz, out of line above 2 KB)', indexes: v2Indexes, raw: 'json', alter: ['alter table {t} alter column raw set storage external'] },
  { name: 'v2, raw text (no JSON check at all)', indexes: v2Indexes, raw: 'text' },
  { name: 'v2, btree fillfactor 100', indexes: v2Indexes.map(withFullPages), raw: 'json' },
  { name: 'v2 + BRIN(seq) + toast_tuple_target 8160', indexes: brinSeq, raw: 'json', partitionWith: noCompression },
  { name: 'v2 + commit-order lock trigger', indexes: v2Indexes, raw: 'json', triggers: 'lock' },
  { name: 'v2 + lock and NOTIFY triggers (as shipped)', indexes: v2Indexes, raw: 'json', triggers: 'both' },
];
// `--only 0,3,7` measures a subset (by position; keep 0, the reference).
const only = flag('only')?.split(',').map(Number);
const variants = allVariants.filter((_, i) => i === 0 || !only || only.includes(i));

async function createTwin(table: string, v: Variant): Promise<void> {
  await sql.unsafe(`drop table if exists ${table}`);
  await sql.unsafe(`create table ${table} (like k8s_events including defaults${v.indexes === 'today' ? ' including indexes' : ''}) partition by range (created_at)`);
  if (v.indexes !== 'today') for (const ddl of v.indexes) await sql.unsafe(ddl.replace('{t}', table));
  // The copied columns are today's (raw json since 0002): every other type is set here.
  if (v.raw !== 'json') await sql.unsafe(`alter table ${table} alter column raw type ${v.raw}`);
  const triggers = v.triggers === 'both' ? [lockTrigger, notifyTrigger] : v.triggers === 'lock' ? [lockTrigger] : [];
  for (const ddl of [...(v.alter ?? []), ...triggers]) await sql.unsafe(ddl.replaceAll('{t}', table));
  const options = v.partitionWith ? ` with (${v.partitionWith})` : '';
  for (const day of days) {
    const next = new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
    await sql.unsafe(`create table ${table}_${day.replaceAll('-', '_')} partition of ${table} for values from ('${day} 00:00:00+00') to ('${next} 00:00:00+00')${options}`);
  }
}

async function measure(table: string, v: Variant): Promise<{ cpuUs: number; rowsPerSecond: number }> {
  await sql`checkpoint`;
  const cpu0 = processCpuSeconds(pid);
  const t = performance.now();
  const select = cols.replace('raw', `raw::${v.raw}`).replace('labels', 'labels::jsonb');
  for (let b = 0; b * 1000 < total; b++) await sql.unsafe(`insert into ${table} (${cols}) select ${select} from stage where b = ${b}`);
  const seconds = (performance.now() - t) / 1000;
  return { cpuUs: ((processCpuSeconds(pid) - cpu0) / total) * 1e6, rowsPerSecond: total / seconds };
}

const best = new Map<string, { cpuUs: number; rowsPerSecond: number }>();
for (let round = 1; round <= rounds; round++) {
  for (const v of variants) {
    const table = `twin_${allVariants.indexOf(v)}`;
    await createTwin(table, v);
    const result = await measure(table, v);
    log(`round ${round} ${v.name}: ${Math.round(result.rowsPerSecond)} rows/s, ${result.cpuUs.toFixed(1)} µs backend CPU/row`);
    const previous = best.get(v.name);
    if (!previous || result.cpuUs < previous.cpuUs) best.set(v.name, result);
  }
}
const sizes = await sql.unsafe<{ name: string; mb: number }[]>(`
  select p.relname as name, round(sum(pg_total_relation_size(c.oid)) / 1048576.0, 1)::float as mb
  from pg_class p join pg_inherits i on i.inhparent = p.oid join pg_class c on c.oid = i.inhrelid
  where p.relname like 'twin\\_%' group by 1 order by 1`);
await sql.end();
const reference = best.get(variants[0]!.name)!;
const rows: ResultRow[] = variants.map((v) => {
  const r = best.get(v.name)!;
  const mb = sizes.find((s) => s.name === `twin_${allVariants.indexOf(v)}`)?.mb;
  return {
    bench: 'schema-cost',
    metric: v.name,
    value: r.cpuUs,
    unit: 'µs CPU/row',
    baseline: reference.cpuUs,
    baselineName: 'today (0000)',
    ratio: r.cpuUs / reference.cpuUs,
    note: `${Math.round(r.rowsPerSecond)} rows/s wall (${(r.rowsPerSecond / reference.rowsPerSecond).toFixed(2)}×), ${mb} MB on disk`,
  };
});
printResults(rows, { machine: machineInfo(), postgres: db.version, events: total, rounds });
