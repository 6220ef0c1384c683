import { randomBytes, randomUUID } from 'node:crypto';
import type { Clock } from './clock.ts';
import type { ResourceInfo } from './registry.ts';
import { joinApiVersion } from './registry.ts';
import { alreadyExists, badRequest, conflict, continueExpired, notFound, tooOld } from './status.ts';
import type { KubeObject, StoredObject } from './types.ts';

/**
 * One write to a store, as a watch delivers it. The object is kept serialised once (`json`), so
 * every watcher sends the same bytes; `object` parses it on first use. Neither may be mutated.
 */
export interface Change {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  rv: number;
  namespace: string;
  /** The stored object as JSON, shared by every reader. */
  readonly json: string;
  /** The stored object (parsed from `json` once, then shared: read-only). */
  readonly object: StoredObject;
}

/** One page of a list, consistent at `resourceVersion`. */
export interface ListPage {
  items: StoredObject[];
  resourceVersion: number;
  continueToken?: string;
  remainingItemCount?: number;
}

export interface ListOptions {
  /** Omitted or "" lists every namespace. */
  namespace?: string;
  limit?: number;
  continueToken?: string;
  /** Serve the list exactly at this version (resourceVersionMatch=Exact). */
  exactVersion?: number;
}

/** Retention of one store; by default it keeps every change and every object forever. */
export interface StoreOptions {
  /**
   * Changes kept for watches and lists at older versions, like the API server's watch cache: once
   * more were written, the oldest are compacted and a watch or list from before them gets 410 Gone.
   */
  watchWindow?: number;
  /**
   * Objects not written for this long are deleted (watchers get DELETED), like the API server's
   * `--event-ttl`. Expiry happens at the store's next write or read.
   */
  ttlMs?: number;
  /** Wall clock for the TTL (tests pin it). */
  now?: () => number;
}

/** What a store has written since it was created (counted before any compaction). */
export interface StoreStats {
  /** ADDED and MODIFIED changes, i.e. object versions. */
  versions: number;
  deleted: number;
  /** Objects currently stored. */
  objects: number;
  /** Changes still held for watches from older versions. */
  retainedChanges: number;
}

/** Storage of one resource type with versioned history, consistent paging and watch fan-out. */
export interface ResourceStore {
  readonly info: ResourceInfo;
  get(namespace: string, name: string): StoredObject | undefined;
  /**
   * Stores a new object; 409 if it exists. Writes return the stored object, which shares nested
   * values with the given one (the store keeps its own serialised copy).
   */
  create(object: KubeObject): StoredObject;
  /** Replaces an existing object; 404 if missing, 409 if `expectVersion` is stale. */
  update(object: KubeObject, options?: { expectVersion?: string }): StoredObject;
  /** Creates or replaces. */
  upsert(object: KubeObject): StoredObject;
  /** Deletes; 404 if missing. The returned object carries the deletion's resourceVersion. */
  remove(namespace: string, name: string): StoredObject;
  list(options: ListOptions): ListPage;
  /**
   * Subscribes `sink` to changes. With `fromVersion` it first replays every change after that
   * version (410 if compacted), without it every current object as ADDED. Returns unsubscribe.
   * The changes handed to `sink` are shared: read-only.
   */
  watch(options: { namespace?: string; fromVersion?: number }, sink: (change: Change) => void): () => void;
  /**
   * The changes still held, oldest first: every change ever written unless `watchWindow` is set
   * (an explicit cluster-wide compaction does not shorten it).
   */
  changes(): readonly Change[];
  stats(): StoreStats;
}

const keyOf = (namespace: string, name: string) => `${namespace}/${name}`;

