import type { ServerResponse } from 'node:http';
import type { Clock } from './clock.ts';
import { joinApiVersion } from './registry.ts';
import { ApiError } from './status.ts';
import type { Change, ResourceStore } from './store.ts';
import type { StoredObject, WatchEventType } from './types.ts';

export interface WatchRequest {
  namespace: string;
  /** Undefined starts with every current object as ADDED. */
  fromVersion: number | undefined;
  bookmarks: boolean;
  /** `sendInitialEvents=true`: after the initial ADDED events, a bookmark marks their end. */
  initialEventsEnd: boolean;
  /** Undefined or 0 uses the hub's default, as the API server does. */
  timeoutSeconds: number | undefined;
  /** Re-shapes each changed object (e.g. into a Table row); `first` is true for the stream's first change. */
  transform?: (object: StoredObject, first: boolean) => unknown;
}

/** Serves watch streams and keeps track of the open ones. */
export interface WatchHub {
  /** Streams `store`'s changes as newline-delimited JSON until timeout, close or `abortAll`. */
  serve(res: ServerResponse, store: ResourceStore, request: WatchRequest): void;
  /** Number of streams currently open. */
  count(): number;
  /** Ends every stream abruptly (connection reset, no clean end of the chunked body). */
  abortAll(): void;
}

export interface WatchHubOptions {
  clock: Clock;
  defaultTimeoutSeconds: number;
  bookmarkEveryMs: number;
}

/** Creates the hub; streams end cleanly after their timeout, like the API server's. */
export function createWatchHub({ clock, defaultTimeoutSeconds, bookmarkEveryMs }: WatchHubOptions): WatchHub {
  const open = new Set<ServerResponse>();

  const serve = (res: ServerResponse, store: ResourceStore, request: WatchRequest) => {
    res.writeHead(200, {
      'content-type': 'application/json',
      'cache-control': 'no-cache, private',
      'transfer-encoding': 'chunked',
    });
    res.flushHeaders();
    // Lines written in one synchronous run (a burst of store writes) go out as one chunk: one
    // HTTP chunk and TLS record instead of one per event.
    let pending = '';
    let flushQueued = false;
    const flush = () => {
      flushQueued = false;
      if (pending === '' || res.destroyed) return;
      const text = pending;
      pending = '';
      try {
        res.write(text);
      } catch {
        // A broken stream must never surface as an error elsewhere; its client sees the reset.
        res.destroy();
      }
    };
    const sendLine = (line: string) => {
      if (res.destroyed) return;
      pending += line;
      if (!flushQueued) {
        flushQueued = true;
        queueMicrotask(flush);
      }
    };
    const send = (type: WatchEventType, object: unknown) => sendLine(`{"type":"${type}","object":${JSON.stringify(object)}}\n`);

    let first = true;
    const transform = request.transform;
    const deliver = (change: Change) => {
      try {
        // The store serialised the object once; every plain watcher reuses those bytes.
        if (transform) send(change.type, transform(change.object, first));
        else sendLine(`{"type":"${change.type}","object":${change.json}}\n`);
        first = false;
      } catch {
        // A broken stream must never fail the store write that fanned out to it.
        res.destroy();
      }
    };
    let unsubscribe: () => void;
    try {
      unsubscribe = store.watch({ namespace: request.namespace, fromVersion: request.fromVersion }, deliver);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      send('ERROR', error.toStatus());
      flush();
      res.end();
      return;
    }

    const apiVersion = joinApiVersion(store.info.group, store.info.version);
    // Every change up to the clock's current version has already been written to this stream
    // (delivery is synchronous), so the current version is a truthful bookmark.
    const bookmark = (annotations?: Record<string, string>) =>
      send('BOOKMARK', {
        kind: store.info.kind,
        apiVersion,
        metadata: { resourceVersion: String(clock.current()), ...(annotations && { annotations }) },
      });
    if (request.initialEventsEnd && request.bookmarks) bookmark({ 'k8s.io/initial-events-end': 'true' });

    open.add(res);
    const stops: Array<() => void> = [];
    const cleanup = () => {
      open.delete(res);
      unsubscribe();
      for (const stop of stops) stop();
    };
    res.on('close', cleanup);

    const timeoutMs = (request.timeoutSeconds || defaultTimeoutSeconds) * 1000;
    const timeout = setTimeout(() => {
      cleanup();
      flush();
      res.end();
    }, timeoutMs);
    stops.push(() => clearTimeout(timeout));
    if (request.bookmarks) {
      const interval = setInterval(() => bookmark(), bookmarkEveryMs);
      stops.push(() => clearInterval(interval));
    }
  };

  return {
    serve,
    count: () => open.size,
    abortAll() {
      for (const res of [...open]) {
        res.destroy();
        res.socket?.destroy();
      }
    },
  };
}
