import type { StoredEvent } from '../../storage/event-store.ts';

/** A row the live reader passed, with its frame once encoded (shared by every stream). */
export interface RecentRow {
  row: StoredEvent;
  frame?: Uint8Array;
}

/**
 * The rows passed most recently, oldest first, addressed by position. Positions stay valid until
 * the next `append`.
 */
export interface RecentRows {
  /** Every appended row with a seq above this is held (the start seq until rows are dropped). */
  readonly after: number;
  /** The position just past the newest row. */
  readonly end: number;
  /** The position of the oldest held row with a seq above `seq` (`end` when there is none). */
  firstAfter(seq: number): number;
  /** The row at `position` (from a `firstAfter` result up to `end`, exclusive). */
  at(position: number): RecentRow;
  /** Adds rows (seq above every row held), then drops the oldest beyond `maxRows`. */
  append(rows: readonly RecentRow[]): void;
}

/** Creates an empty list holding at most `maxRows` rows, all with a seq above `startSeq`. */
export function createRecentRows(options: { startSeq: number; maxRows: number }): RecentRows {
  const { maxRows } = options;
  // Rows before `start` were dropped; the array is compacted only now and then, not on every append.
  const rows: RecentRow[] = [];
  let start = 0;
  let after = options.startSeq;
  return {
    get after() {
      return after;
    },
    get end() {
      return rows.length;
    },
    firstAfter(seq) {
      let lo = start;
      let hi = rows.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (rows[mid]!.row.seq <= seq) lo = mid + 1;
        else hi = mid;
      }
      return lo;
    },
    at: (position) => rows[position]!,
    append(added) {
      for (const held of added) rows.push(held);
      if (rows.length - start > maxRows) {
        const drop = rows.length - start - maxRows;
        after = rows[start + drop - 1]!.row.seq;
        start += drop;
        if (start > maxRows) {
          rows.splice(0, start);
          start = 0;
        }
      }
    },
  };
}
