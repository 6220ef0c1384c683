import { nextBackoffMs } from '../storage/db.ts';
import type { EventRecord } from '../storage/event-store.ts';
import { errorFields, type Logger } from '../runtime/log.ts';
import { sleep } from '../runtime/sleep.ts';

/** What the writer reports (metrics). */
export interface BatchWriterObserver {
  onFlush?(info: { rows: number; inserted: number; durationMs: number; records: readonly EventRecord[] }): void;
  onRetry?(info: { attempt: number; delayMs: number; code: string | undefined }): void;
  onDropped?(reason: 'rejected_by_database' | 'shutdown_timeout', count: number): void;
  /** Rows that are finished with: committed (or already stored), or rejected by the database for good. */
  onSettled?(records: readonly EventRecord[]): void;
}

/** Options of {@link createBatchWriter}. */
export interface BatchWriterOptions {
  /** Writes one batch idempotently and returns how many rows were new. */
  write(records: EventRecord[]): Promise<number>;
  maxRows: number;
  /**
   * How long a row arriving at an idle writer waits for company before its batch is written. 0:
   * until the current turn of the event loop is over, so rows that arrive together (one watch
   * chunk whose composition ids are known or cached) still share a statement; a row that waited
   * for a composition lookup arrives on its own turn.
   */
  flushIntervalMs: number;
  /** Rows held (queued + being written) before `push` asks the caller to wait. */
  bufferMaxRows: number;
  /** Batches written at once (each needs its own connection in `write`'s pool). Default 1. */
  maxInFlight?: number;
  log: Logger;
  observer?: BatchWriterObserver;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
}

/** An adaptive, bounded, retrying batcher in front of the database. */
export interface BatchWriter {
  /**
   * Queues one row. Returns a promise when the buffer is full; the caller should wait for it
   * before pushing more (back-pressure). Rows are never refused.
   */
  push(record: EventRecord): Promise<void> | undefined;
  /** Rows queued or being written. */
  readonly bufferedRows: number;
  /** Writes everything queued; gives up (and reports the rest as dropped) after `timeoutMs`. */
  close(timeoutMs: number): Promise<{ lostRows: number }>;
}

// SQLSTATE classes 22 (data exception) and 23 (integrity) will fail the same way on every retry.
function isPermanent(code: string | undefined): boolean {
  return code !== undefined && (code.startsWith('22') || code.startsWith('23'));
}

/**
 * Creates a writer with adaptive batching: a row reaching an idle writer is written after
 * `flushIntervalMs` (0: at the end of the current event-loop turn); while a batch is being written
 * the next one collects, up to `maxRows`, so batches grow with load. Up to `maxInFlight` batches are
 * written at once (one per writer connection; a further one starts only with a full batch, so light
 * load keeps one statement, and one NOTIFY, at a time). Failed writes are retried with capped
 * exponential backoff, forever (until `close` runs out of time); a batch the database rejects for
 * its data is split to isolate and drop only the offending rows.
 */
