import type { Meter } from '@opentelemetry/api';
import type { HTMLBundle } from 'bun';
import { createAuthorizer, selfSubjectAccessReview, type AccessCheck, type Authorizer } from './access/access-review.ts';
import type { PresenterConfig } from '../runtime/config.ts';
import { createSql, defaultSchema } from '../storage/db.ts';
import { readLastSeq } from '../storage/event-store.ts';
import { createEventVisibility } from './access/event-visibility.ts';
import { createKindResolver } from './access/kind-resolver.ts';
import type { DiscoveryClient } from '../kube/discovery.ts';
import { startListener } from './listener.ts';
import type { Logger } from '../runtime/log.ts';
import { createNamespaceCatalog } from './access/namespace-catalog.ts';
import { createPresenterApp } from './http-app.ts';
import { createPresenterMetrics, type PresenterMetrics } from './core/metrics.ts';
import { createHistoryGate, type HistoryGate } from './core/history-gate.ts';
import { maxBodyBytes } from './core/request-body.ts';
import { createSseHub, type SseHub } from './sse/hub.ts';
import { startSessionGuard, type SessionGuard } from './sse/session-guard.ts';
import { createTokenVerifier, type TokenVerifier } from './access/auth-token.ts';
import { createCredentialStore, type CredentialStore, type SecretReader } from './access/user-credentials.ts';
import { createClusterCredentials, createClusterDirectory, type ClusterDirectory } from './access/cluster-routes.ts';
import type { NamespaceCatalog } from './access/namespace-catalog.ts';
import type { EventVisibility } from './access/event-visibility.ts';

/** The settings the running service uses (a PresenterConfig satisfies it). */
export type PresenterSettings = Pick<
  PresenterConfig,
  | 'port' | 'jwtSignKey' | 'authnNamespace' | 'heartbeatIntervalMs' | 'sseRetryMs' | 'sseClientBufferBytes'
  | 'replayMaxRows' | 'authzCacheTtlMs' | 'authzStrict' | 'corsOrigins' | 'eventsMaxLimit' | 'shutdownTimeoutMs'
  | 'remoteClusters'
> & {
  /** The presenter's own cluster (`CLUSTER_NAME`, resolved): rows of it are authorised with the user's clientconfig. */
  clusterName: string;
} & Partial<Pick<PresenterConfig, LimitSetting | 'jwtPublicKeyPem' | 'jwtJwksUrl' | 'jwksCacheTtlMs' | 'jwksRefreshMinIntervalMs'>>;

type LimitSetting =
  | 'authzCacheMaxEntries' | 'eventsMaxConcurrentPerUser' | 'eventsPoolSize' | 'eventsQueryTimeoutMs' | 'eventsQueueMax' | 'eventsQueueTimeoutMs'
  | 'eventsScanWindowRows' | 'sseMaxStreams' | 'sseMaxStreamsPerUser';

/** The defaults of the limits (the config module's defaults). */
export const defaultLimits: Pick<PresenterConfig, LimitSetting> = {
  authzCacheMaxEntries: 100_000,
  eventsMaxConcurrentPerUser: 4,
  eventsPoolSize: 2,
  eventsQueryTimeoutMs: 10_000,
  eventsScanWindowRows: 5000,
  eventsQueueMax: 64,
  eventsQueueTimeoutMs: 5000,
  sseMaxStreams: 50_000,
  sseMaxStreamsPerUser: 20,
};

/**
 * Bun's own cap on any request body, declared or chunked (its default is 128 MiB). Well above the
 * 1 MiB `/events` limit, which answers in JSON first (reading stops there); past this one Bun
 * answers a bare 413 without reading.
 */
const serverMaxBodyBytes = 16 * maxBodyBytes;

/**
 * The live pool (the live reader, replay, catch-up, `/readyz`; array parameters are bound as
 * literals (toArrayLiteral), so it needs no per-connection type query, whose dropped promise would
 * be an unhandled rejection after a restart, lib/storage/db.ts) and the history pool, whose
 * statements are cancelled after `eventsQueryTimeoutMs` and run without parallel workers.
 */
function createPools(databaseUrl: string, settings: Pick<PresenterConfig, 'eventsPoolSize' | 'eventsQueryTimeoutMs'>, schema: string | undefined) {
  return {
    sql: createSql(databaseUrl, { max: 10, applicationName: 'events-presenter', fetchTypes: false, schema }),
    historySql: createSql(databaseUrl, {
      schema,
      max: settings.eventsPoolSize,
      applicationName: 'events-presenter-history',
      fetchTypes: false,
      statementTimeoutMs: settings.eventsQueryTimeoutMs,
      // One process per history query: parallel workers would let a few expensive filters take
      // every core from the live reader (PostgreSQL's default is 2 workers per query).
      parallelWorkers: 0,
    }),
  };
}

