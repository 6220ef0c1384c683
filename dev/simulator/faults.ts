import { ApiError, injectedFailure } from './status.ts';

/** Failure injection for tests of clients' error handling. */
export interface Faults {
  /** The next `count` requests whose path contains `match` (all when omitted) fail with `status`. */
  failNext(count: number, status: number, match?: string | RegExp): void;
  /** While on, every request fails with 503. */
  setOutage(on: boolean): void;
  /** Throws the injected ApiError for a request to `path`, if one is due. */
  check(path: string): void;
}

/** Creates a fault injector with nothing scheduled. */
export function createFaults(): Faults {
  const pending: Array<{ remaining: number; status: number; match: string | RegExp | undefined }> = [];
  let outage = false;

  const applies = (match: string | RegExp | undefined, path: string) =>
    match === undefined || (typeof match === 'string' ? path.includes(match) : match.test(path));

  return {
    failNext(count, status, match) {
      if (count > 0) pending.push({ remaining: count, status, match });
    },
    setOutage(on) {
      outage = on;
    },
    check(path) {
      if (outage) throw new ApiError(503, 'simulated outage: the API server is unavailable', 'ServiceUnavailable');
      const due = pending.find((entry) => applies(entry.match, path));
      if (!due) return;
      due.remaining -= 1;
      if (due.remaining === 0) pending.splice(pending.indexOf(due), 1);
      throw injectedFailure(due.status);
    },
  };
}
