// `bun run dev`: the whole stack in one terminal — PostgreSQL (embedded unless configured), the
// ingester and the presenter, against the current cluster or the demo simulator. Ctrl-C stops all.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import postgres from 'postgres';
import { startEmbeddedPostgres } from '../lib/storage/embedded-postgres.ts';
import { startDemoCluster, type DemoCluster } from './demo-cluster.ts';
import { signDevToken } from './tokens.ts';

const root = join(import.meta.dir, '..');
const env = process.env;
const dataDir = env.DEV_DATA_DIR ?? join(root, '.data');
// As root the embedded PostgreSQL runs as the OS user `postgres`, which often cannot enter the
// checkout (a clone under /root or in a `mktemp -d` folder): its cluster then lives in /var/tmp,
// one folder per checkout, kept across runs like `.data/`.
const pgDataDir = env.DEV_DATA_DIR === undefined && process.getuid?.() === 0
  ? join('/var/tmp', `events-stack-dev-${createHash('sha256').update(root).digest('hex').slice(0, 12)}`, 'postgres')
  : join(dataDir, 'postgres');
const say = (line: string) => process.stdout.write(`[dev] ${line}\n`);

async function reachableKubeconfig(): Promise<string | undefined> {
  const path = env.KUBECONFIG ?? join(homedir(), '.kube', 'config');
  if (!existsSync(path)) return undefined;
  try {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(path);
    const version = kc.makeApiClient(k8s.VersionApi).getCode();
    const timeout = Bun.sleep(3000).then(() => {
      throw new Error('timeout');
    });
    await Promise.race([version, timeout]);
    return path;
  } catch {
    return undefined;
  }
}

/**
 * The dev stack's HS256 key: JWT_SIGN_KEY when given, else a random 32-byte key made on the first
 * run and kept (mode 0600) in the data folder, so printed tokens survive a restart and no key is
 * published with the source.
 */
function devSigningKey(): string {
  if (env.JWT_SIGN_KEY) return env.JWT_SIGN_KEY;
  const path = join(dataDir, 'jwt-sign-key');
  if (existsSync(path)) return readFileSync(path, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true });
  const key = randomBytes(32).toString('base64url');
  writeFileSync(path, `${key}\n`, { mode: 0o600 });
  return key;
}

async function ensureDatabase(serverUrl: string, name: string): Promise<string> {
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  try {
    const [found] = await admin`select 1 from pg_database where datname = ${name}`;
    if (!found) await admin.unsafe(`create database "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.href;
}

function spawnService(name: string, entry: string, serviceEnv: Record<string, string | undefined>) {
  const child = Bun.spawn(['bun', join(root, entry)], { cwd: root, env: serviceEnv, stdout: 'pipe', stderr: 'pipe' });
  const pipe = async (stream: ReadableStream<Uint8Array>, out: NodeJS.WriteStream) => {
    const decoder = new TextDecoder();
    let pending = '';
    for await (const chunk of stream) {
      pending += decoder.decode(chunk, { stream: true });
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) out.write(`[${name}] ${line}\n`);
    }
  };
  void pipe(child.stdout, process.stdout);
  void pipe(child.stderr, process.stderr);
  return child;
}

async function waitUntilReady(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await fetch(url, { signal: AbortSignal.timeout(1000) }).then((r) => r.ok, () => false);
    if (ok) return;
    await Bun.sleep(100);
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms`);
}

const stack: { stop: () => Promise<void> }[] = [];
let stopping = false;
let stoppingSinceMs = 0;
async function stopAll(code: number): Promise<never> {
  // Ctrl-C reaches us twice (from the terminal's process group and forwarded by `bun run`): only a
  // signal well after the first one means "stop now, without cleaning up".
  if (stopping) {
    if (Date.now() - stoppingSinceMs > 1000) process.exit(code);
    return await new Promise<never>(() => {});
  }
  stopping = true;
  stoppingSinceMs = Date.now();
  say('stopping');
  for (const part of stack.reverse()) await part.stop().catch(() => {});
  process.exit(code);
}
process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));

