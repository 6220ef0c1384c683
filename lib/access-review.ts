import { errorFields, type Logger } from './log.ts';
import type { PresenterMetrics } from './presenter-metrics.ts';
import { requestAsUser, type UserCredentials } from './user-credentials.ts';

/** Asks the API server, as the user, whether it may `list events` (cluster-wide when `namespace` is undefined). */
export type AccessCheck = (creds: UserCredentials, namespace: string | undefined) => Promise<boolean>;

/** Per-user authorisation decisions with a TTL cache, failing closed. */
export interface Authorizer {
  /** The cached decision when still fresh, else undefined (synchronous: the fan-out hot path). */
  peek(username: string, namespace: string): boolean | undefined;
  /** Whether the user may list events in `namespace` (cluster-wide allow short-circuits). */
  canList(username: string, creds: UserCredentials, namespace: string): Promise<boolean>;
  /** `'all'` for a cluster-wide user, else the subset of `candidates` the user may list. */
  allowedNamespaces(username: string, creds: UserCredentials, candidates: readonly string[]): Promise<'all' | string[]>;
}

/** A SelfSubjectAccessReview for `list events`, sent with the user's own credentials. */
export const selfSubjectAccessReview: AccessCheck = async (creds, namespace) => {
  const body = {
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SelfSubjectAccessReview',
    spec: { resourceAttributes: { verb: 'list', resource: 'events', group: '', ...(namespace ? { namespace } : {}) } },
  };
  const answer = (await requestAsUser(creds, 'POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', body)) as {
    status?: { allowed?: boolean; denied?: boolean };
  };
  return answer.status?.allowed === true && answer.status.denied !== true;
};

const clusterKey = '';

/**
 * Caches decisions per (user, namespace) for `ttlMs` (errors deny and are cached for at most 5 s so
 * a flapping API server is not hammered); concurrent questions share one review. A revoked
 * permission is therefore seen within `ttlMs`. The cluster-wide decision is asked first and, when
 * allowed, no namespace is asked.
 */
export function createAuthorizer(options: {
  check: AccessCheck;
  ttlMs: number;
  log: Logger;
  metrics: PresenterMetrics;
  now?: () => number;
}): Authorizer {
  const now = options.now ?? Date.now;
  const { metrics } = options;
  const cache = new Map<string, { expiresAt: number; allowed: boolean }>();
  const inFlight = new Map<string, Promise<boolean>>();
  const keyOf = (username: string, namespace: string) => `${username}\u0000${namespace}`;

  const fresh = (key: string) => {
    const entry = cache.get(key);
    return entry && entry.expiresAt > now() ? entry.allowed : undefined;
  };

  const decide = (username: string, creds: UserCredentials, namespace: string): Promise<boolean> => {
    const key = keyOf(username, namespace);
    const cached = fresh(key);
    if (cached !== undefined) {
      metrics.authzCacheHits.add(1);
      return Promise.resolve(cached);
    }
    const pending = inFlight.get(key);
    if (pending) return pending;
    metrics.authzCacheMisses.add(1);
    const review = options
      .check(creds, namespace === clusterKey ? undefined : namespace)
      .then(
        (allowed) => ({ allowed, ttlMs: options.ttlMs }),
        (err: unknown) => {
          options.log.warn('access review failed, denying', { user: username, namespace, ...errorFields(err) });
          return { allowed: false, ttlMs: Math.min(options.ttlMs, 5000) };
        },
      )
      .then(({ allowed, ttlMs }) => {
        if (!allowed && namespace !== clusterKey) metrics.authzDenials.add(1);
        cache.set(key, { allowed, expiresAt: now() + ttlMs });
        inFlight.delete(key);
        return allowed;
      });
    inFlight.set(key, review);
    return review;
  };

  return {
    peek(username, namespace) {
      const cluster = fresh(keyOf(username, clusterKey));
      if (cluster === undefined) return undefined;
      if (cluster) return true;
      return fresh(keyOf(username, namespace));
    },
    async canList(username, creds, namespace) {
      if (await decide(username, creds, clusterKey)) return true;
      return await decide(username, creds, namespace);
    },
    async allowedNamespaces(username, creds, candidates) {
      if (await decide(username, creds, clusterKey)) return 'all';
      const decisions = await Promise.all(candidates.map((ns) => decide(username, creds, ns)));
      return candidates.filter((_, i) => decisions[i]);
    },
  };
}
