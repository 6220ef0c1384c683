import type { Sql } from '../../storage/db.ts';
import { readEventsAfter, type StoredEvent } from '../../storage/event-store.ts';
import { errorFields, type Logger } from '../../runtime/log.ts';
import { sleep } from '../../runtime/sleep.ts';

/** Reads the rows committed after a cursor whenever asked. */
export interface LiveReader {
  /**
   * Asks for a read of every row after the cursor. Wake-ups coalesce: at most one read runs, and one
   * asked for while it runs starts when it ends. A wake-up also ends a retry backoff early.
   */
  wake(): void;
  /** Resolves when no read is running (call after aborting the signal: no new read starts then). */
  finished(): Promise<void>;
}

/**
 * Creates the reader. Each read passes the rows after `cursor()` in seq order to `deliver`, at most
 * `batchRows` at a time, until a batch comes back short; `deliver` must advance `cursor()` to the
 * last row it passed on (it may do so in steps). A failed read or delivery is logged and retried
 * with backoff (100 ms doubling to 5 s) from the cursor as it stands, so no committed row is skipped.
 * Nothing starts once `signal` aborted, and an abort ends a backoff.
 */
export function createLiveReader(options: {
  sql: Sql;
  batchRows: number;
  cursor: () => number;
  deliver: (rows: StoredEvent[]) => Promise<void>;
  log: Logger;
  signal: AbortSignal;
  /** Metrics: a read pass started, one query's duration, a failed pass. */
  observer?: { onPass?(): void; onQuery?(durationMs: number): void; onFailure?(): void };
}): LiveReader {
  const { sql, batchRows, cursor, deliver, log, signal, observer } = options;
  let wanted = false;
  let running: Promise<void> | undefined;
  let backoff: AbortController | undefined;

  const readLoop = async () => {
    let delayMs = 100;
    while (wanted && !signal.aborted) {
      wanted = false;
      observer?.onPass?.();
      try {
        for (;;) {
          const started = performance.now();
          const rows = await readEventsAfter(sql, { afterSeq: cursor(), limit: batchRows });
          observer?.onQuery?.(performance.now() - started);
          if (rows.length === 0) break;
          await deliver(rows);
          if (rows.length < batchRows) break;
        }
        delayMs = 100;
      } catch (err) {
        observer?.onFailure?.();
        log.warn('live read failed, retrying', { cursor: cursor(), delay_ms: delayMs, ...errorFields(err) });
        wanted = true;
        // A wake-up (the LISTEN re-subscribing once the database is back) ends the wait early.
        backoff = new AbortController();
        await sleep(delayMs, AbortSignal.any([signal, backoff.signal]));
        backoff = undefined;
        delayMs = Math.min(5000, delayMs * 2);
      }
    }
  };

  const wake = () => {
    wanted = true;
    backoff?.abort();
    if (running || signal.aborted) return;
    running = readLoop().finally(() => {
      running = undefined;
      if (wanted) wake();
    });
  };

  return {
    wake,
    finished: () => running ?? Promise.resolve(),
  };
}
