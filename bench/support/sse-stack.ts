// The presenter side of the SSE benchmarks (bench/sse.ts, bench/pg-restart.ts, bench/mixed.ts):
// `bun presenter.ts` as a subprocess, the separate SSE client process (sse-clients.ts) driven over
// stdin/stdout, and the open-loop producer that stamps each event's write time into its message.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Simulator } from '../../dev/simulator/index.ts';
import type { createEventGenerator } from './events.ts';
import { flag, log } from './report.ts';
import { freePort, type BenchSimulator, type IngesterProcess } from './stack.ts';

const root = join(import.meta.dir, '..', '..');
export const nowMs = () => performance.timeOrigin + performance.now();

export interface PresenterProcess {
  child: ReturnType<typeof Bun.spawn>;
  port: number;
  url: string;
}

/** Spawns `bun presenter.ts` (logs under `dir`) and waits for /readyz. */
export async function spawnPresenter(options: {
  databaseUrl: string;
  kubeconfigPath: string;
  jwtKey: string;
  authnNs: string;
  dir: string;
  env?: Record<string, string>;
  /** Write a CPU profile (markdown) of the presenter into this folder when it exits. */
  profileDir?: string;
}): Promise<PresenterProcess> {
  const port = await freePort();
  const profile = options.profileDir ? ['--cpu-prof-md', `--cpu-prof-dir=${options.profileDir}`] : [];
  const child = Bun.spawn(['bun', ...profile, join(root, 'presenter.ts')], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/root',
      DATABASE_URL: options.databaseUrl,
      KUBECONFIG: options.kubeconfigPath,
      JWT_SIGN_KEY: options.jwtKey,
      AUTHN_NS: options.authnNs,
      // The cluster the bench ingester and toRecords() store rows as.
      CLUSTER_NAME: 'bench',
      PORT: String(port),
      MIGRATE_ON_START: 'false',
      OTEL_ENABLED: 'false',
      ...options.env,
    },
    stdout: Bun.file(join(options.dir, `presenter-${port}.log`)),
    stderr: Bun.file(join(options.dir, `presenter-${port}.err`)),
  });
  for (let i = 0; ; i++) {
    const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false);
    if (ok) break;
    if (i > 3000 || child.exitCode !== null) throw new Error(`presenter did not start (see ${options.dir})`);
    await Bun.sleep(10);
  }
  return { child, port, url: `http://127.0.0.1:${port}` };
}

export interface ClientReport {
  samples: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
  frames: number;
  min_per_client: number;
  max_per_client: number;
  failures: number;
  /** Streams that ended (server closed them, or the connection broke) since the start. */
  ended: number;
  /** Reconnects made (with `reconnect`), since the start. */
  reconnects: number;
}

/** Per client: every event id (seq) received, in arrival order; per seq: first receipt (epoch ms) and write stamp. */
export interface ClientIds {
  ids: number[][];
  reconnects: number[];
  /** [seq, first receipt epoch ms, producer stamp epoch ms] */
  seen: [number, number, number][];
}

/**
 * Starts the client process with one stream per entry. `recordIds`: keep every frame's `id:` per
 * client (parsed frame by frame); `reconnect`: reopen an ended stream with `Last-Event-ID`.
 */
export async function spawnClients(dir: string, clients: { url: string }[], options: { recordIds?: boolean; reconnect?: boolean } = {}) {
  const configPath = join(dir, `clients-${clients.length}-${Math.round(performance.now())}.json`);
  writeFileSync(configPath, JSON.stringify({ clients, recordIds: options.recordIds, reconnect: options.reconnect }));
  const child = Bun.spawn(['bun', join(import.meta.dir, 'sse-clients.ts'), configPath], {
    stdin: 'pipe',
    stdout: 'pipe',
    stderr: 'inherit',
    // Bun's fetch queues requests beyond 256 in flight per process; an SSE stream never finishes.
    env: { ...process.env, BUN_CONFIG_MAX_HTTP_REQUESTS: '65535' },
  });
  const reader = child.stdout.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const line = async (prefix: string): Promise<string> => {
    for (;;) {
      const nl = buffer.indexOf('\n');
      if (nl >= 0) {
        const text = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (text.startsWith(prefix)) return text.slice(prefix.length).trim();
        continue;
      }
      const { value, done } = await reader.read();
      if (done) throw new Error('client process ended');
      buffer += decoder.decode(value);
    }
  };
  const send = (command: string) => {
    child.stdin.write(`${command}\n`);
    child.stdin.flush();
  };
  const [opened, ms] = (await line('OPEN ')).split(' ').map(Number);
  return {
    pid: child.pid,
    opened: opened!,
    openMs: ms!,
    /** Latency and counts of frames whose event was written at or after `sinceMs`; resets the counters. */
    async report(sinceMs = 0): Promise<ClientReport> {
      send(`REPORT ${sinceMs}`);
      return JSON.parse(await line('REPORT ')) as ClientReport;
    },
    /** Every id received so far (needs `recordIds`), written through a file. */
    async ids(): Promise<ClientIds> {
      const path = join(dir, `ids-${Math.round(performance.now())}.json`);
      send(`IDS ${path}`);
      await line('IDS ');
      return (await Bun.file(path).json()) as ClientIds;
    },
    async exit() {
      send('EXIT');
      await Promise.race([child.exited, Bun.sleep(5000).then(() => child.kill())]);
    },
  };
}

