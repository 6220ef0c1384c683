import type { Meter } from '@opentelemetry/api';
import type { IngesterConfig } from '../runtime/config.ts';
import type { Logger } from '../runtime/log.ts';
import { startProbeServer, type Readiness } from '../runtime/probes.ts';
import { resolveClusterName } from '../kube/cluster-name.ts';
import type { KubeHttp } from '../kube/client.ts';
import { createSql, waitForDb, type Sql } from '../storage/db.ts';
import { createEventRowWriter } from '../storage/event-store.ts';
import { createBatchWriter, type BatchWriter } from './batch-writer.ts';
import { createCompositionResolver } from './composition.ts';
import { createLeaderTerms, type LeaderTerms } from './leader-term.ts';
import { runLeaderElection, type LeaderRole } from './leader.ts';
import { createIngesterMetrics } from './metrics.ts';
import { createKubeLabelLookup } from './object-lookup.ts';
import { createIngestPipeline, type IngestPipeline } from './pipeline.ts';
import { createWatchProgress, type WatchProgress } from './watch-progress.ts';

/** How often the safe resume points are stored while leading. */
const checkpointEveryMs = 1000;
/**
 * Batches written at once, one per connection (one, at most two, writers); two measured
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

/** Dependencies of {@link startIngester}. */
export interface IngesterDeps {
  config: IngesterConfig;
  http: KubeHttp;
  log: Logger;
  meter: Meter;
  leaderPollMs?: number;
  watchTimeoutSeconds?: number;
  checkpointEveryMs?: number;
}

// The parts of a running ingester that its readiness and stop steps use.
interface IngesterParts {
  config: IngesterConfig;
  log: Logger;
  sql: Sql;
  lockSql: Sql;
  role: () => LeaderRole;
  progress: WatchProgress;
  writer: BatchWriter;
  pipeline: IngestPipeline;
  terms: LeaderTerms;
  stopElection: () => Promise<void>;
  stopProbes: () => Promise<void>;
  statusTimer?: ReturnType<typeof setInterval>;
}

/**
 * Starts the ingester on a database that is ready and migrated (`prepareDatabase`): resolves the
 * cluster name, serves probes, and competes for leadership of the cluster; while leader it watches
 * events (one watch per namespace, or one for all) and keeps partitions maintained.
 */
export async function startIngester(deps: IngesterDeps): Promise<Ingester> {
  const { config, http, log } = deps;
  const { sql, lockSql } = openPools(config);
  await waitForDb(sql, { timeoutMs: config.db.readyTimeoutMs, log });
  const clusterName = await resolveClusterName({ configured: config.clusterName, http });
  log.info('ingester starting', { cluster_name: clusterName, namespaces: config.namespaces, server: http.server });

  let role: LeaderRole = 'standby';
  const progress = createWatchProgress({ sql, clusterName, log });
  const { writer, pipeline, metrics, statusFields } = createIngestChain(deps, { sql, clusterName, progress, isLeader: () => role === 'leader' });
  const terms = createLeaderTerms({
    config, http, sql, clusterName, log, pipeline, progress, metrics,
    checkpointEveryMs: deps.checkpointEveryMs ?? checkpointEveryMs,
    watchTimeoutSeconds: deps.watchTimeoutSeconds,
  });
  const electionAbort = new AbortController();
  const election = runLeaderElection({
    sql: lockSql,
    key: clusterName,
    pollMs: deps.leaderPollMs ?? 1000,
    log,
    signal: electionAbort.signal,
    onElected: () => {
      role = 'leader';
      terms.start();
    },
    onDemoted: () => {
      role = 'standby';
      void terms.end();
    },
  });
  const parts: IngesterParts = {
    config, log, sql, lockSql, role: () => role, progress, writer, pipeline, terms,
    stopElection: async () => {
      electionAbort.abort();
      await election;
    },
    stopProbes: async () => {},
  };
  const readiness = () => checkReadiness(parts);
  const probes = startProbeServer({ port: config.port, readiness, log });
  parts.stopProbes = () => probes.stop();
  parts.statusTimer = startStatusLog(config.statusLogIntervalMs, log, () => ({ role, ...statusFields() }));
  let stopping: Promise<{ lostRows: number }> | undefined;
  return { clusterName, port: probes.port, role: () => role, readiness, stop: () => (stopping ??= stopIngester(parts)) };
}

function openPools(config: IngesterConfig): { sql: Sql; lockSql: Sql } {
  // With two writer connections one batch's send, parse and bind overlap the other's execution even
  // though the commit-order trigger serialises statement execution (BENCHMARKS.md).
  // No array types are bound or read here, and without postgres.js's per-connection type query a
  // connection (re)opened during a PostgreSQL restart cannot leave an unhandled rejection (lib/storage/db.ts).
  const sql = createSql(config.db.url, { max: writerConnections, applicationName: 'events-ingester', fetchTypes: false, schema: config.db.schema });
  const lockSql = createSql(config.db.url, { max: 1, applicationName: 'events-ingester-leader', fetchTypes: false, schema: config.db.schema });
  return { sql, lockSql };
}

