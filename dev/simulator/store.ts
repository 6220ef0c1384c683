import { randomBytes, randomUUID } from 'node:crypto';
import type { Clock } from './clock.ts';
import type { ResourceInfo } from './registry.ts';
import { joinApiVersion } from './registry.ts';
import { alreadyExists, badRequest, conflict, continueExpired, notFound, tooOld } from './status.ts';
import type { KubeObject, StoredObject } from './types.ts';

/** One write to a store, as a watch delivers it. */
export interface Change {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  rv: number;
  namespace: string;
  object: StoredObject;
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

/** Storage of one resource type with versioned history, consistent paging and watch fan-out. */
export interface ResourceStore {
  readonly info: ResourceInfo;
  get(namespace: string, name: string): StoredObject | undefined;
  /** Stores a new object; 409 if it exists. */
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
   */
  watch(options: { namespace?: string; fromVersion?: number }, sink: (change: Change) => void): () => void;
  /** Every change ever written, oldest first (compaction does not shorten it). */
  changes(): readonly Change[];
}

const keyOf = (namespace: string, name: string) => `${namespace}/${name}`;

/** The objects at one resourceVersion, sorted by key. */
interface Snapshot {
  rv: number;
  keys: string[];
  items: StoredObject[];
}

const rfc3339 = (date: Date) => `${date.toISOString().slice(0, 19)}Z`;

/** Creates the store of one resource, drawing versions from the shared cluster clock. */
export function createResourceStore(info: ResourceInfo, clock: Clock): ResourceStore {
  const current = new Map<string, StoredObject>();
  const log: Change[] = [];
  const sinks = new Set<{ namespace: string; sink: (change: Change) => void }>();
  let snapshot: Snapshot | undefined;
  const apiVersion = joinApiVersion(info.group, info.version);

  const identify = (object: KubeObject) => {
    const meta = object.metadata ?? {};
    const namespace = info.namespaced ? meta.namespace || 'default' : '';
    let name = meta.name;
    if (!name && meta.generateName) name = meta.generateName + randomBytes(3).toString('hex').slice(0, 5);
    if (!name) throw badRequest(`${info.kind}.metadata.name: Required value: name or generateName is required`);
    return { namespace, name };
  };

  const record = (type: Change['type'], namespace: string, object: StoredObject) => {
    const change: Change = { type, rv: Number(object.metadata.resourceVersion), namespace, object };
    log.push(change);
    for (const { namespace: filter, sink } of sinks) {
      if (!filter || filter === namespace) sink(change);
    }
  };

  const write = (object: KubeObject, previous: StoredObject | undefined, namespace: string, name: string) => {
    const copy = structuredClone(object);
    const stored: StoredObject = {
      ...copy,
      apiVersion,
      kind: info.kind,
      metadata: {
        ...copy.metadata,
        name,
        ...(info.namespaced ? { namespace } : {}),
        uid: previous?.metadata.uid ?? copy.metadata?.uid ?? randomUUID(),
        // Kept when given so tests can pin timestamps; a real server always sets its own.
        creationTimestamp:
          previous?.metadata.creationTimestamp ?? copy.metadata?.creationTimestamp ?? rfc3339(new Date()),
        resourceVersion: String(clock.next()),
      },
    };
    if (!info.namespaced) delete stored.metadata.namespace;
    current.set(keyOf(namespace, name), stored);
    record(previous ? 'MODIFIED' : 'ADDED', namespace, stored);
    return structuredClone(stored);
  };

  const stateAt = (rv: number): Snapshot => {
    if (snapshot?.rv === rv) return snapshot;
    let state: Map<string, StoredObject> = current;
    if (rv < (log.at(-1)?.rv ?? 0)) {
      state = new Map();
      for (const change of log) {
        if (change.rv > rv) break;
        const key = keyOf(change.namespace, change.object.metadata.name);
        if (change.type === 'DELETED') state.delete(key);
        else state.set(key, change.object);
      }
    }
    const keys = [...state.keys()].sort();
    snapshot = { rv, keys, items: keys.map((key) => state.get(key)!) };
    return snapshot;
  };

  const checkNotCompacted = (rv: number) => {
    if (rv < clock.compactedBefore()) throw tooOld(rv, clock.compactedBefore());
  };

  return {
    info,
    get: (namespace, name) => {
      const found = current.get(keyOf(info.namespaced ? namespace : '', name));
      return found && structuredClone(found);
    },
    create(object) {
      const { namespace, name } = identify(object);
      if (current.has(keyOf(namespace, name))) throw alreadyExists(info.plural, info.group, name);
      return write(object, undefined, namespace, name);
    },
    update(object, options = {}) {
      const { namespace, name } = identify(object);
      const previous = current.get(keyOf(namespace, name));
      if (!previous) throw notFound(info.plural, info.group, name);
      if (options.expectVersion && options.expectVersion !== previous.metadata.resourceVersion) {
        throw conflict(info.plural, info.group, name);
      }
      return write(object, previous, namespace, name);
    },
    upsert(object) {
      const { namespace, name } = identify(object);
      return write(object, current.get(keyOf(namespace, name)), namespace, name);
    },
    remove(namespace, name) {
      const key = keyOf(info.namespaced ? namespace : '', name);
      const previous = current.get(key);
      if (!previous) throw notFound(info.plural, info.group, name);
      current.delete(key);
      const deleted: StoredObject = {
        ...previous,
        metadata: { ...previous.metadata, resourceVersion: String(clock.next()) },
      };
      record('DELETED', info.namespaced ? namespace : '', deleted);
      return structuredClone(deleted);
    },
    list({ namespace, limit, continueToken, exactVersion }) {
      let rv = clock.current();
      let after = '';
      if (continueToken) {
        const token = decodeContinue(continueToken);
        rv = token.rv;
        after = token.after;
        if (rv < clock.compactedBefore()) throw continueExpired();
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
      const result: ListPage = { items: items.slice(start, stop).map((item) => structuredClone(item)), resourceVersion: rv };
      if (stop < end) {
        result.continueToken = encodeContinue(rv, keys[stop - 1]!);
        result.remainingItemCount = end - stop;
      }
      return result;
    },
    watch({ namespace = '', fromVersion }, sink) {
      if (fromVersion === undefined) {
        for (const object of stateAt(clock.current()).items) {
          if (namespace && object.metadata.namespace !== namespace) continue;
          const rv = Number(object.metadata.resourceVersion);
          sink({ type: 'ADDED', rv, namespace: object.metadata.namespace ?? '', object });
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
