import type { Sql } from '../storage/db.ts';
import type { StoredEvent } from '../storage/event-store.ts';
import { scopeToSql, type VisibleScope } from './access/event-visibility.ts';
import { decodeEventsCursor, encodeEventsCursor, type EventsCursor } from './core/cursor.ts';
import { andAll, filtersToSql, InputError, listParam, parseFilters, type EventFilters, type FilterInput } from './core/filters.ts';
import { toKrateoPayload, type KrateoEventPayload } from './sse/frames.ts';

/** One `/events` resource: the Krateo payload plus `raw`, the stored event as a JSON string. */
export interface EventResource extends KrateoEventPayload {
  raw: string;
}

/** The Krateo envelope. `cursor` is present only when another page exists. */
export interface EventsPage {
  resources: EventResource[];
  cursor?: string;
}

/** A validated `/events` request. */
export interface EventsRequest {
  filters: EventFilters;
  limit: number;
  cursor?: EventsCursor;
}

/** Validates `/events` parameters (query string or JSON body); throws InputError with a stable code. */
export function parseEventsRequest(input: FilterInput, options: { maxLimit: number; defaultLimit?: number }): EventsRequest {
  const filters = parseFilters(input, { history: true });
  const limits = listParam(input, 'limit');
  let limit = options.defaultLimit ?? 50;
  if (limits.length > 0) {
    const text = limits.join(',');
    limit = /^\d{1,9}$/.test(text) ? Number(text) : Number.NaN;
    if (!(limit >= 1 && limit <= options.maxLimit)) {
      throw new InputError('invalid_limit', `limit must be an integer from 1 to ${options.maxLimit}`);
    }
  }
  const cursors = listParam(input, 'cursor');
  if (cursors.length > 1) throw new InputError('invalid_cursor', 'cursor is not a value returned by this API');
  return { filters, limit, cursor: cursors[0] === undefined ? undefined : decodeEventsCursor(cursors[0]) };
}

type Row = StoredEvent & { raw: string; created_text: string };

/**
 * Reads one page of the latest version of each Event (one row per `global_uid`), newest first
 * (`created_at`, then `seq`), limited to `scope` unless `'all'` (the caller's authorisation as an
 * SQL predicate). Pages are keyset-paged over the `(created_at, seq)` index and bounded by the
 * first page's highest seq, so paging to the end while rows are inserted yields no duplicates and
 * no gaps; a newer version inserted meanwhile does not hide its older version from later pages.
 */
export async function queryEvents(sql: Sql, request: EventsRequest, scope: VisibleScope): Promise<EventsPage> {
  if (scope.length === 0) return { resources: [] };
  let maxSeq = request.cursor?.maxSeq;
  if (maxSeq === undefined) {
    const [row] = await sql<{ seq: number | null }[]>`select max(seq) as seq from k8s_events`;
    maxSeq = row?.seq ?? 0;
  }
  const where = andAll(sql, [
    sql`e.seq <= ${maxSeq}`,
    filtersToSql(sql, request.filters),
    scopeToSql(sql, scope),
    ...(request.cursor ? [sql`(e.created_at, e.seq) < (${request.cursor.createdAt}::timestamptz, ${request.cursor.seq})`] : []),
  ]);
  const rows = await sql<Row[]>`
    select e.seq, to_char(e.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as created_at,
           e.created_at::text as created_text, e.inserted_at, e.event_id, e.cluster_name, e.uid,
           e.global_uid, e.namespace, e.resource_kind, e.resource_name, e.involved_object_uid, e.event_type, e.reason,
           e.message, e.composition_id, e.resource_version, e.count, e.first_seen, e.reporting_controller, e.raw::text as raw
    from k8s_events e
    where ${where}
      and not exists (
        select 1 from k8s_events n
        where n.global_uid = e.global_uid and n.seq <= ${maxSeq} and (n.created_at, n.seq) > (e.created_at, e.seq))
    order by e.created_at desc, e.seq desc
    limit ${request.limit + 1}`;
  const page = rows.slice(0, request.limit);
  const last = page[page.length - 1];
  const resources = page.map((row) => ({ ...toKrateoPayload(row), raw: row.raw }));
  if (rows.length <= request.limit || !last) return { resources };
  return { resources, cursor: encodeEventsCursor({ createdAt: last.created_text, seq: last.seq, maxSeq }) };
}
