import type postgres from 'postgres';
import { toArrayLiteral, type Sql } from '../../storage/db.ts';
import { parseDurationMs } from '../../runtime/duration.ts';
import type { StoredEvent } from '../../storage/event-store.ts';

/** Thrown for a malformed request parameter; answered as 400 `{code, message}`. */
export class InputError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'InputError';
  }
}

/** Equality filters shared by `/notifications` and `/events`: parameter name → column. */
export const equalityFilters = {
  cluster: 'cluster_name',
  namespace: 'namespace',
  kind: 'resource_kind',
  name: 'resource_name',
  type: 'event_type',
  reason: 'reason',
  composition_id: 'composition_id',
  involved_object_uid: 'involved_object_uid',
} as const satisfies Record<string, keyof StoredEvent>;

/** A filter parameter name. */
export type FilterName = keyof typeof equalityFilters;

/** Parsed filters; each present list means "column is one of these". */
export interface EventFilters {
  equal: Partial<Record<FilterName, string[]>>;
  /** Label selector (`key=value` pairs, all required). */
  labels?: Record<string, string>;
  sinceMs?: number;
  untilMs?: number;
  /** Free-text search (`q`): case-insensitive substring of message, reason or object name. */
  text?: string;
}

/** Longest window a free-text search (`q`) scans, and its default when `since` is absent. */
export const searchMaxWindowMs = 7 * 86_400_000;
/** Longest `q` accepted. */
export const searchMaxLength = 200;

/** Most values one filter parameter may list. */
export const maxValuesPerFilter = 200;

/** Raw parameters: from a query string (repeatable, comma-separated) or a JSON body. */
export type FilterInput = Record<string, string | number | readonly (string | number)[] | undefined | null>;

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const labelKeyPattern = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

/** All values of a parameter: repeated or comma-separated, trimmed, empty ones dropped. */
export function listParam(input: FilterInput, name: string): string[] {
  const value = input[name];
  if (value === undefined || value === null) return [];
  const items = Array.isArray(value) ? value : [value];
  return [...new Set(items.flatMap((v) => String(v).split(',')).map((v) => v.trim()).filter((v) => v !== ''))];
}

// 0001-01-01 and 9999-12-31 (UTC): the range every client and PostgreSQL agree on.
const minTimeMs = -62_135_596_800_000;
const maxTimeMs = 253_402_300_799_999;

function parseTime(name: string, text: string, nowMs: number): number {
  const durationMs = parseDurationMs(text);
  const ms =
    durationMs !== undefined
      ? nowMs - durationMs
      : /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text)
        ? Date.parse(text)
        : Number.NaN;
  if (Number.isNaN(ms)) {
    throw new InputError('invalid_parameter', `${name} must be an RFC 3339 timestamp or a duration like 1h`);
  }
  // A huge duration lands before any date a Date (or PostgreSQL) can hold.
  if (!(ms >= minTimeMs && ms <= maxTimeMs)) throw new InputError('invalid_parameter', `${name} is out of range`);
  return ms;
}

/** Parses and validates filters; throws InputError naming the bad parameter. Time and label filters only when `history`. */
export function parseFilters(input: FilterInput, options: { nowMs?: number; history: boolean }): EventFilters {
  const filters: EventFilters = { equal: {} };
  for (const name of Object.keys(equalityFilters) as FilterName[]) {
    const values = listParam(input, name);
    if (values.length === 0) continue;
    // Each namespace value may cost an access review: one request must not fan out into thousands.
    if (values.length > maxValuesPerFilter) {
      throw new InputError('invalid_parameter', `${name} accepts at most ${maxValuesPerFilter} values`);
    }
    // PostgreSQL text cannot hold U+0000: refused here instead of failing the query.
    if (values.some((v) => v.includes('\u0000'))) throw new InputError('invalid_parameter', `${name} must not contain NUL`);
    if (name === 'composition_id' && !values.every((v) => uuidPattern.test(v))) {
      throw new InputError('invalid_parameter', 'composition_id must be a UUID');
    }
    filters.equal[name] = values;
  }
  if (!options.history) return filters;
  const nowMs = options.nowMs ?? Date.now();
  const since = listParam(input, 'since');
  const until = listParam(input, 'until');
  if (since.length > 1 || until.length > 1) throw new InputError('invalid_parameter', 'since and until take one value');
  if (since[0] !== undefined) filters.sinceMs = parseTime('since', since[0], nowMs);
  if (until[0] !== undefined) filters.untilMs = parseTime('until', until[0], nowMs);
  parseSearch(input, filters, nowMs);
  const labels = listParam(input, 'labels');
  if (labels.length > 0) {
    filters.labels = {};
    for (const pair of labels) {
      if (pair.includes('\u0000')) throw new InputError('invalid_parameter', 'labels must not contain NUL');
      const [key, value, extra] = pair.split('=');
      if (key === undefined || value === undefined || extra !== undefined || !labelKeyPattern.test(key.trim())) {
        throw new InputError('invalid_parameter', 'labels must look like key=value,key2=value2');
      }
      filters.labels[key.trim()] = value.trim();
    }
  }
  return filters;
}

