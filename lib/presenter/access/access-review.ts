import type { GroupResource } from './kind-resolver.ts';
import { errorFields, type Logger } from '../../runtime/log.ts';
import type { PresenterMetrics } from '../core/metrics.ts';
import { ExpiringMap } from './expiring-map.ts';
import { createReviewScheduler } from './review-scheduler.ts';
import { createRevocationLog } from './revocation-log.ts';
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

/**
 * Per-user, per-cluster authorisation decisions with a TTL cache, failing closed. `cluster` is a
 * row's `cluster_name`; the user's credentials for it come from `credentials` (createAuthorizer).
 */
export interface Authorizer {
  /** Decisions held (fresh or not yet swept). */
  readonly size: number;
  /** Drops expired decisions. */
  prune(): void;
  /**
   * Drops every decision of `username` in `cluster` that allows (list and strict `get`), so the next
   * question about that cluster is asked again; returns how many were dropped (a scan of the cache).
   * A review of that user and cluster still in flight was asked with the revoked credentials: it
   * denies when it answers, and its answer is not kept.
   */
  revokeCluster(username: string, cluster: string): number;
  /** The cached decision when still fresh, else undefined (synchronous: the fan-out hot path). */
  peek(username: string, cluster: string, namespace: string): boolean | undefined;
  /** `peek` with the time until which the answer may be reused (fan-out indexes keep it until then). */
  peekUntil(username: string, cluster: string, namespace: string): CachedDecision | undefined;
  /** Whether the user may list events in `namespace` of `cluster` (cluster-wide allow short-circuits). */
  canList(username: string, cluster: string, namespace: string): Promise<boolean>;
  /** `'all'` for a user cluster-wide in `cluster`, else the subset of `candidates` the user may list there. */
  allowedNamespaces(username: string, cluster: string, candidates: readonly string[]): Promise<'all' | string[]>;
  /** Strict mode: the cached `get` decision for the resource in `namespace` when fresh, else undefined. */
  peekGet(username: string, cluster: string, namespace: string, target: GroupResource): boolean | undefined;
  /** `peekGet` with the time until which the answer may be reused. */
  peekGetUntil(username: string, cluster: string, namespace: string, target: GroupResource): CachedDecision | undefined;
  /** Strict mode: whether the user may `get` the resource in `namespace` of `cluster` (cluster-wide allow short-circuits). */
  canGet(username: string, cluster: string, namespace: string, target: GroupResource): Promise<boolean>;
}

/** The user's credentials for a cluster's API server; throws when there are none (the review then denies). */
export type CredentialsForCluster = (username: string, cluster: string) => Promise<UserCredentials>;

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

/** One question: `list events` (or strict mode's `get` on `target`) in `namespace` of `cluster` ('' = cluster-wide). */
interface Question {
  username: string;
  cluster: string;
  namespace: string;
  target?: GroupResource;
}

// Every decision key starts with its user and cluster, which is what revokeCluster matches on.
const userClusterOf = ({ username, cluster }: { username: string; cluster: string }) => `${username}\u0000${cluster}\u0000`;

const keyOf = (question: Question) =>
  `${userClusterOf(question)}${question.namespace}${question.target ? `\u0000get\u0000${question.target.group}/${question.target.resource}` : ''}`;

/**
 * Caches decisions per (user, cluster, namespace) — and, for strict mode's `get`, per (user,
 * cluster, namespace, group/resource) — for `ttlMs` (errors deny and are cached for at most 5 s so
 * a flapping API server is not hammered); concurrent questions share one review, and at most
 * `maxConcurrentReviews` are sent at once, `maxReviewsPerUser` for one user, users served in the
 * order they asked (a user's questions are all answered before a later user's are sent once the
 * slots are full). Each review is sent with the user's credentials for the question's cluster
 * (`credentials`), so rights in one cluster never answer for another; no credentials (an error
 * with code `no_credentials`) denies for `ttlMs`. A
 * revoked permission is seen within `ttlMs`. The cluster-wide decision is asked first and, when
 * allowed, no namespace is asked. At most `maxEntries` decisions are kept, and `prune` drops the
 * expired ones.
 */
