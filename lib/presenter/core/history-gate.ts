import { LimitError } from './limits.ts';

/** Thrown to a waiter whose client went away before a slot was free (nobody reads the answer). */
export class WaitAbortedError extends Error {
  readonly code = 'request_aborted';
  constructor() {
    super('the request was aborted while it waited for a history connection');
    this.name = 'WaitAbortedError';
  }
}

/** Admission to the history pool: at most a few queries run, a bounded number wait, none for long. */
export interface HistoryGate {
  /**
   * Runs `work` once fewer than `maxRunning` run, and frees the slot when it settles (resolved or
   * rejected). Throws LimitError `history_busy` at once when `maxWaiting` already wait,
   * `history_wait_timeout` after waiting `maxWaitMs`, and WaitAbortedError when `signal` aborts
   * first; none of these ever took a slot.
   */
  run<T>(work: () => Promise<T>, signal?: AbortSignal): Promise<T>;
  /** Work running now. */
  readonly running: number;
  /** Requests waiting for a slot now. */
  readonly waiting: number;
}

/** Arms a timer; returns its cancel function (tests pass a hand-moved clock). */
export type ScheduleTimer = (callback: () => void, delayMs: number) => () => void;

const scheduleWithSetTimeout: ScheduleTimer = (callback, delayMs) => {
  const timer = setTimeout(callback, delayMs);
  return () => clearTimeout(timer);
};

interface Waiter {
  /** Called when a slot was handed over (the slot is already counted). */
  start(): void;
}

/**
 * Creates a gate in front of a pool of `maxRunning` connections, so the pool's own unbounded queue
 * is never used. Guarantees: at most `maxRunning` `work` run at once; at most `maxWaiting` requests
 * wait, served first come first served; a waiter is refused after `maxWaitMs`; a slot is handed to
 * the next waiter or freed on every end of the work, and a waiter that leaves (timeout, abort)
 * holds no slot and stays in no list.
 */
export function createHistoryGate(options: {
  maxRunning: number;
  maxWaiting: number;
  maxWaitMs: number;
  schedule?: ScheduleTimer;
  /** Called with the time a request waited for its slot (a metric), refused or not. */
  onWaited?: (waitedMs: number, outcome: 'started' | 'timeout' | 'aborted') => void;
  now?: () => number;
}): HistoryGate {
  const schedule = options.schedule ?? scheduleWithSetTimeout;
  const now = options.now ?? performance.now.bind(performance);
  const queue = new Set<Waiter>();
  let running = 0;

  const release = () => {
    const next = queue.values().next();
    if (next.done) running--;
    else {
      queue.delete(next.value);
      next.value.start();
    }
  };

  const runNow = async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } finally {
      release();
    }
  };

  const wait = (signal: AbortSignal | undefined) =>
    new Promise<void>((resolve, reject) => {
      const startedAt = now();
      const leave = (outcome: 'timeout' | 'aborted', err: Error) => {
        queue.delete(waiter);
        cancelTimer();
        signal?.removeEventListener('abort', onAbort);
        options.onWaited?.(now() - startedAt, outcome);
        reject(err);
      };
      const onAbort = () => leave('aborted', new WaitAbortedError());
      const waiter: Waiter = {
        start() {
          cancelTimer();
          signal?.removeEventListener('abort', onAbort);
          options.onWaited?.(now() - startedAt, 'started');
          resolve();
        },
      };
      const cancelTimer = schedule(
        () => leave('timeout', new LimitError('history_wait_timeout', 'no history connection became free in time; retry later', 503, 2)),
        options.maxWaitMs,
      );
      signal?.addEventListener('abort', onAbort, { once: true });
      queue.add(waiter);
    });

  return {
    async run(work, signal) {
      if (signal?.aborted) throw new WaitAbortedError();
      if (running < options.maxRunning) {
        running++;
        return await runNow(work);
      }
      if (queue.size >= options.maxWaiting) {
        throw new LimitError('history_busy', 'too many history requests are waiting; retry later', 503, 2);
      }
      await wait(signal);
      return await runNow(work);
    },
    get running() {
      return running;
    },
    get waiting() {
      return queue.size;
    },
  };
}
