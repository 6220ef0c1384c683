import type { GroupResource } from './kind-resolver.ts';
import { errorFields, type Logger } from '../../runtime/log.ts';
import type { PresenterMetrics } from '../core/metrics.ts';
import { ExpiringMap } from './expiring-map.ts';
import { createReviewScheduler } from './review-scheduler.ts';
import { requestAsUser, type UserCredentials } from './user-credentials.ts';

/** Asks the API server, as the user, whether it may `list events` (cluster-wide when `namespace` is undefined). */
export type AccessCheck = (creds: UserCredentials, namespace: string | undefined) => Promise<boolean>;

/** Asks the API server, as the user, whether it may `get` a resource (cluster-wide when `namespace` is undefined). */
export type GetCheck = (creds: UserCredentials, target: GroupResource, namespace: string | undefined) => Promise<boolean>;

/** A cached decision and the time (epoch ms) until which it may be reused without asking the cache again. */
export interface CachedDecision {
  allowed: boolean;
  /** Before this time the decision is unchanged and needs no background refresh; ask `peek…` again from then on. */
  recheckAt: number;
}

/** Per-user authorisation decisions with a TTL cache, failing closed. */
export interface Authorizer {
  /** Decisions held (fresh or not yet swept). */
  readonly size: number;
  /** Users whose credentials are held for background refreshes. */
  readonly usersWithCredentials: number;
  /** Drops expired decisions and the credentials of users not asking any more. */
  prune(): void;
  /** The cached decision when still fresh, else undefined (synchronous: the fan-out hot path). */
  peek(username: string, namespace: string): boolean | undefined;
  /** `peek` with the time until which the answer may be reused (fan-out indexes keep it until then). */
  peekUntil(username: string, namespace: string): CachedDecision | undefined;
  /** Whether the user may list events in `namespace` (cluster-wide allow short-circuits). */
  canList(username: string, creds: UserCredentials, namespace: string): Promise<boolean>;
  /** `'all'` for a cluster-wide user, else the subset of `candidates` the user may list. */
  allowedNamespaces(username: string, creds: UserCredentials, candidates: readonly string[]): Promise<'all' | string[]>;
  /** Strict mode: the cached `get` decision for the resource in `namespace` when fresh, else undefined. */
  peekGet(username: string, namespace: string, target: GroupResource): boolean | undefined;
  /** `peekGet` with the time until which the answer may be reused. */
  peekGetUntil(username: string, namespace: string, target: GroupResource): CachedDecision | undefined;
  /** Strict mode: whether the user may `get` the resource in `namespace` (cluster-wide allow short-circuits). */
  canGet(username: string, creds: UserCredentials, namespace: string, target: GroupResource): Promise<boolean>;
}

/** A SelfSubjectAccessReview for `list events`, sent with the user's own credentials. */
export const selfSubjectAccessReview: AccessCheck = (creds, namespace) => reviewAsUser(creds, 'list', '', 'events', namespace);

/** A SelfSubjectAccessReview for `get` on a resource, sent with the user's own credentials. */
export const selfSubjectGetReview: GetCheck = (creds, target, namespace) =>
  reviewAsUser(creds, 'get', target.group, target.resource, target.namespaced ? namespace : undefined);

async function reviewAsUser(creds: UserCredentials, verb: string, group: string, resource: string, namespace: string | undefined) {
  const body = {
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SelfSubjectAccessReview',
    spec: { resourceAttributes: { verb, resource, group, ...(namespace ? { namespace } : {}) } },
  };
  const answer = (await requestAsUser(creds, 'POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', body)) as {
    status?: { allowed?: boolean; denied?: boolean };
  };
  return answer.status?.allowed === true && answer.status.denied !== true;
}

const clusterKey = '';

/**
 * Caches decisions per (user, namespace) — and, for strict mode's `get`, per (user, namespace,
 * group/resource) — for `ttlMs` (errors deny and are cached for at most 5 s so
 * a flapping API server is not hammered); concurrent questions share one review, and at most
 * `maxConcurrentReviews` are sent at once, `maxReviewsPerUser` for one user, users served in the
 * order they asked (a user's questions are all answered before a later user's are sent once the
 * slots are full). A revoked
 * permission is therefore seen within `ttlMs`. The cluster-wide decision is asked first and, when
 * allowed, no namespace is asked. At most `maxEntries` decisions are kept, and `prune` drops the
 * expired ones and the credentials of users that stopped asking.
 */
