import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { readInClusterApi, readRemoteClusters, type RemoteCluster } from './cluster-settings.ts';
import { formatDurationMs, parseDurationMs } from './duration.ts';

// Settings that become timers: JavaScript timers fire at once past 2^31 - 1 ms (≈ 24.8 days), so a
// longer value would turn an hourly loop into a busy one. 24 days, a round figure below that.
const maxTimerMs = 576 * 3_600_000;

/** Environment variables as the process received them. */
export type Env = Record<string, string | undefined>;

/** One documented setting: the README's configuration table is generated from (and checked against) these. */
export interface Setting {
  name: string;
  /** The default as written in the README, or '—' for none. */
  default: string;
  description: string;
  secret?: boolean;
}

/** Thrown when one or more settings are malformed; the message names every bad variable (never a secret's value). */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

const dbSettings = (hostDefault: string): Setting[] => [
  { name: 'DATABASE_URL', default: '—', description: 'PostgreSQL URL; when set, the DB_* settings are ignored', secret: true },
  { name: 'DB_HOST', default: hostDefault, description: 'Database host' },
  { name: 'DB_PORT', default: '5432', description: 'Database port' },
  { name: 'DB_NAME', default: '—', description: 'Database name' },
  { name: 'DB_USER', default: '—', description: 'Database username' },
  { name: 'DB_PASS', default: '—', description: 'Database password', secret: true },
  { name: 'DB_PARAMS', default: '—', description: 'Extra connection parameters (e.g. `sslmode=verify-full`; `require` verifies no certificate)' },
  { name: 'DB_READY_TIMEOUT', default: '2m', description: 'Max wait for PostgreSQL readiness at start' },
  { name: 'MIGRATE_ON_START', default: 'true', description: 'Apply database migrations at start (under an advisory lock)' },
  { name: 'DB_SCHEMA', default: 'events_stack', description: 'PostgreSQL schema holding all our tables, functions and migrations; also the NOTIFY channel (applies with `DATABASE_URL` too; lower-case identifier)' },
];

/** Every setting the ingester reads, with its default. */
export const ingesterSettings: Setting[] = [
  { name: 'PORT', default: '8080', description: 'Health probe server port' },
  ...dbSettings('—'),
  { name: 'NAMESPACES', default: 'all (if empty)', description: 'Comma-separated list of namespaces to watch' },
  { name: 'CLUSTER_NAME', default: 'kubeconfig cluster name', description: 'Cluster name stored with each event and prefixed to `global_uid`' },
  { name: 'KUBECONFIG', default: '~/.kube/config or in-cluster', description: 'Kubeconfig file of the watched cluster' },
  { name: 'BATCH_MAX_ROWS', default: '1000', description: 'Largest number of rows in one insert statement' },
  { name: 'BATCH_FLUSH_INTERVAL', default: '0s', description: 'Longest time a row reaching an idle writer waits for more rows (0: the rows that arrived with it)' },
  { name: 'BUFFER_MAX_ROWS', default: '20000', description: 'Rows held in memory before the watch is paused (back-pressure)' },
  { name: 'COMPOSITION_LOOKUP', default: 'true', description: 'Look up the involved object to find its `krateo.io/composition-id` label' },
  { name: 'COMPOSITION_CACHE_TTL', default: '5m', description: 'How long a composition lookup result (found or not) is reused' },
  { name: 'COMPOSITION_LOOKUP_CONCURRENCY', default: '8', description: 'Most composition lookups in flight at once' },
  { name: 'RETENTION', default: '720h', description: 'Partitions older than this are dropped (Go duration; `d` for days accepted)' },
  { name: 'RETENTION_MAX_BYTES', default: '0', description: 'When above 0, oldest partitions are dropped while the table is larger than this' },
  { name: 'PARTITIONS_AHEAD_DAYS', default: '3', description: 'Daily partitions created ahead of today' },
  { name: 'MAINTENANCE_INTERVAL', default: '1h', description: 'How often partitions are created ahead and retention applied' },
  { name: 'SHUTDOWN_TIMEOUT', default: '20s', description: 'Longest graceful drain on SIGTERM/SIGINT' },
  { name: 'STATUS_LOG_INTERVAL', default: '30s', description: 'How often a pipeline status line is logged (0 disables)' },
  { name: 'DEBUG', default: 'false', description: 'Enable debug logging' },
  { name: 'OTEL_ENABLED', default: 'false', description: 'Enable OpenTelemetry metrics export' },
  { name: 'OTEL_EXPORT_INTERVAL', default: '50s', description: 'OpenTelemetry metric export interval' },
  { name: 'PROMETHEUS_PORT', default: '—', description: 'When set, metrics are also served for scraping at `GET /metrics` on this port (Prometheus text format)' },
];

