import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { startSimulator, type RbacRule } from '../dev/simulator/index.ts';
import { signDevToken } from '../dev/tokens.ts';
import { createSql } from '../lib/storage/db.ts';
import { insertEventRows } from '../lib/storage/event-store.ts';
import { commands, executables } from '../scripts/build.ts';
import { buildRecord } from './support/builders.ts';
import { retryWhilePortTaken, startExecutable, waitForAnswer, waitForLoggedPort } from './support/executable.ts';
import { createTestDatabase } from './support/pg.ts';

const root = join(import.meta.dir, '..');

/** The build context the Containerfile sees: the `!name` lines of the .dockerignore allow-list. */
function buildContextFiles(): string[] {
  return readFileSync(join(root, '.dockerignore'), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.startsWith('!'))
    .map((line) => line.slice(1).replace(/\/$/, ''));
}

let workDir = '';
/** Holds the executables and drizzle/ only: no node_modules here or in any parent folder. */
let runDir = '';
let buildOutput = '';

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'events-stack-build-'));
  const context = join(workDir, 'context');
  mkdirSync(context);
  for (const name of buildContextFiles()) cpSync(join(root, name), join(context, name), { recursive: true });
  // `bun install --frozen-lockfile` in the image; here the installed packages are linked in.
  symlinkSync(join(root, 'node_modules'), join(context, 'node_modules'), 'dir');
  const build = Bun.spawn([process.execPath, 'run', 'build'], { cwd: context, stdout: 'pipe', stderr: 'pipe', env: { ...process.env, NO_COLOR: '1' } });
  const [code, stdout, stderr] = await Promise.all([build.exited, new Response(build.stdout).text(), new Response(build.stderr).text()]);
  buildOutput = stdout + stderr;
  if (code !== 0) throw new Error(`bun run build failed (exit ${code}):\n${buildOutput}`);
  runDir = join(workDir, 'app');
  mkdirSync(runDir);
  for (const { name } of executables) cpSync(join(context, 'dist', name), join(runDir, name));
  cpSync(join(context, 'dist', 'drizzle'), join(runDir, 'drizzle'), { recursive: true });
  rmSync(context, { recursive: true, force: true });
  mkdirSync(join(runDir, 'tmp'));
}, 60_000);

