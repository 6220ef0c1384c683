import type { Sql } from './db.ts';

/** What one batch of an import did, and the totals of this run so far. */
export interface LegacyImportProgress {
  /** The source partition being read. */
  partition: string;
  /** Source rows read by this run. */
  rowsRead: number;
  /** Rows this run added to our table (the others were already there). */
  rowsInserted: number;
  /** Source rows read per second by this run. */
  rowsPerSecond: number;
}

/** Options of {@link importLegacyEvents}. */
export interface LegacyImportOptions {
  /** The Go services' partitioned table, schema-qualified; default `public.k8s_events`. */
  source?: string;
  /** Source rows per transaction (default 2000): each batch holds our insert lock until it commits. */
  batchRows?: number;
  /** Called after every batch. */
  onProgress?: (progress: LegacyImportProgress) => void;
  /** Stops after the batch in progress; a later run resumes. */
  signal?: AbortSignal;
  now?: () => number;
}

/** Totals of one run. */
export interface LegacyImportResult {
  rowsRead: number;
  rowsInserted: number;
  partitions: number;
  /** False when stopped by the signal before the end. */
  finished: boolean;
}

const dayMs = 86_400_000;
const isoTime = String.raw`'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$'`;

// A JSON string holding an RFC 3339 time as timestamptz, else NULL (never an error).
const timeOf = (path: string) => `case when ${path} ~ ${isoTime} then (${path})::timestamptz end`;
// A JSON number that fits `integer`, else NULL.
const countOf = (path: string, text: string) =>
  `case when jsonb_typeof(${path}) = 'number' and (${text})::numeric between 0 and 2147483647 then (${text})::numeric::int end`;

// Our columns from a row of the Go ingester's table `s`: the 15 columns as found (raw and
// event_id included), then what the minified Event in `raw` allows: count (series.count, count;
// else 1, the column's default), first_seen (firstTimestamp, eventTime; else NULL), the reporting
// controller, and labels (the Event's metadata.labels without the krateo.io/composition-id key the
// Go ingester adds to every event; its value is already the row's composition_id).
const selectList = `
  s.created_at, s.event_id, s.cluster_name, s.uid, s.global_uid, s.namespace, s.resource_kind, s.resource_name,
  s.involved_object_uid, s.event_type, s.reason, s.message, s.composition_id, s.raw::json, s.resource_version,
  coalesce(${countOf("s.raw->'series'->'count'", "s.raw->'series'->>'count'")}, ${countOf("s.raw->'count'", "s.raw->>'count'")}, 1),
  coalesce(${timeOf("s.raw->>'firstTimestamp'")}, ${timeOf("s.raw->>'eventTime'")}),
  coalesce(s.raw->>'reportingComponent', s.raw->>'reportingController', s.raw->'source'->>'component'),
  nullif(case when jsonb_typeof(s.raw->'metadata'->'labels') = 'object'
              then (s.raw->'metadata'->'labels') - 'krateo.io/composition-id' end, '{}'::jsonb)`;

const insertList = `created_at, event_id, cluster_name, uid, global_uid, namespace, resource_kind, resource_name,
  involved_object_uid, event_type, reason, message, composition_id, raw, resource_version,
  count, first_seen, reporting_controller, labels`;

interface SourcePartition {
  name: string;
  schema: string;
  /** Upper bound in ms, or +Infinity when unknown. */
  endMs: number;
  startDay: string | null;
}

