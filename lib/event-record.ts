import type { EventRecord } from './event-store.ts';

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
const cleanStrings = (_key: string, value: unknown) => (typeof value === 'string' ? clean(value) : value);

/** JSON text of `value` with every string cleaned for PostgreSQL. */
function stringifyClean(value: unknown): string {
  const text = JSON.stringify(value);
  return escapedUnstorable.test(text) ? JSON.stringify(value, cleanStrings) : text;
}

function cleanOrNull(value: unknown): string | null {
  const text = asText(value);
  return text === undefined ? null : clean(text);
}

const rfc3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * The newest valid (RFC 3339) timestamp among `candidates`, as given (so microseconds of a MicroTime
 * survive), or undefined when none parses.
 */
export function pickNewestTimestamp(candidates: readonly unknown[]): string | undefined {
  let best: string | undefined;
  let bestMs = -Infinity;
  for (const candidate of candidates) {
    const text = asText(candidate);
    // RFC 3339 only: Date.parse also takes texts PostgreSQL refuses (`2030`), which would drop the row.
    if (text === undefined || !rfc3339.test(text)) continue;
    const ms = Date.parse(text);
    if (Number.isNaN(ms)) continue;
    // Equal milliseconds: the longer text carries the finer fraction (MicroTime).
    if (ms > bestMs || (ms === bestMs && best !== undefined && text.length > best.length)) {
      best = text;
      bestMs = ms;
    }
  }
  return best;
}

const noisyAnnotations = ['kubectl.kubernetes.io/last-applied-configuration'];

/**
 * The event as stored in `raw`: managedFields, selfLink, the last-applied annotation and null
 * fields removed; everything else (count, series, source, reporting fields, involvedObject with
 * apiVersion and fieldPath, note, related) kept. Deterministic for a given input.
 */
export function minifyEvent(event: KubeEvent): string {
  const copy: Obj = {};
  for (const [key, value] of Object.entries(event)) {
    if (value !== null && value !== undefined) copy[key] = value;
  }
  const metadata = asObj(event.metadata);
  if (metadata) {
    const { managedFields: _managed, selfLink: _selfLink, ...rest } = metadata;
    const annotations = asObj(rest.annotations);
    if (annotations && noisyAnnotations.some((a) => a in annotations)) {
      const kept = Object.fromEntries(Object.entries(annotations).filter(([k]) => !noisyAnnotations.includes(k)));
      if (Object.keys(kept).length > 0) rest.annotations = kept;
      else delete rest.annotations;
    }
    copy.metadata = rest;
  }
  return stringifyClean(copy);
}

/** `apiVersion.kind` (`v1.Pod`, `apps/v1.Deployment`), the kind alone without apiVersion, or ''. */
export function formatResourceKind(apiVersion: string | undefined, kind: string | undefined): string {
  if (kind === undefined) return '';
  return apiVersion === undefined ? kind : `${apiVersion}.${kind}`;
}

/**
 * Maps one Event version to its `k8s_events` row (SPEC §4). Accepts core/v1 events (legacy
 * `count`/`firstTimestamp`/`lastTimestamp` and new-style `eventTime`/`series`) and
 * events.k8s.io/v1 fields (`regarding`, `note`, `deprecated*`). `created_at` is the version's
 * last-seen time; with no usable timestamp at all it is `nowIso` (documented; the API server
 * always sets creationTimestamp, so this only happens for hand-made objects). Only an event
 * without `metadata.uid` cannot be stored.
 */
export function buildEventRecord(
  event: KubeEvent,
  context: { clusterName: string; compositionId: string | null; nowIso: string },
): BuildResult {
  const metadata = asObj(event.metadata) ?? {};
  const uid = asText(metadata.uid);
  if (uid === undefined) return { ok: false, reason: 'missing_uid' };
  const involved = asObj(event.involvedObject) ?? asObj(event.regarding) ?? {};
  const series = asObj(event.series);
  const source = asObj(event.source) ?? asObj(event.deprecatedSource);
  const createdAt =
    pickNewestTimestamp([
      series?.lastObservedTime,
      event.lastTimestamp,
      event.deprecatedLastTimestamp,
      event.eventTime,
      event.firstTimestamp,
      event.deprecatedFirstTimestamp,
      metadata.creationTimestamp,
    ]) ?? context.nowIso;
  const firstSeen = pickNewestTimestamp([event.firstTimestamp ?? event.deprecatedFirstTimestamp ?? event.eventTime]);
  const labels = asObj(metadata.labels);
  return {
    ok: true,
    record: {
      created_at: createdAt,
      cluster_name: context.clusterName,
      uid,
      global_uid: `${context.clusterName}:${uid}`,
      namespace: clean(asText(metadata.namespace) ?? asText(involved.namespace) ?? ''),
      resource_kind: clean(formatResourceKind(asText(involved.apiVersion), asText(involved.kind))),
      resource_name: clean(asText(involved.name) ?? ''),
      involved_object_uid: cleanOrNull(involved.uid),
      event_type: clean(asText(event.type) ?? ''),
      reason: cleanOrNull(event.reason),
      message: cleanOrNull(event.message ?? event.note),
      composition_id: context.compositionId,
      raw: minifyEvent(event),
      resource_version: clean(asText(metadata.resourceVersion) ?? ''),
      count: asCount(series?.count) ?? asCount(event.count) ?? asCount(event.deprecatedCount) ?? 1,
      first_seen: firstSeen ?? null,
      reporting_controller: cleanOrNull(event.reportingComponent ?? event.reportingController ?? source?.component),
      labels: labels && Object.keys(labels).length > 0 ? stringifyClean(labels) : null,
    },
  };
}
