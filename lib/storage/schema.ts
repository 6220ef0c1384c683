import { sql } from 'drizzle-orm';
import { bigint, bigserial, index, integer, json, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';

/**
 * `k8s_events`: one row per Event version. The migration turns this declaration into a table
 * partitioned by day on `created_at` (see drizzle/0000_*.sql and docs/decisions/001-partitioning.md).
 * Column names and meanings are Krateo's; `seq` and the columns after `resource_version` are ours.
 */
export const k8sEvents = pgTable(
  'k8s_events',
  {
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'string' }).notNull(),
    eventId: uuid('event_id').notNull().defaultRandom(),
    clusterName: text('cluster_name').notNull(),
    uid: text('uid').notNull(),
    globalUid: text('global_uid').notNull(),
    namespace: text('namespace').notNull(),
    resourceKind: text('resource_kind').notNull(),
    resourceName: text('resource_name').notNull(),
    involvedObjectUid: text('involved_object_uid'),
    eventType: text('event_type').notNull(),
    reason: text('reason'),
    message: text('message'),
    compositionId: uuid('composition_id'),
    // json, not jsonb: stored as the ingester wrote it (already minified) and read back as that text,
    // with no conversion either way; nothing queries inside it (docs/decisions/012-storage-v2.md).
    raw: json('raw').notNull(),
    resourceVersion: text('resource_version').notNull(),
    seq: bigserial('seq', { mode: 'number' }).notNull(),
    count: integer('count').notNull().default(1),
    firstSeen: timestamp('first_seen', { withTimezone: true, mode: 'string' }),
    reportingController: text('reporting_controller'),
    labels: jsonb('labels'),
    insertedAt: timestamp('inserted_at', { withTimezone: true, mode: 'string' }).notNull().defaultNow(),
  },
  (t) => [
    // Idempotent writes: the same Event version written twice is a no-op (global_uid is
    // cluster_name:uid, and a UID holds no ':'). The partition key must be part of it. The migration
    // adds INCLUDE (seq), which drizzle cannot declare: the /events "is there a newer version of this
    // event" anti-join is then answered from this index alone (docs/decisions/012-storage-v2.md).
    uniqueIndex('k8s_events_version_key').on(t.globalUid, t.createdAt, t.resourceVersion),
    index('k8s_events_seq_idx').on(t.seq),
    index('k8s_events_created_at_idx').on(t.createdAt, t.seq),
    index('k8s_events_namespace_idx').on(t.namespace, t.createdAt),
    index('k8s_events_composition_idx').on(t.compositionId, t.createdAt).where(sql`${t.compositionId} is not null`),
    index('k8s_events_involved_object_idx').on(t.involvedObjectUid, t.createdAt).where(sql`${t.involvedObjectUid} is not null`),
  ],
);

/** A row as read back from `k8s_events`. */
export type EventRow = typeof k8sEvents.$inferSelect;
/** A row as written by the ingester (database defaults fill the rest). */
export type NewEventRow = typeof k8sEvents.$inferInsert;

/**
 * `ingester_checkpoints`: per cluster and watch scope (`*` or a namespace), the resourceVersion up to
 * which every Event version is committed. A restarted ingester watches from it instead of relisting,
 * so versions that changed while it was down are not lost (a list only returns the latest version).
 */
export const ingesterCheckpoints = pgTable(
  'ingester_checkpoints',
  {
    clusterName: text('cluster_name').notNull(),
    scope: text('scope').notNull(),
    resourceVersion: text('resource_version').notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'string' }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.clusterName, t.scope] })],
);

/**
 * `legacy_import_state`: per source table of the Go services, where `db:import-legacy` stands: the
 * source partition being read and, for a partition that no longer receives rows, the last
 * `(global_uid, resource_version)` copied (lib/storage/legacy-import.ts).
 */
export const legacyImportState = pgTable('legacy_import_state', {
  source: text('source').primaryKey(),
  partition: text('partition'),
  lastGlobalUid: text('last_global_uid'),
  lastResourceVersion: text('last_resource_version'),
  rowsRead: bigint('rows_read', { mode: 'number' }).notNull().default(0),
  updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'string' }).notNull().defaultNow(),
});