afterAll(() => {
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

/** An OTLP/HTTP receiver on port 0 that counts metric exports. */
function startOtlpReceiver() {
  const exports: string[] = [];
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch(request) {
      exports.push(`${request.method} ${new URL(request.url).pathname} ${request.headers.get('content-type')}`);
      return new Response(null, { status: 200 });
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, exports, [Symbol.asyncDispose]: async () => void (await server.stop(true)) };
}

/** The rules of the ClusterRoles deploy/base binds to the ingester, as simulator RBAC rules. */
function deployedIngesterRules(): RbacRule[] {
  const docs = Bun.YAML.parse(readFileSync(join(root, 'deploy', 'base', 'ingester-rbac.yaml'), 'utf8')) as {
    kind: string;
    rules?: { apiGroups: string[]; resources: string[]; verbs: string[] }[];
  }[];
  return docs
    .filter((doc) => doc.kind === 'ClusterRole')
    .flatMap((doc) => doc.rules ?? [])
    .map((rule) => ({ apiGroups: rule.apiGroups, resources: rule.resources, verbs: rule.verbs }));
}

const baseEnv = () => ({ HOME: runDir, TMPDIR: join(runDir, 'tmp'), PATH: '/usr/bin:/bin' });

const executable = () => join(runDir, 'events-stack');

describe('compiled executable (bun run build)', () => {
  test('is one executable, built from only the files the Containerfile copies, with the migrations beside it', () => {
    expect(executables.map((e) => e.name)).toEqual(['events-stack']);
    for (const { name } of executables) {
      const stats = statSync(join(runDir, name));
      expect(stats.isFile()).toBe(true);
      expect(stats.mode & 0o111).not.toBe(0);
      console.log(`${name}: ${(stats.size / 1_048_576).toFixed(1)} MiB`);
    }
    expect(statSync(join(runDir, 'drizzle', 'meta', '_journal.json')).isFile()).toBe(true);
  });

  test('the ingester starts with no node_modules, migrates, stores a watched event, answers its probes, exports OTLP metrics and exits 0 on SIGTERM', async () => {
    await using db = await createTestDatabase();
    await using sim = await startSimulator({ tls: true, bookmarkEveryMs: 200 });
    await using otlp = startOtlpReceiver();
    // The ingester's identity gets exactly the rules deploy/ grants it, nothing more.
    const serviceAccount = 'system:serviceaccount:events-stack:events-ingester';
    sim.setRbac(serviceAccount, deployedIngesterRules());
    const kubeconfig = join(runDir, 'ingester.kubeconfig');
    writeFileSync(kubeconfig, await sim.kubeconfigFor(serviceAccount));
    chmodSync(kubeconfig, 0o600);
    await using ingester = startExecutable(executable(), {
      cwd: runDir,
      args: ['ingester'],
      env: {
        ...baseEnv(),
        DATABASE_URL: db.url,
        KUBECONFIG: kubeconfig,
        PORT: '0',
        CLUSTER_NAME: 'smoke',
        STATUS_LOG_INTERVAL: '0',
        OTEL_ENABLED: 'true',
        OTEL_EXPORT_INTERVAL: '1s',
        OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
      },
    });
    const port = await waitForLoggedPort(ingester, 'probe server listening');
    await waitForAnswer(`http://127.0.0.1:${port}/livez`, ingester, (status) => status === 200);
    // Ready as a standby at once; then it wins the advisory lock and is ready once watching.
    const ready = await waitForAnswer(`http://127.0.0.1:${port}/readyz`, ingester, (status, body) => status === 200 && body.includes('"leader"'));
    expect(JSON.parse(ready)).toMatchObject({ ready: true, role: 'leader', database: true, watch_established: true });

    const compositionId = '6f1c2a8e-0b7d-4c3e-9a51-2d4e8f0a1b2c';
    sim.setObject({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'smoke', namespace: 'default', labels: { 'krateo.io/composition-id': compositionId } } });
    const stored = sim.createEvent({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: 'smoke.1', namespace: 'default' },
      involvedObject: { apiVersion: 'v1', kind: 'Pod', namespace: 'default', name: 'smoke', uid: 'smoke-pod-uid' },
      reason: 'Started',
      message: 'smoke test',
      type: 'Normal',
      count: 1,
      lastTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    });
    await using sql = Object.assign(postgres(db.url, { max: 1, onnotice: () => {} }), {
      [Symbol.asyncDispose]: async () => await sql.end(),
    });
    const deadline = Date.now() + 10_000;
    let rows: { global_uid: string; composition_id: string | null }[] = [];
    while (rows.length === 0 && Date.now() < deadline) {
      rows = await sql<{ global_uid: string; composition_id: string | null }[]>`select global_uid, composition_id from events_stack.k8s_events`;
      if (rows.length === 0) await Bun.sleep(50);
    }
    // The composition id came from the Pod's label: the deployed `get pods` grant is enough.
    expect(rows).toEqual([{ global_uid: `smoke:${stored.metadata.uid}`, composition_id: compositionId }]);

    expect(await ingester.stop('SIGTERM', 15_000)).toBe(0);
    expect(otlp.exports.length).toBeGreaterThan(0);
    expect(otlp.exports[0]).toBe('POST /v1/metrics application/x-protobuf');
  });

  test('the presenter starts with no node_modules, answers its probes, refuses an unauthenticated request, shows a signed-in user its permitted row and not the others, shows a user without permission nothing, exports OTLP metrics and exits 0 on SIGTERM', async () => {
    await using db = await createTestDatabase();
    await using sim = await startSimulator({ tls: true });
    await using otlp = startOtlpReceiver();
    const serviceAccount = 'system:serviceaccount:events-stack:events-presenter';
    // Exactly what deploy/ and the chart grant the presenter: get on Secrets in AUTHN_NS.
    sim.setRbac(serviceAccount, [{ apiGroups: [''], verbs: ['get'], resources: ['secrets'], namespaces: ['krateo-system'] }]);
    const kubeconfig = join(runDir, 'presenter.kubeconfig');
    writeFileSync(kubeconfig, await sim.kubeconfigFor(serviceAccount));
    chmodSync(kubeconfig, 0o600);
    // The scrape port must be given (the service does not log it): started again on another
    // port if one was taken before the presenter bound it.
    const { presenter, port, metricsPort } = await retryWhilePortTaken(1, async ([metricsPort]) => {
      const presenter = startExecutable(executable(), {
        cwd: runDir,
        args: ['presenter'],
        env: {
          ...baseEnv(),
          DATABASE_URL: db.url,
          KUBECONFIG: kubeconfig,
          PORT: '0',
          JWT_SIGN_KEY: 'smoke-test-signing-key-0123456789abcdef',
          AUTHN_NS: 'krateo-system',
          CLUSTER_NAME: 'smoke',
          OTEL_EXPORT_INTERVAL: '1s',
          OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
          PROMETHEUS_PORT: String(metricsPort),
        },
      });
      try {
        const port = await waitForLoggedPort(presenter, 'presenter listening');
        await waitForAnswer(`http://127.0.0.1:${port}/livez`, presenter, (status) => status === 200);
        await waitForAnswer(`http://127.0.0.1:${port}/readyz`, presenter, (status) => status === 200);
        await waitForAnswer(`http://127.0.0.1:${metricsPort}/metrics`, presenter, (status) => status === 200);
        return { presenter, port, metricsPort };
      } catch (err) {
        await presenter[Symbol.asyncDispose]();
        throw err;
      }
    });
    await using _presenter = presenter;
    const refused = await fetch(`http://127.0.0.1:${port}/events`);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('content-type')).toContain('application/json');

    // Signed-in users: the presenter reads their clientconfig Secrets with its own identity
    // (client-node inside the executable, over HTTPS with a client certificate) and reviews as them.
    for (const user of ['alice', 'mallory']) {
      const cert = await sim.issueClientCert(user);
      sim.setSecret('krateo-system', `${user}-clientconfig`, {
        'server-url': sim.url,
        'certificate-authority-data': sim.caPem,
        'client-certificate-data': cert.certPem,
        'client-key-data': cert.keyPem,
      });
    }
    sim.setRbac('alice', [{ apiGroups: [''], verbs: ['list'], resources: ['events'], namespaces: ['default'] }]);
    // The stack's own schema (DB_SCHEMA's default), as the presenter's migration made it.
    await using sql = Object.assign(createSql(db.url, { max: 1 }), { [Symbol.asyncDispose]: async () => await sql.end() });
    const permitted = buildRecord({ cluster_name: 'smoke', namespace: 'default' });
    await insertEventRows(sql, [permitted, buildRecord({ cluster_name: 'smoke', namespace: 'kube-system' })]);
    const eventsOf = async (username: string) => {
      const token = signDevToken({ key: 'smoke-test-signing-key-0123456789abcdef', username, ttlSeconds: 300 });
      const answer = await fetch(`http://127.0.0.1:${port}/events`, { headers: { authorization: `Bearer ${token}` } });
      const body = (await answer.json()) as { resources: { global_uid: string; namespace: string }[] };
      return { status: answer.status, rows: body.resources.map((r) => [r.global_uid, r.namespace]) };
    };
    expect(await eventsOf('alice')).toEqual({ status: 200, rows: [[permitted.global_uid, 'default']] });
    expect(await eventsOf('mallory')).toEqual({ status: 200, rows: [] });
    const secretReads = sim.requests().filter((r) => r.path === '/api/v1/namespaces/krateo-system/secrets/alice-clientconfig');
    expect(secretReads.map((r) => [r.method, r.username])).toContainEqual(['GET', serviceAccount]);

    // The same metrics, scraped (PROMETHEUS_PORT) under Krateo's names and attributes.
    const scraped = (await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()).split('\n').filter((line) => line.startsWith('events_presenter_'));
    expect(scraped).toContain('events_presenter_startup_success_total 1');
    expect(scraped).toContain('events_presenter_db_connect_duration_seconds_count 1');
    expect(scraped).toContain('events_presenter_http_events_resources_returned_total{method="GET"} 1');
    expect(scraped).toContain('events_presenter_http_events_errors_total{route="/events",code="missing_token",method="GET",stage="authenticate",status_code="401"} 1');
    expect(scraped).toContain('events_presenter_http_events_requests_total{route="/events",status="200",method="GET",status_code="200"} 2');

    // The Events console is embedded: its page and hashed assets come out of the executable.
    const page = await fetch(`http://127.0.0.1:${port}/ui`);
    const assets = [...(await page.text()).matchAll(/(?:src|href)="(\/ui\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    const assetStatuses = await Promise.all(assets.map(async (path) => (await fetch(`http://127.0.0.1:${port}${path}`)).status));
    expect({ page: page.status, assets: assetStatuses }).toEqual({ page: 200, assets: [200, 200] });

    expect(await presenter.stop('SIGTERM', 15_000)).toBe(0);
    expect(otlp.exports.length).toBeGreaterThan(0);
    expect(otlp.exports[0]).toBe('POST /v1/metrics application/x-protobuf');
  });

  test('migrate applies the migrations and exits 0, twice in a row', async () => {
    await using db = await createTestDatabase();
    for (const run of [1, 2]) {
      await using migrate = startExecutable(executable(), { cwd: runDir, args: ['migrate'], env: { ...baseEnv(), DATABASE_URL: db.url } });
      const code = await migrate.proc.exited;
      expect({ run, code, output: code === 0 ? '' : migrate.output() }).toEqual({ run, code: 0, output: '' });
    }
    await using sql = Object.assign(postgres(db.url, { max: 1, onnotice: () => {} }), {
      [Symbol.asyncDispose]: async () => await sql.end(),
    });
    // Our schema, not public (docs/decisions/011-own-schema.md); this client's search_path is the default one.
    const [row] = await sql<{ table: string | null }[]>`select to_regclass('events_stack.k8s_events')::text as table`;
    expect(row).toEqual({ table: 'events_stack.k8s_events' });
  });

  test('an unknown or missing command prints the usage and exits 2', async () => {
    for (const args of [[], ['ingest'], ['presenter', 'extra']]) {
      const run = Bun.spawnSync([executable(), ...args], { cwd: runDir, env: baseEnv(), stdout: 'pipe', stderr: 'pipe' });
      expect({ args, code: run.exitCode, stdout: run.stdout.toString(), stderr: run.stderr.toString() }).toEqual({
        args,
        code: 2,
        stdout: '',
        stderr: 'usage: events-stack ingester|presenter|migrate|import-legacy [--source=…] [--batch-rows=…]\n',
      });
    }
    expect(commands).toEqual(['ingester', 'presenter', 'migrate', 'import-legacy']);
  });

  test('import-legacy runs from the executable and refuses a bad flag with exit 2', async () => {
    const bad = Bun.spawnSync([executable(), 'import-legacy', '--batch-rows=many'], { cwd: runDir, env: { ...baseEnv(), DATABASE_URL: 'postgres://127.0.0.1:1/x' }, stdout: 'pipe', stderr: 'pipe' });
    expect({ code: bad.exitCode, message: JSON.parse(bad.stdout.toString().trim().split('\n')[0]!).msg }).toEqual({ code: 2, message: 'invalid configuration' });
  });
});
