import { nextBackoffMs } from '../storage/db.ts';
import type { KubeEvent } from './event-record.ts';
import { KubeHttpError, type KubeHttp } from '../kube/client.ts';
import { errorFields, type Logger } from '../runtime/log.ts';
import { createCheckpointTracker, type CheckpointTicket, type CheckpointTracker } from './watch-checkpoint.ts';
import { sleep } from '../runtime/sleep.ts';

/**
 * Receives each Event version. Returning a promise pauses the watch (no further reads from the
 * API server) until it settles: that is the pipeline's back-pressure.
 */
export type EventSink = (event: KubeEvent, source: 'list' | 'watch', ticket: CheckpointTicket) => Promise<void> | void;

/** What a watch reports besides events (for metrics and readiness). */
export interface WatchObserver {
  onListed?(count: number): void;
  onRelist?(reason: 'start' | 'expired'): void;
  onReconnect?(attempt: number, delayMs: number): void;
  onEstablished?(): void;
  onBookmark?(): void;
}

/** Options of {@link runEventWatch}. */
export interface EventWatchOptions {
  http: KubeHttp;
  /** Undefined watches every namespace. */
  namespace?: string;
  /** Records what was delivered, so a checkpoint can say where a restarted watch may resume. */
  tracker?: CheckpointTracker;
  /** A checkpoint from an earlier run: watch from it instead of listing (a 410 still relists). */
  resumeFrom?: string;
  sink: EventSink;
  signal: AbortSignal;
  log: Logger;
  observer?: WatchObserver;
  /** Asked of the API server per watch request; it closes the stream after about this long. */
  watchTimeoutSeconds?: number;
  pageSize?: number;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
}

type TrackedWatchOptions = EventWatchOptions & { tracker: CheckpointTracker };

const newlineByte = 0x0a;

class GoneError extends Error {
  constructor() {
    super('resource version expired');
  }
}

type ListPage = { metadata?: { resourceVersion?: string; continue?: string }; items?: KubeEvent[] };
type WatchLine = { type?: string; object?: { metadata?: { resourceVersion?: string }; code?: number } & KubeEvent };

function eventsPath(namespace: string | undefined, query: Record<string, string | undefined>): string {
  const base = namespace === undefined ? '/api/v1/events' : `/api/v1/namespaces/${encodeURIComponent(namespace)}/events`;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, value);
  return `${base}?${params}`;
}

function isGone(err: unknown): boolean {
  return err instanceof GoneError || (err instanceof KubeHttpError && err.status === 410);
}

/** Lists all events in pages (never the whole list in memory) and returns the list's resourceVersion. */
async function listAll(options: TrackedWatchOptions): Promise<string> {
  let continueToken: string | undefined;
  let count = 0;
  for (;;) {
    const page = await options.http.getJson<ListPage>(
      eventsPath(options.namespace, { limit: String(options.pageSize ?? 500), continue: continueToken }),
      { signal: options.signal, timeoutMs: 60_000 },
    );
    for (const item of page.items ?? []) {
      const wait = options.sink(item, 'list', options.tracker.track(scopeOf(options), undefined));
      if (wait) await untilSettledOrAborted(wait, options.signal);
    }
    count += page.items?.length ?? 0;
    continueToken = page.metadata?.continue || undefined;
    if (continueToken === undefined) {
      options.observer?.onListed?.(count);
      const listVersion = page.metadata?.resourceVersion ?? '';
      if (listVersion !== '') options.tracker.mark(scopeOf(options), listVersion);
      return listVersion;
    }
  }
}

/**
 * Streams one watch request from `resourceVersion`, handing each ADDED/MODIFIED object to the
 * sink, and returns the newest resourceVersion seen (events and bookmarks) when the server ends
 * the stream. Throws GoneError on 410 and anything else on other failures.
 */
