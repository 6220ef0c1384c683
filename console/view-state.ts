// The view's filters, kept in the page URL so a view can be shared or bookmarked. No DOM here:
// the unit tests import it.

/** Filter names the presenter knows, in the order the form shows them. */
export const filterNames = ['q', 'namespace', 'kind', 'name', 'type', 'reason', 'composition_id', 'cluster', 'since', 'until'] as const;
export type FilterName = (typeof filterNames)[number];
export type Filters = Partial<Record<FilterName, string>>;

/** Filters the live stream can apply on the server (equality filters). */
export const liveFilterNames = ['namespace', 'kind', 'name', 'type', 'reason', 'composition_id', 'cluster'] as const;

export const defaultSince = '1h';

/** Reads the filters from the page URL's query string. */
export function readFilters(search: string): Filters {
  const params = new URLSearchParams(search);
  const filters: Filters = {};
  for (const name of filterNames) {
    const value = params.get(name)?.trim();
    if (value) filters[name] = value;
  }
  filters.since ??= defaultSince;
  return filters;
}

const durationMs: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A window like `1h` or `7d` in milliseconds (undefined for anything else). */
export function windowMs(since: string | undefined): number | undefined {
  const match = /^(\d+)([smhd])$/.exec(since ?? '');
  return match ? Number(match[1]) * durationMs[match[2]!]! : undefined;
}

/** A chart bucket giving about 30–60 bars over the window. */
export function bucketFor(since: string | undefined): string {
  const ms = windowMs(since) ?? 3_600_000;
  const choices: [number, string][] = [[30_000, '30s'], [60_000, '1m'], [300_000, '5m'], [900_000, '15m'], [3_600_000, '1h'], [10_800_000, '3h'], [86_400_000, '1d']];
  for (const [size, label] of choices) if (ms / size <= 60) return label;
  return '1d';
}

/** Whether a live event passes the filters the server cannot apply to the stream (`q`, `until`). */
export function matchesClientFilters(filters: Filters, event: { message: string | null; reason: string | null; resource_name: string }): boolean {
  if (filters.until) return false;
  if (!filters.q) return true;
  const needle = filters.q.toLowerCase();
  return [event.message, event.reason, event.resource_name].some((text) => text?.toLowerCase().includes(needle));
}

/**
 * Counts history pages in a row that came back empty but with a cursor (the server's scan window
 * found nothing, docs/decisions/014-history-scan-window.md). After `maxEmptyPages` of them the
 * console stops asking on its own, so a search for something that never occurs does not keep one of
 * the server's few history connections busy; the user can ask to search further back.
 */
export class EmptyPageBrake {
  private emptyInARow = 0;
  constructor(readonly maxEmptyPages: number) {}

  /** Records a page; true when the console should stop asking until `release`. */
  record(resourceCount: number, hasCursor: boolean): boolean {
    this.emptyInARow = resourceCount === 0 && hasCursor ? this.emptyInARow + 1 : 0;
    return this.held;
  }

  get held(): boolean {
    return this.emptyInARow >= this.maxEmptyPages;
  }

  release(): void {
    this.emptyInARow = 0;
  }
}
