// Benchmark: authorisation warm-up, the presenter's first decisions for many users at once (what a
// presenter does when `--users` users' streams see events from `--namespaces` namespaces for the
// first time). Each user asks `allowedNamespaces` over every namespace (one SelfSubjectAccessReview
// per namespace plus the cluster-wide one, as the user, over HTTPS with its client certificate) at
// the same moment; measured: time until the first, half and all users have every decision.
// Baseline in the same run: the same authorizer with no limit on reviews in flight.
// Usage: bun bench/authz-warmup.ts [--users 100] [--namespaces 100]
import { createAuthorizer, selfSubjectAccessReview } from '../lib/presenter/access/access-review.ts';
import { silentLogger } from '../lib/runtime/log.ts';
import { createPresenterMetrics } from '../lib/presenter/core/metrics.ts';
import type { UserCredentials } from '../lib/presenter/access/user-credentials.ts';
import { startSimulator } from '../dev/simulator/index.ts';
import { log, machineInfo, numberFlag, printResults, type ResultRow } from './support/report.ts';

const userCount = numberFlag('users', 100);
const namespaceCount = numberFlag('namespaces', 100);

await using sim = await startSimulator();
const namespaces = Array.from({ length: namespaceCount }, (_, i) => `team-${i}`);

/** Fresh users (new certificates: no kept-alive connection from an earlier run) each allowed one namespace. */
async function makeUsers(prefix: string): Promise<{ username: string; creds: UserCredentials }[]> {
  const users: { username: string; creds: UserCredentials }[] = [];
  for (let k = 0; k < userCount; k++) {
    const username = `${prefix}${k}`;
    const { certPem, keyPem } = await sim.issueClientCert(username);
    sim.setRbac(username, [{ verbs: ['list'], resources: ['events'], apiGroups: [''], namespaces: [namespaces[k % namespaceCount]!] }]);
    users.push({ username, creds: { serverUrl: sim.url, caPem: sim.caPem, certPem, keyPem } });
  }
  return users;
}

/** Ms until the first, half and all users had all their decisions; checks every answer. */
async function warmUp(prefix: string, limits: { maxConcurrentReviews?: number; maxReviewsPerUser?: number }) {
  const users = await makeUsers(prefix);
  const credsOf = new Map(users.map((u) => [u.username, u.creds]));
  const authorizer = createAuthorizer({
    check: selfSubjectAccessReview,
    credentials: async (username) => credsOf.get(username)!,
    ttlMs: 3_600_000,
    log: silentLogger,
    metrics: createPresenterMetrics(),
    ...limits,
  });
  const start = performance.now();
  const doneAt: number[] = [];
  const answers = await Promise.all(
    users.map(async ({ username }) => {
      const allowed = await authorizer.allowedNamespaces(username, 'bench', namespaces);
      doneAt.push(performance.now() - start);
      return allowed;
    }),
  );
  const wrong = answers.filter((allowed, k) => allowed === 'all' || allowed.length !== 1 || allowed[0] !== namespaces[k % namespaceCount]).length;
  if (wrong > 0) throw new Error(`${wrong} users got wrong decisions (a review failed?)`);
  doneAt.sort((a, b) => a - b);
  return { first: doneAt[0]!, half: doneAt[Math.floor(doneAt.length / 2)]!, all: doneAt.at(-1)! };
}

const reviews = userCount * (namespaceCount + 1);
const unlimited = await warmUp('base', { maxConcurrentReviews: Number.MAX_SAFE_INTEGER, maxReviewsPerUser: Number.MAX_SAFE_INTEGER });
log(`unlimited: ${JSON.stringify(unlimited)}`);
const limited = await warmUp('lim', {});
log(`default limits: ${JSON.stringify(limited)}`);

const rows: ResultRow[] = (['first', 'half', 'all'] as const).map((which) => ({
  bench: 'authz-warmup',
  metric: `${userCount} users × ${namespaceCount} namespaces (${reviews} reviews): ${which === 'all' ? 'all users' : `${which} user${which === 'half' ? 's' : ''}`} decided`,
  value: limited[which],
  unit: 'ms',
  baseline: unlimited[which],
  baselineName: 'no limit in flight',
  ratio: limited[which] / unlimited[which],
  ...(which === 'all' ? { note: `${Math.round(reviews / (limited.all / 1000))} reviews/s vs ${Math.round(reviews / (unlimited.all / 1000))} reviews/s` } : {}),
}));
printResults(rows, { machine: machineInfo(), users: userCount, namespaces: namespaceCount });
