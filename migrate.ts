// Entry file: wiring only (config → logger → database ready → migrations → exit). Applies the
// database migrations and exits 0 (applied, or already there); the services also apply them at
// start unless MIGRATE_ON_START=false.
import { loadDatabaseConfig } from './lib/runtime/config.ts';
import { createLogger, errorFields } from './lib/runtime/log.ts';
import { loadConfigOrExit } from './lib/runtime/service-process.ts';
import { prepareDatabase } from './lib/storage/db.ts';

const service = 'events-migrate';
const db = loadConfigOrExit(service, () => loadDatabaseConfig(process.env));
const log = createLogger({ service });
try {
  await prepareDatabase({ ...db, migrateOnStart: true }, { log, applicationName: `${service}-probe` });
  process.exit(0);
} catch (err) {
  log.error('migration failed', errorFields(err));
  process.exit(1);
}
