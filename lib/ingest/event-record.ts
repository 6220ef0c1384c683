import type { EventRecord } from '../storage/event-store.ts';

/** A Kubernetes Event as JSON, core/v1 or events.k8s.io/v1 shaped; every field may be missing. */
export type KubeEvent = Record<string, unknown>;

/** Why an Event could not become a row (the closed list of build failures). */
export type RecordSkipReason = 'missing_uid';

/** The outcome of {@link buildEventRecord}: a row, or the reason there is none. */
export type BuildResult = { ok: true; record: EventRecord } | { ok: false; reason: RecordSkipReason };

type Obj = Record<string, unknown>;

function asObj(value: unknown): Obj | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Obj) : undefined;
}

function asText(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function asCount(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 && value <= 2_147_483_647 ? value : undefined;
}

// PostgreSQL text and jsonb cannot hold U+0000, and jsonb refuses a lone UTF-16 surrogate ("\ud800");
// replacing both with U+FFFD keeps the event instead of dropping its row.
function clean(text: string): string {
  const wellFormed = text.isWellFormed() ? text : text.toWellFormed();
  return wellFormed.includes('\u0000') ? wellFormed.replaceAll('\u0000', '\uFFFD') : wellFormed;
}

// JSON.stringify escapes exactly the characters clean() replaces (U+0000, lone surrogates), so the
// common case needs no replacer function, which costs far more than one scan of the output.
const escapedUnstorable = /\\u(?:0000|d[89a-f][0-9a-f]{2})/i;
// A replacer cannot rename keys, and a NUL or lone surrogate in a key (a label name) would make
// PostgreSQL refuse the whole row: copy the value with keys and strings cleaned instead.
function cleanDeep(value: unknown): unknown {
  if (typeof value === 'string') return clean(value);
  if (Array.isArray(value)) return value.map(cleanDeep);
  if (value === null || typeof value !== 'object') return value;
  const out: Obj = {};
  for (const key in value as Obj) out[clean(key)] = cleanDeep((value as Obj)[key]);
  return out;
}

/** JSON text of `value` with every key and string cleaned for PostgreSQL. */
function stringifyClean(value: unknown): string {
  const text = JSON.stringify(value);
  return escapedUnstorable.test(text) ? JSON.stringify(cleanDeep(value)) : text;
}

function cleanOrNull(value: string | null): string | null {
  return value === null ? null : clean(value);
}

function textOrNull(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

function hasKeys(value: Obj): boolean {
  for (const _key in value) return true;
  return false;
}

const rfc3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

function digitsAt(text: string, start: number, count: number): number {
  let value = 0;
  for (let i = start; i < start + count; i++) value = value * 10 + text.charCodeAt(i) - 48;
  return value;
}

// The API server's own form, `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, with fields no calendar rule can
// touch (day ≤ 28, year ≥ 1970) is computed here, as Date.parse does (fraction truncated to
// milliseconds); NaN sends every other text to Date.parse.
function plainUtcMs(text: string): number {
  if (text.charCodeAt(text.length - 1) !== 90 || text.charCodeAt(10) !== 84) return NaN;
  const year = digitsAt(text, 0, 4);
  const month = digitsAt(text, 5, 2);
  const day = digitsAt(text, 8, 2);
  const hour = digitsAt(text, 11, 2);
  const minute = digitsAt(text, 14, 2);
  const second = digitsAt(text, 17, 2);
  if (year < 1970 || month < 1 || month > 12 || day < 1 || day > 28 || hour > 23 || minute > 59 || second > 59) return NaN;
  // Past `SS` comes `Z` alone, or `.` and 1–9 digits then `Z` (the pattern was matched before).
  const fraction = text.length - 21;
  const ms = fraction <= 0 ? 0 : digitsAt(text, 20, Math.min(fraction, 3)) * (fraction === 1 ? 100 : fraction === 2 ? 10 : 1);
  return Date.UTC(year, month - 1, day, hour, minute, second, ms);
}

// Milliseconds of an RFC 3339 text, NaN for anything else. RFC 3339 only: Date.parse also takes
// texts PostgreSQL refuses (`2030`), which would drop the row.
function timestampMs(value: unknown): number {
  if (typeof value !== 'string' || !rfc3339.test(value)) return NaN;
  const ms = plainUtcMs(value);
  return Number.isNaN(ms) ? Date.parse(value) : ms;
}

/**
 * The newest valid timestamp offered so far. An event repeats its timestamps (firstTimestamp equals
 * lastTimestamp, first_seen is one of the candidates), so the last two texts' values are reused.
 */
class NewestTimestamp {
  text: string | undefined = undefined;
  private ms = -Infinity;
  private seenA: unknown = undefined;
  private msA = NaN;
  private seenB: unknown = undefined;
  private msB = NaN;

  msOf(value: unknown): number {
    if (value === undefined || value === null) return NaN;
    if (value === this.seenA) return this.msA;
    if (value === this.seenB) return this.msB;
    const ms = timestampMs(value);
    this.seenB = this.seenA;
    this.msB = this.msA;
    this.seenA = value;
    this.msA = ms;
    return ms;
  }

  offer(value: unknown): void {
    const ms = this.msOf(value);
    if (Number.isNaN(ms)) return;
    const text = value as string;
    // Equal milliseconds: the longer text carries the finer fraction (MicroTime).
    if (ms > this.ms || (ms === this.ms && this.text !== undefined && text.length > this.text.length)) {
      this.text = text;
      this.ms = ms;
    }
  }
}

/**
 * The newest valid (RFC 3339) timestamp among `candidates`, as given (so microseconds of a MicroTime
 * survive), or undefined when none parses.
 */
export function pickNewestTimestamp(candidates: readonly unknown[]): string | undefined {
  const newest = new NewestTimestamp();
  for (const candidate of candidates) newest.offer(candidate);
  return newest.text;
}

const noisyAnnotations = ['kubectl.kubernetes.io/last-applied-configuration'];

function minifiedMetadata(metadata: Obj): Obj {
  const annotations = asObj(metadata.annotations);
  const noisy = annotations !== undefined && noisyAnnotations.some((a) => a in annotations);
  // Most events carry none of what is removed: their metadata object is used as it is.
  if (!noisy && metadata.managedFields === undefined && metadata.selfLink === undefined) return metadata;
  const rest: Obj = {};
  for (const key in metadata) {
    if (key !== 'managedFields' && key !== 'selfLink') rest[key] = metadata[key];
  }
  if (noisy) {
    const kept: Obj = {};
    for (const key in annotations) if (!noisyAnnotations.includes(key)) kept[key] = annotations[key];
    if (hasKeys(kept)) rest.annotations = kept;
    else delete rest.annotations;
  }
  return rest;
}

// The object stored as `raw`, sharing everything it keeps with `event` (nothing is copied deeply).
function minifiedCopy(event: KubeEvent): Obj {
  const copy: Obj = {};
  for (const key in event) {
    const value = event[key];
    if (value !== null && value !== undefined) copy[key] = value;
  }
  const metadata = asObj(event.metadata);
  if (metadata) copy.metadata = minifiedMetadata(metadata);
  return copy;
}

/**
 * The event as stored in `raw`: managedFields, selfLink, the last-applied annotation and null
 * fields removed; everything else (count, series, source, reporting fields, involvedObject with
 * apiVersion and fieldPath, note, related) kept. Deterministic for a given input.
 */
export function minifyEvent(event: KubeEvent): string {
  return stringifyClean(minifiedCopy(event));
}

/** `apiVersion.kind` (`v1.Pod`, `apps/v1.Deployment`), the kind alone without apiVersion, or ''. */
export function formatResourceKind(apiVersion: string | undefined, kind: string | undefined): string {
  if (kind === undefined) return '';
  return apiVersion === undefined ? kind : `${apiVersion}.${kind}`;
}

/**
 * Maps one Event version to its `k8s_events` row. Accepts core/v1 events (legacy
 * `count`/`firstTimestamp`/`lastTimestamp` and new-style `eventTime`/`series`) and
 * events.k8s.io/v1 fields (`regarding`, `note`, `deprecated*`). `created_at` is the version's
 * last-seen time; with no usable timestamp at all it is `nowIso` (a function is called only then;
 * documented; the API server always sets creationTimestamp, so this only happens for hand-made
 * objects). Only an event without `metadata.uid` cannot be stored. The event is JSON data (as
 * parsed): every text column is one of the strings `raw` holds.
 */
export function buildEventRecord(
  event: KubeEvent,
  context: { clusterName: string; compositionId: string | null; nowIso: string | (() => string) },
): BuildResult {
  const metadata = asObj(event.metadata) ?? {};
  const uid = asText(metadata.uid);
  if (uid === undefined) return { ok: false, reason: 'missing_uid' };
  const involved = asObj(event.involvedObject) ?? asObj(event.regarding) ?? {};
  const series = asObj(event.series);
  const source = asObj(event.source) ?? asObj(event.deprecatedSource);
  const newest = offerTimestamps(event, metadata, series);
  const createdAt = newest.text ?? (typeof context.nowIso === 'string' ? context.nowIso : context.nowIso());
  const firstText = event.firstTimestamp ?? event.deprecatedFirstTimestamp ?? event.eventTime;
  const firstSeen = Number.isNaN(newest.msOf(firstText)) ? null : (firstText as string);
  const labels = asObj(metadata.labels);
  const copy = minifiedCopy(event);
  let raw = JSON.stringify(copy);
  // No escaped NUL or lone surrogate in `raw` means none in any string of the event: the columns
  // below need no cleaning (the rare other case cleans them all).
  const storable = !escapedUnstorable.test(raw);
  if (!storable) raw = JSON.stringify(cleanDeep(copy));
  const record: EventRecord = {
    created_at: createdAt,
    cluster_name: context.clusterName,
    uid,
    global_uid: `${context.clusterName}:${uid}`,
    namespace: asText(metadata.namespace) ?? asText(involved.namespace) ?? '',
    resource_kind: formatResourceKind(asText(involved.apiVersion), asText(involved.kind)),
    resource_name: asText(involved.name) ?? '',
    involved_object_uid: textOrNull(involved.uid),
    event_type: asText(event.type) ?? '',
    reason: textOrNull(event.reason),
    message: textOrNull(event.message ?? event.note),
    composition_id: context.compositionId,
    raw,
    resource_version: asText(metadata.resourceVersion) ?? '',
    count: asCount(series?.count) ?? asCount(event.count) ?? asCount(event.deprecatedCount) ?? 1,
    first_seen: firstSeen,
    reporting_controller: textOrNull(event.reportingComponent ?? event.reportingController ?? source?.component),
    labels: labels && hasKeys(labels) ? (storable ? JSON.stringify(labels) : stringifyClean(labels)) : null,
  };
  if (!storable) cleanTextColumns(record);
  return { ok: true, record };
}

// Every timestamp field an Event of either API may carry, newest wins.
function offerTimestamps(event: KubeEvent, metadata: Record<string, unknown>, series: Record<string, unknown> | undefined): NewestTimestamp {
  const newest = new NewestTimestamp();
  for (const value of [series?.lastObservedTime, event.lastTimestamp, event.deprecatedLastTimestamp, event.eventTime, event.firstTimestamp, event.deprecatedFirstTimestamp, metadata.creationTimestamp]) {
    newest.offer(value);
  }
  return newest;
}

// The rare event with a NUL or lone surrogate somewhere: every text column is cleaned.
function cleanTextColumns(record: EventRecord): void {
  record.namespace = clean(record.namespace);
  record.resource_kind = clean(record.resource_kind);
  record.resource_name = clean(record.resource_name);
  record.involved_object_uid = cleanOrNull(record.involved_object_uid);
  record.event_type = clean(record.event_type);
  record.reason = cleanOrNull(record.reason);
  record.message = cleanOrNull(record.message);
  record.resource_version = clean(record.resource_version);
  record.reporting_controller = cleanOrNull(record.reporting_controller);
}
