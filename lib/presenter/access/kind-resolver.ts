import type { DiscoveredResource, DiscoveryClient } from '../../kube/discovery.ts';
import { errorFields, type Logger } from '../../runtime/log.ts';

/** What RBAC is asked about for an involved object: its group and plural resource. */
export interface GroupResource {
  group: string;
  resource: string;
  /** Cluster-scoped resources are asked about without a namespace. */
  namespaced: boolean;
}

/** A stored `resource_kind` split into its parts (`group`/`version` undefined for a bare kind). */
export interface ParsedKind {
  group?: string;
  version?: string;
  kind: string;
}

/** Maps `resource_kind` values to group/resource with API discovery. */
export interface KindResolver {
  /** Cached answer: a mapping, `null` for a known-unknown kind, undefined when not cached. */
  peek(resourceKind: string): GroupResource | null | undefined;
  /** The mapping, or `null` when discovery does not know the kind (callers then deny). Never throws. */
  resolve(resourceKind: string): Promise<GroupResource | null>;
}

/**
 * Splits `v1.Pod`, `apps/v1.Deployment`, `composition.krateo.io/v1-2-0.FireworksApp` or a bare
 * `Pod`. Groups may hold dots, versions never do, so the version ends at the first dot after `/`.
 */
export function parseResourceKind(resourceKind: string): ParsedKind {
  const slash = resourceKind.indexOf('/');
  const rest = slash < 0 ? resourceKind : resourceKind.slice(slash + 1);
  const dot = rest.indexOf('.');
  if (dot <= 0) return slash < 0 ? { kind: resourceKind } : { kind: '' };
  return { group: slash < 0 ? '' : resourceKind.slice(0, slash), version: rest.slice(0, dot), kind: rest.slice(dot + 1) };
}

/**
 * Resolves kinds with `discovery`, caching a found mapping for `ttlMs` and a kind discovery does
 * not know for `unknownTtlMs` (so a newly installed CRD is picked up within that time); failures
 * deny and are cached for at most 5 s. Concurrent questions share one lookup. A version no longer
 * served falls back to the group's other versions (RBAC names resources, not versions); a bare kind
 * is looked up in core/v1, then in every group's preferred version, and must match exactly one.
 */
export function createKindResolver(options: {
  discovery: DiscoveryClient;
  ttlMs: number;
  /** How long "discovery does not know this kind" is reused (default `ttlMs`). */
  unknownTtlMs?: number;
  log: Logger;
  now?: () => number;
}): KindResolver {
  const now = options.now ?? Date.now;
  const { discovery } = options;
  const cache = new Map<string, { expiresAt: number; value: GroupResource | null }>();
  const inFlight = new Map<string, Promise<GroupResource | null>>();

  const find = (list: DiscoveredResource[] | undefined, group: string, kind: string): GroupResource | undefined => {
    const hit = list?.find((r) => r.kind === kind);
    return hit && { group, resource: hit.name, namespaced: hit.namespaced };
  };

  const lookup = async ({ group, version, kind }: ParsedKind): Promise<GroupResource | null> => {
    if (kind === '') return null;
    if (group !== undefined && version !== undefined) {
      const exact = find(await discovery.resources(group, version), group, kind);
      if (exact || group === '') return exact ?? null;
      const served = (await discovery.groups()).find((g) => g.name === group)?.versions ?? [];
      for (const other of served.filter((v) => v !== version)) {
        const hit = find(await discovery.resources(group, other), group, kind);
        if (hit) return hit;
      }
      return null;
    }
    const core = find(await discovery.resources('', 'v1'), '', kind);
    if (core) return core;
    const groups = await discovery.groups();
    const hits = (
      await Promise.all(groups.map(async (g) => (g.versions[0] ? find(await discovery.resources(g.name, g.versions[0]), g.name, kind) : undefined)))
    ).filter((hit) => hit !== undefined);
    return hits.length === 1 ? hits[0]! : null;
  };

  const fresh = (resourceKind: string) => {
    const entry = cache.get(resourceKind);
    return entry && entry.expiresAt > now() ? entry.value : undefined;
  };

  return {
    peek: fresh,
    resolve(resourceKind) {
      const cached = fresh(resourceKind);
      if (cached !== undefined) return Promise.resolve(cached);
      const pending = inFlight.get(resourceKind);
      if (pending) return pending;
      const answer = lookup(parseResourceKind(resourceKind))
        .then(
          (value) => ({ value, ttlMs: value ? options.ttlMs : (options.unknownTtlMs ?? options.ttlMs) }),
          (err: unknown) => {
            options.log.warn('api discovery failed, denying kind', { kind: resourceKind, ...errorFields(err) });
            return { value: null, ttlMs: Math.min(options.ttlMs, 5000) };
          },
        )
        .then(({ value, ttlMs }) => {
          cache.set(resourceKind, { value, expiresAt: now() + ttlMs });
          inFlight.delete(resourceKind);
          return value;
        });
      inFlight.set(resourceKind, answer);
      return answer;
    },
  };
}
