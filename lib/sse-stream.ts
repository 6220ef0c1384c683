import { encodeResumeFrame } from './sse-frames.ts';

/** Why a stream ended; used for logs and metrics. */
export type SseCloseReason = 'client_gone' | 'slow_client' | 'replay_limit' | 'shutdown' | 'error';

/** One open SSE connection, written by the hub and by replay. */
export interface SseStream {
  readonly id: number;
  /** Highest event id written (or the resume point given at connect). */
  readonly lastSeq: number;
  readonly closed: boolean;
  /** The HTTP response whose body is this stream. */
  readonly response: Response;
  /**
   * Queues an event frame. A stream whose queue would pass the hard bound, or stays above the byte
   * bound for longer than the grace period, gets a resume frame naming its last written id and is
   * closed; returns false from then on.
   */
  writeEvent(frame: Uint8Array, seq: number): boolean;
  /**
   * Queues an event frame, first waiting (replay) until the socket has taken enough queued bytes for
   * it to fit the bound. Resolves false when the stream closed meanwhile.
   */
  writeEventWhenRoom(frame: Uint8Array, seq: number): Promise<boolean>;
  /** Queues a frame without an id (heartbeats); subject to the same bound. */
  writeComment(frame: Uint8Array): boolean;
  /** Sends a resume frame for `reason` and closes. */
  closeWithResume(reason: 'slow_client' | 'replay_limit' | 'shutdown'): void;
  /** Closes at once (client gone or error). */
  close(reason: SseCloseReason): void;
}

let nextStreamId = 1;

/** A burst may queue up to this many times the byte bound... */
export const sseBurstFactor = 4;
/** ...as long as the socket takes it back under the bound within this time. */
export const sseOverflowGraceMs = 1000;

/**
 * Creates a raw `ReadableStream` SSE response (no Elysia generator: half the CPU per frame).
 * Guarantees: `openFrame` is the first bytes on the wire; bytes queued but not yet taken by the
 * socket never exceed `sseBurstFactor` × `bufferBytes`, and a stream still above `bufferBytes`
 * `overflowGraceMs` after passing it is told to resume and closed — so a burst written in one pass
 * (a relist) does not cut off a client that reads promptly, while a slow one is still bounded;
 * `onClose` runs exactly once, also when the client disconnects (`signal` aborts or the body is
 * cancelled), so resources are freed at once.
 */
export function createSseStream(options: {
  signal: AbortSignal;
  openFrame: Uint8Array;
  bufferBytes: number;
  startSeq: number;
  headers?: Record<string, string>;
  overflowGraceMs?: number;
  onClose: (stream: SseStream, reason: SseCloseReason) => void;
}): SseStream {
  const hardBoundBytes = options.bufferBytes * sseBurstFactor;
  let overflowTimer: ReturnType<typeof setTimeout> | undefined;
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let closed = false;
  let lastSeq = options.startSeq;
  let roomWaiters: (() => void)[] = [];
  const wakeWaiters = () => {
    const waiters = roomWaiters;
    roomWaiters = [];
    for (const wake of waiters) wake();
  };

  const finish = (reason: SseCloseReason, closeBody: boolean) => {
    if (closed) return;
    closed = true;
    if (overflowTimer !== undefined) clearTimeout(overflowTimer);
    options.signal.removeEventListener('abort', onAbort);
    wakeWaiters();
    if (closeBody) {
      try {
        controller.close();
      } catch {
        // The body may already be cancelled by the client.
      }
    }
    options.onClose(stream, reason);
  };
  const onAbort = () => finish('client_gone', true);

  const body = new ReadableStream<Uint8Array>(
    {
      start(c) {
        controller = c;
        c.enqueue(options.openFrame);
      },
      // Called when the socket wants more and the queue is empty: room for a waiting writer.
      pull() {
        wakeWaiters();
      },
      cancel() {
        finish('client_gone', false);
      },
    },
    // High-water mark 0: desiredSize is minus the bytes the socket has not taken yet.
    new ByteLengthQueuingStrategy({ highWaterMark: 0 }),
  );

  const queuedBytes = () => -(controller.desiredSize ?? 0);
  const checkOverflow = () => {
    overflowTimer = undefined;
    if (!closed && queuedBytes() > options.bufferBytes) stream.closeWithResume('slow_client');
  };
  const write = (frame: Uint8Array): boolean => {
    if (closed) return false;
    const after = queuedBytes() + frame.byteLength;
    if (after > hardBoundBytes) {
      stream.closeWithResume('slow_client');
      return false;
    }
    controller.enqueue(frame);
    if (after > options.bufferBytes && overflowTimer === undefined) {
      overflowTimer = setTimeout(checkOverflow, options.overflowGraceMs ?? sseOverflowGraceMs);
    }
    return true;
  };

  const stream: SseStream = {
    id: nextStreamId++,
    get lastSeq() {
      return lastSeq;
    },
    get closed() {
      return closed;
    },
    response: new Response(body, {
      headers: {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
        ...options.headers,
      },
    }),
    writeEvent(frame, seq) {
      if (!write(frame)) return false;
      lastSeq = seq;
      return true;
    },
    async writeEventWhenRoom(frame, seq) {
      while (!closed && -(controller.desiredSize ?? 0) + frame.byteLength > options.bufferBytes) {
        await new Promise<void>((resolve) => roomWaiters.push(resolve));
      }
      return stream.writeEvent(frame, seq);
    },
    writeComment: write,
    closeWithResume(reason) {
      if (closed) return;
      controller.enqueue(encodeResumeFrame(lastSeq, reason));
      finish(reason, true);
    },
    close(reason) {
      finish(reason, true);
    },
  };
  if (options.signal.aborted) queueMicrotask(onAbort);
  else options.signal.addEventListener('abort', onAbort, { once: true });
  return stream;
}
