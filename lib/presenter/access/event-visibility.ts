import type postgres from 'postgres';
import { toArrayLiteral, type Sql } from '../../storage/db.ts';
import type { Authorizer, CachedDecision } from './access-review.ts';
import type { ClusterDirectory } from './cluster-routes.ts';
import type { KindResolver } from './kind-resolver.ts';
import type { NamespaceCatalog } from './namespace-catalog.ts';

/**
 * What a user may see, as one term per group of namespaces of one cluster, with the kinds visible
 * in all of them (`kinds` undefined: any kind; `namespaces` undefined: every namespace of the
 * cluster). An empty list: nothing.
 */
export type VisibleScope = { cluster: string; namespaces?: string[]; kinds?: string[] }[];

/** The one rule deciding which events a user sees, for live delivery, replay and `/events`. */
export interface EventVisibility {
  readonly strict: boolean;
  /** The key decisions are shared under: cluster and namespace, plus the kind in strict mode. */
  keyOf(cluster: string, namespace: string, kind: string): string;
  /** The cached decision when every part of it is fresh, else undefined (synchronous: the fan-out hot path). */
  peek(username: string, cluster: string, namespace: string, kind: string): boolean | undefined;
  /**
   * `peek` with the time until which the answer may be reused without asking again (the hub indexes
   * streams by it): never later than the expiry of any decision it is made of, and no later than the
   * point where a decision in use must be refreshed. A cluster with no mapping: denied, for good.
   */
  peekDecision(username: string, cluster: string, namespace: string, kind: string): CachedDecision | undefined;
  /** Whether the user may see events of `kind` in `namespace` of `cluster`. */
  canSee(username: string, cluster: string, namespace: string, kind: string): Promise<boolean>;
  /**
   * The user's scope over the namespaces in `candidates` of every mapped cluster (only those in
   * `filter.clusters` when given; strict mode: over the kinds stored there, only `filter.kinds`).
   */
  scope(username: string, candidates: readonly string[], filter?: { clusters?: readonly string[]; kinds?: readonly string[] }): Promise<VisibleScope>;
}

const unmapped: CachedDecision = { allowed: false, recheckAt: Number.POSITIVE_INFINITY };

/**
 * Normal mode: `list events` in the event's namespace of the event's cluster, asked of that
 * cluster's API server. Strict mode (`resolver` given): also `get` on the involved object's resource
 * in that namespace; a kind API discovery does not know is never shown (fail closed). Rows of a
 * cluster `clusters` has no route for are never shown. Strict scopes are built from the catalog's
 * (namespace, kind) pairs, so a kind first stored after the catalog was read stays hidden from
 * `/events` and replay until the next refresh — never shown without a decision.
 */
