import { describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadDatabaseConfig, loadIngesterConfig, loadPresenterConfig, type Env } from '../lib/runtime/config.ts';
import { formatDurationMs, parseDurationMs } from '../lib/runtime/duration.ts';

const ingesterEnv = (extra: Env = {}): Env => ({ DB_HOST: 'db.example', DB_NAME: 'events', DB_USER: 'u', DB_PASS: 'p', ...extra });
const signKey = 'a-random-enough-hs256-key-for-tests-0123';
const presenterEnv = (extra: Env = {}): Env => ({ JWT_SIGN_KEY: signKey, AUTHN_NS: 'krateo-system', KUBECONFIG: '/kc', ...extra });

function problemsOf(load: () => unknown): string[] {
  try {
    load();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('Go-style durations', () => {
  test.each([
    ['0', 0],
    ['300ms', 300],
    ['30s', 30_000],
    ['2m', 120_000],
    ['1h30m', 5_400_000],
    ['1.5h', 5_400_000],
    ['2h45m10s', 9_910_000],
    ['500us', 0.5],
    ['7d', 604_800_000],
  ])('%p parses to %p ms', (text, ms) => {
    expect(parseDurationMs(text)).toBe(ms);
  });

  test.each(['', '10', '-1s', '1x', 's', '1h 30m', '1.h.5', 'abc'])('%p is rejected', (text) => {
    expect(parseDurationMs(text)).toBeUndefined();
  });

  test('formatting gives the compact form', () => {
    expect([0, 250, 30_000, 5_400_000].map(formatDurationMs)).toEqual(['0s', '250ms', '30s', '1h30m']);
  });
});

describe('ingester configuration', () => {
  test('defaults follow the seed table', () => {
    const config = loadIngesterConfig(ingesterEnv({ KUBECONFIG: '/kc' }));
    expect(config).toEqual({
      port: 8080,
      db: {
        url: 'postgres://u:p@db.example:5432/events',
        safeUrl: 'postgres://u:***@db.example:5432/events',
        readyTimeoutMs: 120_000,
        migrateOnStart: true,
        schema: 'events_stack',
      },
      namespaces: [],
      clusterName: undefined,
      kube: { kubeconfigPath: '/kc', inCluster: false },
      batchMaxRows: 1000,
      batchFlushIntervalMs: 0,
      bufferMaxRows: 20_000,
      compositionLookup: true,
      compositionCacheTtlMs: 300_000,
      compositionLookupConcurrency: 8,
      retentionMs: 2_592_000_000,
      retentionMaxBytes: 0,
      partitionsAheadDays: 3,
      maintenanceIntervalMs: 3_600_000,
      shutdownTimeoutMs: 20_000,
      statusLogIntervalMs: 30_000,
      debug: false,
      otelEnabled: false,
      otelExportIntervalMs: 50_000,
    });
  });

  test('NAMESPACES is trimmed, de-duplicated and ignores empty entries', () => {
    expect(loadIngesterConfig(ingesterEnv({ NAMESPACES: ' a, b ,,a, c ,' })).namespaces).toEqual(['a', 'b', 'c']);
  });

  test('DB_HOST is required unless DATABASE_URL is given', () => {
    expect(problemsOf(() => loadIngesterConfig({}))).toEqual(['DB_HOST is required']);
    const config = loadIngesterConfig({ DATABASE_URL: 'postgres://x:secret@h:6000/d?sslmode=disable' });
    expect(config.db.url).toBe('postgres://x:secret@h:6000/d?sslmode=disable');
    expect(config.db.safeUrl).toBe('postgres://x:***@h:6000/d?sslmode=disable');
  });

  test('DB_PARAMS, odd characters in credentials and IPv6 hosts make a valid URL', () => {
    const config = loadIngesterConfig(ingesterEnv({ DB_HOST: '::1', DB_USER: 'a@b', DB_PASS: 'p/w:d', DB_PARAMS: 'sslmode=disable&application_name=x' }));
    expect(config.db.url).toBe('postgres://a%40b:p%2Fw%3Ad@[::1]:5432/events?sslmode=disable&application_name=x');
    expect(new URL(config.db.url).password).toBe('p%2Fw%3Ad');
  });

  test.each([
    ['PORT', 'http', 'PORT must be an integer from 0 to 65535, got "http"'],
    ['PORT', '70000', 'PORT must be an integer from 0 to 65535, got "70000"'],
    ['DB_PORT', '-5', 'DB_PORT must be an integer from 1 to 65535, got "-5"'],
    ['DB_READY_TIMEOUT', '2 minutes', 'DB_READY_TIMEOUT must be a duration like 30s, 2m or 1h30m of at most 576h, got "2 minutes"'],
    ['OTEL_ENABLED', 'maybe', 'OTEL_ENABLED must be true or false, got "maybe"'],
    ['OTEL_EXPORT_INTERVAL', '0', 'OTEL_EXPORT_INTERVAL must be a duration like 30s, 2m or 1h30m of at least 1ms and at most 576h, got "0"'],
    ['BATCH_MAX_ROWS', '0', 'BATCH_MAX_ROWS must be an integer from 1 to 5000, got "0"'],
    ['RETENTION', '1h', 'RETENTION must be a duration like 30s, 2m or 1h30m of at least 86400000ms, got "1h"'],
    ['MAINTENANCE_INTERVAL', '30d', 'MAINTENANCE_INTERVAL must be a duration like 30s, 2m or 1h30m of at least 1000ms and at most 576h, got "30d"'],
    ['SHUTDOWN_TIMEOUT', '600h', 'SHUTDOWN_TIMEOUT must be a duration like 30s, 2m or 1h30m of at most 576h, got "600h"'],
    ['DB_PARAMS', 'sslmode', 'DB_PARAMS must look like key=value&key2=value2, got "sslmode"'],
    ['DB_SCHEMA', 'Events-Stack', 'DB_SCHEMA must be a lower-case identifier (a-z, 0-9, _; not pg_*), got "Events-Stack"'],
    ['DB_SCHEMA', 'pg_temp', 'DB_SCHEMA must be a lower-case identifier (a-z, 0-9, _; not pg_*), got "pg_temp"'],
    ['DATABASE_URL', 'mysql://x', 'DATABASE_URL must be a postgres:// or postgresql:// URL'],
  ])('a malformed %s is reported', (name, value, message) => {
    expect(problemsOf(() => loadIngesterConfig(ingesterEnv({ [name]: value })))).toEqual([message]);
  });

  test('several bad values are reported together in one error', () => {
    let error: unknown;
    try {
      loadIngesterConfig({ PORT: 'x', DB_PORT: 'y', OTEL_EXPORT_INTERVAL: '5 s' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toBe(
      'invalid configuration: PORT must be an integer from 0 to 65535, got "x"; DB_HOST is required; ' +
        'DB_PORT must be an integer from 1 to 65535, got "y"; ' +
        'OTEL_EXPORT_INTERVAL must be a duration like 30s, 2m or 1h30m of at least 1ms and at most 576h, got "5 s"',
    );
  });

  test('a bad DATABASE_URL never echoes its password', () => {
    const problems = problemsOf(() => loadIngesterConfig({ DATABASE_URL: 'not a url with hunter2' }));
    expect(problems.join(' ')).not.toContain('hunter2');
  });
});

describe('presenter configuration', () => {
  test('defaults follow the seed table', () => {
    const config = loadPresenterConfig(presenterEnv());
    expect(config).toEqual({
      port: 8083,
      host: '0.0.0.0',
      debug: false,
      db: { url: 'postgres://localhost:5432/', safeUrl: 'postgres://localhost:5432/', readyTimeoutMs: 120_000, migrateOnStart: true, schema: 'events_stack' },
      jwtSignKey: signKey,
      jwtPublicKeyPem: undefined,
      jwtJwksUrl: undefined,
      jwksCacheTtlMs: 600_000,
      jwksRefreshMinIntervalMs: 30_000,
      authnNamespace: 'krateo-system',
      kube: { kubeconfigPath: '/kc', inCluster: false },
      heartbeatIntervalMs: 15_000,
      sseRetryMs: 3000,
      sseClientBufferBytes: 1_048_576,
      replayMaxRows: 10_000,
      authzCacheTtlMs: 30_000,
      authzCacheMaxEntries: 100_000,
      authzStrict: false,
      clusterName: undefined,
      inClusterApi: undefined,
      remoteClusters: [],
      corsOrigins: ['*'],
      eventsMaxLimit: 1000,
      eventsMaxConcurrentPerUser: 4,
      eventsPoolSize: 2,
      eventsQueryTimeoutMs: 10_000,
      eventsScanWindowRows: 5000,
      eventsQueueMax: 64,
      eventsQueueTimeoutMs: 5000,
      sseMaxStreams: 50_000,
      sseMaxStreamsPerUser: 20,
      shutdownTimeoutMs: 10_000,
      otelEnabled: true,
      otelExportIntervalMs: 30_000,
    });
  });

  test('a token key (JWT_SIGN_KEY, JWT_PUBLIC_KEY_FILE or JWT_JWKS_URL) and AUTHN_NS are required, and a secret value is never echoed', () => {
    expect(problemsOf(() => loadPresenterConfig({}))).toEqual([
      'JWT_SIGN_KEY is required (or JWT_PUBLIC_KEY_FILE / JWT_JWKS_URL for RS256 tokens)',
      'AUTHN_NS is required',
    ]);
    const problems = problemsOf(() => loadPresenterConfig(presenterEnv({ DB_PASS: 'hunter2', DB_PORT: 'x' })));
    expect(problems.join(' ')).not.toContain('hunter2');
  });

  test('the in-cluster service account is used when no kubeconfig is given', () => {
    const config = loadPresenterConfig({ JWT_SIGN_KEY: signKey, AUTHN_NS: 'n', KUBERNETES_SERVICE_HOST: '10.0.0.1', HOME: '/nonexistent', CLUSTER_NAME: 'krateo' });
    expect(config.kube).toEqual({ inCluster: true });
  });

  test('JWT_SIGN_KEY shorter than 32 bytes, or a known placeholder, is refused without echoing it', () => {
    const refused = [
      ['one character', 'k'],
      ['31 bytes', 'a'.repeat(15) + 'b'.repeat(16)],
      ['the shipped manifest placeholder', 'PLACEHOLDER-replace-me-see-docs-deploy-md'],
      ['the old development key', 'dev-only-signing-key-change-me-please-0123'],
      ['a long run of x', 'x'.repeat(40)],
    ];
    const answers = refused.map(([what, key]) => {
      const problems = problemsOf(() => loadPresenterConfig(presenterEnv({ JWT_SIGN_KEY: key })));
      return { what, problems, echoed: problems.join(' ').includes(key!) };
    });
    expect(answers).toEqual([
      { what: 'one character', problems: ['JWT_SIGN_KEY must be at least 32 bytes'], echoed: false },
      { what: '31 bytes', problems: ['JWT_SIGN_KEY must be at least 32 bytes'], echoed: false },
      { what: 'the shipped manifest placeholder', problems: ['JWT_SIGN_KEY is a placeholder value: set a random key of at least 32 bytes'], echoed: false },
      { what: 'the old development key', problems: ['JWT_SIGN_KEY is a placeholder value: set a random key of at least 32 bytes'], echoed: false },
      { what: 'a long run of x', problems: ['JWT_SIGN_KEY is a placeholder value: set a random key of at least 32 bytes'], echoed: false },
    ]);
  });

  test('RS256 keys alone are enough: a PEM public key file or a JWKS URL, each checked', () => {
    const dir = mkdtempSync(join(tmpdir(), 'presenter-config-'));
    try {
      const pem = join(dir, 'key.pem');
      writeFileSync(pem, '-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n');
      const notPem = join(dir, 'key.txt');
      writeFileSync(notPem, 'not a key');
      const base = { AUTHN_NS: 'n', KUBECONFIG: '/kc' };
      const fromFile = loadPresenterConfig({ ...base, JWT_PUBLIC_KEY_FILE: pem });
      const fromJwks = loadPresenterConfig({ ...base, JWT_JWKS_URL: 'https://authn.krateo-system.svc/.well-known/jwks.json', JWT_JWKS_REFRESH_MIN_INTERVAL: '1m' });
      expect([fromFile.jwtSignKey, fromFile.jwtPublicKeyPem?.startsWith('-----BEGIN PUBLIC KEY-----'), fromJwks.jwtJwksUrl, fromJwks.jwksRefreshMinIntervalMs]).toEqual([
        undefined, true, 'https://authn.krateo-system.svc/.well-known/jwks.json', 60_000,
      ]);
      expect(problemsOf(() => loadPresenterConfig({ ...base, JWT_PUBLIC_KEY_FILE: notPem, JWT_JWKS_URL: 'authn/jwks' }))).toEqual([
        'JWT_PUBLIC_KEY_FILE must hold a PEM public key (-----BEGIN PUBLIC KEY-----)',
        'JWT_JWKS_URL must be an http(s) URL, got "authn/jwks"',
      ]);
      expect(problemsOf(() => loadPresenterConfig({ ...base, JWT_PUBLIC_KEY_FILE: join(dir, 'missing.pem') }))).toEqual([
        `JWT_PUBLIC_KEY_FILE cannot be read: ${join(dir, 'missing.pem')}`,
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('AUTHZ_CACHE_TTL below 1s is refused (0s would re-ask the API server on every row)', () => {
    expect(['0s', '500ms'].map((ttl) => problemsOf(() => loadPresenterConfig(presenterEnv({ AUTHZ_CACHE_TTL: ttl }))))).toEqual([
      ['AUTHZ_CACHE_TTL must be a duration like 30s, 2m or 1h30m of at least 1000ms and at most 576h, got "0s"'],
      ['AUTHZ_CACHE_TTL must be a duration like 30s, 2m or 1h30m of at least 1000ms and at most 576h, got "500ms"'],
    ]);
    expect(loadPresenterConfig(presenterEnv({ AUTHZ_CACHE_TTL: '1s' })).authzCacheTtlMs).toBe(1000);
  });

  test('EVENTS_QUEUE_MAX may be 0 (no waiting) and EVENTS_QUEUE_TIMEOUT must be a positive duration', () => {
    const config = loadPresenterConfig(presenterEnv({ EVENTS_QUEUE_MAX: '0', EVENTS_QUEUE_TIMEOUT: '250ms' }));
    expect({ max: config.eventsQueueMax, timeoutMs: config.eventsQueueTimeoutMs }).toEqual({ max: 0, timeoutMs: 250 });
    expect(problemsOf(() => loadPresenterConfig(presenterEnv({ EVENTS_QUEUE_MAX: '-1', EVENTS_QUEUE_TIMEOUT: '0s' })))).toEqual([
      'EVENTS_QUEUE_MAX must be an integer from 0 to 100000, got "-1"',
      'EVENTS_QUEUE_TIMEOUT must be a duration like 30s, 2m or 1h30m of at least 1ms and at most 576h, got "0s"',
    ]);
  });

  test('in a pod, users\' reviews go to the in-cluster API server unless USER_REVIEWS_IN_CLUSTER is false, and CLUSTER_NAME is required', () => {
    const pod = { JWT_SIGN_KEY: signKey, AUTHN_NS: 'n', HOME: '/nonexistent', CLUSTER_NAME: 'krateo' };
    const caFile = '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt';
    expect(loadPresenterConfig({ ...pod, KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '6443' }).inClusterApi).toEqual({ url: 'https://10.0.0.1:6443', caFile });
    expect(loadPresenterConfig({ ...pod, KUBERNETES_SERVICE_HOST: 'fd00::1' }).inClusterApi).toEqual({ url: 'https://[fd00::1]:443', caFile });
    expect(loadPresenterConfig({ ...pod, KUBERNETES_SERVICE_HOST: '10.0.0.1', USER_REVIEWS_IN_CLUSTER: 'false' }).inClusterApi).toBeUndefined();
    // Outside a pod there is no in-cluster API server.
    expect(loadPresenterConfig(presenterEnv()).inClusterApi).toBeUndefined();
    expect(problemsOf(() => loadPresenterConfig({ ...pod, CLUSTER_NAME: '', KUBERNETES_SERVICE_HOST: '10.0.0.1' }))).toEqual([
      'CLUSTER_NAME is required in a cluster: set it to the ingester\'s CLUSTER_NAME for this cluster',
    ]);
  });

  test('REMOTE_CLUSTERS maps cluster names to API servers, CAs, proxies and Secret name templates', () => {
    const caPem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----';
    const config = loadPresenterConfig(
      presenterEnv({
        CLUSTER_NAME: 'dev',
        REMOTE_CLUSTERS: JSON.stringify({
          prod: { server: 'https://prod.example:6443', certificateAuthorityData: Buffer.from(caPem).toString('base64'), secretName: '{username}-prod-clientconfig' },
          edge: { server: 'https://edge.example', certificateAuthorityData: caPem, proxyUrl: 'http://proxy.example:3128' },
        }),
      }),
    );
    expect(config.remoteClusters).toEqual([
      { name: 'prod', serverUrl: 'https://prod.example:6443', caPem, proxyUrl: undefined, secretNameTemplate: '{username}-prod-clientconfig' },
      { name: 'edge', serverUrl: 'https://edge.example', caPem, proxyUrl: 'http://proxy.example:3128', secretNameTemplate: '{username}-clientconfig' },
    ]);
  });

  test.each([
    ['[1]', ['REMOTE_CLUSTERS must be a JSON object of cluster name → {server, …}']],
    ['{"prod":', ['REMOTE_CLUSTERS must be a JSON object of cluster name → {server, …}']],
    ['{"prod":{"server":"ftp://x"}}', ['REMOTE_CLUSTERS.prod: server must be an http(s) URL']],
    ['{"prod":{"server":"https://x","secretName":"fixed"}}', ['REMOTE_CLUSTERS.prod: secretName must contain {username}']],
    ['{"prod":{"server":"https://x","caFile":"/ca"}}', ['REMOTE_CLUSTERS.prod: unknown fields caFile']],
    ['{"prod":{"server":"https://x","certificateAuthorityData":"bm90IGEgY2VydA=="}}', ['REMOTE_CLUSTERS.prod: certificateAuthorityData must be a base64 PEM certificate']],
    ['{"dev":{"server":"https://x"}}', ['REMOTE_CLUSTERS must not map CLUSTER_NAME, the presenter\'s own cluster']],
  ])('a malformed REMOTE_CLUSTERS (%s) is reported', (value, problems) => {
    expect(problemsOf(() => loadPresenterConfig(presenterEnv({ CLUSTER_NAME: 'dev', REMOTE_CLUSTERS: value })))).toEqual(problems);
  });

  test('CORS_ORIGINS, DEBUG and the SSE settings are parsed', () => {
    const config = loadPresenterConfig(
      presenterEnv({ CORS_ORIGINS: 'https://a.example, https://b.example', DEBUG: 'TRUE', HEARTBEAT_INTERVAL: '500ms', AUTHZ_STRICT: '1' }),
    );
    expect([config.corsOrigins, config.debug, config.heartbeatIntervalMs, config.authzStrict]).toEqual([
      ['https://a.example', 'https://b.example'],
      true,
      500,
      true,
    ]);
  });

  test('drizzle-kit settings default to localhost like the presenter', () => {
    expect(loadDatabaseConfig({ DB_NAME: 'x' }).url).toBe('postgres://localhost:5432/x');
  });
});