/** Every setting the presenter reads, with its default. */
export const presenterSettings: Setting[] = [
  { name: 'PORT', default: '8083', description: 'HTTP server port' },
  { name: 'HOST', default: '0.0.0.0', description: 'Address the HTTP server listens on (`bun run dev`: 127.0.0.1)' },
  { name: 'DEBUG', default: 'false', description: 'Enable debug logging' },
  ...dbSettings('localhost'),
  { name: 'JWT_SIGN_KEY', default: '—', description: 'HMAC key of HS256 tokens, at least 32 bytes, never a placeholder (this, JWT_PUBLIC_KEY_FILE or JWT_JWKS_URL is required)', secret: true },
  { name: 'JWT_PUBLIC_KEY_FILE', default: '—', description: 'PEM public key (SPKI) of RS256 tokens' },
  { name: 'JWT_JWKS_URL', default: '—', description: 'JSON Web Key Set of RS256 tokens (authn\'s `/.well-known/jwks.json`); a token\'s `kid` picks the key' },
  { name: 'JWT_JWKS_CACHE_TTL', default: '10m', description: 'How long a fetched key set is used before it is fetched again' },
  { name: 'JWT_JWKS_REFRESH_MIN_INTERVAL', default: '30s', description: 'An unknown `kid` fetches the key set again at most this often' },
  { name: 'AUTHN_NS', default: '—', description: 'Kubernetes namespace where user clientconfig secrets live (required)' },
  { name: 'KUBECONFIG', default: '~/.kube/config or in-cluster', description: 'Kubeconfig used to read the clientconfig secrets' },
  { name: 'CLUSTER_NAME', default: 'kubeconfig cluster name', description: 'The presenter\'s own cluster: the ingester\'s `CLUSTER_NAME` for it (required in a pod). Its rows are authorised with the user\'s clientconfig' },
  { name: 'USER_REVIEWS_IN_CLUSTER', default: 'true', description: 'In a pod, send users\' access reviews for `CLUSTER_NAME` to the in-cluster API server instead of the clientconfig\'s `server-url` (false: Krateo\'s `TEST_MODE`)' },
  { name: 'REMOTE_CLUSTERS', default: '—', description: 'JSON object, cluster name → `{server, certificateAuthorityData?, proxyUrl?, secretName?}`: other clusters whose rows are shown, asked of that server (see docs/decisions/010); rows of unmapped clusters are hidden' },
  { name: 'HEARTBEAT_INTERVAL', default: '15s', description: 'SSE comment heartbeat interval' },
  { name: 'SSE_RETRY', default: '3s', description: 'Reconnect delay suggested to SSE clients (`retry:`)' },
  { name: 'SSE_CLIENT_BUFFER_BYTES', default: '1048576', description: 'Bytes that may stay queued for one SSE client (bursts: up to 4x for a second) before it is told to resume and closed' },
  { name: 'REPLAY_MAX_ROWS', default: '10000', description: 'Most rows replayed after `Last-Event-ID` before the client is told to resume again' },
  { name: 'AUTHZ_CACHE_TTL', default: '30s', description: 'How long a per-user, per-cluster, per-namespace authorisation decision (and a user\'s credentials) is reused; at least 1s' },
  { name: 'AUTHZ_CACHE_MAX_ENTRIES', default: '100000', description: 'Most authorisation decisions kept; the oldest go first' },
  { name: 'AUTHZ_STRICT', default: 'false', description: 'Also require `get` on the involved object\'s resource type' },
  { name: 'CORS_ORIGINS', default: '*', description: 'Comma-separated allowed browser origins' },
  { name: 'EVENTS_MAX_LIMIT', default: '1000', description: 'Largest `limit` accepted by `/events`' },
  { name: 'EVENTS_MAX_CONCURRENT_PER_USER', default: '4', description: '`/events` requests one user may have in flight; more are answered 429' },
  { name: 'EVENTS_POOL_SIZE', default: '2', description: 'Database connections for `/events`; streams and `/readyz` have their own' },
  { name: 'EVENTS_SCAN_WINDOW_ROWS', default: '5000', description: 'Most rows one `/events` page reads, newest first: of the table, or of the one `namespace`, `composition_id` or `involved_object_uid` value it filters on; a page may hold fewer than `limit` events and still carry a cursor' },
  { name: 'EVENTS_QUERY_TIMEOUT', default: '10s', description: 'Longest `/events` query (`statement_timeout`); past it the answer is 503 `query_timeout`' },
  { name: 'EVENTS_QUEUE_MAX', default: '64', description: 'History requests (`/events`, the console\'s aggregates) that may wait for one of the `EVENTS_POOL_SIZE` connections, all users together; more are answered 503 `history_busy`' },
  { name: 'EVENTS_QUEUE_TIMEOUT', default: '5s', description: 'Longest wait for a history connection; past it the answer is 503 `history_wait_timeout`' },
  { name: 'SSE_MAX_STREAMS', default: '50000', description: 'Open streams in all; more are answered 429' },
  { name: 'SSE_MAX_STREAMS_PER_USER', default: '20', description: 'Open streams of one user; more are answered 429' },
  { name: 'SHUTDOWN_TIMEOUT', default: '10s', description: 'Longest graceful drain on SIGTERM/SIGINT' },
  { name: 'OTEL_ENABLED', default: 'true', description: 'Enable OpenTelemetry metrics' },
  { name: 'OTEL_EXPORT_INTERVAL', default: '30s', description: 'Metrics export interval' },
  { name: 'PROMETHEUS_PORT', default: '—', description: 'When set, metrics are also served for scraping at `GET /metrics` on this port (Prometheus text format)' },
];

