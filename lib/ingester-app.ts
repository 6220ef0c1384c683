import type { Meter } from '@opentelemetry/api';
import { createBatchWriter } from './batch-writer.ts';
import { resolveClusterName } from './cluster-name.ts';
import { createCompositionResolver } from './composition.ts';
import type { IngesterConfig } from './config.ts';
import { createSql, runMigrations, waitForDb } from './db.ts';
import { runEventWatch } from './event-watch.ts';
import { createEventRowWriter, type EventRecord } from './event-store.ts';
import { createIngestPipeline } from './ingest-pipeline.ts';
import { createIngesterMetrics } from './ingester-metrics.ts';
import type { KubeHttp } from './kube-client.ts';
import { createKubeLabelLookup } from './kube-lookup.ts';
import { runLeaderElection, type LeaderRole } from './leader.ts';
import { errorFields, type Logger } from './log.ts';
import { runMaintenanceLoop } from './maintenance.ts';
import { startProbeServer, type Readiness } from './probes.ts';
import { createCheckpointTracker, loadCheckpoints, saveCheckpoints, type CheckpointTicket } from './watch-checkpoint.ts';

/** How often the safe resume points are stored while leading. */
const checkpointEveryMs = 1000;
/**
 * Batches written at once, one per connection (SPEC §9: one, at most two, writers); two measured
 * 1.8x the insert rate of one (BENCHMARKS.md).
 */
const writerConnections = 2;

/** A running ingester. */
export interface Ingester {
  readonly clusterName: string;
  /** The probe server's bound port. */
  readonly port: number;
  role(): LeaderRole;
  readiness(): Promise<Readiness>;
  /**
   * Graceful stop: stops the watches, writes every buffered row (at most `shutdownTimeoutMs`),
   * releases leadership and closes the pools. Resolves with the number of rows it could not write.
   */
  stop(): Promise<{ lostRows: number }>;
}

/**
 * Starts the ingester: waits for the database and migrates it (if configured), resolves the
 * cluster name, serves probes, and competes for leadership of the cluster; while leader it watches
 * events (one watch per namespace, or one for all) and keeps partitions maintained.
 */
