import type { Sql } from './db.ts';

/** The namespaces that have events, for turning per-namespace decisions into an SQL predicate. */
export interface NamespaceCatalog {
  /** Every namespace known to hold events (stored, or seen live since the last refresh). */
  list(): Promise<string[]>;
  /** Records a namespace seen on a live row, so it is known before the next refresh. */
  observe(namespace: string): void;
}

/**
 * Keeps the set of namespaces in `k8s_events`. `select distinct` would read the whole table, so the
 * set is read with a loose index scan over `k8s_events_namespace_idx` (one index probe per
 * namespace), at most once per `refreshMs`, and live rows add their namespace in between.
 * Concurrent callers share one read; a failed read is thrown to the caller and retried next time.
 */
export function createNamespaceCatalog(options: { sql: Sql; refreshMs: number; now?: () => number }): NamespaceCatalog {
  const now = options.now ?? Date.now;
  const known = new Set<string>();
  let loadedAt = Number.NEGATIVE_INFINITY;
  let loading: Promise<void> | undefined;

  const load = async () => {
    const rows = await options.sql<{ namespace: string }[]>`
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

  return {
    async list() {
      if (now() - loadedAt >= options.refreshMs) {
        loading ??= load().finally(() => {
          loading = undefined;
        });
        await loading;
      }
      return [...known];
    },
    observe(namespace) {
      known.add(namespace);
    },
  };
}
