import type { Sql } from './db.ts';

/** One daily partition of `k8s_events`. */
export interface PartitionInfo {
  name: string;
  /** The UTC day it holds, `YYYY-MM-DD`. */
  day: string;
  bytes: number;
}

const dayMs = 86_400_000;

function toDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/**
 * Makes sure the partitions for `fromDay` and the `days - 1` UTC days after it exist. Idempotent
 * and safe to run from several processes at once. Returns how many partitions it created.
 */
export async function ensurePartitions(sql: Sql, fromDay: string, days: number): Promise<number> {
  const [row] = await sql<{ created: number }[]>`select ensure_k8s_events_partitions(${fromDay}::date, ${days}) as created`;
  return row?.created ?? 0;
}

/** Ensures partitions from yesterday (UTC) through `aheadDays` days after today. */
export async function ensurePartitionsAround(sql: Sql, options: { nowMs: number; aheadDays: number }): Promise<number> {
  return await ensurePartitions(sql, toDay(options.nowMs - dayMs), options.aheadDays + 2);
}

/** Every daily partition, oldest first, with its total size on disk. */
export async function listPartitions(sql: Sql): Promise<PartitionInfo[]> {
  const rows = await sql<{ name: string; bytes: string }[]>`
    select c.relname as name, pg_total_relation_size(c.oid)::text as bytes
    from pg_inherits i
    join pg_class c on c.oid = i.inhrelid
    join pg_class p on p.oid = i.inhparent
    where p.relname = 'k8s_events' and p.relnamespace = to_regnamespace(current_schema())::oid
      and c.relname ~ '^k8s_events_[0-9]{4}_[0-9]{2}_[0-9]{2}$'
    order by c.relname`;
  return rows.map((r) => ({ name: r.name, day: r.name.slice(11).replaceAll('_', '-'), bytes: Number(r.bytes) }));
}

async function dropPartition(sql: Sql, name: string): Promise<void> {
  // The lock keeps a drop from racing an on-demand create of a partition.
  await sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(hashtext('k8s_events_partitions'))`;
    await tx`drop table if exists ${tx(name)}`;
  });
}

/**
 * Drops every partition whose whole day ended more than `retentionMs` before `nowMs`, oldest
 * first, and returns their names. A partition is only dropped once all of its rows are past the
 * retention, so no row younger than the retention is ever removed.
 */
export async function dropExpiredPartitions(
  sql: Sql,
  options: { nowMs: number; retentionMs: number },
): Promise<string[]> {
  const cutoffMs = options.nowMs - options.retentionMs;
  const dropped: string[] = [];
  for (const partition of await listPartitions(sql)) {
    const endMs = Date.parse(`${partition.day}T00:00:00Z`) + dayMs;
    if (endMs > cutoffMs) break;
    await dropPartition(sql, partition.name);
    dropped.push(partition.name);
  }
  return dropped;
}

/**
 * While the partitions together exceed `maxBytes`, drops the oldest one, but never today's (UTC)
 * or a later one: a size cap must not stop new events from being stored. Returns the names dropped.
 */
export async function dropPartitionsOverSize(
  sql: Sql,
  options: { nowMs: number; maxBytes: number },
): Promise<string[]> {
  const today = toDay(options.nowMs);
  const partitions = await listPartitions(sql);
  let total = partitions.reduce((sum, p) => sum + p.bytes, 0);
  const dropped: string[] = [];
  for (const partition of partitions) {
    if (total <= options.maxBytes || partition.day >= today) break;
    await dropPartition(sql, partition.name);
    dropped.push(partition.name);
    total -= partition.bytes;
  }
  return dropped;
}
