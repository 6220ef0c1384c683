import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { chmodSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { startEmbeddedPostgres } from '../lib/storage/embedded-postgres.ts';
import { createTestDatabase, getTestPostgres, restartTestPostgres } from './support/pg.ts';

type Sql = ReturnType<typeof postgres>;

async function withSql<T>(url: string, work: (sql: Sql) => Promise<T>): Promise<T> {
  const sql = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 5 });
  try {
    return await work(sql);
  } finally {
    await sql.end();
  }
}

// Plain arrays, so results compare with toEqual against literals.
async function selectRows(url: string, query: (sql: Sql) => Promise<readonly object[]>): Promise<object[]> {
  return [...(await withSql(url, query))];
}

function canConnect(url: string): Promise<boolean> {
  return withSql(url, (sql) => sql`select 1`).then(
    () => true,
    () => false,
  );
}

function makeTempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `events-stack-${prefix}-`));
}

describe('startEmbeddedPostgres', () => {
  // One stopped cluster made once (initdb is the slow part); each test starts a copy of it in a
  // folder of its own, so no test sees what another left behind.
  let templateDir = '';
  beforeAll(async () => {
    templateDir = makeTempDir('pg-template');
    await (await startEmbeddedPostgres({ dataDir: templateDir, durable: false })).stop();
  });
  afterAll(() => rmSync(templateDir, { recursive: true, force: true }));

  /** A copy of the template cluster (owner kept, log dropped); removed on dispose. */
  function ownCluster(): { dir: string } & Disposable {
    const parent = makeTempDir('pg-cluster');
    chmodSync(parent, 0o755); // as root the server runs as "postgres", which must reach the dir
    const dir = join(parent, 'data');
    const copy = Bun.spawnSync(['cp', '-a', templateDir, dir]);
    if (copy.exitCode !== 0) throw new Error(`copying the template cluster failed: ${copy.stderr.toString()}`);
    rmSync(join(dir, 'postgres.log'), { force: true });
    return { dir, [Symbol.dispose]: () => rmSync(parent, { recursive: true, force: true }) };
  }

  test('serves PostgreSQL 15 on 127.0.0.1 only and keeps its log in the data dir', async () => {
    using cluster = ownCluster();
    await using server = await startEmbeddedPostgres({ dataDir: cluster.dir, durable: false });
    const row = await withSql(server.url, async (sql) => {
      const [r] = await sql`select version() as version, current_setting('listen_addresses') as listen,
        host(inet_server_addr()) as addr, current_setting('fsync') as fsync,
        current_setting('max_connections')::int as max_connections`;
      return r;
    });
    expect(row?.version).toStartWith('PostgreSQL 15.');
    expect(row).toMatchObject({ listen: '127.0.0.1', addr: '127.0.0.1', fsync: 'off', max_connections: 300 });
    expect(server.url).toBe(`postgres://postgres:postgres@127.0.0.1:${server.port}/postgres`);
    expect(readFileSync(join(cluster.dir, 'postgres.log'), 'utf8')).toContain('ready to accept connections');
  });

  test('stop then start keeps the port, the url and the data', async () => {
    using cluster = ownCluster();
    await using server = await startEmbeddedPostgres({ dataDir: cluster.dir, durable: false });
    const { port, url } = server;
    await withSql(url, (sql) => sql`create table restart_probe as select 42 as answer`);

    await server.stop();
    expect(server.pid).toBeUndefined();
    expect(await canConnect(url)).toBe(false);
    await server.start();

    expect(server.port).toBe(port);
    expect(server.url).toBe(url);
    expect(await selectRows(url, (sql) => sql`select answer from restart_probe`)).toEqual([{ answer: 42 }]);
  });

  test('a second start on a persistent data dir reuses the cluster without initdb', async () => {
    const dataDir = join(makeTempDir('pg-reuse'), 'data');
    chmodSync(join(dataDir, '..'), 0o755); // as root the server runs as "postgres", which must reach the dir
    try {
      {
        await using first = await startEmbeddedPostgres({ dataDir, durable: false });
        expect(first.created).toBe(true);
        await withSql(first.url, (sql) => sql`create table reuse_probe as select 'kept' as value`);
      }
      expect(existsSync(join(dataDir, 'PG_VERSION'))).toBe(true);
      await using second = await startEmbeddedPostgres({ dataDir, durable: false });
      expect(second.created).toBe(false);
      expect(await selectRows(second.url, (sql) => sql`select value from reuse_probe`)).toEqual([{ value: 'kept' }]);
    } finally {
      rmSync(join(dataDir, '..'), { recursive: true, force: true });
    }
  });

  test('a postmaster.pid left by a dead postmaster is removed and the server starts', async () => {
    using cluster = ownCluster();
    const pidFile = join(cluster.dir, 'postmaster.pid');
    const server = await startEmbeddedPostgres({ dataDir: cluster.dir, durable: false });
    const liveContent = readFileSync(pidFile, 'utf8');
    await server.stop();
    const gone = Bun.spawn(['true']);
    await gone.exited;
    writeFileSync(pidFile, liveContent.replace(/^\d+/, String(gone.pid)));

    await using restarted = await startEmbeddedPostgres({ dataDir: cluster.dir, durable: false });
    expect(restarted.pid).not.toBe(gone.pid);
    expect(await canConnect(restarted.url)).toBe(true);
  });

  test('a postmaster.pid naming a live non-postgres process is treated as stale', async () => {
    using cluster = ownCluster();
    writeFileSync(join(cluster.dir, 'postmaster.pid'), `${process.pid}\n${cluster.dir}\n`);
    await using server = await startEmbeddedPostgres({ dataDir: cluster.dir, durable: false });
    expect(await canConnect(server.url)).toBe(true);
  });

  test('starting on a data dir a live postmaster serves fails with a clear error and leaves it running', async () => {
    using cluster = ownCluster();
    await using running = await startEmbeddedPostgres({ dataDir: cluster.dir, durable: false });
    await expect(startEmbeddedPostgres({ dataDir: cluster.dir, durable: false })).rejects.toThrow(
      `PostgreSQL (pid ${running.pid}) is already running on ${cluster.dir}`,
    );
    expect(await canConnect(running.url)).toBe(true);
  });

  test('a non-persistent data dir is removed on dispose', async () => {
    const dataDir = makeTempDir('pg-temp');
    {
      await using server = await startEmbeddedPostgres({ dataDir, persistent: false, durable: false });
      expect(await canConnect(server.url)).toBe(true);
    }
    expect(existsSync(dataDir)).toBe(false);
  });

  test('runs as an unprivileged user (as nobody via runuser when the tests run as root)', async () => {
    const scriptDir = makeTempDir('pg-nonroot');
    try {
      chmodSync(scriptDir, 0o755);
      stageProbeRuntime(scriptDir);
      const script = join(scriptDir, 'probe.ts');
      writeFileSync(script, nonRootProbe());
      const asRoot = process.getuid?.() === 0;
      // Bun itself may sit inside the checkout too (node_modules/bun, when run through npx).
      const bun = join(scriptDir, 'bun');
      cpSync(process.execPath, bun);
      chmodSync(bun, 0o755);
      const command = asRoot ? ['runuser', '-u', 'nobody', '--', bun, script] : [bun, script];
      const child = Bun.spawn(command, { cwd: scriptDir, stdout: 'pipe', stderr: 'pipe' });
      const [stdout, stderr, code] = await Promise.all([
        new Response(child.stdout).text(),
        new Response(child.stderr).text(),
        child.exited,
      ]);
      expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
      const result = JSON.parse(stdout);
      expect(result.uid).toBe(asRoot ? 65534 : process.getuid?.());
      expect(result).toMatchObject({ owner: result.uid, removed: true });
      expect(result.version).toStartWith('15.');
    } finally {
      rmSync(scriptDir, { recursive: true, force: true });
    }
  });
});

