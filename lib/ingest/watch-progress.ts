import type { Queryable } from '../storage/db.ts';
import type { EventRecord } from '../storage/event-store.ts';
import { errorFields, type Logger } from '../runtime/log.ts';
import { createCheckpointTracker, saveCheckpoints, type CheckpointTicket, type CheckpointTracker } from './watch-checkpoint.ts';

/**
 * What the leader knows of its watches in one term: which scopes are established, where each
 * could safely resume, and which of those resume points are already stored.
 */
export interface WatchProgress {
  /** Remembers a queued row's place in its watch's delivery order. */
  attach(record: EventRecord, ticket: CheckpointTicket): void;
  /** Rows committed (or dropped): their places are done, which may advance a resume point. */
  complete(records: readonly EventRecord[]): void;
  /** A new term starts from what is stored: a fresh tracker, and no scope established yet. */
  beginTerm(scopes: readonly string[]): CheckpointTracker;
  setEstablished(scope: string, established: boolean): void;
  /** True when every scope of the term has an established watch. */
  allEstablished(): boolean;
  /** Stores the resume points that moved; a call while a save runs joins that save. Never throws. */
  save(): Promise<void>;
  /** The save under way, or a settled promise. */
  pendingSave(): Promise<void>;
}

/** Creates the progress record of one ingester; `beginTerm` resets it for each leader term. */
export function createWatchProgress(deps: { sql: Queryable; clusterName: string; log: Logger }): WatchProgress {
  const tickets = new WeakMap<EventRecord, CheckpointTicket>();
  const established = new Map<string, boolean>();
  const saved = new Map<string, string>();
  let tracker = createCheckpointTracker();
  let saving: Promise<void> | undefined;

  const changedVersions = (): Map<string, string> => {
    const changed = new Map<string, string>();
    for (const scope of established.keys()) {
      const safe = tracker.safeVersion(scope);
      if (safe !== undefined && saved.get(scope) !== safe) changed.set(scope, safe);
    }
    return changed;
  };
  const writeChanged = async (): Promise<void> => {
    const changed = changedVersions();
    if (changed.size === 0) return;
    try {
      await saveCheckpoints(deps.sql, deps.clusterName, changed);
      for (const [scope, rv] of changed) saved.set(scope, rv);
    } catch (err) {
      deps.log.warn('checkpoint not saved', errorFields(err));
    }
  };

  return {
    attach: (record, ticket) => void tickets.set(record, ticket),
    complete: (records) => {
      for (const record of records) tickets.get(record)?.complete();
    },
    beginTerm: (scopes) => {
      established.clear();
      for (const scope of scopes) established.set(scope, false);
      tracker = createCheckpointTracker();
      saved.clear();
      return tracker;
    },
    setEstablished: (scope, value) => void established.set(scope, value),
    allEstablished: () => [...established.values()].every(Boolean),
    save: () => (saving ??= writeChanged().finally(() => (saving = undefined))),
    pendingSave: () => saving ?? Promise.resolve(),
  };
}
