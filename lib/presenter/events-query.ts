import type { Sql } from '../storage/db.ts';
import type { StoredEvent } from '../storage/event-store.ts';
import { scopeToSql, type VisibleScope } from './access/event-visibility.ts';
import { decodeEventsCursor, encodeEventsCursor, type EventsCursor } from './core/cursor.ts';
import { andAll, filtersToSql, InputError, listParam, parseFilters, type EventFilters, type FilterInput } from './core/filters.ts';
import type { EventResource, EventsPage } from './core/wire.ts';
import { toKrateoPayload } from './sse/frames.ts';

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
type WindowRow = Row & { shown: boolean; n: number };

/** Filters answered through an index of their own, the most selective kind first. */
const indexedFilters = ['involved_object_uid', 'composition_id', 'namespace'] as const;

/**
 * Whether a page of `request` reads through a scan window of `scanWindowRows` rows
 * (docs/decisions/014-history-scan-window.md): every page does, except one whose only filters are
 * indexed ones with several values each (and time), which the planner reads through their indexes.
 * A single value is windowed too, through its index: the caller's authorisation (another cluster,
 * other namespaces) may hide most of that value's rows.
 */
export function isScanWindowed({ filters }: EventsRequest): boolean {
  const names = Object.keys(filters.equal) as (keyof EventFilters['equal'])[];
  const onlySeveralIndexedValues =
    names.length > 0 && !filters.labels && filters.text === undefined && names.every((name) => (indexedFilters as readonly string[]).includes(name) && filters.equal[name]!.length > 1);
  return !onlySeveralIndexedValues;
}

/**
 * The filters the window itself is read through: the time bounds and at most one indexed filter with
 * a single value (in `indexedFilters` order), whose `(column, created_at)` index yields rows in
 * order. Several values, or a second indexed filter, would leave the planner free to sort every row
 * they select; they are checked on the window's rows instead.
 */
function windowFilters({ filters }: EventsRequest): EventFilters {
  const through = indexedFilters.find((name) => filters.equal[name]?.length === 1);
  return { equal: through ? { [through]: filters.equal[through] } : {}, sinceMs: filters.sinceMs, untilMs: filters.untilMs };
}

/** What one `/events` page may read. */
export interface EventsQueryOptions {
  /** Most rows one page reads, newest first (of the table, or of the one indexed value it filters on). */
  scanWindowRows: number;
}

const columns = (sql: Sql) => sql`
  e.seq, to_char(e.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as created_at,
  e.created_at::text as created_text, e.inserted_at, e.event_id, e.cluster_name, e.uid,
  e.global_uid, e.namespace, e.resource_kind, e.resource_name, e.involved_object_uid, e.event_type, e.reason,
  e.message, e.composition_id, e.resource_version, e.count, e.first_seen, e.reporting_controller, e.raw::text as raw`;

// "No newer version of this Event within the listing's snapshot": one row per global_uid. `seq + 0`
// keeps the seq index out of it: the version key (global_uid, …) INCLUDE (seq) answers it alone, but
// on a partition not yet analysed the planner would AND in a bitmap of every row below maxSeq.
const isLatest = (sql: Sql, maxSeq: number) => sql`not exists (
  select 1 from k8s_events n
  where n.global_uid = e.global_uid and n.seq + 0 <= ${maxSeq} and (n.created_at, n.seq) > (e.created_at, e.seq))`;

function cursorBound(sql: Sql, cursor: EventsCursor | undefined) {
  return cursor ? [sql`(e.created_at, e.seq) < (${cursor.createdAt}::timestamptz, ${cursor.seq})`] : [];
}

/**
 * Reads one page of the latest version of each Event (one row per `global_uid`), newest first
 * (`created_at`, then `seq`), limited to `scope` unless `'all'` (the caller's authorisation as an
 * SQL predicate). Pages are keyset-paged over the `(created_at, seq)` index and bounded by the
 * first page's highest seq, so paging to the end while rows are inserted yields no duplicates and
 * no gaps; a newer version inserted meanwhile does not hide its older version from later pages.
 * Unless an indexed filter narrows the request, a page reads at most `scanWindowRows` rows: it may
 * then hold fewer than `limit` events (even none) and still carry a cursor, which continues right
 * after the last row read, so following cursors to the end still returns every matching event once.
 */