export function createAuthorizer(options: {
  check: AccessCheck;
  /** Strict mode's `get` review (default: a SelfSubjectAccessReview as the user). */
  checkGet?: GetCheck;
  credentials: CredentialsForCluster;
  ttlMs: number;
  log: Logger;
  metrics: PresenterMetrics;
  now?: () => number;
  /** Reviews sent at once; more wait their turn (default 64; see `createReviewScheduler`). */
  maxConcurrentReviews?: number;
  /** Reviews sent at once for one user (default 4). */
  maxReviewsPerUser?: number;
  /** Most decisions kept, the oldest written dropped first (default 100,000). */
  maxEntries?: number;
}): Authorizer {
  const now = options.now ?? Date.now;
  const { metrics } = options;
  // refreshAt: half-way through the entry's own life (errors live 5 s, so they are not re-asked at once).
  const cache = new ExpiringMap<{ expiresAt: number; refreshAt: number; allowed: boolean }>(options.maxEntries ?? 100_000);
  const inFlight = new Map<string, Promise<boolean>>();
  const revocations = createRevocationLog();
  const checkGet = options.checkGet ?? selfSubjectGetReview;

  /**
   * The cached decision while it is fresh. In the second half of its life a decision that is still
   * being used is re-asked in the background, so streams rarely wait for a review (no latency spike
   * every TTL) and a revocation is still seen within the TTL.
   */
  const freshEntry = (question: Question, refresh: boolean): CachedDecision | undefined => {
    const key = keyOf(question);
    const entry = cache.get(key);
    if (!entry) return undefined;
    const at = now();
    if (entry.expiresAt <= at) return undefined;
    if (at < entry.refreshAt) return { allowed: entry.allowed, recheckAt: entry.refreshAt };
    if (refresh && !inFlight.has(key)) void review(key, question);
    // Being refreshed: the refreshed answer replaces it by expiry at the latest.
    return { allowed: entry.allowed, recheckAt: entry.expiresAt };
  };
  const both = (first: CachedDecision, second: CachedDecision | undefined): CachedDecision | undefined =>
    second && { allowed: second.allowed, recheckAt: Math.min(first.recheckAt, second.recheckAt) };

  const decide = (question: Question): Promise<boolean> => {
    const key = keyOf(question);
    const cached = freshEntry(question, false)?.allowed;
    if (cached !== undefined) {
      metrics.authzCacheHits.add(1);
      return Promise.resolve(cached);
    }
    return inFlight.get(key) ?? review(key, question);
  };

  const scheduler = createReviewScheduler(options);

  const ask = async ({ username, cluster, namespace, target }: Question): Promise<boolean> => {
    const creds = await options.credentials(username, cluster);
    const scope = namespace === clusterKey ? undefined : namespace;
    return target ? checkGet(creds, target, scope) : options.check(creds, scope);
  };

  const review = (key: string, question: Question): Promise<boolean> => {
    metrics.authzCacheMisses.add(1);
    const { username, cluster, namespace, target } = question;
    const ticket = revocations.begin(userClusterOf(question));
    const answer: Promise<boolean> = scheduler.run(username, () => ask(question))
      .then(
        (allowed) => ({ allowed, ttlMs: options.ttlMs }),
        (err: unknown) => {
          const fields = { user: username, cluster, namespace, resource: target?.resource ?? 'events', ...errorFields(err) };
          // No credentials for the cluster (no mapping, no Secret) is a steady state, not an outage:
          // the credential store re-reads the Secret within the TTL, so the denial may last as long.
          if ((err as { code?: unknown }).code === 'no_credentials') {
            options.log.debug('no credentials for the cluster, denying', fields);
            return { allowed: false, ttlMs: options.ttlMs };
          }
          options.log.warn('access review failed, denying', fields);
          return { allowed: false, ttlMs: Math.min(options.ttlMs, 5000) };
        },
      )
      .then(({ allowed, ttlMs }) => {
        // Only this review's own slot: a revocation may have handed the key to a newer one.
        if (inFlight.get(key) === answer) inFlight.delete(key);
        if (revocations.end(ticket)) return false;
        if (!allowed && namespace !== clusterKey) metrics.authzDenials.add(1);
        const at = now();
        cache.set(key, { allowed, expiresAt: at + ttlMs, refreshAt: at + ttlMs / 2 });
        return allowed;
      });
    inFlight.set(key, answer);
    return answer;
  };

  const peekUntil = (username: string, cluster: string, namespace: string): CachedDecision | undefined => {
    const wide = freshEntry({ username, cluster, namespace: clusterKey }, true);
    if (wide === undefined || wide.allowed) return wide;
    return both(wide, freshEntry({ username, cluster, namespace }, true));
  };
  const peekGetUntil = (username: string, cluster: string, namespace: string, target: GroupResource): CachedDecision | undefined => {
    const wide = freshEntry({ username, cluster, namespace: clusterKey, target }, true);
    if (wide === undefined || wide.allowed || !target.namespaced) return wide;
    return both(wide, freshEntry({ username, cluster, namespace, target }, true));
  };

  return {
    get size() {
      return cache.size;
    },
    prune() {
      cache.prune(now());
      revocations.prune();
    },
    revokeCluster(username, cluster) {
      const prefix = userClusterOf({ username, cluster });
      revocations.revoke(prefix);
      // Later questions start their own review instead of waiting for one sent with the old credentials.
      for (const key of [...inFlight.keys()]) if (key.startsWith(prefix)) inFlight.delete(key);
      return cache.deleteWhere((key, entry) => entry.allowed && key.startsWith(prefix));
    },
    peek: (username, cluster, namespace) => peekUntil(username, cluster, namespace)?.allowed,
    peekUntil,
    async canList(username, cluster, namespace) {
      if (await decide({ username, cluster, namespace: clusterKey })) return true;
      return await decide({ username, cluster, namespace });
    },
    async allowedNamespaces(username, cluster, candidates) {
      if (await decide({ username, cluster, namespace: clusterKey })) return 'all';
      const decisions = await Promise.all(candidates.map((namespace) => decide({ username, cluster, namespace })));
      return candidates.filter((_, i) => decisions[i]);
    },
    peekGet: (username, cluster, namespace, target) => peekGetUntil(username, cluster, namespace, target)?.allowed,
    peekGetUntil,
    async canGet(username, cluster, namespace, target) {
      if (await decide({ username, cluster, namespace: clusterKey, target })) return true;
      if (!target.namespaced) return false;
      return await decide({ username, cluster, namespace, target });
    },
  };
}
