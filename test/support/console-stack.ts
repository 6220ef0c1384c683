// The whole stack the console runs against, as a user runs it: `bun ingester.ts` and `bun presenter.ts`
// as processes, the simulator over HTTPS with client certificates, and embedded PostgreSQL.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storeClientConfig } from '../../dev/demo-cluster.ts';
import { startSimulator, type KubeObject, type Simulator, type StoredObject } from '../../dev/simulator/index.ts';
import { signDevToken } from '../../dev/tokens.ts';
import { retryWhilePortTaken, startExecutable, waitForAnswer, type RunningExecutable } from './executable.ts';
import { spawnIngester, waitFor } from './ingester-fixtures.ts';
import { createTestDatabase } from './pg.ts';

const root = new URL('../..', import.meta.url).pathname;
const signKey = 'console-signing-key-0123456789abcdefghij';
const authnNamespace = 'krateo-system';
export const clusterName = 'console';

/** The stack: `alice` may list events in team-a and team-b only, `admin` everywhere. */
export interface ConsoleStack extends AsyncDisposable {
  readonly url: string;
  readonly sim: Simulator;
  tokenFor(username: 'alice' | 'admin'): string;
  /** Creates a Pod event in the cluster now; override what the test is about. */
  createEvent(namespace: string, overrides?: KubeObject): StoredObject;
  /** The `global_uid` the stack stores for a created event. */
  globalUid(event: StoredObject): string;
  /** Waits until `/events` (as admin) lists at least `count` events. */
  waitForStored(count: number): Promise<void>;
  /** Stops the presenter (SIGTERM: streams get a resume frame), runs `whileDown`, starts it again on the same port. */
  restartPresenter(whileDown: () => Promise<void>): Promise<void>;
}

let counter = 0;

function buildEvent(namespace: string, overrides: KubeObject): KubeObject {
  counter++;
  const now = new Date().toISOString();
  const name = `pod-${counter}`;
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { namespace, name: `${name}.c${counter}` },
    involvedObject: { apiVersion: 'v1', kind: 'Pod', namespace, name, uid: `00000000-0000-4000-9000-${String(counter).padStart(12, '0')}` },
    type: 'Normal',
    reason: 'Started',
    message: `Started container ${counter}`,
    firstTimestamp: now,
    lastTimestamp: now,
    count: 1,
    source: { component: 'kubelet' },
    ...overrides,
  };
}

function spawnPresenter(databaseUrl: string, kubeconfig: string, port: number, extraEnv: Record<string, string>): RunningExecutable {
  return startExecutable('bun', {
    cwd: root,
    args: ['presenter.ts'],
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      DATABASE_URL: databaseUrl,
      KUBECONFIG: kubeconfig,
      PORT: String(port),
      JWT_SIGN_KEY: signKey,
      AUTHN_NS: authnNamespace,
      // The ingester's cluster: rows of any other cluster are hidden.
      CLUSTER_NAME: clusterName,
      OTEL_ENABLED: 'false',
      SHUTDOWN_TIMEOUT: '5s',
      ...extraEnv,
    },
  });
}

/** Starts PostgreSQL (a fresh database), the simulator, the ingester and the presenter (with `presenterEnv` added); dispose to stop all. */
export async function startConsoleStack(options: { presenterEnv?: Record<string, string> } = {}): Promise<ConsoleStack> {
  const cleanup: (() => Promise<unknown> | unknown)[] = [];
  const dispose = async () => {
    for (const step of cleanup.reverse()) await step();
  };
  try {
    const sim = await startSimulator({ tls: true, bookmarkEveryMs: 200 });
    cleanup.push(() => sim.close());
    const dir = mkdtempSync(join(tmpdir(), 'events-console-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    sim.setRbac('events-ingester', [
      { verbs: ['get', 'list', 'watch'], resources: ['events'], apiGroups: [''] },
      { verbs: ['get'], resources: ['pods'], apiGroups: [''] },
    ]);
    sim.setRbac('events-presenter', [{ verbs: ['get', 'list', 'watch'], resources: ['secrets'], apiGroups: [''], namespaces: [authnNamespace] }]);
    sim.setRbac('alice', [{ verbs: ['list'], resources: ['events'], apiGroups: [''], namespaces: ['team-a', 'team-b'] }]);
    sim.setRbac('admin', [{ verbs: ['*'], resources: ['*'] }]);
    for (const user of ['alice', 'admin']) await storeClientConfig(sim, authnNamespace, user, []);
    const ingesterKubeconfig = join(dir, 'ingester.kubeconfig');
    const presenterKubeconfig = join(dir, 'presenter.kubeconfig');
    writeFileSync(ingesterKubeconfig, await sim.kubeconfigFor('events-ingester'));
    writeFileSync(presenterKubeconfig, await sim.kubeconfigFor('events-presenter'));

    const db = await createTestDatabase();
    cleanup.push(() => db[Symbol.asyncDispose]());
    const ingester = spawnIngester({ DATABASE_URL: db.url, KUBECONFIG: ingesterKubeconfig, CLUSTER_NAME: clusterName, PORT: '0' });
    cleanup.push(() => ingester[Symbol.asyncDispose]());
    // The page keeps one URL across a presenter restart, so the port is chosen (again on
    // EADDRINUSE for the first start); the restart binds the port this presenter just released.
    const readyAt = (port: number, running: RunningExecutable) => waitForAnswer(`http://127.0.0.1:${port}/readyz`, running, (status) => status === 200, 30_000);
    const first = await retryWhilePortTaken(1, async ([port]) => {
      const running = spawnPresenter(db.url, presenterKubeconfig, port!, options.presenterEnv ?? {});
      try {
        await readyAt(port!, running);
        return { running, port: port! };
      } catch (err) {
        await running[Symbol.asyncDispose]();
        throw err;
      }
    });
    const { port } = first;
    const url = `http://127.0.0.1:${port}`;
    let presenter = first.running;
    cleanup.push(() => presenter[Symbol.asyncDispose]());
    const presenterReady = () => readyAt(port, presenter);
    await waitFor(async () => (await ingester.readiness()).ready === true || undefined, { timeoutMs: 30_000, what: 'ingester ready' });

    const tokenFor = (username: string) => signDevToken({ key: signKey, username });
    return {
      url,
      sim,
      tokenFor,
      createEvent: (namespace, overrides = {}) => sim.createEvent(buildEvent(namespace, overrides)),
      globalUid: (event) => `${clusterName}:${event.metadata.uid}`,
      async waitForStored(count) {
        await waitFor(
          async () => {
            const response = await fetch(`${url}/events?limit=1000`, { headers: { authorization: `Bearer ${tokenFor('admin')}` } });
            return ((await response.json()) as { resources: unknown[] }).resources.length >= count || undefined;
          },
          { timeoutMs: 20_000, what: `${count} events stored` },
        );
      },
      async restartPresenter(whileDown) {
        await presenter.stop('SIGTERM', 15_000);
        await whileDown();
        presenter = spawnPresenter(db.url, presenterKubeconfig, port, options.presenterEnv ?? {});
        await presenterReady();
      },
      [Symbol.asyncDispose]: dispose,
    };
  } catch (err) {
    await dispose();
    throw err;
  }
}