/** The gate in front of the history pool: `eventsPoolSize` run, `eventsQueueMax` wait, none past `eventsQueueTimeoutMs`. */
function createGate(settings: Pick<PresenterConfig, 'eventsPoolSize' | 'eventsQueueMax' | 'eventsQueueTimeoutMs'>, metrics: PresenterMetrics): HistoryGate {
  return createHistoryGate({
    maxRunning: settings.eventsPoolSize,
    maxWaiting: settings.eventsQueueMax,
    maxWaitMs: settings.eventsQueueTimeoutMs,
    onWaited: (waitedMs, outcome) => metrics.historyWaitDuration.record(waitedMs / 1000, { outcome }),
  });
}

/** The token verifier for the keys configured (throws when none is, or one is unusable). */
function createTokens(settings: PresenterSettings): Promise<TokenVerifier> {
  return createTokenVerifier({
    signKey: settings.jwtSignKey,
    publicKeyPem: settings.jwtPublicKeyPem,
    jwksUrl: settings.jwtJwksUrl,
    jwksCacheTtlMs: settings.jwksCacheTtlMs,
    jwksRefreshMinIntervalMs: settings.jwksRefreshMinIntervalMs,
  });
}

/** What `startPresenter` needs to decide what each user may see. */
interface AccessOptions {
  settings: PresenterSettings;
  readSecret: SecretReader;
  log: Logger;
  accessCheck?: AccessCheck;
  discovery?: DiscoveryClient;
  inClusterApi?: { url: string; caPem?: string };
  /** The clock of the authorisation, credential and kind caches (default `Date.now`; tests move it). */
  now?: () => number;
}

/**
 * The user's main credentials (authentication needs them) and the visibility rule over every
 * mapped cluster (docs/decisions/010-clusters-and-api-servers.md).
 */
function createAccess(
  options: AccessOptions,
  catalog: NamespaceCatalog,
  metrics: PresenterMetrics,
): { credentials: CredentialStore; authorizer: Authorizer; visibility: EventVisibility; clusters: ClusterDirectory } {
  const { settings, log, now } = options;
  const credentials = createCredentialStore({ readSecret: options.readSecret, namespace: settings.authnNamespace, ttlMs: settings.authzCacheTtlMs, now });
  const clusters = createClusterDirectory({ ownCluster: settings.clusterName, inClusterApi: options.inClusterApi, remoteClusters: settings.remoteClusters });
  const authorizer = createAuthorizer({
    check: options.accessCheck ?? selfSubjectAccessReview,
    credentials: createClusterCredentials(clusters, credentials),
    ttlMs: settings.authzCacheTtlMs,
    maxEntries: settings.authzCacheMaxEntries,
    log,
    metrics,
    now,
  });
  if (settings.authzStrict && !options.discovery) throw new Error('strict authorisation needs API discovery');
  const resolver =
    settings.authzStrict && options.discovery
      ? createKindResolver({ discovery: options.discovery, ttlMs: Math.max(settings.authzCacheTtlMs, 300_000), unknownTtlMs: settings.authzCacheTtlMs, log, now })
      : undefined;
  const visibility = createEventVisibility({ authorizer, catalog, clusters, resolver });
  log.info('authorisation mode', { strict: visibility.strict, clusters: clusters.clusters, in_cluster_api: options.inClusterApi !== undefined });
  return { credentials, authorizer, visibility, clusters };
}

/**
 * The session guard over the hub's streams, every `authzCacheTtlMs`: the main clientconfig through
 * the cached store, the per-cluster Secrets read afresh (docs/decisions/010).
 */
function startGuard(
  hub: SseHub,
  access: { credentials: CredentialStore; authorizer: Authorizer; clusters: ClusterDirectory },
  intervalMs: number,
  log: Logger,
): SessionGuard {
  const { credentials, authorizer, clusters } = access;
  return startSessionGuard({
    streams: hub,
    lookup: (username) => credentials.current(username),
    clusterSecrets: {
      secrets: (username) => clusters.clusterSecrets(username),
      read: (username, secretName) => credentials.refresh(username, secretName),
      revoke: (username, cluster) => authorizer.revokeCluster(username, cluster),
    },
    prune: () => (authorizer.prune(), credentials.prune()),
    intervalMs,
    log,
  });
}

