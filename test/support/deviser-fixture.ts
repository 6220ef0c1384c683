// Krateo's Go services' database objects, built as their public DDL describes them, for tests of
// living beside them: deviser's `k8s_events` (15 columns, daily range partitions on created_at,
// per-partition indexes, a per-row NOTIFY trigger named `k8s_events_notify`), its restart (the
// same DDL again, the trigger dropped and re-created), its hourly partition pass and retention,
// Krateo's `krateo_resources`, and rows as the Go events-ingester writes them.
//
// Every statement runs on a plain connection with PostgreSQL's default search_path
// (`"$user", public`), as the Go services' do, and uses unqualified names as they do.
import postgres from 'postgres';

/** A connection as deviser and the Go ingester hold one: default search_path, unqualified names. */
export type GoSql = postgres.Sql;

/** Opens a connection as the Go services do (no search_path of ours). */
export function connectAsGoService(url: string): GoSql {
  return postgres(url, { max: 1, onnotice: () => {} });
}

const dayMs = 86_400_000;

function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The partition deviser names for a UTC day: `k8s_events_YYYY_MM_DD`. */
export function deviserPartitionName(day: string): string {
  return `k8s_events_${day.replaceAll('-', '_')}`;
}

/**
 * What deviser runs at every start: the table if it is missing, its row trigger function, then the
 * trigger dropped and created again. Also creates `krateo_resources` (owned by deviser in Krateo;
 * its exact columns do not matter here, only that it exists and keeps its rows).
 */
export async function startDeviser(sql: GoSql): Promise<void> {
  await sql.unsafe(`
    create table if not exists k8s_events (
      created_at timestamptz not null,
      event_id uuid not null default gen_random_uuid(),
      cluster_name text not null,
      uid text not null,
      global_uid text not null,
      namespace text not null,
      resource_kind text not null,
      resource_name text not null,
      involved_object_uid text null,
      event_type text not null,
      reason text null,
      message text null,
      composition_id uuid null,
      raw jsonb not null,
      resource_version text not null
    ) partition by range (created_at);

    create or replace function notify_new_event() returns trigger language plpgsql as $$
    begin
      perform pg_notify('events', json_build_object('event_id', new.event_id, 'global_uid', new.global_uid)::text);
      return new;
    end
    $$;

    drop trigger if exists k8s_events_notify on k8s_events;
    create trigger k8s_events_notify after insert on k8s_events for each row execute function notify_new_event();

    create table if not exists krateo_resources (
      id bigserial primary key,
      uid text not null,
      kind text not null,
      name text not null,
      deleted_at timestamptz null
    );
  `);
}

/** deviser's partition pass: `days` daily partitions from today (UTC), each with its indexes. */
export async function createDeviserPartitions(sql: GoSql, options: { nowMs: number; days: number }): Promise<void> {
  for (let i = 0; i < options.days; i++) await createDeviserPartition(sql, utcDay(options.nowMs + i * dayMs));
}

/** One deviser partition for `day` (`YYYY-MM-DD`), bounds as date literals, with its indexes. */
export async function createDeviserPartition(sql: GoSql, day: string): Promise<void> {
  const name = deviserPartitionName(day);
  const next = utcDay(Date.parse(`${day}T00:00:00Z`) + dayMs);
  await sql.unsafe(`
    create table if not exists ${name} partition of k8s_events for values from ('${day}') to ('${next}');
    create unique index if not exists uq_${name}_dedup on ${name} (global_uid, resource_version);
    create index if not exists idx_${name}_global_uid_created on ${name} (global_uid, created_at desc);
    create index if not exists idx_${name}_resource_latest on ${name} (cluster_name, uid, created_at desc);
    create index if not exists idx_${name}_obj on ${name} (namespace, resource_kind, resource_name, created_at desc);
    create index if not exists idx_${name}_composition on ${name} (composition_id, created_at desc) where composition_id is not null;
    create index if not exists idx_${name}_type on ${name} (event_type);
    create index if not exists idx_${name}_labels on ${name} using gin ((raw->'involvedObject'->'labels'));
  `);
}

/**
 * deviser's retention pass: lists the partitions of `k8s_events` as its search_path resolves that
 * name, reads each partition's lower bound, and drops every partition starting before
 * `now - retentionDays` with an unqualified `DROP TABLE IF EXISTS`. Returns the names dropped.
 */