try {
  let databaseEnv: Record<string, string | undefined> = {};
  if (env.DATABASE_URL || env.DB_HOST) {
    say('using the configured database (DATABASE_URL / DB_*)');
  } else {
    const pg = await startEmbeddedPostgres({ dataDir: pgDataDir, persistent: true, port: Number(env.DEV_PG_PORT ?? 0) || undefined });
    stack.push({ stop: () => pg.stop() });
    const url = await ensureDatabase(pg.url, 'events');
    say(`embedded PostgreSQL 15 on port ${pg.port}, data in ${pgDataDir} (${pg.created ? 'new' : 'reused'})`);
    databaseEnv = { DATABASE_URL: url };
  }

  const jwtSignKey = devSigningKey();
  let ingesterKubeconfig = await reachableKubeconfig();
  let presenterKubeconfig = ingesterKubeconfig;
  let authnNamespace = env.AUTHN_NS ?? 'krateo-system';
  let demo: DemoCluster | undefined;
  if (ingesterKubeconfig) {
    say(`using the cluster of ${ingesterKubeconfig}`);
  } else {
    demo = await startDemoCluster({ dir: join(dataDir, 'sim'), eventsPerSecond: Number(env.DEV_EVENTS_PER_SECOND ?? 5) });
    const cluster = demo;
    stack.push({ stop: async () => await cluster[Symbol.asyncDispose]() });
    ingesterKubeconfig = demo.ingesterKubeconfigPath;
    presenterKubeconfig = demo.presenterKubeconfigPath;
    authnNamespace = demo.authnNamespace;
    say(`no reachable cluster: started the Kubernetes API simulator at ${demo.sim.url} with a demo workload`);
  }

  const common = { PATH: env.PATH, HOME: env.HOME, ...databaseEnv, DEBUG: env.DEBUG, OTEL_ENABLED: env.OTEL_ENABLED ?? 'false' };
  const ingesterPort = env.INGESTER_PORT ?? '8080';
  const presenterPort = env.PRESENTER_PORT ?? '8083';
  // Both services must name the cluster alike: the presenter hides rows of clusters it has no mapping for.
  const clusterName = env.CLUSTER_NAME ?? (demo ? 'demo' : undefined);
  const ingester = spawnService('ingester', 'ingester.ts', { ...env, ...common, PORT: ingesterPort, KUBECONFIG: ingesterKubeconfig, CLUSTER_NAME: clusterName });
  stack.push({ stop: async () => void (ingester.kill('SIGTERM'), await ingester.exited) });
  const presenter = spawnService('presenter', 'presenter.ts', { ...env, ...common, PORT: presenterPort, KUBECONFIG: presenterKubeconfig, JWT_SIGN_KEY: jwtSignKey, AUTHN_NS: authnNamespace, CLUSTER_NAME: clusterName, HOST: env.PRESENTER_HOST ?? '127.0.0.1' });
  stack.push({ stop: async () => void (presenter.kill('SIGTERM'), await presenter.exited) });
  void ingester.exited.then((code) => !stopping && (say(`ingester exited with ${code}`), stopAll(1)));
  void presenter.exited.then((code) => !stopping && (say(`presenter exited with ${code}`), stopAll(1)));

  const presenterUrl = `http://127.0.0.1:${presenterPort}`;
  await waitUntilReady(`${presenterUrl}/readyz`, 60_000);
  const users = demo?.users ?? [{ username: env.DEV_USER ?? 'admin', groups: [], sees: 'what the cluster allows' }];
  say(`presenter ready on ${presenterUrl}; try (tokens valid 24 h):`);
  for (const user of users) {
    const token = signDevToken({ key: jwtSignKey, username: user.username, groups: user.groups });
    say(`  # ${user.username} sees ${user.sees}`);
    say(`  curl -N -H 'Authorization: Bearer ${token}' ${presenterUrl}/notifications`);
    // The token rides in the fragment: the browser never sends it to the server, the page reads it.
    say(`  console: ${presenterUrl}/ui#token=${token}`);
  }
  say('Ctrl-C stops everything');
} catch (err) {
  say(`start failed: ${err instanceof Error ? err.message : String(err)}`);
  await stopAll(1);
}