export function createAuthorizer(options: {
  check: AccessCheck;
  /** Strict mode's `get` review (default: a SelfSubjectAccessReview as the user). */
  checkGet?: GetCheck;
  ttlMs: number;
  log: Logger;
  metrics: PresenterMetrics;
  now?: () => number;
  /** Reviews sent at once; more wait their turn (default 64; see `createReviewScheduler`). */
  maxConcurrentReviews?: number;
  /** Reviews sent at once for one user (default 4). */
  maxReviewsPerUser?: number;
  /** Most decisions kept (and users' credentials), the oldest written dropped first (default 100,000). */
  maxEntries?: number;
}): Authorizer {
  const now = options.now ?? Date.now;
  const { metrics } = options;
  // refreshAt: half-way through the entry's own life (errors live 5 s, so they are not re-asked at once).
  const maxEntries = options.maxEntries ?? 100_000;
  const cache = new ExpiringMap<{ expiresAt: number; refreshAt: number; allowed: boolean }>(maxEntries);
  const inFlight = new Map<string, Promise<boolean>>();
  // The credentials each user last asked with, so a decision can be refreshed from the hot path;
  // dropped (private key included) once neither asked with nor refreshed for a TTL.
  const credsOf = new ExpiringMap<{ creds: UserCredentials; expiresAt: number }>(maxEntries);
  const keyOf = (username: string, namespace: string) => `${username}\u0000${namespace}`;
  const getKeyOf = (username: string, namespace: string, t: GroupResource) => `${keyOf(username, namespace)}\u0000get\u0000${t.group}/${t.resource}`;
  const checkGet = options.checkGet ?? selfSubjectGetReview;

  /**
   * The cached decision while it is fresh. In the second half of its life a decision that is still
   * being used is re-asked in the background, so streams rarely wait for a review (no latency spike
   * every TTL) and a revocation is still seen within the TTL.
   */
  const freshEntry = (key: string, refresh?: { username: string; namespace: string; target?: GroupResource }): CachedDecision | undefined => {
    const entry = cache.get(key);
    if (!entry) return undefined;
    const at = now();
    if (entry.expiresAt <= at) return undefined;
    if (at < entry.refreshAt) return { allowed: entry.allowed, recheckAt: entry.refreshAt };
    if (refresh && !inFlight.has(key)) {
      const held = credsOf.get(refresh.username);
      if (held && held.expiresAt > at) {
        held.expiresAt = at + options.ttlMs;
        void review(key, refresh.username, held.creds, refresh.namespace, refresh.target);
      }
    }
    // Being refreshed: the refreshed answer replaces it by expiry at the latest.
    return { allowed: entry.allowed, recheckAt: entry.expiresAt };
  };
  const fresh = (key: string, refresh?: { username: string; namespace: string; target?: GroupResource }) => freshEntry(key, refresh)?.allowed;
  const both = (first: CachedDecision, second: CachedDecision | undefined): CachedDecision | undefined =>
    second && { allowed: second.allowed, recheckAt: Math.min(first.recheckAt, second.recheckAt) };

  const decide = (username: string, creds: UserCredentials, namespace: string, target?: GroupResource): Promise<boolean> => {
    credsOf.set(username, { creds, expiresAt: now() + options.ttlMs });
    const key = target ? getKeyOf(username, namespace, target) : keyOf(username, namespace);
    const cached = fresh(key);
    if (cached !== undefined) {
      metrics.authzCacheHits.add(1);
      return Promise.resolve(cached);
    }
    return inFlight.get(key) ?? review(key, username, creds, namespace, target);
  };

  const scheduler = createReviewScheduler(options);

  const review = (key: string, username: string, creds: UserCredentials, namespace: string, target?: GroupResource): Promise<boolean> => {
    metrics.authzCacheMisses.add(1);
    const scope = namespace === clusterKey ? undefined : namespace;
    const answer = scheduler.run(username, () => (target ? checkGet(creds, target, scope) : options.check(creds, scope)))
      .then(
        (allowed) => ({ allowed, ttlMs: options.ttlMs }),
        (err: unknown) => {
          options.log.warn('access review failed, denying', { user: username, namespace, resource: target?.resource ?? 'events', ...errorFields(err) });
          return { allowed: false, ttlMs: Math.min(options.ttlMs, 5000) };
        },
      )
      .then(({ allowed, ttlMs }) => {
        if (!allowed && namespace !== clusterKey) metrics.authzDenials.add(1);
        const at = now();
        cache.set(key, { allowed, expiresAt: at + ttlMs, refreshAt: at + ttlMs / 2 });
        inFlight.delete(key);
        return allowed;
      });
    inFlight.set(key, answer);
    return answer;
  };

  const peekUntil = (username: string, namespace: string): CachedDecision | undefined => {
    const cluster = freshEntry(keyOf(username, clusterKey), { username, namespace: clusterKey });
    if (cluster === undefined || cluster.allowed) return cluster;
    return both(cluster, freshEntry(keyOf(username, namespace), { username, namespace }));
  };
  const peekGetUntil = (username: string, namespace: string, target: GroupResource): CachedDecision | undefined => {
    const cluster = freshEntry(getKeyOf(username, clusterKey, target), { username, namespace: clusterKey, target });
    if (cluster === undefined || cluster.allowed || !target.namespaced) return cluster;
    return both(cluster, freshEntry(getKeyOf(username, namespace, target), { username, namespace, target }));
  };

  return {
    get size() {
      return cache.size;
    },
    get usersWithCredentials() {
      return credsOf.size;
    },
    prune() {
      cache.prune(now());
      credsOf.prune(now());
    },
    peek: (username, namespace) => peekUntil(username, namespace)?.allowed,
    peekUntil,
    async canList(username, creds, namespace) {
      if (await decide(username, creds, clusterKey)) return true;
      return await decide(username, creds, namespace);
    },
    async allowedNamespaces(username, creds, candidates) {
      if (await decide(username, creds, clusterKey)) return 'all';
      const decisions = await Promise.all(candidates.map((ns) => decide(username, creds, ns)));
      return candidates.filter((_, i) => decisions[i]);
    },
    peekGet: (username, namespace, target) => peekGetUntil(username, namespace, target)?.allowed,
    peekGetUntil,
    async canGet(username, creds, namespace, target) {
      if (await decide(username, creds, clusterKey, target)) return true;
      if (!target.namespaced) return false;
      return await decide(username, creds, namespace, target);
    },
  };
}