export function createBatchWriter(options: BatchWriterOptions): BatchWriter {
  const { log, observer } = options;
  const initialBackoffMs = options.initialBackoffMs ?? 100;
  // A short cap: after an outage the first retry comes at most a second after the database is back.
  const maxBackoffMs = options.maxBackoffMs ?? 1000;
  const maxInFlight = options.maxInFlight ?? 1;
  let queue: EventRecord[] = [];
  let inFlightRows = 0;
  let inFlight = 0;
  // Cancels the pending flush of an idle writer's first rows, if one is scheduled.
  let cancelFlush: (() => void) | undefined;
  let waiters: (() => void)[] = [];
  let idleWaiters: (() => void)[] = [];
  const giveUp = new AbortController();

  const buffered = () => queue.length + inFlightRows;

  const wakeWaiters = () => {
    if (waiters.length === 0 || buffered() >= options.bufferMaxRows) return;
    const ready = waiters;
    waiters = [];
    for (const resolve of ready) resolve();
  };

  const wakeIdle = () => {
    if (queue.length > 0 || inFlight > 0) return;
    const idle = idleWaiters;
    idleWaiters = [];
    for (const resolve of idle) resolve();
  };

  const cancelPendingFlush = () => {
    cancelFlush?.();
    cancelFlush = undefined;
  };

  const scheduleFlush = (flush: () => void) => {
    if (options.flushIntervalMs <= 0) {
      const handle = setImmediate(flush);
      cancelFlush = () => clearImmediate(handle);
    } else {
      const handle = setTimeout(flush, options.flushIntervalMs);
      cancelFlush = () => clearTimeout(handle);
    }
  };

  const startBatch = () => {
    cancelPendingFlush();
    const batch = queue.length <= options.maxRows ? queue : queue.slice(0, options.maxRows);
    queue = queue.length <= options.maxRows ? [] : queue.slice(options.maxRows);
    inFlight++;
    inFlightRows += batch.length;
    void writeWithRetry(batch)
      .catch(() => {
        // Only reached after close() gave up: these rows are counted as lost there.
        queue = batch.concat(queue);
      })
      .finally(() => {
        inFlight--;
        inFlightRows -= batch.length;
        wakeWaiters();
        // Under load, rows arrived while this batch was written: they go out at once, so batches
        // grow with the arrival rate and the database never idles between them.
        if (queue.length > 0 && !giveUp.signal.aborted) startBatch();
        else wakeIdle();
      });
  };

  const schedule = () => {
    // After close() gave up nothing is written any more (the pool may be closed).
    if (queue.length === 0 || inFlight >= maxInFlight || giveUp.signal.aborted) return;
    if (queue.length >= options.maxRows) startBatch();
    else if (inFlight === 0 && cancelFlush === undefined) {
      scheduleFlush(() => {
        cancelFlush = undefined;
        if (queue.length > 0 && inFlight === 0 && !giveUp.signal.aborted) startBatch();
      });
    }
  };

  const writeWithRetry = async (batch: EventRecord[]): Promise<number> => {
    let delayMs = initialBackoffMs;
    for (let attempt = 1; ; attempt++) {
      const started = performance.now();
      try {
        const inserted = await options.write(batch);
        observer?.onFlush?.({ rows: batch.length, inserted, durationMs: performance.now() - started, records: batch });
        observer?.onSettled?.(batch);
        return inserted;
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (isPermanent(code)) return await isolateRejected(batch, code, err);
        if (giveUp.signal.aborted) throw err;
        observer?.onRetry?.({ attempt, delayMs, code });
        log.warn('batch write failed, retrying', { attempt, delay_ms: delayMs, rows: batch.length, ...errorFields(err) });
        await sleep(delayMs, giveUp.signal);
        delayMs = nextBackoffMs(delayMs, maxBackoffMs);
      }
    }
  };

  const isolateRejected = async (batch: EventRecord[], code: string | undefined, err: unknown): Promise<number> => {
    if (batch.length === 1) {
      const [row] = batch;
      observer?.onDropped?.('rejected_by_database', 1);
      observer?.onSettled?.(batch);
      log.error('event rejected by database, dropped', { code, uid: row?.uid, resource_version: row?.resource_version, ...errorFields(err) });
      return 0;
    }
    const half = Math.ceil(batch.length / 2);
    return (await writeWithRetry(batch.slice(0, half))) + (await writeWithRetry(batch.slice(half)));
  };

  return {
    push(record) {
      queue.push(record);
      schedule();
      if (buffered() < options.bufferMaxRows) return undefined;
      return new Promise<void>((resolve) => waiters.push(resolve));
    },
    get bufferedRows() {
      return buffered();
    },
    async close(timeoutMs) {
      cancelPendingFlush();
      const drained = new Promise<void>((resolve) => {
        if (queue.length === 0 && inFlight === 0) resolve();
        else idleWaiters.push(resolve);
      });
      // Whatever is queued goes out now, without waiting for a full batch or the interval.
      while (queue.length > 0 && inFlight < maxInFlight) startBatch();
      let deadline: ReturnType<typeof setTimeout> | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        deadline = setTimeout(() => resolve('timeout'), timeoutMs);
      });
      const outcome = await Promise.race([drained, timedOut]);
      clearTimeout(deadline);
      if (outcome !== 'timeout') return { lostRows: 0 };
      giveUp.abort();
      const lostRows = buffered();
      if (lostRows > 0) observer?.onDropped?.('shutdown_timeout', lostRows);
      log.error('shutdown drain timed out, rows not written', { rows: lostRows, timeout_ms: timeoutMs });
      return { lostRows };
    },
  };
}