export function createEventVisibility(options: {
  authorizer: Authorizer;
  catalog: NamespaceCatalog;
  clusters: ClusterDirectory;
  resolver?: KindResolver;
}): EventVisibility {
  const { authorizer, catalog, clusters, resolver } = options;
  const mapped = (cluster: string) => clusters.route(cluster) !== undefined;
  const scopeClusters = (filter?: readonly string[]) => clusters.clusters.filter((c) => !filter || filter.includes(c));

  const canGetKind = async (username: string, cluster: string, namespace: string, kind: string) => {
    const target = await resolver!.resolve(kind);
    return target !== null && (await authorizer.canGet(username, cluster, namespace, target));
  };
  const peekStrict = (username: string, cluster: string, namespace: string, kind: string): CachedDecision | undefined => {
    const list = authorizer.peekUntil(username, cluster, namespace);
    if (list === undefined || !list.allowed) return list;
    // The kind's mapping has its own cache: it is looked up again whenever the decision is.
    const target = resolver!.peek(kind);
    if (target === undefined) return undefined;
    if (target === null) return { allowed: false, recheckAt: list.recheckAt };
    const get = authorizer.peekGetUntil(username, cluster, namespace, target);
    return get && { allowed: get.allowed, recheckAt: Math.min(list.recheckAt, get.recheckAt) };
  };
  const peekDecision = (username: string, cluster: string, namespace: string, kind: string): CachedDecision | undefined => {
    if (!mapped(cluster)) return unmapped;
    return resolver ? peekStrict(username, cluster, namespace, kind) : authorizer.peekUntil(username, cluster, namespace);
  };

  const listScope = async (username: string, cluster: string, candidates: readonly string[]): Promise<VisibleScope> => {
    const allowed = await authorizer.allowedNamespaces(username, cluster, candidates);
    if (allowed === 'all') return [{ cluster }];
    return allowed.length === 0 ? [] : [{ cluster, namespaces: allowed }];
  };
  const strictScope = async (username: string, cluster: string, candidates: readonly string[], kindFilter?: readonly string[]): Promise<VisibleScope> => {
    const listed = await authorizer.allowedNamespaces(username, cluster, candidates);
    const namespaces = listed === 'all' ? candidates : listed;
    const stored = await catalog.kinds();
    const byKinds = new Map<string, { cluster: string; namespaces: string[]; kinds: string[] }>();
    await Promise.all(
      namespaces.map(async (namespace) => {
        const kinds = [...(stored.get(namespace) ?? [])].filter((k) => !kindFilter || kindFilter.includes(k));
        const allowed = await Promise.all(kinds.map((k) => canGetKind(username, cluster, namespace, k)));
        const visible = kinds.filter((_, i) => allowed[i]).sort();
        if (visible.length === 0) return;
        const key = visible.join('\u0000');
        const entry = byKinds.get(key) ?? { cluster, namespaces: [], kinds: visible };
        entry.namespaces.push(namespace);
        byKinds.set(key, entry);
      }),
    );
    return [...byKinds.values()];
  };

  return {
    strict: resolver !== undefined,
    keyOf: resolver ? (cluster, namespace, kind) => `${cluster}\u0000${namespace}\u0000${kind}` : (cluster, namespace) => `${cluster}\u0000${namespace}`,
    peek: (username, cluster, namespace, kind) => peekDecision(username, cluster, namespace, kind)?.allowed,
    peekDecision,
    async canSee(username, cluster, namespace, kind) {
      if (!mapped(cluster) || !(await authorizer.canList(username, cluster, namespace))) return false;
      return !resolver || (await canGetKind(username, cluster, namespace, kind));
    },
    async scope(username, candidates, filter) {
      const perCluster = await Promise.all(
        scopeClusters(filter?.clusters).map((cluster) =>
          resolver ? strictScope(username, cluster, candidates, filter?.kinds) : listScope(username, cluster, candidates),
        ),
      );
      return perCluster.flat();
    },
  };
}

/**
 * The scope as an SQL predicate over unqualified `cluster_name`, `namespace` and `resource_kind`: one
 * term per group, `cluster_name = $c [and namespace = any(…)] [and resource_kind = any(…)]`
 * (index-friendly, and few terms: users mostly have the same rights in each namespace). `false`
 * for an empty scope.
 */
export function scopeToSql(sql: Sql, scope: VisibleScope): postgres.PendingQuery<postgres.Row[]> {
  if (scope.length === 0) return sql`false`;
  const terms = scope.map(({ cluster, namespaces, kinds }) => {
    const parts = [sql`cluster_name = ${cluster}`];
    // One value as `=`: the planner can then walk the (namespace, created_at) index in order.
    const oneOf = (column: string, values: readonly string[]) =>
      values.length === 1 ? sql`${sql(column)} = ${values[0]!}` : sql`${sql(column)} = any(${toArrayLiteral(values)}::text[])`;
    if (namespaces) parts.push(oneOf('namespace', namespaces));
    if (kinds) parts.push(oneOf('resource_kind', kinds));
    const joined = parts.slice(1).reduce((acc, part) => sql`${acc} and ${part}`, parts[0]!);
    return sql`(${joined})`;
  });
  const joined = terms.slice(1).reduce((acc, term) => sql`${acc} or ${term}`, terms[0]!);
  return sql`(${joined})`;
}