async function watchOnce(options: TrackedWatchOptions, resourceVersion: string, onProgress: (rv: string) => void): Promise<void> {
  const path = eventsPath(options.namespace, {
    watch: 'true',
    allowWatchBookmarks: 'true',
    resourceVersion,
    timeoutSeconds: String(options.watchTimeoutSeconds ?? 300),
  });
  const response = await options.http.request(path, { signal: options.signal });
  if (!response.ok || !response.body) {
    await response.body?.cancel().catch(() => {});
    throw new KubeHttpError(response.status, path);
  }
  options.observer?.onEstablished?.();
  const scope = scopeOf(options);
  const deliver = async (result: Bun.JSONL.ParseChunkResult) => {
    for (const value of result.values) {
      const parsed = value as WatchLine;
      const object = parsed.object;
      if (parsed.type === 'ERROR') {
        if (object?.code === 410) throw new GoneError();
        throw new Error(`watch error status ${object?.code ?? 'unknown'}`);
      }
      const rv = object?.metadata?.resourceVersion;
      if ((parsed.type === 'ADDED' || parsed.type === 'MODIFIED') && object) {
        const wait = options.sink(object, 'watch', options.tracker.track(scope, rv));
        if (wait) await untilSettledOrAborted(wait, options.signal);
      } else {
        if (parsed.type === 'BOOKMARK') options.observer?.onBookmark?.();
        if (rv) options.tracker.mark(scope, rv);
      }
      // DELETED carries the last stored state again, which was already written: only its version counts.
      if (rv) onProgress(rv);
    }
    // The lines before a malformed one are delivered (in order, as before); the watch then fails
    // and resumes from the last good version. A value still open at a line end is malformed too.
    if (result.error) throw result.error;
    if (!result.done) throw new SyntaxError('watch line is not one complete JSON value');
  };
  // The start of a line whose newline has not arrived yet (a line may span several chunks).
  let partial: Uint8Array[] = [];
  let partialBytes = 0;
  // Reading on demand: while the sink is paused nothing is read, and TCP flow control pushes back.
  for await (const chunk of response.body) {
    const lastNewline = chunk.lastIndexOf(newlineByte);
    if (lastNewline < 0) {
      partial.push(chunk);
      partialBytes += chunk.length;
      continue;
    }
    let start = 0;
    if (partialBytes > 0) {
      // Only the line that spans chunks is copied together.
      const firstNewline = chunk.indexOf(newlineByte);
      const line = new Uint8Array(partialBytes + firstNewline + 1);
      let offset = 0;
      for (const part of partial) {
        line.set(part, offset);
        offset += part.length;
      }
      line.set(chunk.subarray(0, firstNewline + 1), offset);
      partial = [];
      partialBytes = 0;
      await deliver(Bun.JSONL.parseChunk(line));
      start = firstNewline + 1;
    }
    // Parsed straight from the bytes up to the last complete line: no decoded copy of the chunk,
    // no string per line. The rest waits for its newline.
    await deliver(Bun.JSONL.parseChunk(chunk, start, lastNewline + 1));
    if (lastNewline + 1 < chunk.length) {
      partial.push(chunk.subarray(lastNewline + 1));
      partialBytes = chunk.length - lastNewline - 1;
    }
  }
}

/**
 * Lists then watches core/v1 Events of one namespace (or all) until `signal` aborts. Resumes from
 * the last resourceVersion (events and bookmarks) when a watch ends, relists on 410 Gone, and
 * reconnects after any other failure with capped exponential backoff, forever. A relist hands
 * every event the server still holds to the sink again; the idempotent insert absorbs repeats.
 */
export async function runEventWatch(watchOptions: EventWatchOptions): Promise<void> {
  const options: TrackedWatchOptions = { ...watchOptions, tracker: watchOptions.tracker ?? createCheckpointTracker() };
  const log = options.log.child({ namespace: options.namespace ?? '*' });
  const initialMs = options.initialBackoffMs ?? 200;
  const maxMs = options.maxBackoffMs ?? 30_000;
  let resourceVersion: string | undefined = options.resumeFrom;
  if (resourceVersion !== undefined) {
    options.tracker.mark(scopeOf(options), resourceVersion);
    log.info('resuming from checkpoint', { resource_version: resourceVersion });
  }
  let delayMs = initialMs;
  let attempt = 0;
  let listed = false;
  while (!options.signal.aborted) {
    try {
      if (resourceVersion === undefined) {
        options.observer?.onRelist?.(listed ? 'expired' : 'start');
        options.tracker.reset(scopeOf(options));
        resourceVersion = await listAll(options);
        listed = true;
        log.info('events listed', { resource_version: resourceVersion });
      }
      let progressed = false;
      await watchOnce(options, resourceVersion, (rv) => {
        resourceVersion = rv;
        progressed = true;
        delayMs = initialMs;
        attempt = 0;
      });
      // The server closed the stream (its timeout): resume from where we are, but never spin on
      // a server that closes every stream at once.
      log.debug('watch ended, resuming', { resource_version: resourceVersion });
      if (!progressed) {
        await sleep(delayMs, options.signal);
        delayMs = nextBackoffMs(delayMs, maxMs);
      }
    } catch (err) {
      if (options.signal.aborted) break;
      if (isGone(err)) {
        log.info('resource version expired, relisting', { resource_version: resourceVersion });
        resourceVersion = undefined;
        delayMs = initialMs;
        continue;
      }
      attempt += 1;
      options.observer?.onReconnect?.(attempt, delayMs);
      log.warn('watch failed, reconnecting', { attempt, delay_ms: delayMs, ...errorFields(err) });
      await sleep(delayMs, options.signal);
      delayMs = nextBackoffMs(delayMs, maxMs);
    }
  }
}

// A paused watch must still stop on shutdown, even while the database is down and the buffer full.
async function untilSettledOrAborted(wait: Promise<void>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) throw signal.reason;
  let onAbort: () => void = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    await Promise.race([wait, aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/** The checkpoint scope of a watch: its namespace, or `*` for all. */
export function scopeOf(options: { namespace?: string }): string {
  return options.namespace ?? '*';
}
