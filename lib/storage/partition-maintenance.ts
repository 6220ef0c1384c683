import type { Sql } from './db.ts';
import { errorFields, type Logger } from '../runtime/log.ts';
import { sleep } from '../runtime/sleep.ts';
import { dropExpiredPartitions, dropPartitionsOverSize, ensurePartitionsAround } from './partitions.ts';

/** Retention and look-ahead settings of partition maintenance. */
export interface MaintenanceSettings {
  partitionsAheadDays: number;
  retentionMs: number;
  /** 0 disables the size cap. */
  retentionMaxBytes: number;
}

/** What one maintenance pass did. */
export interface MaintenanceResult {
  created: number;
  dropped: string[];
}

/**
 * One pass: creates partitions from yesterday to `partitionsAheadDays` ahead, drops partitions
 * whose whole day is older than the retention, then (if capped) the oldest past days while the
 * table is over the size cap. Errors are thrown to the caller.
 */
export async function runMaintenanceOnce(sql: Sql, settings: MaintenanceSettings, nowMs: number): Promise<MaintenanceResult> {
  const created = await ensurePartitionsAround(sql, { nowMs, aheadDays: settings.partitionsAheadDays });
  const dropped = await dropExpiredPartitions(sql, { nowMs, retentionMs: settings.retentionMs });
  if (settings.retentionMaxBytes > 0) {
    dropped.push(...(await dropPartitionsOverSize(sql, { nowMs, maxBytes: settings.retentionMaxBytes })));
  }
  return { created, dropped };
}

/**
 * Runs maintenance now and every `intervalMs` until `signal` aborts. A failed pass is logged and
 * retried at the next interval (or sooner, after 30 s at most), never thrown.
 */
export async function runMaintenanceLoop(options: {
  sql: Sql;
  settings: MaintenanceSettings;
  intervalMs: number;
  now?: () => number;
  log: Logger;
  signal: AbortSignal;
}): Promise<void> {
  const now = options.now ?? Date.now;
  let attempt = 0;
  while (!options.signal.aborted) {
    let waitMs = options.intervalMs;
    try {
      const result = await runMaintenanceOnce(options.sql, options.settings, now());
      attempt = 0;
      options.log.info('partition maintenance done', { created: result.created, dropped: result.dropped });
    } catch (err) {
      attempt++;
      waitMs = Math.min(options.intervalMs, 30_000);
      options.log.warn('partition maintenance failed', { attempt, delay_ms: waitMs, ...errorFields(err) });
    }
    // A stop that lands during a pass has already fired 'abort': `sleep` checks for that.
    await sleep(waitMs, options.signal);
  }
}