/** A change as held by the store: `previous` is the state it replaced, for lists at older versions. */
class HeldChange implements Change {
  #object: StoredObject | undefined;
  constructor(
    readonly type: Change['type'],
    readonly rv: number,
    readonly namespace: string,
    readonly name: string,
    readonly json: string,
    public previous: HeldChange | undefined,
    readonly uid: string,
    readonly creationTimestamp: string,
  ) {}
  get object(): StoredObject {
    return (this.#object ??= JSON.parse(this.json) as StoredObject);
  }
  /** A private copy for a caller, who may change it. */
  copy(): StoredObject {
    return JSON.parse(this.json) as StoredObject;
  }
}

/** The objects at one resourceVersion, sorted by key. */
interface Snapshot {
  rv: number;
  keys: string[];
  items: HeldChange[];
}

const rfc3339 = (date: Date) => `${date.toISOString().slice(0, 19)}Z`;

/** Creates the store of one resource, drawing versions from the shared cluster clock. */
export function createResourceStore(info: ResourceInfo, clock: Clock, options: StoreOptions = {}): ResourceStore {
  const current = new Map<string, HeldChange>();
  let log: HeldChange[] = [];
  // Every change with rv <= compactedThrough was dropped from `log`.
  let compactedThrough = 0;
  const sinks = new Set<{ namespace: string; sink: (change: Change) => void }>();
  let snapshot: Snapshot | undefined;
  const apiVersion = joinApiVersion(info.group, info.version);
  const stats = { versions: 0, deleted: 0 };
  const window = options.watchWindow;
  // Trimming in chunks (a tenth of the window) keeps it amortised O(1) per write.
  const trimChunk = window === undefined ? 0 : Math.max(1, Math.min(Math.floor(window / 10), 10_000));
  const ttlMs = options.ttlMs;
  const now = options.now ?? Date.now;
  const expiries: { key: string; rv: number; at: number }[] = [];
  let expiryHead = 0;

  const identify = (object: KubeObject) => {
    const meta = object.metadata ?? {};
    const namespace = info.namespaced ? meta.namespace || 'default' : '';
    let name = meta.name;
    if (!name && meta.generateName) name = meta.generateName + randomBytes(3).toString('hex').slice(0, 5);
    if (!name) throw badRequest(`${info.kind}.metadata.name: Required value: name or generateName is required`);
    return { namespace, name };
  };

  const record = (change: HeldChange) => {
    log.push(change);
    if (change.type === 'DELETED') stats.deleted++;
    else stats.versions++;
    if (window !== undefined && log.length >= window + trimChunk) {
      const dropped = log.length - window;
      for (let i = 0; i < dropped; i++) log[i]!.previous = undefined; // no chain of old states outlives the window
      compactedThrough = log[dropped - 1]!.rv;
      log = log.slice(dropped);
    }
    for (const { namespace: filter, sink } of sinks) {
      if (!filter || filter === change.namespace) sink(change);
    }
  };

  const expire = () => {
    if (ttlMs === undefined) return;
    const at = now();
    while (expiryHead < expiries.length && expiries[expiryHead]!.at <= at) {
      const { key, rv } = expiries[expiryHead++]!;
      const found = current.get(key);
      // A later write renewed the object's lease; its own entry comes later.
      if (found?.rv === rv) removeRecord(key, found);
    }
    if (expiryHead > 1024 && expiryHead * 2 > expiries.length) {
      expiries.splice(0, expiryHead);
      expiryHead = 0;
    }
  };

  const removeRecord = (key: string, previous: HeldChange): StoredObject => {
    current.delete(key);
    const object = previous.copy();
    object.metadata.resourceVersion = String(clock.next());
    const json = JSON.stringify(object);
    record(new HeldChange('DELETED', Number(object.metadata.resourceVersion), previous.namespace, previous.name, json, previous, previous.uid, previous.creationTimestamp));
    return object;
  };

  const write = (object: KubeObject, previous: HeldChange | undefined, namespace: string, name: string) => {
    const meta = object.metadata ?? {};
    // Serialising is the copy: the caller's object is never kept, and every reader shares the bytes.
    const stored: StoredObject = {
      ...object,
      apiVersion,
      kind: info.kind,
      metadata: {
        ...meta,
        name,
        ...(info.namespaced ? { namespace } : {}),
        uid: previous?.uid ?? meta.uid ?? randomUUID(),
        // Kept when given so tests can pin timestamps; a real server always sets its own.
        creationTimestamp: previous?.creationTimestamp ?? meta.creationTimestamp ?? rfc3339(new Date()),
        resourceVersion: String(clock.next()),
      },
    };
    if (!info.namespaced) delete stored.metadata.namespace;
    const json = JSON.stringify(stored);
    const rv = Number(stored.metadata.resourceVersion);
    const key = keyOf(namespace, name);
    const { uid, creationTimestamp } = stored.metadata;
    const change = new HeldChange(previous ? 'MODIFIED' : 'ADDED', rv, namespace, name, json, previous, uid, creationTimestamp);
    current.set(key, change);
    if (ttlMs !== undefined) expiries.push({ key, rv, at: now() + ttlMs });
    record(change);
    // The store keeps only `json`, so the caller may have this object; its nested values are the
    // caller's own (no copy needed to protect the store).
    return stored;
  };

  const stateAt = (rv: number): Snapshot => {
    if (snapshot?.rv === rv) return snapshot;
    const state = new Map(current);
    // Undo the changes after `rv`, newest first (callers checked that they are all still held).
    for (let i = log.length - 1; i >= 0 && log[i]!.rv > rv; i--) {
      const change = log[i]!;
      const key = keyOf(change.namespace, change.name);
      if (change.previous) state.set(key, change.previous);
      else state.delete(key);
    }
    const keys = [...state.keys()].sort();
    snapshot = { rv, keys, items: keys.map((key) => state.get(key)!) };
    return snapshot;
  };

  const oldestServable = () => Math.max(clock.compactedBefore(), compactedThrough);
  const checkNotCompacted = (rv: number) => {
    if (rv < oldestServable()) throw tooOld(rv, oldestServable());
  };

  return {
    info,
    get: (namespace, name) => {
      expire();
      return current.get(keyOf(info.namespaced ? namespace : '', name))?.copy();
    },
    create(object) {
      expire();
      const { namespace, name } = identify(object);
      if (current.has(keyOf(namespace, name))) throw alreadyExists(info.plural, info.group, name);
      return write(object, undefined, namespace, name);
    },
    update(object, options = {}) {
      expire();
      const { namespace, name } = identify(object);
      const previous = current.get(keyOf(namespace, name));
      if (!previous) throw notFound(info.plural, info.group, name);
      if (options.expectVersion && options.expectVersion !== String(previous.rv)) {
        throw conflict(info.plural, info.group, name);
      }
      return write(object, previous, namespace, name);
    },
    upsert(object) {
      expire();
      const { namespace, name } = identify(object);
      return write(object, current.get(keyOf(namespace, name)), namespace, name);
    },
    remove(namespace, name) {
      expire();
      const key = keyOf(info.namespaced ? namespace : '', name);
      const previous = current.get(key);
      if (!previous) throw notFound(info.plural, info.group, name);
      return removeRecord(key, previous);
    },
    list({ namespace, limit, continueToken, exactVersion }) {
      expire();
      let rv = clock.current();
      let after = '';
      if (continueToken) {
        const token = decodeContinue(continueToken);
        rv = token.rv;
        after = token.after;
        if (rv < oldestServable()) throw continueExpired();
      } else if (exactVersion !== undefined) {
        checkNotCompacted(exactVersion);
        rv = Math.min(exactVersion, clock.current());
      }
      // Keys sort by namespace first, so one namespace is a contiguous range of the snapshot.
      const { keys, items } = stateAt(rv);
      const prefix = namespace ? `${namespace}/` : '';
      const start = firstGreater(keys, after > prefix ? after : prefix, after > prefix);
      const end = prefix ? firstGreater(keys, `${namespace}/\uffff`, false) : keys.length;
      const stop = limit && limit > 0 ? Math.min(end, start + limit) : end;
      const result: ListPage = { items: items.slice(start, stop).map((item) => item.copy()), resourceVersion: rv };
      if (stop < end) {
        result.continueToken = encodeContinue(rv, keys[stop - 1]!);
        result.remainingItemCount = end - stop;
      }
      return result;
    },
    watch({ namespace = '', fromVersion }, sink) {
      expire();
      if (fromVersion === undefined) {
        for (const item of stateAt(clock.current()).items) {
          if (namespace && item.namespace !== namespace) continue;
          sink(item.type === 'ADDED' ? item : new HeldChange('ADDED', item.rv, item.namespace, item.name, item.json, undefined, item.uid, item.creationTimestamp));
        }
      } else {
        checkNotCompacted(fromVersion);
        for (let i = firstAfter(log, fromVersion); i < log.length; i++) {
          const change = log[i]!;
          if (!namespace || change.namespace === namespace) sink(change);
        }
      }
      const entry = { namespace, sink };
      sinks.add(entry);
      return () => sinks.delete(entry);
    },
    changes: () => log,
    stats: () => ({ ...stats, objects: current.size, retainedChanges: log.length }),
  };
}

/** Index of the first key > `bound` (or >= when not `exclusive`) in sorted `keys`. */
function firstGreater(keys: readonly string[], bound: string, exclusive: boolean): number {
  let low = 0;
  let high = keys.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    const key = keys[mid]!;
    if (exclusive ? key <= bound : key < bound) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** Index of the first change with rv > version (the log is sorted by rv). */
function firstAfter(log: readonly Change[], version: number): number {
  let low = 0;
  let high = log.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (log[mid]!.rv <= version) low = mid + 1;
    else high = mid;
  }
  return low;
}

function encodeContinue(rv: number, after: string): string {
  return Buffer.from(JSON.stringify({ rv, after })).toString('base64url');
}

function decodeContinue(token: string): { rv: number; after: string } {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { rv?: unknown; after?: unknown };
    if (typeof parsed.rv === 'number' && typeof parsed.after === 'string') return { rv: parsed.rv, after: parsed.after };
  } catch {
    // Falls through to the BadRequest below: a malformed token is the client's error.
  }
  throw badRequest('continue key is not valid');
}
