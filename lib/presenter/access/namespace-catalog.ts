import type { Sql } from '../../storage/db.ts';

/** The namespaces (and, for strict mode, the kinds per namespace) that have events, for SQL predicates. */
export interface NamespaceCatalog {
  /** Every namespace known to hold events (stored, or seen live since the last refresh). */
  list(): Promise<string[]>;
  /** Namespace → the `resource_kind` values stored there (read only when first asked: strict mode). */
  kinds(): Promise<Map<string, Set<string>>>;
  /** Records a namespace (and kind) seen on a live row, so it is known before the next refresh. */
  observe(namespace: string, kind?: string): void;
}

/**
 * Keeps the set of namespaces in `k8s_events`. `select distinct` would read the whole table, so the
 * set is read with a loose index scan over `k8s_events_namespace_idx` (one index probe per
 * namespace), at most once per `refreshMs`, and live rows add their namespace in between.
 * The (namespace, kind) pairs have no index to walk: they are read with one full scan when first
 * asked, then only from rows after the highest `seq` already read (the `seq` index; `seq` is
 * commit-ordered, so nothing is skipped). Concurrent callers share one read; a failed read is
 * thrown to the caller and retried next time. Pairs are never forgotten (a pair whose rows were
 * dropped by retention only widens a predicate that then matches nothing).
 */
export function createNamespaceCatalog(options: { sql: Sql; refreshMs: number; now?: () => number }): NamespaceCatalog {
  const now = options.now ?? Date.now;
  const { sql } = options;
  const known = new Set<string>();
  const pairs = new Map<string, Set<string>>();
  let loadedAt = Number.NEGATIVE_INFINITY;
  let loading: Promise<void> | undefined;
  let kindsAt = Number.NEGATIVE_INFINITY;
  let kindsSeq: number | undefined;
  let kindsLoading: Promise<void> | undefined;

  const addPair = (namespace: string, kind: string) => {
    let set = pairs.get(namespace);
    if (!set) pairs.set(namespace, (set = new Set()));
    set.add(kind);
  };

  const load = async () => {
    const rows = await sql<{ namespace: string }[]>`
      with recursive ns as (
        (select namespace from k8s_events order by namespace limit 1)
        union all
        select (select e.namespace from k8s_events e where e.namespace > ns.namespace order by e.namespace limit 1)
        from ns where ns.namespace is not null
      )
      select namespace from ns where namespace is not null`;
    for (const row of rows) known.add(row.namespace);
    loadedAt = now();
  };

  const loadKinds = async () => {
    const after = kindsSeq ?? 0;
    const rows = await sql<{ namespace: string; resource_kind: string; seq: number }[]>`
      select namespace, resource_kind, max(seq) as seq from k8s_events
      ${kindsSeq === undefined ? sql`` : sql`where seq > ${after}`}
      group by namespace, resource_kind`;
    let highest = after;
    for (const row of rows) {
      addPair(row.namespace, row.resource_kind);
      known.add(row.namespace);
      highest = Math.max(highest, Number(row.seq));
    }
    kindsSeq = highest;
    kindsAt = now();
  };

  const refresh = (at: number, run: () => Promise<void>, current: Promise<void> | undefined, set: (p?: Promise<void>) => void) => {
    if (now() - at < options.refreshMs) return Promise.resolve();
    if (current) return current;
    const next = run().finally(() => set(undefined));
    set(next);
    return next;
  };

  return {
    async list() {
      await refresh(loadedAt, load, loading, (p) => (loading = p));
      return [...known];
    },
    async kinds() {
      await refresh(kindsAt, loadKinds, kindsLoading, (p) => (kindsLoading = p));
      return pairs;
    },
    observe(namespace, kind) {
      known.add(namespace);
      // Also before the first read of kinds has finished: a row committed after that read's snapshot
      // is known only from here until the next refresh.
      if (kind !== undefined) addPair(namespace, kind);
    },
  };
}
