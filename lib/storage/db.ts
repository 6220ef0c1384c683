import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import { errorFields, type Logger } from '../runtime/log.ts';

/** A postgres.js client. */
export type Sql = postgres.Sql;
/** A client or an open transaction: anything that runs queries. */
export type Queryable = postgres.Sql | postgres.TransactionSql;

/** The PostgreSQL schema holding our objects unless configured otherwise (`DB_SCHEMA`). */
export const defaultSchema = 'events_stack';

const sourceMigrationsFolder = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'drizzle');

/**
 * The folder holding drizzle's migrations: the source checkout's `drizzle/`, or, in a compiled
 * executable (`bun run build`), the `drizzle/` folder shipped beside the executable.
 */
export const defaultMigrationsFolder = existsSync(sourceMigrationsFolder)
  ? sourceMigrationsFolder
  : join(dirname(process.execPath), 'drizzle');

/**
 * Seconds before a pool connection tries again after `retries` failed connects in a row: 20 ms
 * doubling to 250 ms. postgres.js's default (3^retries / 100 s, up to 20 s) left a pool and its LISTEN
 * connection 5–20 s behind a PostgreSQL that was back after a 3 s restart (bench/pg-restart.ts).
 */
export function reconnectDelaySeconds(retries: number): number {
  return Math.min(0.25, 0.01 * 2 ** retries);
}

/**
 * Creates a postgres.js pool. `bigint` columns (`seq`) come back as JavaScript numbers (safe up to
 * 2^53), timestamp strings are sent as written, a string bound to a json/jsonb parameter is sent as JSON text as it is (so callers
 * serialise once), server notices are not printed, and a lost connection is retried within 250 ms
 * ({@link reconnectDelaySeconds}). Every connection's only search_path is `schema` (default
 * {@link defaultSchema}): unqualified names resolve to our objects and never to `public`
 * (docs/decisions/011-own-schema.md). `statementTimeoutMs` sets the connections'
 * `statement_timeout`, `parallelWorkers` their `max_parallel_workers_per_gather`.
 *
 * `fetchTypes: false` skips postgres.js's catalog query for array types on every new connection;
 * such a pool cannot bind or parse arrays, but a connection dropped while it starts up (a
 * PostgreSQL restart) then fails only the caller's query. With the catalog query, postgres.js
 * 3.4.9 drops that query's promise, so a reset during it surfaces as an unhandled rejection
 * (porsager/postgres#1192, #1223).
 */
export function createSql(
  url: string,
  options: { max?: number; applicationName?: string; fetchTypes?: boolean; schema?: string; statementTimeoutMs?: number; parallelWorkers?: number } = {},
): Sql {
  return postgres(url, {
    max: options.max ?? 10,
    fetch_types: options.fetchTypes ?? true,
    backoff: reconnectDelaySeconds,
    onnotice: () => {},
    // Startup parameters, so they hold on every (re)connection, the LISTEN one included.
    connection: {
      application_name: options.applicationName ?? 'events-stack',
      search_path: options.schema ?? defaultSchema,
      // PostgreSQL cancels a longer statement with SQLSTATE 57014.
      ...(options.statementTimeoutMs === undefined ? {} : { statement_timeout: Math.ceil(options.statementTimeoutMs) }),
      // As text: postgres.js leaves out startup parameters whose value is falsy, so a number 0 was never sent.
      ...(options.parallelWorkers === undefined ? {} : { max_parallel_workers_per_gather: String(options.parallelWorkers) }),
    },
    types: {
      bigint: { to: 20, from: [20], serialize: (value: number) => String(value), parse: (value: string) => Number(value) },
      // Kubernetes MicroTime strings keep their microseconds (a Date would cut them to ms).
      timestamptz: {
        to: 1184,
        from: [1082, 1114, 1184],
        serialize: (value: Date | string) => (typeof value === 'string' ? value : value.toISOString()),
        parse: (value: string) => new Date(value),
      },
      jsonText: {
        to: 3802,
        from: [114, 3802],
        serialize: (value: unknown) => (typeof value === 'string' ? value : JSON.stringify(value)),
        parse: (value: string) => JSON.parse(value),
      },
    },
  });
}

/**
 * `values` as one PostgreSQL array literal (every element quoted, `\\` and `"` escaped), to bind as
 * a single text parameter cast to `text[]` or `uuid[]`. Works on pools created with
 * `fetchTypes: false`, which cannot bind JavaScript arrays.
 */
export function toArrayLiteral(values: readonly string[]): string {
  return `{${values.map((value) => `"${value.replace(/[\\"]/g, '\\$&')}"`).join(',')}}`;
}

