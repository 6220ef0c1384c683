/**
 * The cluster-wide resourceVersion counter, shared by every resource like etcd's revision.
 * Guarantees strictly increasing versions; `compactedBefore` is the oldest version
 * that lists and watches may still start from.
 */
export interface Clock {
  /** The newest resourceVersion handed out so far. */
  current(): number;
  /** Hands out the next resourceVersion. */
  next(): number;
  /** Versions strictly below this were compacted away (410 Gone when asked for). */
  compactedBefore(): number;
  /** Compacts everything up to the current version. */
  compact(): void;
}

/** Creates a clock; versions start above `start` so they look like a live cluster's. */
export function createClock(start = 1000): Clock {
  let current = start;
  let compactedBefore = 0;
  return {
    current: () => current,
    next: () => ++current,
    compactedBefore: () => compactedBefore,
    compact() {
      compactedBefore = current;
    },
  };
}

/** Parses a resourceVersion query value; undefined for absent or `"0"` ("any version"). */
export function parseResourceVersion(raw: string | null | undefined): number | undefined {
  if (raw === null || raw === undefined || raw === '' || raw === '0') return undefined;
  if (!/^\d+$/.test(raw)) return Number.NaN;
  return Number(raw);
}
