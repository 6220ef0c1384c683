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

/** A running guard. */
export interface SessionGuard {
  stop(): void;
}

/**
 * Every `intervalMs`: runs `prune` (caches drop what expired, so unused credentials leave memory),
 * then looks up the credentials of every user with an open stream (`lookup`: the credential store,
 * cached for the same TTL). Guarantees: a user whose clientconfig Secret is gone (or unusable) has
 * every stream closed with a `credentials_revoked` resume frame within two intervals; a rotated
 * Secret's new credentials are used for later decisions; a failed read (API server down) closes
 * nothing and is retried next time (the decisions themselves still fail closed).
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
  const tick = async () => {
    if (running) return;
    running = true;
    try {
      options.prune();
      await Promise.all(
        streams.users().map(async (username) => {
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
        }),
      );
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void tick(), options.intervalMs);
  timer.unref?.();
  return { stop: () => clearInterval(timer) };
}
