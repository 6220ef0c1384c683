import { ConfigError, loadDatabaseConfig } from './lib/config.ts';
import { createSql, runMigrations, waitForDb } from './lib/db.ts';
import { createLogger, errorFields } from './lib/log.ts';

// Entry file: wiring only. Applies the database migrations and exits (0 when applied or already
// there); the services also apply them at start unless MIGRATE_ON_START=false.
const log = createLogger({ service: 'events-migrate' });
try {
  const db = loadDatabaseConfig(process.env);
  const probe = createSql(db.url, { max: 1, applicationName: 'events-migrate-probe', fetchTypes: false });
  await waitForDb(probe, { timeoutMs: db.readyTimeoutMs, log });
  await probe.end();
  await runMigrations(db.url, { log });
  process.exit(0);
} catch (err) {
  if (err instanceof ConfigError) log.error('invalid configuration', { problems: err.problems });
  else log.error('migration failed', errorFields(err));
  process.exit(err instanceof ConfigError ? 2 : 1);
}