export async function startIngester(deps: {
  config: IngesterConfig;
  http: KubeHttp;
  log: Logger;
  meter: Meter;
  leaderPollMs?: number;
  watchTimeoutSeconds?: number;
  checkpointEveryMs?: number;
}): Promise<Ingester> {
  const { config, http, log } = deps;
  if (config.db.migrateOnStart) {
    const probe = createSql(config.db.url, { max: 1, applicationName: 'events-ingester-probe', fetchTypes: false });
    try {
      await waitForDb(probe, { timeoutMs: config.db.readyTimeoutMs, log });
    } finally {
      await probe.end({ timeout: 1 });
    }
    await runMigrations(config.db.url, { log });
  }
  // With two writer connections one batch's send, parse and bind overlap the other's execution even
  // though the commit-order trigger serialises statement execution (BENCHMARKS.md).
  // No array types are bound or read here, and without postgres.js's per-connection type query a
  // connection (re)opened during a PostgreSQL restart cannot leave an unhandled rejection (lib/db.ts).
  const sql = createSql(config.db.url, { max: writerConnections, applicationName: 'events-ingester', fetchTypes: false });
  const lockSql = createSql(config.db.url, { max: 1, applicationName: 'events-ingester-leader', fetchTypes: false });
  await waitForDb(sql, { timeoutMs: config.db.readyTimeoutMs, log });
  const clusterName = await resolveClusterName({ configured: config.clusterName, http });
  log.info('ingester starting', { cluster_name: clusterName, namespaces: config.namespaces, server: http.server });

  let role: LeaderRole = 'standby';
  // Each queued row's place in its watch's delivery order; completing it may advance the checkpoint.
  const tickets = new WeakMap<EventRecord, CheckpointTicket>();
  let tracker = createCheckpointTracker();
  const saved = new Map<string, string>();
  let saving: Promise<void> | undefined;
  const saveProgress = () => (saving ??= writeProgress().finally(() => (saving = undefined)));
  const writeProgress = async () => {
    const changed = new Map<string, string>();
    for (const scope of established.keys()) {
      const safe = tracker.safeVersion(scope);
      if (safe !== undefined && saved.get(scope) !== safe) changed.set(scope, safe);
    }
    if (changed.size === 0) return;
    try {
      await saveCheckpoints(sql, clusterName, changed);
      for (const [scope, rv] of changed) saved.set(scope, rv);
    } catch (err) {
      log.warn('checkpoint not saved', errorFields(err));
    }
  };
  let term: { abort: AbortController; done: Promise<unknown> } | undefined;
  const established = new Map<string, boolean>();
  let writerRef: { bufferedRows: number } = { bufferedRows: 0 };
  let resolverRef: { pendingLookups: number } = { pendingLookups: 0 };

  const metrics = createIngesterMetrics(deps.meter, {
    queueDepth: () => writerRef.bufferedRows,
    pendingLookups: () => resolverRef.pendingLookups,
    isLeader: () => role === 'leader',
  });
  const writer = createBatchWriter({
    write: createEventRowWriter(sql),
    maxRows: config.batchMaxRows,
    maxInFlight: writerConnections,
    flushIntervalMs: config.batchFlushIntervalMs,
    bufferMaxRows: config.bufferMaxRows,
    log,
    observer: {
      onFlush: ({ rows, inserted, durationMs, records }) => {
        const nowMs = Date.now();
        const lagSeconds = records.length > 0 ? [(nowMs - Date.parse(records[records.length - 1]!.created_at)) / 1000] : [];
        metrics.flushed({ rows, inserted, durationMs, lagSeconds });
      },
      onRetry: ({ code }) => {
        metrics.insertFailed(code);
        metrics.retried();
      },
      onDropped: (reason, count) => metrics.dropped(reason, count),
      onSettled: (records) => {
        for (const record of records) tickets.get(record)?.complete();
      },
    },
  });
  writerRef = writer;
  const resolver = createCompositionResolver({
    lookup: config.compositionLookup ? createKubeLabelLookup(http) : undefined,
    ttlMs: config.compositionCacheTtlMs,
    concurrency: config.compositionLookupConcurrency,
    log,
    observer: { onResolved: metrics.compositionResolved, onLookup: metrics.compositionLookup },
  });
  resolverRef = resolver;
  const pipeline = createIngestPipeline({
    clusterName,
    resolver,
    writer,
    maxPendingRows: config.bufferMaxRows,
    log,
    onReceived: metrics.received,
    onDropped: metrics.dropped,
    onQueued: (record, ticket) => tickets.set(record, ticket),
  });

  const namespaces: (string | undefined)[] = config.namespaces.length > 0 ? config.namespaces : [undefined];
  const startTerm = () => {
    const abort = new AbortController();
    for (const ns of namespaces) established.set(ns ?? '*', false);
    // A new term starts from what is stored: the previous leader (or this process) may have moved on.
    tracker = createCheckpointTracker();
    saved.clear();
    const checkpointTimer = setInterval(() => void saveProgress(), deps.checkpointEveryMs ?? checkpointEveryMs);
    abort.signal.addEventListener('abort', () => clearInterval(checkpointTimer), { once: true });
    const watches = namespaces.map(async (namespace) => {
      const stored = await loadCheckpoints(sql, clusterName).catch((err: unknown) => {
        log.warn('checkpoints not readable, listing instead', errorFields(err));
        return new Map<string, string>();
      });
      return runEventWatch({
        http,
        namespace,
        tracker,
        resumeFrom: stored.get(namespace ?? '*'),
        sink: (event, source, ticket) => pipeline.accept(event, source, ticket),
        signal: abort.signal,
        log,
        watchTimeoutSeconds: deps.watchTimeoutSeconds,
        observer: {
          onEstablished: () => established.set(namespace ?? '*', true),
          onReconnect: () => {
            established.set(namespace ?? '*', false);
            metrics.reconnected(namespace ?? '*');
          },
          onRelist: (reason) => metrics.relisted(namespace ?? '*', reason),
        },
      });
    });
    const maintenance = runMaintenanceLoop({
      sql,
      settings: config,
      intervalMs: config.maintenanceIntervalMs,
      log,
      signal: abort.signal,
    });
    term = { abort, done: Promise.allSettled([...watches, maintenance]) };
  };
  const endTerm = async () => {
    const current = term;
    term = undefined;
    if (!current) return;
    current.abort.abort();
    await current.done;
    // Lookups have their own timeout; this bound keeps a hung one from holding up the drain.
    await Promise.race([pipeline.settle(), Bun.sleep(Math.min(10_000, config.shutdownTimeoutMs))]);
  };

  const electionAbort = new AbortController();
  const election = runLeaderElection({
    sql: lockSql,
    key: clusterName,
    pollMs: deps.leaderPollMs ?? 1000,
    log,
    signal: electionAbort.signal,
    onElected: () => {
      role = 'leader';
      startTerm();
    },
    onDemoted: () => {
      role = 'standby';
      void endTerm();
    },
  });

  const readiness = async (): Promise<Readiness> => {
    const database = await Promise.race([
      sql`select 1`.then(() => true, () => false),
      Bun.sleep(2000).then(() => false),
    ]);
    const watching = role === 'standby' || [...established.values()].every(Boolean);
    return {
      ready: database && watching,
      role,
      database,
      watch_established: role === 'leader' ? watching : null,
      buffered_rows: writer.bufferedRows + pipeline.pendingRows,
    };
  };
  const probes = startProbeServer({ port: config.port, readiness, log });

  const statusTimer =
    config.statusLogIntervalMs > 0
      ? setInterval(() => {
          log.info('pipeline status', { role, buffered_rows: writer.bufferedRows, pending_lookups: resolver.pendingLookups });
        }, config.statusLogIntervalMs)
      : undefined;

  let stopping: Promise<{ lostRows: number }> | undefined;
  const stop = async (): Promise<{ lostRows: number }> => {
    const started = performance.now();
    if (statusTimer) clearInterval(statusTimer);
    await endTerm();
    const { lostRows } = await writer.close(config.shutdownTimeoutMs);
    // Bounded: with the database gone the save would wait for the driver's connect timeout.
    // Skipped when rows were lost (the database is unreachable); the last periodic checkpoint stays valid.
    if (role === 'leader' && lostRows === 0) await Promise.race([saveProgress(), Bun.sleep(1000)]);
    // A periodic save may still be connecting: ending its pool under it leaves an unhandled error.
    else await Promise.race([saving ?? Promise.resolve(), Bun.sleep(1000)]);
    electionAbort.abort();
    await election;
    await Promise.all([sql.end({ timeout: 1 }), lockSql.end({ timeout: 1 })]);
    await probes.stop();
    log.info('ingester stopped', { duration_ms: Math.round(performance.now() - started), lost_rows: lostRows });
    return { lostRows };
  };

  return {
    clusterName,
    port: probes.port,
    role: () => role,
    readiness,
    stop: () => (stopping ??= stop()),
  };
}