/** A running presenter. */
export interface RunningPresenter extends AsyncDisposable {
  readonly url: string;
  readonly port: number;
  /** Graceful stop: not ready, streams told to resume and closed, server and pool stopped. */
  stop(): Promise<void>;
  /** Runs one session-guard pass now (otherwise every `authzCacheTtlMs`); resolves when it is done. */
  checkSessions(): Promise<void>;
}

/** What {@link startPresenter} takes. */
export interface StartPresenterOptions {
  settings: PresenterSettings;
  databaseUrl: string;
  /** Our PostgreSQL schema (default `events_stack`): the connections' search_path and the NOTIFY channel. */
  databaseSchema?: string;
  readSecret: SecretReader;
  log: Logger;
  meter?: Meter;
  metrics?: PresenterMetrics; // created by startPresenterProcess; else on `meter`
  accessCheck?: AccessCheck;
  /** API discovery for strict mode's kind → resource mapping (the presenter's own identity). */
  discovery?: DiscoveryClient;
  hostname?: string;
  namespaceRefreshMs?: number;
  /** Bun's idle cut-off for connections, in seconds (Bun's default when omitted; tests shorten it). */
  idleTimeoutSeconds?: number;
  /** The Events console page (Bun's HTML import), served at `/ui`. */
  consolePage?: HTMLBundle;
  /** In a pod: the in-cluster API server (and its CA) that reviews for `clusterName` go to instead of `server-url`. */
  inClusterApi?: { url: string; caPem?: string };
  /** The clock of the authorisation, credential and kind caches (default `Date.now`; tests move it). */
  now?: () => number;
}

/**
 * Starts the presenter on 127.0.0.1 (`hostname` to change) with one LISTEN connection and two
 * query pools to `databaseUrl`: `/events` runs on its own (`eventsPoolSize` connections, each
 * statement cancelled after `eventsQueryTimeoutMs`, behind a gate where at most `eventsQueueMax`
 * requests wait, none longer than `eventsQueueTimeoutMs`), so history can never take the
 * connections of the live reader, replay and `/readyz`. Every `authzCacheTtlMs` expired decisions
 * and credentials are dropped, the streams of a user whose clientconfig Secret is gone are closed,
 * and a user whose Secret for another cluster is gone loses that cluster's allowing decisions (its
 * streams closed too when there were any). Migrations and waiting for the database are the
 * caller's job. Strict mode (`authzStrict`) needs `discovery` and throws at start without it; a
 * token key that cannot be used throws too.
 */
export async function startPresenter(options: StartPresenterOptions): Promise<RunningPresenter> {
  const { log } = options;
  const settings = { ...defaultLimits, ...options.settings };
  const metrics = options.metrics ?? createPresenterMetrics(options.meter);
  const tokens = await createTokens(settings);
  const { sql, historySql } = createPools(options.databaseUrl, settings, options.databaseSchema);
  const catalog = createNamespaceCatalog({ sql, refreshMs: options.namespaceRefreshMs ?? 60_000 });
  const access = createAccess(options, catalog, metrics);
  const { credentials, visibility } = access;
  const hub = createSseHub({ sql, startSeq: await readLastSeq(sql), visibility, catalog, settings, log, metrics });
  const listener = await startListener({ sql, channel: options.databaseSchema ?? defaultSchema, onWake: hub.wake, log, metrics });
  const guard = startGuard(hub, access, settings.authzCacheTtlMs, log);
  let stopping = false;
  const app = createPresenterApp({
    ...settings,
    tokens,
    sql: historySql,
    historyGate: createGate(settings, metrics),
    hub,
    visibility,
    credentials,
    catalog,
    log,
    metrics,
    consolePage: options.consolePage,
    isReady: async () => {
      if (stopping || !listener.subscribed) return false;
      await sql`select 1`;
      return true;
    },
  });
  app.listen({
    port: settings.port,
    hostname: options.hostname ?? '127.0.0.1',
    reusePort: false,
    maxRequestBodySize: serverMaxBodyBytes,
    ...(options.idleTimeoutSeconds === undefined ? {} : { idleTimeout: options.idleTimeoutSeconds }),
  });
  const port = app.server!.port!;
  log.info('presenter listening', { port });

  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      stopping = true;
      guard.stop();
      const deadline = AbortSignal.timeout(settings.shutdownTimeoutMs);
      await Promise.race([hub.close(), new Promise((resolve) => deadline.addEventListener('abort', resolve))]);
      await listener.stop();
      await app.stop(true);
      await Promise.all([sql, historySql].map((pool) => pool.end({ timeout: Math.ceil(settings.shutdownTimeoutMs / 1000) })));
      log.info('presenter stopped');
    })());
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    stop,
    checkSessions: () => guard.checkNow(),
    [Symbol.asyncDispose]: stop,
  };
}
