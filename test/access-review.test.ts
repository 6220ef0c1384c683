import { describe, expect, test } from 'bun:test';
import { createAuthorizer } from '../lib/presenter/access/access-review.ts';
import { AuthError } from '../lib/presenter/access/auth-token.ts';
import { silentLogger } from '../lib/runtime/log.ts';
import { createPresenterMetrics } from '../lib/presenter/core/metrics.ts';
import type { UserCredentials } from '../lib/presenter/access/user-credentials.ts';
import { waitFor } from './support/ingester-fixtures.ts';

/** Each user's credentials for a cluster: a token naming the user, aimed at that cluster's server. */
const credentials = async (username: string, cluster: string): Promise<UserCredentials> => ({ serverUrl: `https://${cluster}.example`, token: username });

/** An authorizer over a scripted permission table and a hand-driven clock. */
function buildAuthorizer(ttlMs = 1000) {
  const allowed = new Map<string, boolean>([['', false], ['team-a', true]]);
  const asked: string[] = [];
  let nowMs = 0;
  const authorizer = createAuthorizer({
    check: async (_creds, namespace) => {
      asked.push(namespace ?? '*');
      return allowed.get(namespace ?? '') ?? false;
    },
    ttlMs,
    log: silentLogger,
    metrics: createPresenterMetrics(),
    credentials,
    now: () => nowMs,
  });
  return { authorizer, allowed, asked, setNow: (ms: number) => void (nowMs = ms) };
}

/**
 * An authorizer with no cluster-wide rights anywhere, whose namespace reviews each wait until the
 * test answers them through `pending` (so a revocation can land while they are in flight).
 */
function buildHeldAuthorizer() {
  const pending: ((allowed: boolean) => void)[] = [];
  const authorizer = createAuthorizer({
    check: (_creds, namespace) => (namespace === undefined ? Promise.resolve(false) : new Promise<boolean>((resolve) => pending.push(resolve))),
    ttlMs: 1000,
    log: silentLogger,
    metrics: createPresenterMetrics(),
    credentials,
    now: () => 0,
  });
  return { authorizer, pending };
}