/** Doubles `delayMs` up to `maxMs`; the shared shape of every retry loop here. */
export function nextBackoffMs(delayMs: number, maxMs: number): number {
  return Math.min(maxMs, Math.max(1, delayMs) * 2);
}

/**
 * Waits until the database answers a query, retrying with capped exponential backoff (each attempt
 * logged). Throws an error naming the timeout and the last failure when `timeoutMs` has passed.
 */
export async function waitForDb(
  sql: Sql,
  options: { timeoutMs: number; log: Logger; maxDelayMs?: number; signal?: AbortSignal },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let delayMs = 100;
  for (let attempt = 1; ; attempt++) {
    try {
      await sql`select 1`;
      if (attempt > 1) options.log.info('database ready', { attempt });
      return;
    } catch (err) {
      const remainingMs = deadline - Date.now();
      if (remainingMs <= 0 || options.signal?.aborted) {
        const cause = err instanceof Error ? err.message : String(err);
        throw new Error(`database not ready after ${options.timeoutMs} ms (${attempt} attempts): ${cause}`);
      }
      const waitMs = Math.min(delayMs, remainingMs);
      options.log.warn('database not ready, retrying', { attempt, delay_ms: waitMs, ...errorFields(err) });
      await Bun.sleep(waitMs);
      delayMs = nextBackoffMs(delayMs, options.maxDelayMs ?? 5000);
    }
  }
}

const migrationLockKey = 'events-stack-migrations';

/**
 * Waits (with a one-connection probe pool) until the database answers, for at most
 * `readyTimeoutMs` (telling `onReady` how long that took), then applies the migrations when
 * `migrateOnStart` is set. Throws when the database never answered or a migration failed.
 */
export async function prepareDatabase(
  db: { url: string; readyTimeoutMs: number; migrateOnStart: boolean; schema: string },
  options: { log: Logger; applicationName: string; onReady?: (waitedMs: number) => void },
): Promise<void> {
  const probe = createSql(db.url, { max: 1, applicationName: options.applicationName, fetchTypes: false, schema: db.schema });
  const started = performance.now();
  try {
    await waitForDb(probe, { timeoutMs: db.readyTimeoutMs, log: options.log });
    options.onReady?.(performance.now() - started);
  } finally {
    await probe.end({ timeout: 1 });
  }
  if (db.migrateOnStart) await runMigrations(db.url, { log: options.log, schema: db.schema });
}

/**
 * Creates `schema` if missing. On a database migrated by the first release (our `k8s_events` in
 * `public`, recognised by its `seq` column, and drizzle's table in `drizzle`) it moves drizzle's
 * table into `schema`, so that drizzle sees the first migration as applied and migration 0001
 * moves the rest. Anything else in `public` (deviser's `k8s_events`) is left alone.
 */
async function prepareSchema(sql: Queryable, schema: string): Promise<void> {
  await sql.unsafe(`create schema if not exists "${schema}"`);
  const [row] = await sql<{ adopt: boolean }[]>`
    select to_regclass(${`"${schema}".__drizzle_migrations`}) is null
       and to_regclass('drizzle.__drizzle_migrations') is not null
       and exists (
         select 1 from pg_attribute
         where attrelid = to_regclass('public.k8s_events') and attname = 'seq' and not attisdropped) as adopt`;
  if (row?.adopt) await sql.unsafe(`alter table drizzle.__drizzle_migrations set schema "${schema}"`);
}

/**
 * Applies drizzle's migrations from `migrationsFolder` in `schema` (default {@link defaultSchema}),
 * keeping drizzle's migrations table there too. Holds a session advisory lock meanwhile, so
 * processes starting together apply them once, one after the other; the losers find nothing to do.
 */
export async function runMigrations(
  url: string,
  options: { log: Logger; migrationsFolder?: string; schema?: string },
): Promise<void> {
  const schema = options.schema ?? defaultSchema;
  const client = createSql(url, { max: 2, applicationName: 'events-stack-migrate', schema });
  try {
    const lock = await client.reserve();
    try {
      await lock`select pg_advisory_lock(hashtext(${migrationLockKey}))`;
      const started = performance.now();
      await prepareSchema(lock, schema);
      await migrate(drizzle(client), {
        migrationsFolder: options.migrationsFolder ?? defaultMigrationsFolder,
        migrationsSchema: schema,
        migrationsTable: '__drizzle_migrations',
      });
      options.log.info('migrations applied', { duration_ms: Math.round(performance.now() - started) });
    } finally {
      await lock`select pg_advisory_unlock(hashtext(${migrationLockKey}))`.catch(() => {});
      lock.release();
    }
  } finally {
    await client.end({ timeout: 5 });
  }
}
