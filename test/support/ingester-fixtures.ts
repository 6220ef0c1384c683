import { KubeConfig } from '@kubernetes/client-node';
import { metrics, type Meter } from '@opentelemetry/api';
import postgres from 'postgres';
import { loadIngesterConfig, type IngesterConfig } from '../../lib/runtime/config.ts';
import { startIngester, type Ingester } from '../../lib/ingest/ingester.ts';
import { createKubeHttp, type KubeHttp } from '../../lib/kube/client.ts';
import { silentLogger, type Logger } from '../../lib/runtime/log.ts';
import { prepareDatabase } from '../../lib/storage/db.ts';
import type { KubeObject, StoredObject } from '../../dev/simulator/index.ts';
import { pickClockEnv } from './clock-env.ts';

let counter = 0;

/** A core/v1 Event as a controller would create it; override what the test is about. */
export function buildKubeEvent(overrides: KubeObject = {}): KubeObject {
  counter++;
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: `pod-${counter}.17a${counter}`, namespace: 'default' },
    involvedObject: { apiVersion: 'v1', kind: 'Pod', namespace: 'default', name: `pod-${counter}`, uid: `00000000-0000-4000-8000-${String(counter).padStart(12, '0')}` },
    reason: 'Started',
    message: `Started container ${counter}`,
    type: 'Normal',
    count: 1,
    firstTimestamp: '2030-01-02T03:04:05Z',
    lastTimestamp: '2030-01-02T03:04:05Z',
    source: { component: 'kubelet', host: 'node-1' },
    ...overrides,
  };
}

/** An authenticated client for the simulator, over HTTPS with the admin client certificate. */
export function createSimulatorHttp(kubeconfigYaml: string): KubeHttp {
  const kc = new KubeConfig();
  kc.loadFromString(kubeconfigYaml);
  return createKubeHttp(kc);
}

/** Ingester settings for tests: probes on port 0, fast flushes, no status lines. */
export function buildIngesterConfig(databaseUrl: string, env: Record<string, string> = {}): IngesterConfig {
  return loadIngesterConfig({
    DATABASE_URL: databaseUrl,
    PORT: '0',
    CLUSTER_NAME: 'test-cluster',
    STATUS_LOG_INTERVAL: '0',
    // In-process tests share one process: each database is migrated by the test itself.
    MIGRATE_ON_START: 'false',
    ...env,
  });
}

/** Starts an in-process ingester; `await using` stops it. */
export async function startTestIngester(options: {
  databaseUrl: string;
  kubeconfig: string;
  env?: Record<string, string>;
  log?: Logger;
  watchTimeoutSeconds?: number;
  leaderPollMs?: number;
  meter?: Meter;
  /** Default true: resolve only once this ingester leads and its watches are established. */
  waitUntilWatching?: boolean;
}): Promise<Ingester & AsyncDisposable> {
  const config = buildIngesterConfig(options.databaseUrl, options.env);
  const log = options.log ?? silentLogger;
  await prepareDatabase(config.db, { log, applicationName: 'events-ingester-probe' });
  const ingester = await startIngester({
    config,
    http: createSimulatorHttp(options.kubeconfig),
    log,
    meter: options.meter ?? metrics.getMeter('test'),
    leaderPollMs: options.leaderPollMs ?? 200,
    watchTimeoutSeconds: options.watchTimeoutSeconds,
  });
  const disposable = Object.assign(ingester, { [Symbol.asyncDispose]: async () => void (await ingester.stop()) });
  if (options.waitUntilWatching ?? true) {
    try {
      await waitFor(async () => ingester.role() === 'leader' && (await ingester.readiness()).ready, { what: 'ingester watching' });
    } catch (err) {
      await ingester.stop();
      throw err;
    }
  }
  return disposable;
}

const checkStuck = Symbol('check stuck');

/** Polls `check` until it returns a value other than undefined/false, or throws after `timeoutMs`. */
export async function waitFor<T>(check: () => Promise<T | undefined | false> | T | undefined | false, options: { timeoutMs?: number; what?: string } = {}): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  let last: unknown;
  for (;;) {
    // A check that never settles (a query on a hung connection) fails the wait, named, instead of
    // running into the test's own timeout.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stuck = new Promise<typeof checkStuck>((resolve) => {
      timer = setTimeout(() => resolve(checkStuck), Math.max(0, deadline - Date.now()) + 1000);
    });
    let value: Awaited<ReturnType<typeof check>> | typeof checkStuck = undefined;
    try {
      value = await Promise.race([Promise.resolve().then(check), stuck]);
    } catch (err) {
      last = err;
    } finally {
      clearTimeout(timer);
    }
    if (value === checkStuck) throw new Error(`timed out waiting for ${options.what ?? 'condition'}: the check itself did not return`);
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${options.what ?? 'condition'}${last ? `: ${String(last)}` : ''}`);
    await Bun.sleep(25);
  }
}

/** A short-lived client for reading the table in assertions (our schema as its search_path). */
export function openSql(url: string) {
  const sql = postgres(url, { max: 2, onnotice: () => {}, connection: { search_path: 'events_stack' } });
  return Object.assign(sql, { [Symbol.asyncDispose]: () => sql.end({ timeout: 1 }) });
}

/** The stored versions as `uid@resourceVersion`, sorted: compares the table with `sim.history()`. */
export async function readVersionKeys(sql: postgres.Sql): Promise<string[]> {
  const rows = await sql<{ key: string }[]>`select uid || '@' || resource_version as key from k8s_events`;
  return rows.map((r) => r.key).sort();
}

/** The versions the simulator ever held as `uid@resourceVersion`, sorted. */
export function historyKeys(history: StoredObject[]): string[] {
  return history.map((o) => `${o.metadata.uid}@${o.metadata.resourceVersion}`).sort();
}

/** An ingester running as `bun ingester.ts` in a child process. */
export interface IngesterProcess extends AsyncDisposable {
  readonly proc: Bun.Subprocess<'ignore', 'pipe', 'pipe'>;
  /** Every JSON log line written so far. */
  readonly logs: Record<string, unknown>[];
  /** Resolves with the probe port once the process logs it. */
  readonly port: Promise<number>;
  readiness(): Promise<Record<string, unknown>>;
}

/** Spawns the real entry file with `env` (plus PATH/HOME); `await using` kills it if still running. */
export function spawnIngester(env: Record<string, string>): IngesterProcess {
  const proc = Bun.spawn(['bun', 'ingester.ts'], {
    cwd: new URL('../..', import.meta.url).pathname,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env, ...pickClockEnv() },
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const logs: Record<string, unknown>[] = [];
  let resolvePort: (port: number) => void = () => {};
  const port = new Promise<number>((resolve) => (resolvePort = resolve));
  void (async () => {
    let pending = '';
    for await (const chunk of proc.stdout) {
      pending += new TextDecoder().decode(chunk);
      let newline;
      while ((newline = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        try {
          const parsed = JSON.parse(line) as Record<string, unknown>;
          logs.push(parsed);
          if (parsed.msg === 'probe server listening') resolvePort(parsed.port as number);
        } catch {
          logs.push({ text: line });
        }
      }
    }
  })();
  return {
    proc,
    logs,
    port,
    async readiness() {
      const response = await fetch(`http://127.0.0.1:${await port}/readyz`);
      return (await response.json()) as Record<string, unknown>;
    },
    async [Symbol.asyncDispose]() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await proc.exited;
    },
  };
}