/**
 * Open loop: every 10 ms tick creates its share of `rate` events/s in the simulator, whatever the
 * consumers do; each event's message starts with `t=<epoch ms>` (its write time).
 */
export function startOpenLoop(sim: Simulator, generator: ReturnType<typeof createEventGenerator>, rate: number) {
  const perTick = rate / 100;
  let owed = 0;
  let running = true;
  let created = 0;
  const createdIn = new Map<string, number>();
  const done = (async () => {
    const start = performance.now();
    let tick = 0;
    while (running) {
      const due = start + tick * 10;
      const wait = due - performance.now();
      if (wait > 0) await Bun.sleep(wait);
      owed += perTick; // rates below 100/s create one event every few ticks
      for (; owed >= 1; owed--) {
        const { event, update } = generator.next();
        // A count bump copies its predecessor, stamp included: replace the stamp, never add one.
        const message = String((event as { message?: string }).message ?? '').replace(/^t=\d+\.\d+ /, '');
        (event as { message: string }).message = `t=${nowMs().toFixed(3)} ${message}`;
        if (update) sim.updateEvent(event as never);
        else sim.createEvent(event as never);
        created++;
        const namespace = (event as { metadata?: { namespace?: string } }).metadata?.namespace ?? '';
        createdIn.set(namespace, (createdIn.get(namespace) ?? 0) + 1);
      }
      tick++;
    }
  })();
  return {
    get created() {
      return created;
    },
    /** Events created so far per namespace (a copy), for exact expected frame counts. */
    createdByNamespace(): Map<string, number> {
      return new Map(createdIn);
    },
    async stop() {
      running = false;
      await done;
    },
  };
}

/**
 * Users for the SSE benchmarks: each gets a clientconfig Secret in `authnNs` and RBAC to list
 * events in its namespaces (`namespaces` undefined: everywhere). Certificates are issued a few at a time.
 */
export async function addListUsers(sim: Simulator, authnNs: string, users: readonly { username: string; namespaces?: string[] }[]): Promise<void> {
  const { storeClientConfig } = await import('../../dev/demo-cluster.ts');
  for (let i = 0; i < users.length; i += 8) {
    await Promise.all(
      users.slice(i, i + 8).map(async (u) => {
        await storeClientConfig(sim, authnNs, u.username, []);
        sim.setRbac(u.username, [{ verbs: ['list'], resources: ['events'], apiGroups: [''], ...(u.namespaces ? { namespaces: u.namespaces } : {}) }]);
      }),
    );
  }
}

/**
 * Stops a whole SSE benchmark stack in order (clients, ingester, presenter, simulator) and removes
 * the log folder `dir`, or keeps it and says where with `--keep-logs`.
 */
export async function stopSseStack(stack: {
  clients: { exit(): Promise<void> };
  ingester: IngesterProcess;
  presenter: PresenterProcess;
  bench: BenchSimulator;
  dir: string;
}): Promise<void> {
  await stack.clients.exit();
  await stack.ingester.stop();
  stack.ingester.removeLogs();
  stack.presenter.child.kill('SIGTERM');
  await stack.presenter.child.exited;
  await stack.bench.dispose();
  if (flag('keep-logs')) log(`logs kept in ${stack.dir}`);
  else rmSync(stack.dir, { recursive: true, force: true });
}
