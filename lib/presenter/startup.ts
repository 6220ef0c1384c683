import type { Meter } from '@opentelemetry/api';
import { createPresenterMetrics, type PresenterMetrics } from './core/metrics.ts';

/** The steps of a presenter start, each given the instruments to record on. */
export interface PresenterStartSteps<T> {
  /** Waits for the database (calling `onReady` with the wait) and migrates it. */
  prepareDatabase(onReady: (waitedMs: number) => void): Promise<void>;
  /** Starts serving with these instruments. */
  start(metrics: PresenterMetrics): Promise<T>;
}

/**
 * Runs a presenter start and records it as Krateo's dashboards expect: the database wait
 * (`db.connect.duration_seconds`), then `startup.success` or `startup.failure`. Errors are rethrown
 * (the caller exits), after being counted, so the final metrics flush reports them.
 */
export async function startPresenterProcess<T>(meter: Meter, steps: PresenterStartSteps<T>): Promise<T> {
  const metrics = createPresenterMetrics(meter);
  try {
    await steps.prepareDatabase((waitedMs) => metrics.dbConnectDuration.record(waitedMs / 1000));
    const started = await steps.start(metrics);
    metrics.startupSuccess.add(1);
    return started;
  } catch (err) {
    metrics.startupFailure.add(1);
    throw err;
  }
}
