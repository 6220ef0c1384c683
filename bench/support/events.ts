// Deterministic generator of realistic ~1 KB Kubernetes Events for the benchmarks: a bounded set of
// involved objects in many namespaces, legacy (count/firstTimestamp/lastTimestamp/source) and
// new-style (eventTime/series/reportingController) events, labels on some, messages of 200 B–2 KB.
import type { KubeEvent } from '../../lib/ingest/event-record.ts';
import { buildEventRecord } from '../../lib/ingest/event-record.ts';
import type { EventRecord } from '../../lib/storage/event-store.ts';

/** A small, fast, seedable PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A deterministic UUID (v4-shaped) from the PRNG. */
export function uuidFrom(random: () => number): string {
  const hex = (n: number) =>
    Array.from({ length: n }, () => Math.floor(random() * 16).toString(16)).join('');
  return `${hex(8)}-${hex(4)}-4${hex(3)}-${'89ab'[Math.floor(random() * 4)]}${hex(3)}-${hex(12)}`;
}

export interface InvolvedObject {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  uid: string;
  /** Krateo composition it belongs to (label on the object), or undefined. */
  compositionId?: string;
  labels: Record<string, string>;
}

export interface GeneratorOptions {
  seed?: number;
  namespaces?: number;
  objects?: number;
  compositions?: number;
  /** Share of generated versions that are count bumps of an earlier event (0..1). */
  updateShare?: number;
  /** Timestamps of generated events: `startMs` + i * `stepMs` (default: now, 1 ms apart). */
  startMs?: number;
  stepMs?: number;
}

const legacyReasons = [
  ['Normal', 'Scheduled', 'default-scheduler'],
  ['Normal', 'Pulling', 'kubelet'],
  ['Normal', 'Pulled', 'kubelet'],
  ['Normal', 'Created', 'kubelet'],
  ['Normal', 'Started', 'kubelet'],
  ['Warning', 'BackOff', 'kubelet'],
  ['Warning', 'Unhealthy', 'kubelet'],
  ['Warning', 'FailedMount', 'kubelet'],
  ['Normal', 'Killing', 'kubelet'],
] as const;
const newReasons = [
  ['Normal', 'ScalingReplicaSet', 'deployment-controller', 'Scale'],
  ['Normal', 'SuccessfulCreate', 'replicaset-controller', 'Create'],
  ['Warning', 'FailedScheduling', 'default-scheduler', 'Scheduling'],
  ['Normal', 'LeaderElection', 'cert-manager-controller', 'Acquire'],
  ['Warning', 'ReconcileError', 'composition-dynamic-controller', 'Reconcile'],
] as const;
const words = (
  'container image pull back-off restarting failed readiness probe liveness http get ' +
  'connection refused deadline exceeded volume mount timed out waiting for condition node ' +
  'insufficient cpu memory taints tolerations scheduler preemption replica set scaled up down ' +
  'composition reconcile error status observed generation desired state krateo helm release'
).split(' ');
const kinds = [
  ['v1', 'Pod'],
  ['v1', 'Pod'],
  ['v1', 'Pod'],
  ['apps/v1', 'Deployment'],
  ['apps/v1', 'ReplicaSet'],
  ['composition.krateo.io/v1-2-0', 'FireworksApp'],
] as const;

/**
 * A deterministic stream of Event versions. `next()` returns an Event as a client would create it
 * (no uid/resourceVersion: the API server assigns them) plus, for updates, the previous version's
 * name so it can be replayed as an update; `stamp()` fills the server-assigned fields for direct
 * database benchmarks.
 */
