import type postgres from 'postgres';
import type { Sql } from '../storage/db.ts';
import { parseDurationMs } from '../runtime/duration.ts';
import { scopeToSql, type VisibleScope } from './access/event-visibility.ts';
import { andAll, filtersToSql, InputError, listParam, parseFilters, type EventFilters, type FilterInput } from './core/filters.ts';
import type { FacetValue, Facets, Histogram, HistogramBucket } from './core/wire.ts';

/** Window of an aggregate when `since` is absent. */
export const defaultAggregateWindowMs = 86_400_000;
/** Longest window an aggregate may cover: it reads every latest version in it. */
export const maxAggregateWindowMs = 31 * 86_400_000;
/** Most buckets one histogram may have. */
export const maxHistogramBuckets = 1500;
/** Most values per facet. */
export const maxFacetValues = 50;

/** A validated aggregate request: filters with a closed window `[sinceMs, untilMs)`. */
export interface AggregateRequest {
  filters: EventFilters & { sinceMs: number; untilMs: number };
}

/** A validated `/events/histogram` request. */
export interface HistogramRequest extends AggregateRequest {
  bucketMs: number;
  bucket: string;
}

/** Parses the filters of an aggregate and closes its window (default: the last 24 h; at most 31 days). */
export function parseAggregateRequest(input: FilterInput, nowMs = Date.now()): AggregateRequest {
  const filters = parseFilters(input, { history: true, nowMs });
  const untilMs = filters.untilMs ?? nowMs;
  const sinceMs = filters.sinceMs ?? untilMs - defaultAggregateWindowMs;
  if (untilMs <= sinceMs) throw new InputError('invalid_parameter', 'until must be after since');
  if (untilMs - sinceMs > maxAggregateWindowMs) throw new InputError('invalid_parameter', 'the window (since to until) must be at most 31 days');
  return { filters: { ...filters, sinceMs, untilMs } };
}

/** Parses a `/events/histogram` request: the aggregate filters plus `bucket`, a duration of at least 1s. */
export function parseHistogramRequest(input: FilterInput, nowMs = Date.now()): HistogramRequest {
  const request = parseAggregateRequest(input, nowMs);
  const buckets = listParam(input, 'bucket');
  const bucket = buckets.length === 1 ? buckets[0]! : '';
  const bucketMs = parseDurationMs(bucket);
  if (bucketMs === undefined || bucketMs < 1000 || bucketMs % 1000 !== 0) {
    throw new InputError('invalid_parameter', 'bucket must be one duration of whole seconds, at least 1s (e.g. 1m)');
  }
  const { sinceMs, untilMs } = request.filters;
  if (Math.ceil((untilMs - sinceMs) / bucketMs) > maxHistogramBuckets) {
    throw new InputError('invalid_parameter', `the window holds more than ${maxHistogramBuckets} buckets; choose a larger bucket`);
  }
  return { ...request, bucket, bucketMs };
}

/** Parses `top` (values per facet, default 10). */
export function parseFacetsTop(input: FilterInput): number {
  const tops = listParam(input, 'top');
  if (tops.length === 0) return 10;
  const top = tops.length === 1 && /^\d{1,3}$/.test(tops[0]!) ? Number(tops[0]) : 0;
  if (top < 1 || top > maxFacetValues) throw new InputError('invalid_parameter', `top must be an integer from 1 to ${maxFacetValues}`);
  return top;
}

/** The latest version of each event passing the filters and the caller's scope (what `/events` lists). */
function latestVersions(sql: Sql, request: AggregateRequest, scope: Exclude<VisibleScope, 'all'> | 'all'): postgres.PendingQuery<postgres.Row[]> {
  const where = andAll(sql, [filtersToSql(sql, request.filters), ...(scope === 'all' ? [] : [scopeToSql(sql, scope)])]);
  return sql`
    select e.created_at, e.event_type, e.reason, e.namespace, e.resource_kind
    from k8s_events e
    where ${where}
      and not exists (
        select 1 from k8s_events n
        where n.global_uid = e.global_uid and (n.created_at, n.seq) > (e.created_at, e.seq))`;
}

/**
 * Counts events (latest version of each, as `/events` lists them) per bucket and type over the
 * request's window, limited to `scope`. Buckets are aligned to multiples of the bucket size since
 * the Unix epoch; every bucket of the window is present, empty ones with zeros.
 */
export async function queryHistogram(sql: Sql, request: HistogramRequest, scope: VisibleScope): Promise<Histogram> {
  const { sinceMs, untilMs } = request.filters;
  const counts = new Map<number, HistogramBucket>();
  if (scope.length > 0) {
    const rows = await sql<{ start_ms: string; normal: number; warning: number; other: number }[]>`
      with latest as (${latestVersions(sql, request, scope)})
      select (floor(extract(epoch from created_at) * 1000 / ${request.bucketMs}) * ${request.bucketMs})::bigint::text as start_ms,
             count(*) filter (where event_type = 'Normal')::int as normal,
             count(*) filter (where event_type = 'Warning')::int as warning,
             count(*) filter (where event_type not in ('Normal', 'Warning'))::int as other
      from latest group by 1`;
    for (const row of rows) {
      const startMs = Number(row.start_ms);
      counts.set(startMs, { start: new Date(startMs).toISOString(), normal: row.normal, warning: row.warning, other: row.other });
    }
  }
  const buckets: HistogramBucket[] = [];
  for (let startMs = Math.floor(sinceMs / request.bucketMs) * request.bucketMs; startMs < untilMs; startMs += request.bucketMs) {
    buckets.push(counts.get(startMs) ?? { start: new Date(startMs).toISOString(), normal: 0, warning: 0, other: 0 });
  }
  const total = buckets.reduce((sum, b) => sum + b.normal + b.warning + b.other, 0);
  return { bucket: request.bucket, since: new Date(sinceMs).toISOString(), until: new Date(untilMs).toISOString(), total, buckets };
}

/** The `top` most frequent reasons, namespaces and kinds among the events `/events` would list, limited to `scope`. */
export async function queryFacets(sql: Sql, request: AggregateRequest, scope: VisibleScope, top: number): Promise<Facets> {
  const facets: Facets = { reasons: [], namespaces: [], kinds: [] };
  if (scope.length === 0) return facets;
  const rows = await sql<{ facet: 'reasons' | 'namespaces' | 'kinds'; value: string; count: number }[]>`
    with latest as materialized (${latestVersions(sql, request, scope)})
    (select 'reasons' as facet, reason as value, count(*)::int as count from latest where reason is not null group by reason order by 3 desc, 2 limit ${top})
    union all
    (select 'namespaces', namespace, count(*)::int from latest group by namespace order by 3 desc, 2 limit ${top})
    union all
    (select 'kinds', resource_kind, count(*)::int from latest group by resource_kind order by 3 desc, 2 limit ${top})`;
  for (const row of rows) facets[row.facet].push({ value: row.value, count: row.count });
  for (const values of Object.values(facets)) values.sort((a: FacetValue, b: FacetValue) => b.count - a.count || (a.value < b.value ? -1 : 1));
  return facets;
}
