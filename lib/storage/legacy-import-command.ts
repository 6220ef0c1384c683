import { ConfigError, loadDatabaseConfig, type Env } from '../runtime/config.ts';
import { errorFields, type Logger } from '../runtime/log.ts';
import { createSql, prepareDatabase } from './db.ts';
import { importLegacyEvents, type LegacyImportProgress } from './legacy-import.ts';

/** Command-line options of the import: `--source=<schema.table>` and `--batch-rows=<n>`. */
export interface LegacyImportArgs {
  source?: string;
  batchRows?: number;
}

/** Parses `--source=…` and `--batch-rows=…`; throws a ConfigError naming anything else. */
export function parseLegacyImportArgs(args: readonly string[]): LegacyImportArgs {
  const parsed: LegacyImportArgs = {};
  const problems: string[] = [];
  for (const arg of args) {
    const [name, value] = arg.split(/=(.*)/s, 2);
    if (name === '--source' && value && /^[a-z_][a-z0-9_$]*\.[a-z_][a-z0-9_$]*$/i.test(value)) parsed.source = value;
    else if (name === '--batch-rows' && value && /^\d{1,6}$/.test(value) && Number(value) > 0) parsed.batchRows = Number(value);
    else problems.push(`unknown or malformed argument ${JSON.stringify(arg)} (use --source=schema.table, --batch-rows=N)`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return parsed;
}

/**
 * `db:import-legacy` (also the executable's import subcommand): reads the database settings from
 * `env` as the services do, waits for the database and applies the migrations (unless
 * `MIGRATE_ON_START=false`), then copies the Go ingester's rows into ours ({@link importLegacyEvents}),
 * logging a `legacy import progress` line (rows read and inserted, rows/s) at most once per
 * `progressEveryMs` and a final `legacy import done`. Resolves with the exit code: 0 done, 1
 * failed, 2 bad settings or arguments, 130 stopped by `signal` (a later run resumes).
 */
export async function runLegacyImportCommand(options: {
  env: Env;
  args: readonly string[];
  log: Logger;
  signal?: AbortSignal;
  progressEveryMs?: number;
}): Promise<number> {
  const { log } = options;
  let db;
  let args;
  try {
    db = loadDatabaseConfig(options.env);
    args = parseLegacyImportArgs(options.args);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    log.error('invalid configuration', { problems: err.problems });
    return 2;
  }
  const sql = createSql(db.url, { max: 1, applicationName: 'events-stack-import', schema: db.schema });
  try {
    await prepareDatabase(db, { log, applicationName: 'events-stack-import-probe' });
    let lastLogMs = 0;
    const onProgress = (p: LegacyImportProgress) => {
      if (performance.now() - lastLogMs < (options.progressEveryMs ?? 1000)) return;
      lastLogMs = performance.now();
      log.info('legacy import progress', { partition: p.partition, rows_read: p.rowsRead, rows_inserted: p.rowsInserted, rows_per_second: p.rowsPerSecond });
    };
    const result = await importLegacyEvents(sql, { ...args, onProgress, signal: options.signal });
    log.info('legacy import done', { rows_read: result.rowsRead, rows_inserted: result.rowsInserted, partitions: result.partitions, finished: result.finished });
    return result.finished ? 0 : 130;
  } catch (err) {
    log.error('legacy import failed', errorFields(err));
    return 1;
  } finally {
    await sql.end({ timeout: 5 });
  }
}