export function createEventGenerator(options: GeneratorOptions = {}) {
  const random = prng(options.seed ?? 42);
  const nsCount = options.namespaces ?? 50;
  const namespaces = Array.from({ length: nsCount }, (_, i) => `team-${String(i).padStart(2, '0')}`);
  const compositionIds = Array.from({ length: options.compositions ?? 40 }, () => uuidFrom(random));
  const objects: InvolvedObject[] = Array.from({ length: options.objects ?? 5000 }, (_, i) => {
    const [apiVersion, kind] = kinds[Math.floor(random() * kinds.length)]!;
    const namespace = namespaces[i % nsCount]!;
    const compositionId = random() < 0.3 ? compositionIds[Math.floor(random() * compositionIds.length)] : undefined;
    const app = `app-${Math.floor(random() * 200)}`;
    const labels: Record<string, string> = { app, 'app.kubernetes.io/part-of': `suite-${i % 7}` };
    if (compositionId) labels['krateo.io/composition-id'] = compositionId;
    return {
      apiVersion,
      kind,
      namespace,
      name: `${app}-${Math.floor(random() * 1e9).toString(36)}-${Math.floor(random() * 1e5).toString(36)}`,
      uid: uuidFrom(random),
      compositionId,
      labels,
    };
  });
  const updateShare = options.updateShare ?? 0.3;
  const startMs = options.startMs ?? Date.now();
  const stepMs = options.stepMs ?? 1;
  let index = 0;
  let serial = 0;
  // Recently created events that may get a count bump.
  const recent: KubeEvent[] = [];

  // Messages are windows onto one long seeded word sequence: the same words and lengths as
  // drawing each word anew, for one random draw per message (word-by-word building was most of
  // the generator's CPU, which the ingest benchmark counts as the simulator process's).
  let pool = '';
  while (pool.length < 64 * 1024) pool += `${words[Math.floor(random() * words.length)]} `;
  const wordStarts: number[] = [0];
  for (let i = pool.indexOf(' '); i >= 0 && i < pool.length - 2100; i = pool.indexOf(' ', i + 1)) wordStarts.push(i + 1);
  const message = (target: number) => {
    const start = wordStarts[Math.floor(random() * wordStarts.length)]!;
    return pool.slice(start, start + target).trimEnd();
  };
  // 200..2000 bytes, most near the short end (mean ≈ 400): the raw event averages ≈ 1.1 KB.
  const messageLength = () => Math.round(200 * Math.pow(10, Math.pow(random(), 4)));

  const fresh = (at: string): KubeEvent => {
    const object = objects[Math.floor(random() * objects.length)]!;
    const name = `${object.name}.${(0x17a00000 + serial++).toString(16)}`;
    const involvedObject: Record<string, unknown> = {
      apiVersion: object.apiVersion,
      kind: object.kind,
      namespace: object.namespace,
      name: object.name,
      uid: object.uid,
      resourceVersion: String(100000 + Math.floor(random() * 1e6)),
    };
    if (object.kind === 'Pod') involvedObject.fieldPath = 'spec.containers{app}';
    // Some emitters copy the object's labels onto the Event (Krateo's composition controller does).
    const metadata: Record<string, unknown> = { name, namespace: object.namespace };
    if (object.compositionId && random() < 0.5) metadata.labels = { ...object.labels };
    else if (random() < 0.2) metadata.labels = { app: object.labels.app! };
    if (random() < 0.6) {
      const [type, reason, component] = legacyReasons[Math.floor(random() * legacyReasons.length)]!;
      return {
        apiVersion: 'v1',
        kind: 'Event',
        metadata,
        involvedObject,
        reason,
        message: message(messageLength()),
        source: component === 'kubelet' ? { component, host: `node-${Math.floor(random() * 20)}` } : { component },
        firstTimestamp: at,
        lastTimestamp: at,
        count: 1,
        type,
        eventTime: null,
        reportingComponent: component,
        reportingInstance: component === 'kubelet' ? `node-${Math.floor(random() * 20)}` : '',
      };
    }
    const [type, reason, controller, action] = newReasons[Math.floor(random() * newReasons.length)]!;
    return {
      apiVersion: 'v1',
      kind: 'Event',
      metadata,
      involvedObject,
      reason,
      message: message(messageLength()),
      source: {},
      firstTimestamp: null,
      lastTimestamp: null,
      type,
      eventTime: at.replace('Z', `${String(Math.floor(random() * 1000)).padStart(3, '0')}Z`), // MicroTime
      action,
      reportingComponent: controller,
      reportingInstance: `${controller}-${Math.floor(random() * 3)}`,
    };
  };

  const bump = (previous: KubeEvent, at: string): KubeEvent => {
    // Shallow: a bump replaces only top-level fields (`series` with a new object), and a deep clone
    // per version was a large share of the producing process's CPU.
    const copy = { ...previous } as Record<string, any>;
    if (copy.eventTime) {
      const count = (copy.series?.count ?? 1) + 1;
      copy.series = { count, lastObservedTime: at.replace('Z', '000Z') };
    } else {
      copy.count = (copy.count ?? 1) + 1;
      copy.lastTimestamp = at;
    }
    return copy;
  };

  const isoAt = (i: number) => {
    // Legacy timestamps have second precision; keep milliseconds so versions differ.
    return new Date(startMs + i * stepMs).toISOString();
  };

  return {
    namespaces,
    objects,
    compositionIds,
    /** The next Event version: `update` true when it is a count bump of `recent` event (same name). */
    next(): { event: KubeEvent; update: boolean } {
      const at = isoAt(index++);
      if (recent.length > 100 && random() < updateShare) {
        const slot = Math.floor(random() * recent.length);
        const event = bump(recent[slot]!, at);
        recent[slot] = event;
        return { event, update: true };
      }
      const event = fresh(at);
      if (recent.length < 2000) recent.push(event);
      else recent[Math.floor(random() * recent.length)] = event;
      return { event, update: false };
    },
  };
}