/**
 * Reads `q` (one value, commas kept) into `filters.text`. A search scans every row of its window, so
 * the window is bounded: `since` defaults to 7 days before `until` (or now), and a longer one is refused.
 */
function parseSearch(input: FilterInput, filters: EventFilters, nowMs: number): void {
  const value = input.q;
  if (value === undefined || value === null) return;
  const values = Array.isArray(value) ? value : [value];
  if (values.length !== 1) throw new InputError('invalid_parameter', 'q takes one value');
  const text = String(values[0]).trim();
  if (text === '') return;
  if (text.length > searchMaxLength || text.includes('\u0000')) {
    throw new InputError('invalid_parameter', `q must be at most ${searchMaxLength} characters without NUL`);
  }
  const untilMs = filters.untilMs ?? nowMs;
  filters.sinceMs ??= untilMs - searchMaxWindowMs;
  if (untilMs - filters.sinceMs > searchMaxWindowMs) {
    throw new InputError('invalid_parameter', 'q searches a window of at most 7 days: set since (and until) closer together');
  }
  filters.text = text;
}

/** Whether a row passes the equality filters (live delivery; same meaning as `filtersToSql`). */
export function matchesFilters(filters: EventFilters, row: StoredEvent): boolean {
  for (const [name, values] of Object.entries(filters.equal) as [FilterName, string[]][]) {
    const value = row[equalityFilters[name]];
    if (value === null || !values.includes(String(value))) return false;
  }
  return true;
}

/** The filters as one SQL predicate over `k8s_events` (`true` when there are none). */
export function filtersToSql(sql: Sql, filters: EventFilters): postgres.PendingQuery<postgres.Row[]> {
  const parts: postgres.PendingQuery<postgres.Row[]>[] = [];
  for (const [name, values] of Object.entries(filters.equal) as [FilterName, string[]][]) {
    const column = equalityFilters[name];
    const type = name === 'composition_id' ? sql`uuid` : sql`text`;
    // One value as `=`: the planner then walks a (column, created_at) index in created_at order.
    parts.push(
      values.length === 1
        ? sql`${sql(column)} = ${values[0]!}::${type}`
        : sql`${sql(column)} = any(${toArrayLiteral(values)}::${type}[])`,
    );
  }
  if (filters.labels) parts.push(sql`labels @> ${JSON.stringify(filters.labels)}::jsonb`);
  if (filters.sinceMs !== undefined) parts.push(sql`created_at >= ${new Date(filters.sinceMs)}`);
  if (filters.untilMs !== undefined) parts.push(sql`created_at < ${new Date(filters.untilMs)}`);
  if (filters.text !== undefined) {
    // A substring, not a pattern: the LIKE wildcards and the escape character are matched literally.
    const pattern = `%${filters.text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    parts.push(sql`(message ilike ${pattern} or reason ilike ${pattern} or resource_name ilike ${pattern})`);
  }
  return andAll(sql, parts);
}

/** Joins predicates with `and`; `true` for none. */
export function andAll(sql: Sql, parts: postgres.PendingQuery<postgres.Row[]>[]): postgres.PendingQuery<postgres.Row[]> {
  if (parts.length === 0) return sql`true`;
  return parts.slice(1).reduce((acc, part) => sql`${acc} and ${part}`, sql`(${parts[0]!})`);
}
