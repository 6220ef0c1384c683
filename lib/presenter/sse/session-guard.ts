import type { UserCredentials } from '../access/user-credentials.ts';
import { errorFields, type Logger } from '../../runtime/log.ts';

/** What the guard needs of the hub. */
export interface GuardedStreams {
  /** Users with at least one open stream. */
  users(): string[];
  /** Sends each of the user's streams a resume frame with `reason` and closes it. */
  closeUser(username: string, reason: 'credentials_revoked'): void;
  /** Replaces the credentials the user's decisions are refreshed with (a rotated Secret). */
  updateCredentials(username: string, creds: UserCredentials): void;
}

/** Secret lookups in flight at once during one pass. */
const lookupsAtOnce = 8;

/** A running guard. */
export interface SessionGuard {
  stop(): void;
  /** Runs one pass now (resolves when done; a pass already running makes this a no-op). */
  checkNow(): Promise<void>;
}

/** How the guard checks the Secrets of other clusters (REMOTE_CLUSTERS entries with their own `secretName`). */
export interface ClusterSecretChecks {
  /** The user's Secrets other than the main clientconfig, each with the clusters it is the credentials of. */
  secrets(username: string): { secretName: string; clusters: readonly string[] }[];
  /** Reads the Secret now (later reviews use what was read); undefined when it is missing or unusable. */
  read(username: string, secretName: string): Promise<UserCredentials | undefined>;
  /** Drops the user's allowing decisions in `cluster`; returns how many there were. */
  revoke(username: string, cluster: string): number;
}

const pairKey = (username: string, secretName: string) => `${username}\u0000${secretName}`;

/**
 * The per-cluster half of a pass for one user whose main Secret is there. A Secret seen missing for
 * the first time drops the user's allowing decisions for its clusters and, when there were any,
 * closes the user's streams (`credentials_revoked`): the client resumes, and every row of those
 * clusters is asked about again, and denied. `missing` remembers the pairs already handled, so a
 * user who never had such a Secret costs one read a pass and nothing more.
 */
async function checkClusterSecrets(username: string, checks: ClusterSecretChecks, missing: Set<string>, streams: GuardedStreams, log: Logger) {
  for (const { secretName, clusters } of checks.secrets(username)) {
    const key = pairKey(username, secretName);
    try {
      if (await checks.read(username, secretName)) {
        missing.delete(key);
        continue;
      }
    } catch (err) {
      log.warn('cluster credentials check failed, streams kept', { user: username, secret: secretName, ...errorFields(err) });
      continue;
    }
    if (missing.has(key)) continue;
    missing.add(key);
    const revoked = clusters.reduce((sum, cluster) => sum + checks.revoke(username, cluster), 0);
    if (revoked === 0) continue;
    log.info('cluster credentials gone, closing streams', { user: username, secret: secretName, clusters, decisions: revoked });
    streams.closeUser(username, 'credentials_revoked');
  }
}

/**
 * Every `intervalMs`: runs `prune` (caches drop what expired, so unused credentials leave memory),
 * then looks up the credentials of every user with an open stream (`lookup`: the credential store,
 * cached for the same TTL) and re-reads the user's per-cluster Secrets (`clusterSecrets`).
 * Guarantees: a user whose clientconfig Secret is gone (or unusable) has every stream closed with
 * a `credentials_revoked` resume frame within two intervals; when a user's Secret for another
 * cluster is gone, the first pass that reads it so drops every decision allowing anything of that
 * cluster (nothing more of it is delivered, replayed or listed; a review already in flight then
 * denies and is not kept) and, if one allowed something, closes every stream the same way; a rotated Secret's new credentials are used for later decisions; a
 * failed read (API server down) closes nothing and is retried next time (the decisions themselves
 * still fail closed). At most `lookupsAtOnce` users are checked at once, and one pass at a time.
 */
export function startSessionGuard(options: {
  streams: GuardedStreams;
  lookup: (username: string) => Promise<UserCredentials | undefined>;
  clusterSecrets?: ClusterSecretChecks;
  prune: () => void;
  intervalMs: number;
  log: Logger;
}): SessionGuard {
  const { streams, log, clusterSecrets } = options;
  // (user, Secret) pairs seen missing, for users with open streams.
  const missing = new Set<string>();
  let running = false;
  const check = async (username: string) => {
    try {
      const creds = await options.lookup(username);
      if (!creds) {
        log.info('credentials gone, closing streams', { user: username });
        streams.closeUser(username, 'credentials_revoked');
        return;
      }
      streams.updateCredentials(username, creds);
    } catch (err) {
      log.warn('credentials check failed, streams kept', { user: username, ...errorFields(err) });
      return;
    }
    if (clusterSecrets) await checkClusterSecrets(username, clusterSecrets, missing, streams, log);
  };
  const tick = async () => {
    if (running) return;
    running = true;
    try {
      options.prune();
      const users = streams.users();
      const watched = new Set(users);
      for (const key of missing) if (!watched.has(key.slice(0, key.indexOf('\u0000')))) missing.delete(key);
      // A few lookups at a time: each is a GET to the API server once the cached Secret expired.
      const next = async (): Promise<void> => {
        for (let username = users.pop(); username !== undefined; username = users.pop()) await check(username);
      };
      await Promise.all(Array.from({ length: Math.min(lookupsAtOnce, users.length) }, next));
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void tick(), options.intervalMs);
  timer.unref?.();
  return { stop: () => clearInterval(timer), checkNow: tick };
}
