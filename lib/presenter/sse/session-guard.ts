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

/**
 * Every `intervalMs`: runs `prune` (caches drop what expired, so unused credentials leave memory),
 * then looks up the credentials of every user with an open stream (`lookup`: the credential store,
 * cached for the same TTL). Guarantees: a user whose clientconfig Secret is gone (or unusable) has
 * every stream closed with a `credentials_revoked` resume frame within two intervals; a rotated
 * Secret's new credentials are used for later decisions; a failed read (API server down) closes
 * nothing and is retried next time (the decisions themselves still fail closed). At most
 * `lookupsAtOnce` lookups run at once, and one pass at a time.
 */
export function startSessionGuard(options: {
  streams: GuardedStreams;
  lookup: (username: string) => Promise<UserCredentials | undefined>;
  prune: () => void;
  intervalMs: number;
  log: Logger;
}): SessionGuard {
  const { streams, log } = options;
  let running = false;
  const check = async (username: string) => {
    try {
      const creds = await options.lookup(username);
      if (creds) streams.updateCredentials(username, creds);
      else {
        log.info('credentials gone, closing streams', { user: username });
        streams.closeUser(username, 'credentials_revoked');
      }
    } catch (err) {
      log.warn('credentials check failed, streams kept', { user: username, ...errorFields(err) });
    }
  };
  const tick = async () => {
    if (running) return;
    running = true;
    try {
      options.prune();
      const users = streams.users();
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