/**
 * `count` Event versions with the server-assigned fields filled in (uid per event name, increasing
 * resourceVersion, creationTimestamp), ready for `buildEventRecord`.
 */
export function generateStoredEvents(count: number, options: GeneratorOptions = {}): KubeEvent[] {
  const gen = createEventGenerator(options);
  const random = prng((options.seed ?? 42) + 1);
  const uids = new Map<string, string>();
  const out: KubeEvent[] = [];
  for (let i = 0; i < count; i++) {
    const { event } = gen.next();
    const metadata = event.metadata as Record<string, unknown>;
    const key = `${metadata.namespace}/${metadata.name}`;
    let uid = uids.get(key);
    if (!uid) {
      uid = uuidFrom(random);
      uids.set(key, uid);
    }
    const created = (event.firstTimestamp ?? event.eventTime) as string;
    out.push({ ...event, metadata: { ...metadata, uid, resourceVersion: String(1_000_000 + i), creationTimestamp: created.slice(0, 19) + 'Z' } });
  }
  return out;
}

/** Rows as the ingester builds them (composition id from the event's label, as the resolver would). */
export function toRecords(events: readonly KubeEvent[], clusterName = 'bench'): EventRecord[] {
  const nowIso = new Date().toISOString();
  return events.map((event) => {
    const labels = (event.metadata as { labels?: Record<string, string> }).labels;
    const built = buildEventRecord(event, { clusterName, compositionId: labels?.['krateo.io/composition-id'] ?? null, nowIso });
    if (!built.ok) throw new Error('generator produced an unbuildable event');
    return built.record;
  });
}

/** Average `raw` size and other shape figures of a record set (for the report). */
export function describeRecords(records: readonly EventRecord[]) {
  let raw = 0;
  let message = 0;
  let labelled = 0;
  let newStyle = 0;
  for (const r of records) {
    raw += r.raw.length;
    message += r.message?.length ?? 0;
    if (r.labels) labelled++;
    if (r.raw.includes('"eventTime":"')) newStyle++;
  }
  const n = Math.max(1, records.length);
  return {
    raw_bytes_avg: Math.round(raw / n),
    message_bytes_avg: Math.round(message / n),
    labelled_share: +(labelled / n).toFixed(2),
    new_style_share: +(newStyle / n).toFixed(2),
  };
}
