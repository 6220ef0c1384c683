/** A request refused because a cap is reached; answered with `status` and `Retry-After`. */
export class LimitError extends Error {
  constructor(
    readonly code: 'too_many_requests' | 'too_many_streams' | 'server_busy' | 'query_timeout' | 'history_busy' | 'history_wait_timeout',
    message: string,
    readonly status: 429 | 503,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
    this.name = 'LimitError';
  }
}

/** Counts work in flight per key (a user) and refuses past a maximum. */
export interface PerKeyLimit {
  /** A release function when `key` is under the maximum (call it exactly once), else undefined. */
  tryAcquire(key: string): (() => void) | undefined;
  /** Work in flight for `key`. */
  inFlight(key: string): number;
}

/**
 * Creates a per-key counter capped at `max`. Guarantees: a key with nothing in flight is forgotten,
 * so memory follows the work in flight, not the number of keys ever seen; a release called twice
 * counts once.
 */
export function createPerKeyLimit(max: number): PerKeyLimit {
  const counts = new Map<string, number>();
  return {
    tryAcquire(key) {
      const count = counts.get(key) ?? 0;
      if (count >= max) return undefined;
      counts.set(key, count + 1);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const left = (counts.get(key) ?? 1) - 1;
        if (left <= 0) counts.delete(key);
        else counts.set(key, left);
      };
    },
    inFlight: (key) => counts.get(key) ?? 0,
  };
}
