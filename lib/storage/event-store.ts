import type postgres from 'postgres';
import type { Queryable } from './db.ts';

/**
 * One Event version ready to be written: snake_case keys equal to the `k8s_events` columns.
 * `raw` and `labels` are JSON text (already minified) so they are serialised only once.
 */
export interface EventRecord {
  created_at: string;
  cluster_name: string;
  uid: string;
  global_uid: string;
  namespace: string;
  resource_kind: string;
  resource_name: string;
  involved_object_uid: string | null;
  event_type: string;
  reason: string | null;
  message: string | null;
  composition_id: string | null;
  raw: string;
  resource_version: string;
  count: number;
  first_seen: string | null;
  reporting_controller: string | null;
  labels: string | null;
}

/** The columns written by `insertEventRows`, in insert order. */
export const recordColumns = [
  'created_at',
  'cluster_name',
  'uid',
  'global_uid',
  'namespace',
  'resource_kind',
  'resource_name',
  'involved_object_uid',
  'event_type',
  'reason',
  'message',
  'composition_id',
  'raw',
  'resource_version',
  'count',
  'first_seen',
  'reporting_controller',
  'labels',
] as const satisfies readonly (keyof EventRecord)[];

/** SQLSTATE raised when a row's `created_at` has no partition. */
const noPartitionCode = '23514';

/** The UTC day (`YYYY-MM-DD`) a timestamp falls in. */
export function utcDay(timestamp: string): string {
  return new Date(timestamp).toISOString().slice(0, 10);
}

/**
 * Writes the records in one idempotent multi-row statement (a version already stored is skipped)
 * and returns how many rows were new. A day without a partition gets one and the statement is
 * retried, so no row is refused for lack of a partition. Other errors are thrown unchanged.
 */
export async function insertEventRows(sql: Queryable, records: readonly EventRecord[]): Promise<number> {
  if (records.length === 0) return 0;
  const insert = () =>
    sql`insert into k8s_events ${sql(records as EventRecord[], ...recordColumns)} on conflict do nothing`;
  try {
    return (await insert()).count;
  } catch (err) {
    if ((err as { code?: string }).code !== noPartitionCode) throw err;
    const days = [...new Set(records.map((r) => utcDay(r.created_at)))];
    for (const day of days) await sql`select ensure_k8s_events_partition(${day}::date)`;
    return (await insert()).count;
  }
}

/**
 * The positions in `records` of the versions already stored, asked by their unique key alone (no
 * row data is sent or converted). A version reported here is committed; one not reported may still
 * be stored by another writer before it is inserted, which the idempotent insert absorbs.
 */
export async function findStoredVersions(sql: Queryable, records: readonly EventRecord[]): Promise<Set<number>> {
  if (records.length === 0) return new Set();
  // One JSON parameter instead of four per row: less to bind for a 1000-row batch, and typed once
  // by json_to_recordset (measured faster than extracting fields per lookup). created_at lets
  // each lookup go to its own partition's unique index.
  const keys = JSON.stringify(records.map((r, i) => ({ i, g: r.global_uid, v: r.resource_version, t: r.created_at })));
  const rows = await sql<{ i: number }[]>`
    select k.i
    from json_to_recordset(${keys}::json) as k(i int, g text, v text, t timestamptz)
    where exists (
      select 1 from k8s_events e
      where e.global_uid = k.g and e.created_at = k.t and e.resource_version = k.v)`;
  return new Set(rows.map((r) => r.i));
}

/**
 * The ingester's batch write: {@link insertEventRows}, except that after a batch met versions
 * already stored (a relist delivers everything the API server holds again), the next batches first
 * ask which of their versions are stored ({@link findStoredVersions}) and send only the others,
 * until a batch finds none stored. Returns how many rows were new; same guarantees as insertEventRows.
 */
export function createEventRowWriter(sql: Queryable): (records: readonly EventRecord[]) => Promise<number> {
  let expectStored = false;
  return async (records) => {
    let pending = records;
    if (expectStored) {
      // A key the probe cannot convert (SQLSTATE class 22) is left to the insert, which stores it
      // or rejects exactly that row: the probe must never be why a version is not stored.
      const stored = await findStoredVersions(sql, records).catch((err: unknown) => {
        if ((err as { code?: string }).code?.startsWith('22')) return new Set<number>();
        throw err;
      });
      expectStored = stored.size > 0;
      if (stored.size > 0) pending = records.filter((_, i) => !stored.has(i));
    }
    const inserted = await insertEventRows(sql, pending);
    if (inserted < pending.length) expectStored = true;
    return inserted;
  };
}

/**
 * The columns every reader gets (everything but `raw`, which only `/events` needs). `created_at`
 * is UTC RFC 3339 text with all six fraction digits (`2026-12-06T10:00:00.654300Z`): a Date would
 * cut the stored microseconds to milliseconds.
 */
export interface StoredEvent {
  seq: number;
  event_id: string;
  created_at: string;
  inserted_at: Date;
  cluster_name: string;
  uid: string;
  global_uid: string;
  namespace: string;
  resource_kind: string;
  resource_name: string;
  involved_object_uid: string | null;
  event_type: string;
  reason: string | null;
  message: string | null;
  composition_id: string | null;
  resource_version: string;
  count: number;
  first_seen: Date | null;
  reporting_controller: string | null;
}

/**
 * Reads up to `limit` rows with `seq` above `afterSeq`, in `seq` order, optionally narrowed by an
 * extra SQL predicate. Following the last returned `seq` never skips a committed row: the insert
 * trigger makes seq order equal commit order (docs/decisions/002-commit-ordered-seq.md).
 */
export async function readEventsAfter(
  sql: Queryable,
  options: { afterSeq: number; limit: number; where?: postgres.PendingQuery<postgres.Row[]> | postgres.Fragment },
): Promise<StoredEvent[]> {
  const extra = options.where ? sql`and (${options.where})` : sql``;
  return await sql<StoredEvent[]>`
    select seq, event_id, to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as created_at,
           inserted_at, cluster_name, uid, global_uid, namespace, resource_kind,
           resource_name, involved_object_uid, event_type, reason, message, composition_id, resource_version,
           count, first_seen, reporting_controller
    from k8s_events
    where seq > ${options.afterSeq} ${extra}
    order by seq
    limit ${options.limit}`;
}

/** The highest `seq` stored, or 0 for an empty table: where a new live reader starts. */
export async function readLastSeq(sql: Queryable): Promise<number> {
  const [row] = await sql<{ seq: number | null }[]>`select max(seq) as seq from k8s_events`;
  return row?.seq ?? 0;
}