// Writer, composition resolver and pipeline, wired to the metrics and to the watch progress.
function createIngestChain(
  deps: IngesterDeps,
  context: { sql: Sql; clusterName: string; progress: WatchProgress; isLeader: () => boolean },
) {
  const { config, http, log } = deps;
  const gauges = { bufferedRows: () => 0, waitingRows: () => 0, pendingLookups: () => 0 };
  const metrics = createIngesterMetrics(deps.meter, {
    queueDepth: () => gauges.bufferedRows(),
    waitingRows: () => gauges.waitingRows(),
    pendingLookups: () => gauges.pendingLookups(),
    isLeader: context.isLeader,
  });
  const writer = createBatchWriter({
    write: createEventRowWriter(context.sql),
    maxRows: config.batchMaxRows,
    maxInFlight: writerConnections,
    flushIntervalMs: config.batchFlushIntervalMs,
    bufferMaxRows: config.bufferMaxRows,
    log,
    observer: {
      onFlush: ({ rows, inserted, durationMs, records }) => {
        const newest = records[records.length - 1];
        const lagSeconds = newest ? [(Date.now() - Date.parse(newest.created_at)) / 1000] : [];
        metrics.flushed({ rows, inserted, durationMs, lagSeconds });
      },
      onRetry: ({ code }) => {
        metrics.insertFailed(code);
        metrics.retried();
      },
      onDropped: (reason, count) => metrics.dropped(reason, count),
      onSettled: (records) => context.progress.complete(records),
    },
  });
  const resolver = createCompositionResolver({
    lookup: config.compositionLookup ? createKubeLabelLookup(http) : undefined,
    ttlMs: config.compositionCacheTtlMs,
    concurrency: config.compositionLookupConcurrency,
    log,
    observer: { onResolved: metrics.compositionResolved, onLookup: metrics.compositionLookup },
  });
  gauges.bufferedRows = () => writer.bufferedRows;
  gauges.pendingLookups = () => resolver.pendingLookups;
  const pipeline = createIngestPipeline({
    clusterName: context.clusterName,
    resolver,
    writer,
    maxPendingRows: config.bufferMaxRows,
    log,
    onReceived: metrics.received,
    onDispatched: metrics.dispatched,
    onBuildFailed: metrics.buildFailed,
    onDropped: metrics.dropped,
    onQueued: (record, ticket) => context.progress.attach(record, ticket),
  });
  gauges.waitingRows = () => pipeline.pendingRows;
  const statusFields = () => ({ buffered_rows: writer.bufferedRows, pending_lookups: resolver.pendingLookups });
  return { writer, pipeline, metrics, statusFields };
}

async function checkReadiness(parts: IngesterParts): Promise<Readiness> {
  const database = await Promise.race([
    parts.sql`select 1`.then(() => true, () => false),
    Bun.sleep(2000).then(() => false),
  ]);
  const role = parts.role();
  const watching = role === 'standby' || parts.progress.allEstablished();
  return {
    ready: database && watching,
    role,
    database,
    watch_established: role === 'leader' ? watching : null,
    buffered_rows: parts.writer.bufferedRows + parts.pipeline.pendingRows,
  };
}

function startStatusLog(intervalMs: number, log: Logger, fields: () => Record<string, unknown>): ReturnType<typeof setInterval> | undefined {
  if (intervalMs <= 0) return undefined;
  return setInterval(() => log.info('pipeline status', fields()), intervalMs);
}

// The stop sequence: term, buffered rows, last checkpoint, leadership, pools, probes — in that order.
async function stopIngester(parts: IngesterParts): Promise<{ lostRows: number }> {
  const started = performance.now();
  const { config, log } = parts;
  if (parts.statusTimer) clearInterval(parts.statusTimer);
  await parts.terms.end();
  const { lostRows } = await parts.writer.close(config.shutdownTimeoutMs);
  // Bounded: with the database gone the save would wait for the driver's connect timeout.
  // Skipped when rows were lost (the database is unreachable); the last periodic checkpoint stays valid.
  if (parts.role() === 'leader' && lostRows === 0) await Promise.race([parts.progress.save(), Bun.sleep(1000)]);
  // A periodic save may still be connecting: ending its pool under it leaves an unhandled error.
  else await Promise.race([parts.progress.pendingSave(), Bun.sleep(1000)]);
  await parts.stopElection();
  await Promise.all([parts.sql.end({ timeout: 1 }), parts.lockSql.end({ timeout: 1 })]);
  await parts.stopProbes();
  log.info('ingester stopped', { duration_ms: Math.round(performance.now() - started), lost_rows: lostRows });
  return { lostRows };
}
