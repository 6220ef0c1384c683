// A PostgreSQL for one benchmark: `DATABASE_URL` when given (a fresh database is created on it),
// otherwise a durable embedded server (default fsync/synchronous_commit) in a temp dir.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { createSql, defaultMigrationsFolder, defaultSchema, runMigrations, type Sql } from '../../lib/storage/db.ts';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../lib/storage/embedded-postgres.ts';
import { silentLogger } from '../../lib/runtime/log.ts';

export interface BenchDatabase extends AsyncDisposable {
  /** URL of the fresh, migrated database. */
  readonly url: string;
  /** URL of the server's maintenance database. */
  readonly serverUrl: string;
  readonly embedded: EmbeddedPostgres | undefined;
  /** PostgreSQL server version string. */
  readonly version: string;
  /**
   * Creates another fresh migrated database on the same server (dropped on dispose); with
   * `upToTag` (e.g. `0001_own_schema`) only the migrations up to that one are applied, for a
   * same-run reference with an older schema.
   */
  another(options?: { upToTag?: string }): Promise<string>;
}

let server: Promise<EmbeddedPostgres> | undefined;
const created: string[] = [];

async function admin(serverUrl: string, statement: string): Promise<void> {
  const sql = postgres(serverUrl, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(statement);
  } finally {
    await sql.end();
  }
}

/** A temporary copy of the migrations folder holding the migrations up to `tag` only. */
function migrationsUpTo(tag: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'events-bench-migrations-'));
  mkdirSync(join(dir, 'meta'));
  const journal = JSON.parse(readFileSync(join(defaultMigrationsFolder, 'meta', '_journal.json'), 'utf8')) as { entries: { tag: string }[] };
  const last = journal.entries.findIndex((e) => e.tag === tag);
  if (last < 0) throw new Error(`no migration ${tag}`);
  journal.entries = journal.entries.slice(0, last + 1);
  writeFileSync(join(dir, 'meta', '_journal.json'), JSON.stringify(journal));
  for (const e of journal.entries) copyFileSync(join(defaultMigrationsFolder, `${e.tag}.sql`), join(dir, `${e.tag}.sql`));
  return dir;
}

async function freshDatabase(serverUrl: string, upToTag?: string): Promise<string> {
  const name = `bench_${randomBytes(6).toString('hex')}`;
  await admin(serverUrl, `create database "${name}"`);
  created.push(name);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const folder = upToTag === undefined ? undefined : migrationsUpTo(upToTag);
  try {
    await runMigrations(url.href, { log: silentLogger, migrationsFolder: folder });
  } finally {
    if (folder) rmSync(folder, { recursive: true, force: true });
  }
  // Plain postgres.js clients of the benchmarks pass URL parameters to PostgreSQL at connect time:
  // they find our tables in our schema as the services do (docs/decisions/011-own-schema.md).
  url.searchParams.set('search_path', defaultSchema);
  return url.href;
}

/** Starts (or reuses) the server and returns a fresh migrated database. */
export async function openBenchDatabase(): Promise<BenchDatabase> {
  let embedded: EmbeddedPostgres | undefined;
  let serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) {
    server ??= (async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'events-bench-pg-'));
      try {
        const pg = await startEmbeddedPostgres({ dataDir, persistent: false, durable: true });
        const stop = () => pg.terminateSync();
        process.once('exit', stop);
        process.once('SIGINT', () => process.exit(130));
        process.once('SIGTERM', () => process.exit(143));
        return pg;
      } catch (err) {
        rmSync(dataDir, { recursive: true, force: true });
        throw err;
      }
    })();
    embedded = await server;
    serverUrl = embedded.url;
  }
  const url = await freshDatabase(serverUrl);
  const probe = postgres(serverUrl, { max: 1, onnotice: () => {} });
  const [row] = await probe`select version() as v`;
  await probe.end();
  const base = serverUrl;
  return {
    url,
    serverUrl: base,
    embedded,
    version: String(row?.v ?? '').split(' on ')[0] ?? '',
    another: (options) => freshDatabase(base, options?.upToTag),
    async [Symbol.asyncDispose]() {
      for (const name of created.splice(0)) await admin(base, `drop database if exists "${name}" with (force)`).catch(() => {});
      if (embedded) {
        server = undefined;
        await embedded[Symbol.asyncDispose]();
      }
    },
  };
}

/** Waits for the server to write out its dirty buffers so one run does not bill the next. */
export async function checkpoint(sql: Sql): Promise<void> {
  await sql`checkpoint`.catch(() => {});
}

export { createSql };
