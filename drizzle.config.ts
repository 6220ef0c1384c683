import { defineConfig } from 'drizzle-kit';
import { loadDatabaseConfig } from './lib/runtime/config.ts';

// drizzle-kit reads the same DB_* / DATABASE_URL / DB_SCHEMA settings as the services. `generate`
// needs no database, so a missing or bad setting only matters to `migrate`.
function databaseSettings(): { url: string; schema: string } {
  try {
    const db = loadDatabaseConfig(process.env);
    // As the services do, every connection's only search_path is our schema (decision 011); the
    // driver passes `options` to PostgreSQL at connect time.
    const url = new URL(db.url);
    const options = url.searchParams.get('options');
    url.searchParams.set('options', `${options ? `${options} ` : ''}-c search_path=${db.schema}`);
    return { url: url.href, schema: db.schema };
  } catch {
    return { url: 'postgres://localhost:5432/postgres', schema: 'events_stack' };
  }
}

const db = databaseSettings();

export default defineConfig({
  dialect: 'postgresql',
  schema: './lib/storage/schema.ts',
  out: './drizzle',
  dbCredentials: { url: db.url },
  migrations: { table: '__drizzle_migrations', schema: db.schema },
  strict: true,
  verbose: false,
});