// The unprivileged user may not be able to enter the checkout (a clone in a 0700 `mktemp -d`
// folder): the probe runs from a copy of the module, the packages it loads and Bun.
const probePackages = /^(postgres|embedded-postgres|@embedded-postgres|async-exit-hook|pg|pg-.+|pgpass|postgres-.+|split2|xtend)$/;
function stageProbeRuntime(dir: string): void {
  cpSync(join(import.meta.dir, '..', 'lib', 'storage', 'embedded-postgres.ts'), join(dir, 'lib', 'storage', 'embedded-postgres.ts'));
  const modules = join(import.meta.dir, '..', 'node_modules');
  for (const name of readdirSync(modules).filter((n) => probePackages.test(n))) {
    cpSync(join(modules, name), join(dir, 'node_modules', name), { recursive: true, verbatimSymlinks: true });
  }
}

function nonRootProbe(): string {
  return `
import { existsSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { startEmbeddedPostgres } from './lib/storage/embedded-postgres.ts';
const dataDir = mkdtempSync(join(tmpdir(), 'events-stack-pg-nonroot-data-'));
const server = await startEmbeddedPostgres({ dataDir, persistent: false, durable: false });
const sql = postgres(server.url, { max: 1 });
const [row] = await sql\`select current_setting('server_version') as version\`;
await sql.end();
const owner = statSync(join(dataDir, 'PG_VERSION')).uid;
await server[Symbol.asyncDispose]();
console.log(JSON.stringify({ uid: process.getuid(), owner, version: row.version, removed: !existsSync(dataDir) }));
`;
}

describe('createTestDatabase', () => {
  test('two calls give different databases that do not see each other', async () => {
    await using a = await createTestDatabase();
    await using b = await createTestDatabase();
    expect(a.name).not.toBe(b.name);
    await withSql(a.url, (sql) => sql`create table only_in_a (id int)`);
    const seen = (url: string) =>
      selectRows(url, (sql) => sql`select current_database() as db, to_regclass('only_in_a') is not null as has_table`);
    expect(await seen(a.url)).toEqual([{ db: a.name, has_table: true }]);
    expect(await seen(b.url)).toEqual([{ db: b.name, has_table: false }]);
  });

  test('dispose drops the database even while a client is still connected', async () => {
    const serverUrl = process.env.DATABASE_URL || (await getTestPostgres()).url;
    const db = await createTestDatabase();
    const lingering = postgres(db.url, { max: 1, onnotice: () => {} });
    await lingering`select 1`;
    await db[Symbol.asyncDispose]();
    await lingering.end().catch(() => {});
    const exists = await withSql(serverUrl, (sql) => sql`select 1 from pg_database where datname = ${db.name}`);
    expect(exists).toHaveLength(0);
  });

  test.skipIf(Boolean(process.env.DATABASE_URL))(
    'restartTestPostgres brings the shared server back on the same url with its data',
    async () => {
      await using db = await createTestDatabase();
      await withSql(db.url, (sql) => sql`create table survives (v text); insert into survives values ('yes')`.simple());
      const { port } = await getTestPostgres();
      let reachableWhileDown = true;
      await restartTestPostgres(async () => {
        reachableWhileDown = await canConnect(db.url);
      });
      expect(reachableWhileDown).toBe(false);
      expect((await getTestPostgres()).port).toBe(port);
      expect(await selectRows(db.url, (sql) => sql`select v from survives`)).toEqual([{ v: 'yes' }]);
    },
  );
});
