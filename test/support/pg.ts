import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { pickClockEnv } from './clock-env.ts';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../lib/storage/embedded-postgres.ts';

/** A fresh, empty database that is dropped (WITH FORCE) on dispose. */
export interface TestDatabase extends AsyncDisposable {
  readonly url: string;
  readonly name: string;
}

let shared: Promise<EmbeddedPostgres> | undefined;

/**
 * Creates a uniquely named database on `DATABASE_URL` when set, otherwise on one embedded
 * server shared by the whole `bun test` process (started on first use, in a temp dir).
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const serverUrl = await getServerUrl();
  const name = `test_${randomBytes(8).toString('hex')}`;
  await runAdmin(serverUrl, `CREATE DATABASE "${name}"`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    async [Symbol.asyncDispose]() {
      await runAdmin(serverUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    },
  };
}

/**
 * Returns the shared embedded server so fault-injection tests can `stop()` and `start()` it
 * (same port and data dir). Throws when `DATABASE_URL` points at an external server.
 */
export function getTestPostgres(): Promise<EmbeddedPostgres> {
  if (process.env.DATABASE_URL) throw new Error('the test server is external (DATABASE_URL); it cannot be restarted');
  shared ??= startShared();
  return shared;
}

/** Stops the shared server, runs `whileDown` (if any), and starts it again on the same port. */
export async function restartTestPostgres(whileDown?: () => Promise<void> | void): Promise<void> {
  const server = await getTestPostgres();
  const restart = (async () => {
    await server.stop();
    try {
      await whileDown?.();
    } finally {
      await server.start();
    }
  })();
  restarting = restart.catch(() => {});
  try {
    await restart;
  } finally {
    restarting = undefined;
  }
}

// A restart still under way (e.g. its test already failed) must not fail the tests after it.
let restarting: Promise<void> | undefined;

/** Stops the shared server and removes its data dir; a no-op when it was never started. */
export async function stopTestPostgres(): Promise<void> {
  const pending = shared;
  shared = undefined;
  if (!pending) return;
  removeBackstop();
  await (await pending)[Symbol.asyncDispose]();
}

async function getServerUrl(): Promise<string> {
  if (process.env.DATABASE_URL) return process.env.DATABASE_URL;
  await restarting;
  return (await getTestPostgres()).url;
}

async function startShared(): Promise<EmbeddedPostgres> {
  const dataDir = mkdtempSync(join(tmpdir(), 'events-stack-pg-'));
  const server = await startEmbeddedPostgres({ dataDir, persistent: false, durable: false, serverEnv: pickClockEnv() }).catch((error) => {
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  });
  installBackstop(server);
  return server;
}

const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;
let removeBackstop = (): void => {};

// For runs that never reach the preload's afterAll (Ctrl-C, SIGTERM, a test calling
// process.exit). 'exit' listeners cannot await, so the postmaster is signalled synchronously.
function installBackstop(server: EmbeddedPostgres): void {
  const terminate = (): void => {
    try {
      server.terminateSync();
    } catch {
      // leftovers in the temp dir are acceptable at this point
    }
  };
  const onSignal = (signal: keyof typeof SIGNAL_EXIT_CODES): void => {
    terminate();
    process.exit(SIGNAL_EXIT_CODES[signal]);
  };
  process.once('exit', terminate);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  removeBackstop = () => {
    process.off('exit', terminate);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}

async function runAdmin(serverUrl: string, statement: string): Promise<void> {
  // A fresh connection per statement: a pooled one would fail its first query after a restart.
  const sql = postgres(serverUrl, { max: 1, onnotice: () => {}, connect_timeout: 10 });
  try {
    await sql.unsafe(statement);
  } finally {
    await sql.end();
  }
}