/** Where and how to reach PostgreSQL. `url` carries the password: never log it, log `safeUrl`. */
export interface DatabaseConfig {
  url: string;
  safeUrl: string;
  readyTimeoutMs: number;
  migrateOnStart: boolean;
  /** The schema our objects live in; every connection uses it as its only search_path. */
  schema: string;
}

/** How to reach the Kubernetes API server. */
export interface KubeSource {
  kubeconfigPath?: string;
  inCluster: boolean;
}

/** Collects problems so that every bad variable is reported at once. */
export class EnvReader {
  readonly problems: string[] = [];
  constructor(
    readonly env: Env,
    private readonly settings: Setting[],
  ) {}

  raw(name: string): string | undefined {
    if (!this.settings.some((s) => s.name === name)) throw new Error(`undeclared setting ${name}`);
    const value = this.env[name]?.trim();
    return value === '' ? undefined : value;
  }

  string(name: string, fallback: string): string;
  string(name: string): string | undefined;
  string(name: string, fallback?: string): string | undefined {
    return this.raw(name) ?? fallback;
  }

  required(name: string): string {
    const value = this.raw(name);
    if (value === undefined) this.problems.push(`${name} is required`);
    return value ?? '';
  }

  integer(name: string, fallback: number, min: number, max: number): number {
    const text = this.raw(name);
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!/^\d+$/.test(text) || value < min || value > max) {
      this.problems.push(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(text)}`);
      return fallback;
    }
    return value;
  }

  boolean(name: string, fallback: boolean): boolean {
    const text = this.raw(name)?.toLowerCase();
    if (text === undefined) return fallback;
    if (['true', '1', 'yes', 'on'].includes(text)) return true;
    if (['false', '0', 'no', 'off'].includes(text)) return false;
    this.problems.push(`${name} must be true or false, got ${JSON.stringify(this.raw(name))}`);
    return fallback;
  }

  durationMs(name: string, fallback: string, minMs = 0, maxMs = Number.POSITIVE_INFINITY): number {
    const text = this.raw(name) ?? fallback;
    const value = parseDurationMs(text);
    if (value === undefined || value < minMs || value > maxMs) {
      const limits = [minMs ? `at least ${minMs}ms` : '', Number.isFinite(maxMs) ? `at most ${formatDurationMs(maxMs)}` : ''].filter(Boolean).join(' and ');
      this.problems.push(`${name} must be a duration like 30s, 2m or 1h30m${limits ? ` of ${limits}` : ''}, got ${JSON.stringify(text)}`);
      return parseDurationMs(fallback)!;
    }
    return value;
  }

  list(name: string): string[] {
    const text = this.raw(name);
    if (text === undefined) return [];
    return [...new Set(text.split(',').map((s) => s.trim()).filter((s) => s !== ''))];
  }

  throwIfInvalid(): void {
    if (this.problems.length > 0) throw new ConfigError(this.problems);
  }
}

function readSchema(r: EnvReader): string {
  const schema = r.string('DB_SCHEMA', 'events_stack');
  if (/^[a-z_][a-z0-9_]{0,62}$/.test(schema) && !schema.startsWith('pg_')) return schema;
  r.problems.push(`DB_SCHEMA must be a lower-case identifier (a-z, 0-9, _; not pg_*), got ${JSON.stringify(schema)}`);
  return 'events_stack';
}

function readDatabase(r: EnvReader, hostDefault: string | undefined): DatabaseConfig {
  const readyTimeoutMs = r.durationMs('DB_READY_TIMEOUT', '2m', 0, maxTimerMs);
  const migrateOnStart = r.boolean('MIGRATE_ON_START', true);
  const schema = readSchema(r);
  const direct = r.raw('DATABASE_URL');
  if (direct !== undefined) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(direct);
    } catch {
      parsed = undefined;
    }
    if (!parsed || !['postgres:', 'postgresql:'].includes(parsed.protocol)) {
      r.problems.push('DATABASE_URL must be a postgres:// or postgresql:// URL');
      return { url: '', safeUrl: '', readyTimeoutMs, migrateOnStart, schema };
    }
    return { url: direct, safeUrl: redactUrl(parsed), readyTimeoutMs, migrateOnStart, schema };
  }
  const host = hostDefault === undefined ? r.required('DB_HOST') : r.string('DB_HOST', hostDefault);
  const port = r.integer('DB_PORT', 5432, 1, 65535);
  const name = r.string('DB_NAME');
  const user = r.string('DB_USER');
  const pass = r.string('DB_PASS');
  const params = r.string('DB_PARAMS');
  if (params !== undefined && !/^[^=&\s]+=[^&\s]*(&[^=&\s]+=[^&\s]*)*$/.test(params)) {
    r.problems.push(`DB_PARAMS must look like key=value&key2=value2, got ${JSON.stringify(params)}`);
  }
  const url = new URL('postgres://localhost');
  url.hostname = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  url.port = String(port);
  url.pathname = `/${encodeURIComponent(name ?? '')}`;
  if (user !== undefined) url.username = encodeURIComponent(user);
  if (pass !== undefined) url.password = encodeURIComponent(pass);
  if (params !== undefined) url.search = params;
  return { url: url.href, safeUrl: redactUrl(url), readyTimeoutMs, migrateOnStart, schema };
}

/** The URL with any password replaced by `***`, safe to log. */
export function redactUrl(url: URL | string): string {
  const copy = new URL(String(url));
  if (copy.password) copy.password = '***';
  return copy.href;
}

function readKube(r: EnvReader): KubeSource {
  const explicit = r.string('KUBECONFIG');
  if (explicit !== undefined) return { kubeconfigPath: explicit.split(':')[0], inCluster: false };
  if (r.env.KUBERNETES_SERVICE_HOST) return { inCluster: true };
  const home = join(r.env.HOME ?? homedir(), '.kube', 'config');
  return existsSync(home) ? { kubeconfigPath: home, inCluster: false } : { inCluster: false };
}

// A port that is off when unset (0 is refused: a scrape target needs a fixed port).
function readOptionalPort(r: EnvReader, name: string): number | undefined {
  return r.raw(name) === undefined ? undefined : r.integer(name, 0, 1, 65535);
}

/** Ingester settings, fully parsed. */
export interface IngesterConfig {
  port: number;
  db: DatabaseConfig;
  namespaces: string[];
  clusterName?: string;
  kube: KubeSource;
  batchMaxRows: number;
  batchFlushIntervalMs: number;
  bufferMaxRows: number;
  compositionLookup: boolean;
  compositionCacheTtlMs: number;
  compositionLookupConcurrency: number;
  retentionMs: number;
  retentionMaxBytes: number;
  partitionsAheadDays: number;
  maintenanceIntervalMs: number;
  shutdownTimeoutMs: number;
  statusLogIntervalMs: number;
  debug: boolean;
  otelEnabled: boolean;
  otelExportIntervalMs: number;
  /** Port of the Prometheus scrape endpoint; undefined: none. */
  prometheusPort?: number;
}

/** Parses the ingester's settings; throws ConfigError naming every malformed variable. */
export function loadIngesterConfig(env: Env): IngesterConfig {
  const r = new EnvReader(env, ingesterSettings);
  const config: IngesterConfig = {
    port: r.integer('PORT', 8080, 0, 65535),
    db: readDatabase(r, undefined),
    namespaces: r.list('NAMESPACES'),
    clusterName: r.string('CLUSTER_NAME'),
    kube: readKube(r),
    batchMaxRows: r.integer('BATCH_MAX_ROWS', 1000, 1, 5000),
    batchFlushIntervalMs: r.durationMs('BATCH_FLUSH_INTERVAL', '0s', 0, maxTimerMs),
    bufferMaxRows: r.integer('BUFFER_MAX_ROWS', 20000, 1, 10_000_000),
    compositionLookup: r.boolean('COMPOSITION_LOOKUP', true),
    compositionCacheTtlMs: r.durationMs('COMPOSITION_CACHE_TTL', '5m'),
    compositionLookupConcurrency: r.integer('COMPOSITION_LOOKUP_CONCURRENCY', 8, 1, 1000),
    retentionMs: r.durationMs('RETENTION', '720h', 86_400_000),
    retentionMaxBytes: r.integer('RETENTION_MAX_BYTES', 0, 0, Number.MAX_SAFE_INTEGER),
    partitionsAheadDays: r.integer('PARTITIONS_AHEAD_DAYS', 3, 0, 365),
    maintenanceIntervalMs: r.durationMs('MAINTENANCE_INTERVAL', '1h', 1000, maxTimerMs),
    shutdownTimeoutMs: r.durationMs('SHUTDOWN_TIMEOUT', '20s', 0, maxTimerMs),
    statusLogIntervalMs: r.durationMs('STATUS_LOG_INTERVAL', '30s', 0, maxTimerMs),
    debug: r.boolean('DEBUG', false),
    otelEnabled: r.boolean('OTEL_ENABLED', false),
    otelExportIntervalMs: r.durationMs('OTEL_EXPORT_INTERVAL', '50s', 1, maxTimerMs),
    prometheusPort: readOptionalPort(r, 'PROMETHEUS_PORT'),
  };
  if (config.batchMaxRows > config.bufferMaxRows) {
    r.problems.push('BUFFER_MAX_ROWS must be at least BATCH_MAX_ROWS');
  }
  r.throwIfInvalid();
  return config;
}

/** Presenter settings, fully parsed. */
export interface PresenterConfig {
  port: number;
  host: string;
  debug: boolean;
  db: DatabaseConfig;
  /** HS256 key; undefined when only RS256 keys are configured. */
  jwtSignKey?: string;
  /** The PEM text of JWT_PUBLIC_KEY_FILE. */
  jwtPublicKeyPem?: string;
  jwtJwksUrl?: string;
  jwksCacheTtlMs: number;
  jwksRefreshMinIntervalMs: number;
  authnNamespace: string;
  kube: KubeSource;
  heartbeatIntervalMs: number;
  sseRetryMs: number;
  sseClientBufferBytes: number;
  replayMaxRows: number;
  authzCacheTtlMs: number;
  authzCacheMaxEntries: number;
  authzStrict: boolean;
  corsOrigins: string[];
  /** The presenter's own cluster; undefined: the kubeconfig's cluster name (required in a pod). */
  clusterName?: string;
  /** The in-cluster API server users' reviews for `clusterName` go to; undefined: the clientconfig's `server-url`. */
  inClusterApi?: { url: string; caFile: string };
  remoteClusters: RemoteCluster[];
  eventsMaxLimit: number;
  eventsMaxConcurrentPerUser: number;
  eventsPoolSize: number;
  eventsQueryTimeoutMs: number;
  eventsScanWindowRows: number;
  eventsQueueMax: number;
  eventsQueueTimeoutMs: number;
  sseMaxStreams: number;
  sseMaxStreamsPerUser: number;
  shutdownTimeoutMs: number;
  otelEnabled: boolean;
  otelExportIntervalMs: number;
  /** Port of the Prometheus scrape endpoint; undefined: none. */
  prometheusPort?: number;
}

/** Parses the presenter's settings; throws ConfigError naming every malformed variable. */
export function loadPresenterConfig(env: Env): PresenterConfig {
  const r = new EnvReader(env, presenterSettings);
  const corsOrigins = r.list('CORS_ORIGINS');
  const config: PresenterConfig = {
    port: r.integer('PORT', 8083, 0, 65535),
    host: r.string('HOST', '0.0.0.0'),
    debug: r.boolean('DEBUG', false),
    db: readDatabase(r, 'localhost'),
    ...readTokenKeys(r),
    authnNamespace: r.required('AUTHN_NS'),
    kube: readKube(r),
    heartbeatIntervalMs: r.durationMs('HEARTBEAT_INTERVAL', '15s', 100, maxTimerMs),
    sseRetryMs: r.durationMs('SSE_RETRY', '3s', 0, maxTimerMs),
    sseClientBufferBytes: r.integer('SSE_CLIENT_BUFFER_BYTES', 1_048_576, 1024, 1 << 30),
    replayMaxRows: r.integer('REPLAY_MAX_ROWS', 10_000, 1, 10_000_000),
    // 0 re-asked the API server on every fan-out pass (thousands of reviews a second, nothing delivered).
    authzCacheTtlMs: r.durationMs('AUTHZ_CACHE_TTL', '30s', 1000, maxTimerMs),
    authzCacheMaxEntries: r.integer('AUTHZ_CACHE_MAX_ENTRIES', 100_000, 1000, 100_000_000),
    authzStrict: r.boolean('AUTHZ_STRICT', false),
    clusterName: r.string('CLUSTER_NAME'),
    inClusterApi: readInClusterApi(r),
    remoteClusters: readRemoteClusters(r),
    corsOrigins: corsOrigins.length > 0 ? corsOrigins : ['*'],
    eventsMaxLimit: r.integer('EVENTS_MAX_LIMIT', 1000, 1, 100_000),
    eventsMaxConcurrentPerUser: r.integer('EVENTS_MAX_CONCURRENT_PER_USER', 4, 1, 1000),
    eventsPoolSize: r.integer('EVENTS_POOL_SIZE', 2, 1, 100),
    eventsQueryTimeoutMs: r.durationMs('EVENTS_QUERY_TIMEOUT', '10s', 100, maxTimerMs),
    eventsScanWindowRows: r.integer('EVENTS_SCAN_WINDOW_ROWS', 5000, 1000, 10_000_000),
    eventsQueueMax: r.integer('EVENTS_QUEUE_MAX', 64, 0, 100_000),
    eventsQueueTimeoutMs: r.durationMs('EVENTS_QUEUE_TIMEOUT', '5s', 1, maxTimerMs),
    sseMaxStreams: r.integer('SSE_MAX_STREAMS', 50_000, 1, 10_000_000),
    sseMaxStreamsPerUser: r.integer('SSE_MAX_STREAMS_PER_USER', 20, 1, 100_000),
    shutdownTimeoutMs: r.durationMs('SHUTDOWN_TIMEOUT', '10s', 0, maxTimerMs),
    otelEnabled: r.boolean('OTEL_ENABLED', true),
    otelExportIntervalMs: r.durationMs('OTEL_EXPORT_INTERVAL', '30s', 1, maxTimerMs),
    prometheusPort: readOptionalPort(r, 'PROMETHEUS_PORT'),
  };
  if (config.kube.inCluster && config.clusterName === undefined) {
    r.problems.push('CLUSTER_NAME is required in a cluster: set it to the ingester\'s CLUSTER_NAME for this cluster');
  }
  if (config.remoteClusters.some((c) => c.name === config.clusterName)) {
    r.problems.push('REMOTE_CLUSTERS must not map CLUSTER_NAME, the presenter\'s own cluster');
  }
  r.throwIfInvalid();
  return config;
}

/** Keys that are published, shipped or documented as examples: a token signed with one is forgeable. */
const placeholderPattern = /placeholder|replace[-_ ]?me|change[-_ ]?me|changeit|^(secret|example|\.\.\.|x+)$/i;

/** Smallest HS256 key accepted: RFC 7518 §3.2 asks for a key at least as long as the hash (256 bits). */
export const minSignKeyBytes = 32;

function readTokenKeys(r: EnvReader): Pick<PresenterConfig, 'jwtSignKey' | 'jwtPublicKeyPem' | 'jwtJwksUrl' | 'jwksCacheTtlMs' | 'jwksRefreshMinIntervalMs'> {
  const jwtSignKey = r.string('JWT_SIGN_KEY');
  const keyFile = r.string('JWT_PUBLIC_KEY_FILE');
  const jwtJwksUrl = r.string('JWT_JWKS_URL');
  if (jwtSignKey === undefined && keyFile === undefined && jwtJwksUrl === undefined) {
    r.problems.push('JWT_SIGN_KEY is required (or JWT_PUBLIC_KEY_FILE / JWT_JWKS_URL for RS256 tokens)');
  }
  // Never echo the key: only what is wrong with it.
  if (jwtSignKey !== undefined && Buffer.byteLength(jwtSignKey) < minSignKeyBytes) {
    r.problems.push(`JWT_SIGN_KEY must be at least ${minSignKeyBytes} bytes`);
  } else if (jwtSignKey !== undefined && placeholderPattern.test(jwtSignKey)) {
    r.problems.push('JWT_SIGN_KEY is a placeholder value: set a random key of at least 32 bytes');
  }
  let jwtPublicKeyPem: string | undefined;
  if (keyFile !== undefined) {
    try {
      jwtPublicKeyPem = readFileSync(keyFile, 'utf8');
    } catch {
      r.problems.push(`JWT_PUBLIC_KEY_FILE cannot be read: ${keyFile}`);
    }
    if (jwtPublicKeyPem !== undefined && !jwtPublicKeyPem.includes('-----BEGIN PUBLIC KEY-----')) {
      r.problems.push('JWT_PUBLIC_KEY_FILE must hold a PEM public key (-----BEGIN PUBLIC KEY-----)');
    }
  }
  if (jwtJwksUrl !== undefined && !/^https?:\/\/[^\s]+$/.test(jwtJwksUrl)) {
    r.problems.push(`JWT_JWKS_URL must be an http(s) URL, got ${JSON.stringify(jwtJwksUrl)}`);
  }
  return {
    jwtSignKey,
    jwtPublicKeyPem,
    jwtJwksUrl,
    jwksCacheTtlMs: r.durationMs('JWT_JWKS_CACHE_TTL', '10m', 1000, maxTimerMs),
    jwksRefreshMinIntervalMs: r.durationMs('JWT_JWKS_REFRESH_MIN_INTERVAL', '30s', 0, maxTimerMs),
  };
}

/** Database settings alone (drizzle-kit and tools): DB_HOST defaults to localhost. */
export function loadDatabaseConfig(env: Env): DatabaseConfig {
  const r = new EnvReader(env, dbSettings('localhost'));
  const db = readDatabase(r, 'localhost');
  r.throwIfInvalid();
  return db;
}
