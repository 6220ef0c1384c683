import type { Sql } from '../storage/db.ts';
import { errorFields, type Logger } from '../runtime/log.ts';
import { sleep } from '../runtime/sleep.ts';

/** Leadership as seen by this replica. */
export type LeaderRole = 'standby' | 'leader';

/** Options of {@link runLeaderElection}. */
export interface LeaderElectionOptions {
  /**
   * A client with exactly one connection (`max: 1`), used for nothing else: the session advisory
   * lock lives and dies with that connection.
   */
  sql: Sql;
  /** Names the lock; one leader per key (the cluster name). */
  key: string;
  /** How often a standby tries the lock and a leader checks it still holds it. */
  pollMs: number;
  log: Logger;
  signal: AbortSignal;
  /** Called when this replica becomes leader; its returned promise is not awaited. */
  onElected(): void;
  /** Called when leadership is lost (connection replaced and the lock taken by another replica). */
  onDemoted(): void;
}

type Held = { pid: number };

/**
 * Runs leader election with a PostgreSQL session advisory lock until `signal` aborts, then
 * releases the lock. A standby polls `pg_try_advisory_lock`; when the leader dies (even by
 * `kill -9`) its connection closes, PostgreSQL frees the lock, and a standby wins within one
 * poll. The leader checks each poll that its connection is the one holding the lock (same backend
 * pid); a reconnected session has lost it and competes again, stepping down if another won.
 * Database errors are logged and retried; they never crash the process.
 */
export async function runLeaderElection(options: LeaderElectionOptions): Promise<void> {
  const { sql, log, signal } = options;
  const lockKey = `events-ingester:${options.key}`;
  let held: Held | undefined;
  let failures = 0;

  const tryLock = async (): Promise<Held | undefined> => {
    const [row] = await sql<{ locked: boolean; pid: number }[]>`
      select pg_try_advisory_lock(hashtext(${lockKey})) as locked, pg_backend_pid() as pid`;
    return row?.locked ? { pid: row.pid } : undefined;
  };

  while (!signal.aborted) {
    try {
      if (held === undefined) {
        held = await tryLock();
        if (held) {
          log.info('leadership acquired', { key: options.key, backend_pid: held.pid });
          options.onElected();
        }
      } else {
        const [row] = await sql<{ pid: number }[]>`select pg_backend_pid() as pid`;
        if (row?.pid !== held.pid) {
          log.warn('leader connection replaced, lock lost; competing again', { key: options.key });
          const again = await tryLock();
          if (again) held = again;
          else {
            held = undefined;
            log.warn('leadership lost', { key: options.key });
            options.onDemoted();
          }
        }
      }
      failures = 0;
    } catch (err) {
      failures++;
      // A leader keeps working while the database is unreachable: nobody else can take the lock
      // until the database is back, and then the pid check above settles who leads.
      log.warn('leader election query failed', { attempt: failures, delay_ms: options.pollMs, ...errorFields(err) });
    }
    await sleep(options.pollMs, signal);
  }
  if (held) {
    await sql`select pg_advisory_unlock(hashtext(${lockKey}))`.catch(() => {});
    log.info('leadership released', { key: options.key });
  }
}
