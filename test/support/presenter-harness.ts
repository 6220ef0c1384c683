import { KubeConfig } from '@kubernetes/client-node';
import type { AccessCheck } from '../../lib/presenter/access/access-review.ts';
import { signToken } from '../../lib/presenter/access/auth-token.ts';
import { createSql, runMigrations, type Sql } from '../../lib/storage/db.ts';
import { insertEventRows, type EventRecord } from '../../lib/storage/event-store.ts';
import { createDiscoveryClient } from '../../lib/kube/discovery.ts';
import { createSecretReader } from '../../lib/presenter/access/secret-reader.ts';
import { silentLogger, type Logger } from '../../lib/runtime/log.ts';
import { startPresenter, type PresenterSettings, type RunningPresenter } from '../../lib/presenter/presenter.ts';
import { startSimulator, type RbacRule, type Simulator } from '../../dev/simulator/index.ts';
import { createTestDatabase, type TestDatabase } from './pg.ts';
import consolePage from '../../console/index.html';

export const signKey = 'test-sign-key-0123456789abcdefghijklmnop';
export const authnNamespace = 'krateo-system';

/** Presenter settings for tests: no heartbeat within a test (1 h: tests that want them set their own) and a short authorisation TTL. */
export function buildSettings(overrides: Partial<PresenterSettings> = {}): PresenterSettings {
  return {
    port: 0,
    jwtSignKey: signKey,
    authnNamespace,
    heartbeatIntervalMs: 3_600_000,
    sseRetryMs: 3000,
    sseClientBufferBytes: 1_048_576,
    replayMaxRows: 10_000,
    authzCacheTtlMs: 30_000,
    authzStrict: false,
    // The cluster of `buildRecord` rows.
    clusterName: 'test',
    remoteClusters: [],
    corsOrigins: ['*'],
    eventsMaxLimit: 1000,
    shutdownTimeoutMs: 5000,
    ...overrides,
  };
}

/** A valid token for `username`, valid for an hour. */
export function tokenFor(username: string, claims: Record<string, unknown> = {}): string {
  return signToken({ username, groups: [], exp: Math.floor(Date.now() / 1000) + 3600, ...claims }, signKey);
}

/** A presenter on port 0 with a fresh database and an HTTPS simulator holding users' clientconfig Secrets. */
export interface PresenterHarness extends AsyncDisposable {
  db: TestDatabase;
  sim: Simulator;
  sql: Sql;
  presenter: RunningPresenter;
  url: string;
  /** Creates the user's clientconfig Secret (client certificate) and RBAC rules; returns a token. */
  addUser(username: string, rules: RbacRule[]): Promise<string>;
  /** Inserts records (one statement) and returns the stored seqs in order. */
  insert(...records: EventRecord[]): Promise<number[]>;
}

const b64 = (text: string) => Buffer.from(text).toString('base64');

/** Rules allowing `list events` in the given namespaces (cluster-wide when omitted). */
export function listEventsIn(namespaces?: string[]): RbacRule[] {
  return [{ verbs: ['list'], resources: ['events'], apiGroups: [''], ...(namespaces ? { namespaces } : {}) }];
}

/** Options of the harness itself (not presenter settings). */
export interface HarnessOptions {
  /** Where the presenter logs (silent by default). */
  log?: Logger;
  /** Bun's idle connection cut-off in seconds. */
  idleTimeoutSeconds?: number;
  /** The presenter's `list events` review (default: a SelfSubjectAccessReview as the user). */
  accessCheck?: AccessCheck;
  /** How long the namespace catalog is reused (0 by default: read on every request). */
  namespaceRefreshMs?: number;
  /** Runs the presenter as in a pod: reviews for its own cluster go to this API server (given the harness's simulator). */
  ownApiServer?: (sim: Simulator) => Promise<{ url: string; caPem?: string }>;
  /** More clusters whose rows are authorised by the harness's simulator (through `proxyUrl` if given), with the users' main clientconfig. */
  sameSimClusters?: (string | { name: string; proxyUrl?: string })[];
  /** The clock of the presenter's authorisation caches (default `Date.now`; see `createTestClock`). */
  now?: () => number;
}

/** A clock a test moves by hand: cache lifetimes pass at once, without waiting for them. */
export function createTestClock(startMs = Date.now()) {
  let nowMs = startMs;
  return {
    now: () => nowMs,
    advance(ms: number): void {
      nowMs += ms;
    },
  };
}

export async function startPresenterHarness(overrides: Partial<PresenterSettings> = {}, options: HarnessOptions = {}): Promise<PresenterHarness> {
  const db = await createTestDatabase();
  await runMigrations(db.url, { log: silentLogger });
  const sim = await startSimulator();
  const admin = new KubeConfig();
  admin.loadFromString(await sim.adminKubeconfig());
  const presenter = await startPresenter({
    settings: buildSettings({
      ...overrides,
      remoteClusters: [
        ...(overrides.remoteClusters ?? []),
        ...(options.sameSimClusters ?? []).map((c) => ({
          ...(typeof c === 'string' ? { name: c } : c),
          serverUrl: sim.url,
          caPem: sim.caPem,
          secretNameTemplate: '{username}-clientconfig',
        })),
      ],
    }),
    databaseUrl: db.url,
    readSecret: createSecretReader(admin),
    discovery: createDiscoveryClient(admin),
    log: options.log ?? silentLogger,
    namespaceRefreshMs: options.namespaceRefreshMs ?? 0,
    idleTimeoutSeconds: options.idleTimeoutSeconds,
    accessCheck: options.accessCheck,
    consolePage,
    inClusterApi: options.ownApiServer && (await options.ownApiServer(sim)),
    now: options.now,
  });
  const sql = createSql(db.url, { max: 2 });
  return {
    db,
    sim,
    sql,
    presenter,
    url: presenter.url,
    async addUser(username, rules) {
      const { certPem, keyPem } = await sim.issueClientCert(username);
      // Krateo's authn writes kubeconfig-style base64 PEM inside the Secret values.
      sim.setSecret(authnNamespace, `${username}-clientconfig`, {
        'server-url': sim.url,
        'certificate-authority-data': b64(sim.caPem),
        'client-certificate-data': b64(certPem),
        'client-key-data': b64(keyPem),
      });
      sim.setRbac(username, rules);
      return tokenFor(username);
    },
    async insert(...records) {
      await insertEventRows(sql, records);
      const rows = await sql<{ seq: number }[]>`
        select seq from k8s_events where global_uid = any(${records.map((r) => r.global_uid)}::text[]) order by seq`;
      return rows.map((r) => r.seq);
    },
    async [Symbol.asyncDispose]() {
      await presenter.stop();
      await sql.end();
      await sim.close();
      await db[Symbol.asyncDispose]();
    },
  };
}

/** The suite's one wait (test/support/wait.ts), re-exported for the presenter tests. */
export { waitFor } from './wait.ts';