/** The source's partitions, oldest first (by name: `k8s_events_YYYY_MM_DD`). */
async function listSourcePartitions(sql: Sql, source: string): Promise<SourcePartition[]> {
  const rows = await sql<{ name: string; schema: string; bound: string }[]>`
    select c.relname as name, n.nspname as schema, pg_get_expr(c.relpartbound, c.oid) as bound
    from pg_inherits i join pg_class c on c.oid = i.inhrelid join pg_namespace n on n.oid = c.relnamespace
    where i.inhparent = ${source}::regclass
    order by c.relname`;
  return rows.map((r) => {
    const [, from, to] = /FROM \('([^']+)'\) TO \('([^']+)'\)/.exec(r.bound) ?? [];
    const endMs = to ? Date.parse(to.replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00')) : Number.NaN;
    return { name: r.name, schema: r.schema, endMs: Number.isNaN(endMs) ? Number.POSITIVE_INFINITY : endMs, startDay: from?.slice(0, 10) ?? null };
  });
}

interface ImportState {
  partition: string | null;
  lastGlobalUid: string | null;
  lastResourceVersion: string | null;
}

async function readState(sql: Sql, source: string): Promise<ImportState> {
  const [row] = await sql<{ partition: string | null; last_global_uid: string | null; last_resource_version: string | null }[]>`
    select partition, last_global_uid, last_resource_version from legacy_import_state where source = ${source}`;
  return { partition: row?.partition ?? null, lastGlobalUid: row?.last_global_uid ?? null, lastResourceVersion: row?.last_resource_version ?? null };
}

const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;

type Key = [globalUid: string, resourceVersion: string];

/**
 * Copies the next `batchRows` rows of `part` after `after` (in `(global_uid, resource_version)`
 * order, deviser's per-partition unique key) into our table and records the position, in one
 * transaction. The position is recorded only for a partition that can no longer receive rows
 * (`closed`); an open one is read again from its start by the next run.
 */
async function copyBatch(
  sql: Sql,
  job: { source: string; part: SourcePartition; after: Key | null; batchRows: number; closed: boolean },
): Promise<{ read: number; inserted: number; last: Key | null }> {
  const from = `${quoteIdent(job.part.schema)}.${quoteIdent(job.part.name)}`;
  return await sql.begin(async (tx) => {
    const [row] = await tx.unsafe<{ read: number; inserted: number; gu: string | null; rv: string | null }[]>(
      `with batch as (
         select * from ${from} s ${job.after ? 'where (s.global_uid, s.resource_version) > ($1, $2)' : ''}
         order by s.global_uid, s.resource_version limit ${job.batchRows}
       ), ins as (
         insert into k8s_events (${insertList}) select ${selectList} from batch s on conflict do nothing returning 1
       ), last as (
         select global_uid, resource_version from batch order by global_uid desc, resource_version desc limit 1
       )
       select (select count(*)::int from batch) as read, (select count(*)::int from ins) as inserted,
              (select global_uid from last) as gu, (select resource_version from last) as rv`,
      job.after ?? [],
    );
    const last: Key | null = row?.gu != null && row.rv != null ? [row.gu, row.rv] : null;
    if (!last) return { read: 0, inserted: 0, last };
    const saved = job.closed ? last : null;
    await tx`
      insert into legacy_import_state (source, partition, last_global_uid, last_resource_version, rows_read)
      values (${job.source}, ${job.part.name}, ${saved?.[0] ?? null}, ${saved?.[1] ?? null}, ${row?.read ?? 0})
      on conflict (source) do update set partition = excluded.partition, last_global_uid = excluded.last_global_uid,
        last_resource_version = excluded.last_resource_version, rows_read = legacy_import_state.rows_read + excluded.rows_read,
        updated_at = now()`;
    return { read: row?.read ?? 0, inserted: row?.inserted ?? 0, last };
  });
}

/**
 * Copies the rows the Go events-ingester wrote in deviser's table (`source`) into our `k8s_events`:
 * the 15 shared columns as found (`raw` and `event_id` included), `count`, `first_seen`, the
 * reporting controller and labels derived from `raw` where it allows. Idempotent (a version
 * already stored is skipped by our version key) and resumable (the position is kept in
 * `legacy_import_state` after every batch; a partition still receiving rows is read again from its
 * start). Source partitions dropped meanwhile by deviser's retention are skipped. Imported rows
 * get new `seq` numbers, so a presenter already serving live clients would send them as new.
 */
export async function importLegacyEvents(sql: Sql, options: LegacyImportOptions = {}): Promise<LegacyImportResult> {
  const source = options.source ?? 'public.k8s_events';
  const batchRows = options.batchRows ?? 2000;
  const now = options.now ?? Date.now;
  const startedMs = performance.now();
  const state = await readState(sql, source);
  const partitions = await listSourcePartitions(sql, source);
  const totals = { rowsRead: 0, rowsInserted: 0, partitions: 0 };
  for (const part of partitions) {
    if (state.partition !== null && part.name < state.partition) continue;
    let after: Key | null = part.name === state.partition && state.lastGlobalUid !== null && state.lastResourceVersion !== null
      ? [state.lastGlobalUid, state.lastResourceVersion]
      : null;
    // Deviser's day bounds may be in another zone than our UTC days: cover the neighbours too.
    if (part.startDay) await sql`select ensure_k8s_events_partitions(${part.startDay}::date - 1, 3)`;
    totals.partitions++;
    for (;;) {
      if (options.signal?.aborted) return { ...totals, finished: false };
      const closed = part.endMs + dayMs < now();
      const batch = await copyBatch(sql, { source, part, after, batchRows, closed }).catch((err: unknown) => {
        if ((err as { code?: string }).code === '42P01') return null; // dropped by deviser's retention
        throw err;
      });
      if (!batch || batch.read === 0) break;
      totals.rowsRead += batch.read;
      totals.rowsInserted += batch.inserted;
      const seconds = (performance.now() - startedMs) / 1000;
      options.onProgress?.({ partition: part.name, rowsRead: totals.rowsRead, rowsInserted: totals.rowsInserted, rowsPerSecond: Math.round(totals.rowsRead / Math.max(seconds, 1e-3)) });
      if (batch.read < batchRows) break;
      after = batch.last;
    }
  }
  return { ...totals, finished: true };
}