describe('authorisation cache', () => {
  test('a decision is asked once, then served from the cache until its TTL passes', async () => {
    const { authorizer, asked, setNow } = buildAuthorizer(1000);
    expect(await authorizer.canList('alice', 'dev', 'team-a')).toBe(true);
    expect(await authorizer.canList('alice', 'dev', 'team-a')).toBe(true);
    expect(await authorizer.canList('alice', 'dev', 'team-b')).toBe(false);
    expect(asked).toEqual(['*', 'team-a', 'team-b']);
    setNow(1001);
    expect(authorizer.peek('alice', 'dev', 'team-a')).toBeUndefined();
  });

  test('a decision used in the second half of its life is refreshed in the background, so a revocation shows within the TTL without a blocking review', async () => {
    const { authorizer, allowed, asked, setNow } = buildAuthorizer(1000);
    await authorizer.canList('alice', 'dev', 'team-a');
    setNow(400);
    expect(authorizer.peek('alice', 'dev', 'team-a')).toBe(true);
    expect(asked).toEqual(['*', 'team-a']);

    allowed.set('team-a', false);
    setNow(600);
    // Still the cached answer now, but both decisions are re-asked behind the scenes.
    expect(authorizer.peek('alice', 'dev', 'team-a')).toBe(true);
    await waitFor(() => (asked.length === 4 ? true : undefined));
    expect(asked).toEqual(['*', 'team-a', '*', 'team-a']);
    // The refreshed answers land in the cache without anyone waiting for them.
    await waitFor(() => (authorizer.peek('alice', 'dev', 'team-a') === false ? true : undefined));
    expect(asked).toEqual(['*', 'team-a', '*', 'team-a']);
  });

  test('revokeCluster drops only the user\'s allowing decisions in that cluster; they are asked again next time', async () => {
    const { authorizer, asked } = buildAuthorizer(1000);
    for (const [user, cluster] of [['alice', 'prod'], ['alice', 'dev'], ['bob', 'prod']]) await authorizer.canList(user!, cluster!, 'team-a');
    await authorizer.canList('alice', 'prod', 'team-b');
    expect(authorizer.revokeCluster('alice', 'prod')).toBe(1);
    expect([
      authorizer.peek('alice', 'prod', 'team-a'),
      authorizer.peek('alice', 'prod', 'team-b'),
      authorizer.peek('alice', 'dev', 'team-a'),
      authorizer.peek('bob', 'prod', 'team-a'),
    ]).toEqual([undefined, false, true, true]);
    asked.length = 0;
    expect(await authorizer.canList('alice', 'prod', 'team-a')).toBe(true);
    expect(asked).toEqual(['team-a']);
  });

  test('a review in flight when the user\'s credentials for its cluster are revoked denies and is not kept; one for another cluster is unaffected', async () => {
    const { authorizer, pending } = buildHeldAuthorizer();
    const inProd = authorizer.canList('alice', 'prod', 'team-a');
    const inDev = authorizer.canList('alice', 'dev', 'team-a');
    await waitFor(() => (pending.length === 2 ? true : undefined));
    authorizer.revokeCluster('alice', 'prod');
    // Asked again after the revocation: a review of its own, not the one sent with the old credentials.
    const afterRevocation = authorizer.canList('alice', 'prod', 'team-a');
    await waitFor(() => (pending.length === 3 ? true : undefined));
    for (const answer of pending) answer(true);
    expect([await inProd, await inDev, await afterRevocation]).toEqual([false, true, true]);
    // What is kept is the answer to the review sent after the revocation.
    expect([authorizer.peek('alice', 'prod', 'team-a'), authorizer.peek('alice', 'dev', 'team-a')]).toEqual([true, true]);
  });

  test('a review in flight during a revocation is not kept even when nobody asks again and the caches are swept meanwhile', async () => {
    const { authorizer, pending } = buildHeldAuthorizer();
    const inProd = authorizer.canList('alice', 'prod', 'team-a');
    await waitFor(() => (pending.length === 1 ? true : undefined));
    authorizer.revokeCluster('alice', 'prod');
    // The periodic sweep while that review is still out does not forget the revocation.
    authorizer.prune();
    pending[0]!(true);
    expect(await inProd).toBe(false);
    expect(authorizer.peek('alice', 'prod', 'team-a')).toBeUndefined();
    authorizer.prune();
    // Once nothing from before the revocation is in flight, a new review is kept as usual.
    const next = authorizer.canList('alice', 'prod', 'team-a');
    await waitFor(() => (pending.length === 2 ? true : undefined));
    pending[1]!(true);
    expect(await next).toBe(true);
    expect(authorizer.peek('alice', 'prod', 'team-a')).toBe(true);
  });

  test('a failed review denies, and the denial is kept for at most 5 s', async () => {
    let nowMs = 0;
    const authorizer = createAuthorizer({
      check: async () => {
        throw new Error('api server down');
      },
      ttlMs: 60_000,
      log: silentLogger,
      metrics: createPresenterMetrics(),
      credentials,
      now: () => nowMs,
    });
    expect(await authorizer.canList('alice', 'dev', 'team-a')).toBe(false);
    expect(authorizer.peek('alice', 'dev', 'team-a')).toBe(false);
    nowMs = 5001;
    expect(authorizer.peek('alice', 'dev', 'team-a')).toBeUndefined();
  });

  test('sends at most maxConcurrentReviews reviews at once and answers every question', async () => {
    const sent: string[] = [];
    let inFlight = 0;
    let mostInFlight = 0;
    const authorizer = createAuthorizer({
      // Cluster-wide denied for everyone; team-a allowed to u1 and u3 only.
      check: async (userCreds, namespace) => {
        sent.push(`${userCreds.token}:${namespace ?? '*'}`);
        mostInFlight = Math.max(mostInFlight, ++inFlight);
        await Bun.sleep(1); // an API server's answer time (not waiting for a condition)
        inFlight--;
        return namespace === 'team-a' && (userCreds.token === 'u1' || userCreds.token === 'u3');
      },
      ttlMs: 60_000,
      log: silentLogger,
      metrics: createPresenterMetrics(),
      credentials,
      maxConcurrentReviews: 2,
      maxReviewsPerUser: 1,
    });
    const users = ['u1', 'u2', 'u3', 'u4'];
    const decisions = await Promise.all(users.map((u) => authorizer.canList(u, 'dev', 'team-a')));
    expect(decisions).toEqual([true, false, true, false]);
    expect(mostInFlight).toBe(2);
    // Every question asked once.
    expect(sent.toSorted()).toEqual(users.flatMap((u) => [`${u}:*`, `${u}:team-a`]).toSorted());
  });

  test("sends at most maxReviewsPerUser of one user's reviews at once, while another user's go out beside them", async () => {
    const inFlight = new Map<string, number>();
    const most = new Map<string, number>();
    const authorizer = createAuthorizer({
      check: async (userCreds, namespace) => {
        const user = userCreds.token!;
        inFlight.set(user, (inFlight.get(user) ?? 0) + 1);
        most.set(user, Math.max(most.get(user) ?? 0, inFlight.get(user)!));
        await Bun.sleep(1); // an API server's answer time (not waiting for a condition)
        inFlight.set(user, inFlight.get(user)! - 1);
        return namespace === 'ns-1';
      },
      ttlMs: 60_000,
      log: silentLogger,
      metrics: createPresenterMetrics(),
      credentials,
      maxConcurrentReviews: 10,
      maxReviewsPerUser: 2,
    });
    const namespaces = Array.from({ length: 8 }, (_, i) => `ns-${i}`);
    const [many, few] = await Promise.all([
      authorizer.allowedNamespaces('many', 'dev', namespaces),
      authorizer.allowedNamespaces('few', 'dev', ['ns-1', 'ns-2']),
    ]);
    expect({ many, few, most: Object.fromEntries(most) }).toEqual({ many: ['ns-1'], few: ['ns-1'], most: { many: 2, few: 2 } });
  });

  test("once the slots are full, a user's questions are all answered before the next user's are sent", async () => {
    const sent: string[] = [];
    const authorizer = createAuthorizer({
      check: async (userCreds, namespace) => {
        sent.push(`${userCreds.token}:${namespace ?? '*'}`);
        await Bun.sleep(1); // an API server's answer time (not waiting for a condition)
        return false;
      },
      ttlMs: 60_000,
      log: silentLogger,
      metrics: createPresenterMetrics(),
      credentials,
      maxConcurrentReviews: 2,
      maxReviewsPerUser: 2,
    });
    const namespaces = ['ns-0', 'ns-1', 'ns-2'];
    const answers = await Promise.all(['first', 'second'].map((u) => authorizer.allowedNamespaces(u, 'dev', namespaces)));
    expect({ answers, sent }).toEqual({
      answers: [[], []],
      sent: ['first', 'second'].flatMap((u) => [`${u}:*`, ...namespaces.map((ns) => `${u}:${ns}`)]),
    });
  });

  test('a decision in one cluster never answers for another: each cluster is asked with its own credentials, and none denies for the TTL', async () => {
    const sent: string[] = [];
    let nowMs = 0;
    const authorizer = createAuthorizer({
      // alice is cluster-wide in dev only; prod allows her team-b.
      check: async (userCreds, namespace) => {
        sent.push(`${userCreds.serverUrl}:${namespace ?? '*'}`);
        return userCreds.serverUrl === 'https://dev.example' ? namespace === undefined : namespace === 'team-b';
      },
      credentials: async (username, cluster) => {
        if (cluster === 'staging') throw new AuthError('no_credentials', 'no Kubernetes credentials for this cluster');
        return credentials(username, cluster);
      },
      ttlMs: 60_000,
      log: silentLogger,
      metrics: createPresenterMetrics(),
      now: () => nowMs,
    });
    expect(await authorizer.allowedNamespaces('alice', 'dev', ['team-a', 'team-b'])).toBe('all');
    expect(await authorizer.allowedNamespaces('alice', 'prod', ['team-a', 'team-b'])).toEqual(['team-b']);
    expect(await authorizer.canList('alice', 'staging', 'team-a')).toBe(false);
    expect({
      dev: authorizer.peek('alice', 'dev', 'team-a'),
      prod: authorizer.peek('alice', 'prod', 'team-a'),
      staging: authorizer.peek('alice', 'staging', 'team-a'),
      unasked: authorizer.peek('alice', 'edge', 'team-a'),
    }).toEqual({ dev: true, prod: false, staging: false, unasked: undefined });
    expect(sent).toEqual(['https://dev.example:*', 'https://prod.example:*', 'https://prod.example:team-a', 'https://prod.example:team-b']);
    // Missing credentials are not an outage: the denial is kept for the TTL, not 5 s.
    nowMs = 10_000;
    expect(authorizer.peek('alice', 'staging', 'team-a')).toBe(false);
  });
});