export async function queryEvents(sql: Sql, request: EventsRequest, scope: VisibleScope, options: EventsQueryOptions): Promise<EventsPage> {
  if (scope.length === 0) return { resources: [] };
  let maxSeq = request.cursor?.maxSeq;
  if (maxSeq === undefined) {
    const [row] = await sql<{ seq: number | null }[]>`select max(seq) as seq from k8s_events`;
    maxSeq = row?.seq ?? 0;
  }
  if (isScanWindowed(request)) return queryWindow(sql, request, scope, maxSeq, options.scanWindowRows);
  const where = andAll(sql, [sql`e.seq <= ${maxSeq}`, filtersToSql(sql, request.filters), scopeToSql(sql, scope), ...cursorBound(sql, request.cursor)]);
  const rows = await sql<Row[]>`
    select ${columns(sql)} from k8s_events e
    where ${where} and ${isLatest(sql, maxSeq)}
    order by e.created_at desc, e.seq desc
    limit ${request.limit + 1}`;
  const page = rows.slice(0, request.limit);
  const last = page[page.length - 1];
  const resources = page.map(toResource);
  if (rows.length <= request.limit || !last) return { resources };
  return { resources, cursor: encodeEventsCursor({ createdAt: last.created_text, seq: last.seq, maxSeq }) };
}

/**
 * The windowed page: the inner scan walks newest first through the rows of the indexed filters (all
 * rows when there is none) and stops after `windowRows` of them (its LIMIT keeps the other filters out
 * of it, so it cannot turn into a search of the whole table); the outer query keeps the matching latest versions, plus the window's last row (the
 * marker, `n = windowRows`), whose position is where the next page continues when this one found
 * fewer than `limit`.
 */
async function queryWindow(sql: Sql, request: EventsRequest, scope: VisibleScope, maxSeq: number, windowRows: number): Promise<EventsPage> {
  const windowed = filtersToSql(sql, windowFilters(request));
  const matches = andAll(sql, [filtersToSql(sql, request.filters), scopeToSql(sql, scope)]);
  // Every row the outer WHERE keeps is shown but the marker, so only the marker checks again.
  const latest = isLatest(sql, maxSeq);
  const rows = await sql<WindowRow[]>`
    select ${columns(sql)}, e.n, (e.n <> ${windowRows} or (e.hit and ${latest})) as shown
    from (
      select e.*, coalesce(${matches}, false) as hit, row_number() over (order by e.created_at desc, e.seq desc) as n
      from k8s_events e
      where ${andAll(sql, [sql`e.seq <= ${maxSeq}`, windowed, ...cursorBound(sql, request.cursor)])}
      order by e.created_at desc, e.seq desc
      limit ${windowRows}
    ) e
    where (e.hit and ${latest}) or e.n = ${windowRows}
    order by e.created_at desc, e.seq desc
    limit ${request.limit + 1}`;
  return toWindowPage(rows, request.limit, maxSeq, windowRows);
}

function toResource(row: Row): EventResource {
  return { ...toKrateoPayload(row), raw: row.raw };
}

/** Rows of a windowed read → the page: the shown rows, and a cursor after the last one or after the window. */
function toWindowPage(rows: WindowRow[], limit: number, maxSeq: number, windowRows: number): EventsPage {
  const shown = rows.filter((row) => row.shown);
  const page = shown.slice(0, limit);
  const resources = page.map(toResource);
  const after = (row: Row) => encodeEventsCursor({ createdAt: row.created_text, seq: Number(row.seq), maxSeq });
  if (shown.length > limit) return { resources, cursor: after(page[page.length - 1]!) };
  const marker = rows.find((row) => Number(row.n) === windowRows);
  return marker ? { resources, cursor: after(marker) } : { resources };
}
