import type { Sql } from '../storage/db.ts';
import { errorFields, type Logger } from '../runtime/log.ts';
import type { PresenterMetrics } from './core/metrics.ts';

/** The process's single LISTEN subscription. */
export interface Listener {
  /** True once subscribed (postgres.js re-subscribes by itself after a connection loss). */
  readonly subscribed: boolean;
  stop(): Promise<void>;
}

/**
 * LISTENs on `channel` over one dedicated connection of `sql` and calls `onWake` for every
 * notification and after every (re)subscribe. The payload is only a hint: callers read the rows by
 * cursor, and the wake-up after a re-subscribe is what catches up on NOTIFYs lost while the
 * connection was down.
 */
export async function startListener(options: {
  sql: Sql;
  channel: string;
  onWake: () => void;
  log: Logger;
  metrics: PresenterMetrics;
}): Promise<Listener> {
  let subscriptions = 0;
  const subscription = options.sql.listen(
    options.channel,
    () => {
      options.metrics.listenerNotifications.add(1);
      options.onWake();
    },
    () => {
      subscriptions++;
      if (subscriptions > 1) {
        options.metrics.listenerDisconnects.add(1);
        options.log.info('listen resubscribed', { channel: options.channel });
      }
      options.onWake();
    },
  );
  const { unlisten } = await subscription.catch((err: unknown) => {
    options.metrics.listenerConnectFailure.add(1);
    throw err;
  });
  return {
    get subscribed() {
      return subscriptions > 0;
    },
    async stop() {
      await unlisten().catch((err: unknown) => options.log.warn('unlisten failed', errorFields(err)));
    },
  };
}
