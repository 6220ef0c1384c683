import type postgres from 'postgres';
import type { Authorizer, CachedDecision } from './access-review.ts';
import { toArrayLiteral, type Sql } from '../../storage/db.ts';
import type { KindResolver } from './kind-resolver.ts';
import type { NamespaceCatalog } from './namespace-catalog.ts';
import type { UserCredentials } from './user-credentials.ts';

/**
 * What a user may see, as groups of namespaces with the kinds visible in all of them (`kinds`
 * undefined: any kind). `'all'` means no restriction.
 */
export type VisibleScope = 'all' | { namespaces: string[]; kinds?: string[] }[];

/** The one rule deciding which events a user sees, for live delivery, replay and `/events`. */
export interface EventVisibility {
  readonly strict: boolean;
  /** The key decisions are shared under: the namespace, plus the kind in strict mode. */
  keyOf(namespace: string, kind: string): string;
  /** The cached decision when every part of it is fresh, else undefined (synchronous: the fan-out hot path). */
  peek(username: string, namespace: string, kind: string): boolean | undefined;
  /**
   * `peek` with the time until which the answer may be reused without asking again (the hub indexes
   * streams by it): never later than the expiry of any decision it is made of, and no later than the
   * point where a decision in use must be refreshed.
   */
  peekDecision(username: string, namespace: string, kind: string): CachedDecision | undefined;
  /** Whether the user may see events of `kind` in `namespace`. */
  canSee(username: string, creds: UserCredentials, namespace: string, kind: string): Promise<boolean>;
  /** The user's scope over the namespaces in `candidates` (strict mode: over the kinds stored there). */
  scope(username: string, creds: UserCredentials, candidates: readonly string[], kindFilter?: readonly string[]): Promise<VisibleScope>;
}

/**
 * Normal mode: `list events` in the event's namespace. Strict mode (`resolver` given): also `get`
 * on the involved object's resource in that namespace; a kind API discovery does not know is never
 * shown (fail closed). Strict scopes are built from the catalog's (namespace, kind) pairs, so a
 * kind first stored after the catalog was read stays hidden from `/events` and replay until the next
 * refresh — never shown without a decision.
 */
export function createEventVisibility(options: {
  authorizer: Authorizer;
  catalog: NamespaceCatalog;
  resolver?: KindResolver;
}): EventVisibility {
  const { authorizer, catalog, resolver } = options;
  if (!resolver) {
    return {
      strict: false,
      keyOf: (namespace) => namespace,
      peek: (username, namespace) => authorizer.peek(username, namespace),
      peekDecision: (username, namespace) => authorizer.peekUntil(username, namespace),
      canSee: (username, creds, namespace) => authorizer.canList(username, creds, namespace),
      async scope(username, creds, candidates) {
        const allowed = await authorizer.allowedNamespaces(username, creds, candidates);
        return allowed === 'all' ? 'all' : allowed.length === 0 ? [] : [{ namespaces: allowed }];
      },
    };
  }
  const canGetKind = async (username: string, creds: UserCredentials, namespace: string, kind: string) => {
    const target = await resolver.resolve(kind);
    return target !== null && (await authorizer.canGet(username, creds, namespace, target));
  };
  const peekDecision = (username: string, namespace: string, kind: string): CachedDecision | undefined => {
    const list = authorizer.peekUntil(username, namespace);
    if (list === undefined || !list.allowed) return list;
    // The kind's mapping has its own cache: it is looked up again whenever the decision is.
    const target = resolver.peek(kind);
    if (target === undefined) return undefined;
    if (target === null) return { allowed: false, recheckAt: list.recheckAt };
    const get = authorizer.peekGetUntil(username, namespace, target);
    return get && { allowed: get.allowed, recheckAt: Math.min(list.recheckAt, get.recheckAt) };
  };
  return {
    strict: true,
    keyOf: (namespace, kind) => `${namespace}\u0000${kind}`,
    peek: (username, namespace, kind) => peekDecision(username, namespace, kind)?.allowed,
    peekDecision,
    async canSee(username, creds, namespace, kind) {
      return (await authorizer.canList(username, creds, namespace)) && (await canGetKind(username, creds, namespace, kind));
    },
    async scope(username, creds, candidates, kindFilter) {
      const listed = await authorizer.allowedNamespaces(username, creds, candidates);
      const namespaces = listed === 'all' ? candidates : listed;
      const stored = await catalog.kinds();
      const byKinds = new Map<string, { namespaces: string[]; kinds: string[] }>();
      await Promise.all(
        namespaces.map(async (namespace) => {
          const kinds = [...(stored.get(namespace) ?? [])].filter((k) => !kindFilter || kindFilter.includes(k));
          const allowed = await Promise.all(kinds.map((k) => canGetKind(username, creds, namespace, k)));
          const visible = kinds.filter((_, i) => allowed[i]).sort();
          if (visible.length === 0) return;
          const key = visible.join('\u0000');
          const entry = byKinds.get(key) ?? { namespaces: [], kinds: visible };
          entry.namespaces.push(namespace);
          byKinds.set(key, entry);
        }),
      );
      return [...byKinds.values()];
    },
  };
}

/**
 * The scope as an SQL predicate over unqualified `namespace` and `resource_kind`: one
 * `namespace = any(…) and resource_kind = any(…)` term per group (index-friendly, and few terms:
 * users mostly have the same rights in each namespace). `false` for an empty scope.
 */
export function scopeToSql(sql: Sql, scope: Exclude<VisibleScope, 'all'>): postgres.PendingQuery<postgres.Row[]> {
  if (scope.length === 0) return sql`false`;
  const terms = scope.map(({ namespaces, kinds }) =>
    kinds
      ? sql`(namespace = any(${toArrayLiteral(namespaces)}::text[]) and resource_kind = any(${toArrayLiteral(kinds)}::text[]))`
      : sql`namespace = any(${toArrayLiteral(namespaces)}::text[])`,
  );
  const joined = terms.slice(1).reduce((acc, term) => sql`${acc} or ${term}`, terms[0]!);
  return sql`(${joined})`;
}
