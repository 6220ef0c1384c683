import type { Meter } from '@opentelemetry/api';

/** Why an event was not stored: the closed list (every drop is counted with one of these). */
export type DropReason = 'missing_uid' | 'rejected_by_database' | 'shutdown_timeout';

/** The ingester's instruments, with one method per thing that happens (see docs/metrics-ingester.md). */
export interface IngesterMetrics {
  received(source: 'list' | 'watch'): void;
  dispatched(): void;
  buildFailed(reason: DropReason): void;
  dropped(reason: DropReason, count: number): void;
  flushed(info: { rows: number; inserted: number; durationMs: number; lagSeconds: readonly number[] }): void;
  insertFailed(code: string | undefined): void;
  retried(): void;
  relisted(namespace: string, reason: 'start' | 'expired'): void;
  reconnected(namespace: string): void;
  compositionResolved(source: string): void;
  compositionLookup(outcome: string, durationMs: number): void;
}

const prefix = 'events_ingester';

// Krateo's `type` attribute of db.insert.failure, from the SQLSTATE: no code means the connection
// failed; class 22 (data exception) and 23 (integrity) mean a row was refused; anything else is
// the database's own state (locks, resources, shutdown).
function failureType(code: string | undefined): 'connection' | 'data' | 'database' {
  if (code === undefined) return 'connection';
  return code.startsWith('22') || code.startsWith('23') ? 'data' : 'database';
}

/**
 * Creates the instruments on `meter`. `state` is read at collection time for the gauges (queue
 * depth, rows waiting for a lookup, pending lookups, leadership). Names and the attributes Krateo's
 * dashboards group by are those of Krateo's Go events-ingester where the concept is the same.
 */
export function createIngesterMetrics(
  meter: Meter,
  state: { queueDepth: () => number; waitingRows: () => number; pendingLookups: () => number; isLeader: () => boolean },
): IngesterMetrics {
  const received = meter.createCounter(`${prefix}.events.received`, { unit: '{event}', description: 'Event versions received from the API server (list or watch)' });
  const dispatched = meter.createCounter(`${prefix}.events.dispatched`, { unit: '{event}', description: 'Event versions handed to the record builder' });
  const buildFailure = meter.createCounter(`${prefix}.records.build.failure`, { unit: '{event}', description: 'Event versions that could not become a row, by reason' });
  const dropped = meter.createCounter(`${prefix}.events.dropped`, { unit: '{event}', description: 'Event versions not stored, by reason' });
  const insertRows = meter.createCounter(`${prefix}.db.insert.rows`, { unit: '{row}', description: 'Rows newly inserted' });
  const duplicates = meter.createCounter(`${prefix}.db.insert.duplicates`, { unit: '{row}', description: 'Rows skipped because that version was already stored' });
  const insertFailure = meter.createCounter(`${prefix}.db.insert.failure`, { unit: '{statement}', description: 'Failed insert statements, by SQLSTATE' });
  const retries = meter.createCounter(`${prefix}.db.retries`, { unit: '{retry}', description: 'Batch write retries after a database error' });
  const flushDuration = meter.createHistogram(`${prefix}.batch.flush.duration_seconds`, {
    unit: 's',
    description: 'Duration of one successful batch insert statement',
    advice: { explicitBucketBoundaries: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] },
  });
  const flushSize = meter.createHistogram(`${prefix}.batch.flush.size`, {
    unit: '{row}',
    description: 'Rows per batch insert statement',
    advice: { explicitBucketBoundaries: [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000] },
  });
  const lag = meter.createHistogram(`${prefix}.event.lag_seconds`, {
    unit: 's',
    description: 'Time from the event version\'s last-seen time (created_at) to its commit',
    advice: { explicitBucketBoundaries: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600] },
  });
  const relists = meter.createCounter(`${prefix}.watch.relists`, { unit: '{list}', description: 'Full lists of events, by namespace and reason (start, expired)' });
  const reconnects = meter.createCounter(`${prefix}.watch.reconnects`, { unit: '{reconnect}', description: 'Watch reconnects after an error, by namespace' });
  const resolutions = meter.createCounter(`${prefix}.composition.resolutions`, { unit: '{event}', description: 'Composition id resolutions, by source (own_uid, event_label, cache_hit, lookup, none)' });
  const lookups = meter.createCounter(`${prefix}.composition.lookups`, { unit: '{request}', description: 'Involved-object lookups, by outcome' });
  const lookupDuration = meter.createHistogram(`${prefix}.composition.lookup.duration_seconds`, {
    unit: 's',
    description: 'Duration of one involved-object lookup, by result',
    advice: { explicitBucketBoundaries: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] },
  });
  meter
    .createObservableGauge(`${prefix}.queue.depth`, { unit: '{row}', description: 'Rows buffered and not yet committed' })
    .addCallback((r) => r.observe(state.queueDepth()));
  meter
    .createObservableGauge(`${prefix}.record_channel.depth`, { unit: '{row}', description: 'Rows built or being built that wait for a composition lookup before the writer' })
    .addCallback((r) => r.observe(state.waitingRows()));
  meter
    .createObservableGauge(`${prefix}.composition.pending`, { unit: '{request}', description: 'Composition lookups queued or running' })
    .addCallback((r) => r.observe(state.pendingLookups()));
  meter
    .createObservableGauge(`${prefix}.leader`, { unit: '1', description: '1 while this replica is the active ingester, else 0' })
    .addCallback((r) => r.observe(state.isLeader() ? 1 : 0));

  return {
    received: (source) => received.add(1, { source }),
    dispatched: () => dispatched.add(1),
    buildFailed: (reason) => buildFailure.add(1, { reason }),
    dropped: (reason, count) => dropped.add(count, { reason }),
    flushed(info) {
      insertRows.add(info.inserted);
      if (info.rows > info.inserted) duplicates.add(info.rows - info.inserted);
      flushDuration.record(info.durationMs / 1000);
      flushSize.record(info.rows);
      for (const seconds of info.lagSeconds) lag.record(seconds);
    },
    insertFailed: (code) => insertFailure.add(1, { error_code: code ?? 'connection', type: failureType(code) }),
    retried: () => retries.add(1),
    relisted: (namespace, reason) => relists.add(1, { namespace, reason }),
    reconnected: (namespace) => reconnects.add(1, { namespace }),
    compositionResolved: (source) => resolutions.add(1, { source }),
    compositionLookup(outcome, durationMs) {
      lookups.add(1, { outcome });
      lookupDuration.record(durationMs / 1000, { result: outcome });
    },
  };
}
