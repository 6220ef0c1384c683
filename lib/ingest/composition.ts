import type { KubeEvent } from './event-record.ts';
import { errorFields, type Logger } from '../runtime/log.ts';

/** The label naming the Krateo composition an object belongs to. */
export const compositionLabel = 'krateo.io/composition-id';

/** The involved object of an Event, as far as the Event tells. */
export interface ObjectRef {
  apiVersion?: string;
  kind?: string;
  namespace?: string;
  name?: string;
  uid?: string;
}

/** The answer of a metadata lookup; transient failures are thrown instead. */
export type LabelLookup =
  | { status: 'found'; labels: Record<string, string> }
  | { status: 'not_found' }
  | { status: 'forbidden' }
  | { status: 'unknown_kind' };

/** How a resolution was answered (metrics attribute). */
export type ResolutionSource = 'own_uid' | 'event_label' | 'cache_hit' | 'lookup' | 'none';

/** Observer for metrics. */
export interface CompositionObserver {
  onResolved?(source: ResolutionSource): void;
  onLookup?(outcome: LabelLookup['status'] | 'error', durationMs: number): void;
}

/** Resolves an Event's composition id: synchronously when it can, otherwise by a background lookup. */
export interface CompositionResolver {
  /** The composition id (or null). A promise only when a lookup is needed; it never rejects. */
  resolve(event: KubeEvent): string | null | Promise<string | null>;
  /** Lookups queued or running. */
  readonly pendingLookups: number;
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True for a UUID in its canonical textual form (what the `composition_id uuid` column accepts). */
export function isUuid(value: string): boolean {
  return uuidPattern.test(value);
}

function refOf(event: KubeEvent): ObjectRef {
  const ref = (event.involvedObject ?? event.regarding) as ObjectRef | null | undefined;
  return ref !== null && typeof ref === 'object' ? ref : {};
}

// True when the API group of `apiVersion` (the part before `/`) ends with `suffix`, without
// cutting the group out (this runs for every event).
function groupEndsWith(apiVersion: string | undefined, suffix: string): boolean {
  const slash = apiVersion?.indexOf('/') ?? -1;
  return slash > 0 && apiVersion!.endsWith(suffix, slash);
}

/**
 * Creates the resolver: a `*.composition.krateo.io` involved object gives its own
 * UID; else the Event's own `krateo.io/composition-id` label; else the involved object's label,
 * found by `lookup`. Lookup results (found or not, forbidden, unknown kind) are cached per object
 * for `ttlMs`, failures for `failureTtlMs`; at most `concurrency` lookups run at once and callers
 * for the same object share one. A failed lookup or a non-UUID value resolves to null (logged).
 */
export function createCompositionResolver(options: {
  lookup: ((ref: ObjectRef) => Promise<LabelLookup>) | undefined;
  ttlMs: number;
  failureTtlMs?: number;
  concurrency: number;
  maxEntries?: number;
  now?: () => number;
  log: Logger;
  observer?: CompositionObserver;
}): CompositionResolver {
  const now = options.now ?? Date.now;
  const maxEntries = options.maxEntries ?? 50_000;
  const failureTtlMs = options.failureTtlMs ?? Math.min(options.ttlMs, 10_000);
  const cache = new Map<string, { value: string | null; expiresAt: number }>();
  const inFlight = new Map<string, Promise<string | null>>();
  const waiting: (() => void)[] = [];
  let running = 0;

  const validate = (value: string | undefined, origin: string, ref: ObjectRef): string | null => {
    if (value === undefined || value === '') return null;
    if (isUuid(value)) return value.toLowerCase();
    options.log.warn('composition id is not a UUID, stored as null', { origin, kind: ref.kind, name: ref.name, value });
    return null;
  };

  const remember = (key: string, value: string | null, ttlMs: number) => {
    if (cache.size >= maxEntries) cache.delete(cache.keys().next().value!);
    cache.set(key, { value, expiresAt: now() + ttlMs });
  };

  const acquire = async () => {
    if (running < options.concurrency) {
      running++;
      return;
    }
    await new Promise<void>((resolve) => waiting.push(resolve));
  };
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else running--;
  };

  const lookUp = async (key: string, ref: ObjectRef, lookup: (ref: ObjectRef) => Promise<LabelLookup>) => {
    await acquire();
    const started = performance.now();
    try {
      const result = await lookup(ref);
      options.observer?.onLookup?.(result.status, performance.now() - started);
      const value = result.status === 'found' ? validate(result.labels[compositionLabel], 'involved_object_label', ref) : null;
      remember(key, value, options.ttlMs);
      return value;
    } catch (err) {
      options.observer?.onLookup?.('error', performance.now() - started);
      options.log.warn('composition lookup failed, stored as null', { kind: ref.kind, namespace: ref.namespace, name: ref.name, ...errorFields(err) });
      remember(key, null, failureTtlMs);
      return null;
    } finally {
      release();
      inFlight.delete(key);
    }
  };

  return {
    get pendingLookups() {
      return inFlight.size;
    },
    resolve(event) {
      const ref = refOf(event);
      if (groupEndsWith(ref.apiVersion, 'composition.krateo.io')) {
        options.observer?.onResolved?.('own_uid');
        return validate(ref.uid, 'own_uid', ref);
      }
      const labels = (event.metadata as { labels?: Record<string, string> } | undefined)?.labels;
      const own = labels?.[compositionLabel];
      if (own !== undefined) {
        options.observer?.onResolved?.('event_label');
        return validate(own, 'event_label', ref);
      }
      const lookup = options.lookup;
      if (!lookup || !ref.kind || !ref.name) {
        options.observer?.onResolved?.('none');
        return null;
      }
      const key = `${ref.apiVersion ?? ''}|${ref.kind}|${ref.namespace ?? ''}|${ref.name}|${ref.uid ?? ''}`;
      const cached = cache.get(key);
      if (cached && cached.expiresAt > now()) {
        options.observer?.onResolved?.('cache_hit');
        return cached.value;
      }
      options.observer?.onResolved?.('lookup');
      let pending = inFlight.get(key);
      if (!pending) {
        pending = lookUp(key, ref, lookup);
        inFlight.set(key, pending);
      }
      return pending;
    },
  };
}
