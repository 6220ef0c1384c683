// The list's model: one row per Event (versions grouped by global_uid), newest first, bounded.
import type { EventPayload } from './api.ts';

/** One Event, all its versions seen so far folded in. */
export interface EventRow {
  event: EventPayload;
  count: number;
  firstSeen: string;
  lastSeen: string;
}

interface RawEvent {
  count?: number;
  firstTimestamp?: string;
  lastTimestamp?: string;
  eventTime?: string;
  series?: { count?: number };
}

function parseRaw(raw: string | undefined): RawEvent {
  if (!raw) return {};
  try {
    return JSON.parse(raw) as RawEvent;
  } catch {
    return {};
  }
}

/** A row from a stored event: count and first/last seen from the Kubernetes Event itself when known. */
export function rowOf(event: EventPayload): EventRow {
  const raw = parseRaw(event.raw);
  // `raw` (about 1 KB) is not kept: the detail view reads it again, so 10,000 rows cost half the heap.
  return {
    event: { ...event, raw: undefined },
    count: raw.series?.count ?? raw.count ?? 1,
    firstSeen: raw.firstTimestamp ?? raw.eventTime ?? event.created_at,
    lastSeen: raw.lastTimestamp ?? event.created_at,
  };
}

/** Rows of the list: live versions go to the top, history pages to the bottom; at most `maxRows`. */
export class EventRows {
  readonly rows: EventRow[] = [];
  private readonly byUid = new Map<string, EventRow>();
  /** Set when old rows were dropped to stay within `maxRows`. */
  trimmed = false;

  constructor(private readonly maxRows: number) {}

  get length(): number {
    return this.rows.length;
  }

  has(globalUid: string): boolean {
    return this.byUid.has(globalUid);
  }

  clear(): void {
    this.rows.length = 0;
    this.byUid.clear();
    this.trimmed = false;
  }

  /** Adds live versions (oldest first); a known Event moves to the top with its count bumped. Returns rows added at the top. */
  addLive(events: EventPayload[]): number {
    const fresh: EventRow[] = [];
    for (const event of events) {
      const known = this.byUid.get(event.global_uid);
      if (known) {
        // The same stored version twice (a stream that started while the presenter was still
        // fanning it out also delivers what the history page showed) changes nothing.
        if (event.event_id === known.event.event_id || event.created_at < known.event.created_at) continue;
        // The row is either already listed or among this batch's new rows, never both.
        const listed = this.rows.indexOf(known);
        if (listed >= 0) this.rows.splice(listed, 1);
        else fresh.splice(fresh.indexOf(known), 1);
        known.event = { ...event, raw: undefined };
        known.count += 1;
        known.lastSeen = event.created_at;
        fresh.push(known);
      } else {
        const row = rowOf(event);
        this.byUid.set(event.global_uid, row);
        fresh.push(row);
      }
    }
    this.rows.unshift(...fresh.reverse());
    this.trim();
    return fresh.length;
  }

  /** Appends a history page (newest first); Events already shown (from the live tail) are kept once. */
  addPage(events: EventPayload[]): void {
    for (const event of events) {
      if (this.byUid.has(event.global_uid)) continue;
      const row = rowOf(event);
      this.byUid.set(event.global_uid, row);
      this.rows.push(row);
    }
    this.trim();
  }

  private trim(): void {
    while (this.rows.length > this.maxRows) {
      const dropped = this.rows.pop()!;
      this.byUid.delete(dropped.event.global_uid);
      this.trimmed = true;
    }
  }
}
