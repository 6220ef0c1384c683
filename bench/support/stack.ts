// Process plumbing shared by the ingest benchmarks: simulator with the generator's objects, the
// ingester as a real subprocess (`bun ingester.ts`), a NOTIFY-based committed-row counter, and
// CPU accounting per process (simulator = this process, ingester, PostgreSQL backends).
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { startSimulator, type Simulator } from '../../dev/simulator/index.ts';
import type { createEventGenerator } from './events.ts';
import { processCpuSeconds, processRssBytes } from './report.ts';

const root = join(import.meta.dir, '..', '..');

export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface BenchSimulator {
  sim: Simulator;
  kubeconfigPath: string;
  dispose(): Promise<void>;
}

/**
 * A simulator (HTTPS unless `tls: false`) holding the generator's involved objects, and an admin
 * kubeconfig on disk. `watchWindow`/`eventTtlSeconds` bound its memory for long runs (see
 * dev/simulator `SimulatorOptions`); by default it keeps everything.
 */
export async function startBenchSimulator(options: {
  tls?: boolean;
  generator?: ReturnType<typeof createEventGenerator>;
  watchWindow?: number;
  eventTtlSeconds?: number;
}): Promise<BenchSimulator> {
  const sim = await startSimulator({
    tls: options.tls ?? true,
    bookmarkEveryMs: 1000,
    ...(options.watchWindow && { watchWindow: options.watchWindow }),
    ...(options.eventTtlSeconds && { eventTtlSeconds: options.eventTtlSeconds }),
  });
  for (const object of options.generator?.objects ?? []) {
    sim.setObject({
      apiVersion: object.apiVersion,
      kind: object.kind,
      metadata: { namespace: object.namespace, name: object.name, uid: object.uid, labels: object.labels },
    });
  }
  const dir = mkdtempSync(join(tmpdir(), 'events-bench-kube-'));
  const kubeconfigPath = join(dir, 'kubeconfig');
  writeFileSync(kubeconfigPath, await sim.adminKubeconfig());
  return {
    sim,
    kubeconfigPath,
    async dispose() {
      await sim.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface IngesterProcess {
  pid: number;
  port: number;
  /**
   * Resolves when /readyz says this replica leads and its watch is established (a standby also
   * answers 200, before it watches anything).
   */
  ready(timeoutMs?: number): Promise<number>;
  cpuSeconds(): number;
  rssBytes(): number;
  /** SIGTERM and wait; returns the exit code. */
  stop(): Promise<number>;
  /** Removes the log directory (call after reading `output()`). */
  removeLogs(): void;
  output(): string;
}

/** Spawns `bun ingester.ts` against the database and kubeconfig. */
export async function spawnIngester(options: {
  databaseUrl: string;
  kubeconfigPath: string;
  env?: Record<string, string>;
  /** Write a markdown CPU profile (bun --cpu-prof-md) into this directory on exit. */
  cpuProfileDir?: string;
}): Promise<IngesterProcess> {
  const port = await freePort();
  const logDir = mkdtempSync(join(tmpdir(), 'events-bench-ingester-'));
  const logPath = join(logDir, 'ingester.log');
  const profile = options.cpuProfileDir ? ['--cpu-prof-md', `--cpu-prof-dir=${options.cpuProfileDir}`] : [];
  const child = Bun.spawn(['bun', ...profile, join(root, 'ingester.ts')], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/root',
      DATABASE_URL: options.databaseUrl,
      KUBECONFIG: options.kubeconfigPath,
      CLUSTER_NAME: 'bench',
      PORT: String(port),
      MIGRATE_ON_START: 'false',
      OTEL_ENABLED: 'false',
      STATUS_LOG_INTERVAL: '0',
      ...options.env,
    },
    stdout: Bun.file(logPath),
    stderr: Bun.file(join(logDir, 'ingester.err')),
  });
  const output = () => {
    const read = (name: string) => {
      try {
        return readFileSync(join(logDir, name), 'utf8');
      } catch {
        return '';
      }
    };
    return `${read('ingester.log').slice(-4000)}${read('ingester.err').slice(-4000)}`;
  };
  return {
    pid: child.pid,
    port,
    async ready(timeoutMs = 30_000) {
      const started = performance.now();
      for (;;) {
        if (child.exitCode !== null) throw new Error(`ingester exited with ${child.exitCode}: ${output()}`);
        const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then(
          async (r) => {
            const body = (await r.json().catch(() => ({}))) as { role?: string; watch_established?: boolean | null };
            return r.ok && body.role === 'leader' && body.watch_established === true;
          },
          () => false,
        );
        if (ok) return performance.now() - started;
        if (performance.now() - started > timeoutMs) throw new Error(`ingester not ready after ${timeoutMs} ms: ${output()}`);
        await Bun.sleep(10);
      }
    },
    cpuSeconds: () => processCpuSeconds(child.pid),
    rssBytes: () => processRssBytes(child.pid),
    async stop() {
      child.kill('SIGTERM');
      const code = await child.exited;
      return code;
    },
    output,
    removeLogs: () => rmSync(logDir, { recursive: true, force: true }),
  };
}

/** Counts rows committed into k8s_events from the statement trigger's NOTIFY payloads. */
export async function committedCounter(url: string) {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  let rows = 0;
  const waiters: { target: number; resolve: () => void }[] = [];
  await sql.listen('events_stack', (payload) => {
    try {
      rows += Number((JSON.parse(payload) as { rows?: number }).rows ?? 0);
    } catch {
      return;
    }
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (rows >= waiters[i]!.target) {
        waiters[i]!.resolve();
        waiters.splice(i, 1);
      }
    }
  });
  return {
    get rows() {
      return rows;
    },
    reset() {
      rows = 0;
    },
    /** Resolves when at least `target` rows have been notified since the last reset. */
    until(target: number): Promise<void> {
      if (rows >= target) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ target, resolve }));
    },
    end: () => sql.end({ timeout: 2 }),
  };
}

/** PIDs of the PostgreSQL processes of an embedded server (postmaster and its children). */
export function postgresPids(postmasterPid: number | undefined): number[] {
  if (postmasterPid === undefined) return [];
  const pids = [postmasterPid];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === postmasterPid) pids.push(Number(entry));
    } catch {
      // gone
    }
  }
  return pids;
}

/** CPU seconds of a set of processes, re-scanning children (backends come and go). */
export function postgresCpuSeconds(postmasterPid: number | undefined): number {
  return postgresPids(postmasterPid).reduce((sum, pid) => sum + (processCpuSeconds(pid) || 0), 0);
}