export async function runDeviserRetention(sql: GoSql, options: { nowMs: number; retentionDays: number }): Promise<string[]> {
  const parts = await sql<{ name: string; bound: string }[]>`
    select c.relname as name, pg_get_expr(c.relpartbound, c.oid) as bound
    from pg_class c join pg_inherits i on i.inhrelid = c.oid
    where i.inhparent = 'k8s_events'::regclass`;
  const cutoffMs = options.nowMs - options.retentionDays * dayMs;
  const dropped: string[] = [];
  for (const part of parts) {
    const from = /FROM \('([^']+)'\)/.exec(part.bound)?.[1];
    if (!from || Date.parse(from.replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00')) >= cutoffMs) continue;
    await sql.unsafe(`drop table if exists "${part.name}"`);
    dropped.push(part.name);
  }
  return dropped.sort();
}

/** One Event version as the Go events-ingester stores it. */
export interface GoIngesterRow {
  createdAt: string;
  clusterName: string;
  uid: string;
  namespace: string;
  kind: string;
  apiVersion: string;
  name: string;
  involvedObjectUid: string | null;
  type: string;
  reason: string;
  message: string;
  compositionId: string | null;
  resourceVersion: string;
  /** The minified Event JSON as the Go ingester marshals it. */
  raw: Record<string, unknown>;
}

/** A minified Event as the Go ingester stores it in `raw`: the Event with the composition label added. */
export function buildGoRaw(row: Omit<GoIngesterRow, 'raw'>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    metadata: {
      name: `${row.name}.${row.uid.slice(0, 8)}`,
      namespace: row.namespace,
      uid: row.uid,
      resourceVersion: row.resourceVersion,
      creationTimestamp: row.createdAt.replace(/\.\d+Z$/, 'Z'),
      labels: { 'krateo.io/composition-id': row.compositionId ?? '' },
    },
    involvedObject: { kind: row.kind, namespace: row.namespace, name: row.name, uid: row.involvedObjectUid ?? undefined, apiVersion: row.apiVersion },
    reason: row.reason,
    message: row.message,
    source: { component: 'kubelet' },
    type: row.type,
    ...extra,
  };
}

/** Inserts rows into deviser's table exactly as the Go ingester's batch insert does (no ON CONFLICT). */
export async function insertAsGoIngester(sql: GoSql, rows: readonly GoIngesterRow[]): Promise<void> {
  for (const r of rows) {
    await sql`
      insert into k8s_events (created_at, cluster_name, uid, global_uid, namespace, resource_kind, resource_name,
        involved_object_uid, event_type, reason, message, composition_id, raw, resource_version)
      values (${r.createdAt}, ${r.clusterName}, ${r.uid}, ${`${r.clusterName}:${r.uid}`}, ${r.namespace},
        ${r.apiVersion ? `${r.apiVersion}.${r.kind}` : r.kind}, ${r.name}, ${r.involvedObjectUid}, ${r.type}, ${r.reason},
        ${r.message}, ${r.compositionId}, ${JSON.stringify(r.raw)}::text::jsonb, ${r.resourceVersion})`;
  }
}

/** The user triggers (name, definition) and partition names of a partitioned `table` (`schema.name`). */
export async function describeTriggersAndPartitions(sql: postgres.Sql, table: string) {
  const triggers = await sql`
    select t.tgname as name, pg_get_triggerdef(t.oid) as def
    from pg_trigger t where t.tgrelid = ${table}::regclass and not t.tgisinternal order by 1`;
  const partitions = await sql`
    select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid
    where i.inhparent = ${table}::regclass order by 1`;
  return { triggers: [...triggers], partitions: [...partitions] };
}

/** Everything of deviser's a test compares before and after our services ran: its objects and rows. */
export async function describeDeviserObjects(sql: GoSql): Promise<Record<string, unknown>> {
  const { triggers, partitions } = await describeTriggersAndPartitions(sql, 'public.k8s_events');
  const columns = await sql`
    select column_name as name, data_type as type from information_schema.columns
    where table_schema = 'public' and table_name = 'k8s_events' order by ordinal_position`;
  const [counts] = await sql`
    select (select count(*)::int from public.k8s_events) as events, (select count(*)::int from public.krateo_resources) as resources`;
  return { triggers, partitions, columns: [...columns], counts };
}
