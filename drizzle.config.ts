import { defineConfig } from 'drizzle-kit';
import { loadDatabaseConfig } from './lib/runtime/config.ts';

// drizzle-kit reads the same DB_* / DATABASE_URL settings as the services. `generate` needs no
// database, so a missing or bad setting only matters to `migrate`.
function databaseUrl(): string {
  try {
    return loadDatabaseConfig(process.env).url;
  } catch {
    return 'postgres://localhost:5432/postgres';
  }
}

export default defineConfig({
  dialect: 'postgresql',
  schema: './lib/storage/schema.ts',
  out: './drizzle',
  dbCredentials: { url: databaseUrl() },
  migrations: { table: '__drizzle_migrations', schema: 'drizzle' },
  strict: true,
  verbose: false,
});
