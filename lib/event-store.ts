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

/** The columns every reader gets (everything but `raw`, which only `/events` needs). */
export interface StoredEvent {
  seq: number;
  event_id: string;
  created_at: Date;
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
    select seq, event_id, created_at, inserted_at, cluster_name, uid, global_uid, namespace, resource_kind,
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
