import type { Meter } from '@opentelemetry/api';
import { createAuthorizer, selfSubjectAccessReview, type AccessCheck } from './access/access-review.ts';
import type { PresenterConfig } from '../runtime/config.ts';
import { createSql } from '../storage/db.ts';
import { readLastSeq } from '../storage/event-store.ts';
import { createEventVisibility } from './access/event-visibility.ts';
import { createKindResolver } from './access/kind-resolver.ts';
import type { DiscoveryClient } from '../kube/discovery.ts';
import { startListener } from './listener.ts';
import type { Logger } from '../runtime/log.ts';
import { createNamespaceCatalog } from './access/namespace-catalog.ts';
import { createPresenterApp } from './http-app.ts';
import { createPresenterMetrics } from './core/metrics.ts';
import { createSseHub } from './sse/hub.ts';
import { createCredentialStore, type SecretReader } from './access/user-credentials.ts';

/** The settings the running service uses (a PresenterConfig satisfies it). */
export type PresenterSettings = Pick<
  PresenterConfig,
  | 'port' | 'jwtSignKey' | 'authnNamespace' | 'heartbeatIntervalMs' | 'sseRetryMs' | 'sseClientBufferBytes'
  | 'replayMaxRows' | 'authzCacheTtlMs' | 'authzStrict' | 'corsOrigins' | 'eventsMaxLimit' | 'shutdownTimeoutMs'
>;

/** A running presenter. */
export interface RunningPresenter extends AsyncDisposable {
  readonly url: string;
  readonly port: number;
  /** Graceful stop: not ready, streams told to resume and closed, server and pool stopped. */
  stop(): Promise<void>;
}

/**
 * Starts the presenter on 127.0.0.1 (`hostname` to change) with one LISTEN connection and one
 * query pool to `databaseUrl`. Migrations and waiting for the database are the caller's job.
 * Strict mode (`authzStrict`) needs `discovery` and throws at start without it.
 */
export async function startPresenter(options: {
  settings: PresenterSettings;
  databaseUrl: string;
  readSecret: SecretReader;
  log: Logger;
  meter?: Meter;
  accessCheck?: AccessCheck;
  /** API discovery for strict mode's kind → resource mapping (the presenter's own identity). */
  discovery?: DiscoveryClient;
  hostname?: string;
  namespaceRefreshMs?: number;
  /** Bun's idle cut-off for connections, in seconds (Bun's default when omitted; tests shorten it). */
  idleTimeoutSeconds?: number;
}): Promise<RunningPresenter> {
  const { settings, log } = options;
  const metrics = createPresenterMetrics(options.meter);
  // Array parameters are bound as literals (toArrayLiteral), so the pool needs no per-connection type
  // query, whose dropped promise would be an unhandled rejection after a restart (lib/storage/db.ts).
  const sql = createSql(options.databaseUrl, { max: 10, applicationName: 'events-presenter', fetchTypes: false });
  const authorizer = createAuthorizer({ check: options.accessCheck ?? selfSubjectAccessReview, ttlMs: settings.authzCacheTtlMs, log, metrics });
  const credentials = createCredentialStore({ readSecret: options.readSecret, namespace: settings.authnNamespace, ttlMs: settings.authzCacheTtlMs });
  const catalog = createNamespaceCatalog({ sql, refreshMs: options.namespaceRefreshMs ?? 60_000 });
  if (settings.authzStrict && !options.discovery) throw new Error('strict authorisation needs API discovery');
  const resolver =
    settings.authzStrict && options.discovery
      ? createKindResolver({ discovery: options.discovery, ttlMs: Math.max(settings.authzCacheTtlMs, 300_000), unknownTtlMs: settings.authzCacheTtlMs, log })
      : undefined;
  const visibility = createEventVisibility({ authorizer, catalog, resolver });
  log.info('authorisation mode', { strict: visibility.strict });
  const hub = createSseHub({ sql, startSeq: await readLastSeq(sql), visibility, catalog, settings, log, metrics });
  const listener = await startListener({ sql, channel: 'events', onWake: hub.wake, log, metrics });
  let stopping = false;
  const app = createPresenterApp({
    ...settings,
    sql,
    hub,
    visibility,
    credentials,
    catalog,
    log,
    metrics,
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
    ...(options.idleTimeoutSeconds === undefined ? {} : { idleTimeout: options.idleTimeoutSeconds }),
  });
  const port = app.server!.port!;
  log.info('presenter listening', { port });

  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      stopping = true;
      const deadline = AbortSignal.timeout(settings.shutdownTimeoutMs);
      await Promise.race([hub.close(), new Promise((resolve) => deadline.addEventListener('abort', resolve))]);
      await listener.stop();
      await app.stop(true);
      await sql.end({ timeout: Math.ceil(settings.shutdownTimeoutMs / 1000) });
      log.info('presenter stopped');
    })());
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
