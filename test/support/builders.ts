import type { EventRecord } from '../../lib/storage/event-store.ts';

let counter = 0;
/** A minimal valid record; override what the test is about. */
export function buildRecord(overrides: Partial<EventRecord> = {}): EventRecord {
  counter++;
  const uid = overrides.uid ?? `uid-${counter}`;
  return {
    created_at: new Date().toISOString(),
    cluster_name: 'test',
    uid,
    global_uid: `test:${uid}`,
    namespace: 'default',
    resource_kind: 'v1.Pod',
    resource_name: 'pod-1',
    involved_object_uid: null,
    event_type: 'Normal',
    reason: 'Started',
    message: 'started container',
    composition_id: null,
    raw: JSON.stringify({ metadata: { uid } }),
    resource_version: String(counter),
    count: 1,
    first_seen: null,
    reporting_controller: null,
    labels: null,
    ...overrides,
  };
}


/**
 * Today's UTC date at a wall-clock time, e.g. `utcTodayAt('10:00:00.123456')` →
 * `2026-12-06T10:00:00.123456Z`: a timestamp inside the partitions a fresh migration creates,
 * whatever day the suite runs on.
 */
export function utcTodayAt(time: string, nowMs = Date.now()): string {
  return `${new Date(nowMs).toISOString().slice(0, 10)}T${time}Z`;
}
