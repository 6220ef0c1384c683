// Upgrading a database created by the first release (objects in `public`, drizzle's migrations
// table in `drizzle`) to our own schema (docs/decisions/011-own-schema.md).
import { describe, expect, test } from 'bun:test';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import { silentLogger } from '../lib/runtime/log.ts';
import { createSql, defaultMigrationsFolder, runMigrations } from '../lib/storage/db.ts';
import { insertEventRows } from '../lib/storage/event-store.ts';
import { buildRecord, utcTodayAt } from './support/builders.ts';
import { connectAsGoService } from './support/deviser-fixture.ts';
import { waitFor } from './support/ingester-fixtures.ts';
import { createTestDatabase } from './support/pg.ts';

/** Applies only the first migration, exactly as the first release did: default search_path, tracker in `drizzle`. */
async function migrateAsFirstRelease(url: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'events-first-release-'));
  try {
    mkdirSync(join(dir, 'meta'));
    const journal = JSON.parse(readFileSync(join(defaultMigrationsFolder, 'meta', '_journal.json'), 'utf8'));
    journal.entries = journal.entries.slice(0, 1);
    writeFileSync(join(dir, 'meta', '_journal.json'), JSON.stringify(journal));
    copyFileSync(join(defaultMigrationsFolder, `${journal.entries[0].tag}.sql`), join(dir, `${journal.entries[0].tag}.sql`));
    const sql = createSql(url, { max: 1, schema: 'public' });
    try {
      await migrate(drizzle(sql), { migrationsFolder: dir, migrationsSchema: 'drizzle', migrationsTable: '__drizzle_migrations' });
    } finally {
      await sql.end();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const rowColumns = 'seq, event_id::text, created_at::text, uid, raw::text as raw, labels::text as labels, count, first_seen::text';

describe('upgrading a first-release database', () => {
  test('rows, checkpoints and seq are kept in our schema, seq continues, a stored version stays a no-op, NOTIFY wakes our channel, and public is left empty', async () => {
    await using db = await createTestDatabase();
    await migrateAsFirstRelease(db.url);
    const old = createSql(db.url, { max: 1, schema: 'public' });
    let before: Record<string, unknown>[];
    const first = buildRecord({ created_at: utcTodayAt('10:00:00.123456'), labels: '{"a":"1"}' });
    try {
      await insertEventRows(old, [
        first,
        buildRecord({ raw: '{"metadata":{"uid":"x"},"count":2}', count: 2, first_seen: utcTodayAt('09:00:00') }),
        buildRecord(),
      ]);
      await old`insert into ingester_checkpoints (cluster_name, scope, resource_version) values ('test', '*', '42')`;
      before = [...(await old.unsafe(`select ${rowColumns} from k8s_events order by seq`))];
    } finally {
      await old.end();
    }

    await runMigrations(db.url, { log: silentLogger });
    await runMigrations(db.url, { log: silentLogger });

    const sql = createSql(db.url, { max: 1 });
    const go = connectAsGoService(db.url);
    const listener = createSql(db.url, { max: 1 });
    const payloads: string[] = [];
    const { unlisten } = await listener.listen('events_stack', (payload) => payloads.push(payload));
    try {
      const after = [...(await sql.unsafe(`select ${rowColumns} from k8s_events order by seq`))];
      const again = await insertEventRows(sql, [first]);
      await insertEventRows(sql, [buildRecord()]);
      await waitFor(() => payloads.length >= 1);
      const [rawType] = await sql`select format_type(atttypid, atttypmod) as type from pg_attribute where attrelid = 'k8s_events'::regclass and attname = 'raw'`;
      const [checkpoint] = await sql`select resource_version from ingester_checkpoints`;
      const [applied] = await sql`select count(*)::int as n from events_stack.__drizzle_migrations`;
      const leftInPublic = await go`
        select c.relname as name from pg_class c where c.relnamespace = 'public'::regnamespace order by 1`;
      const [oldTracker] = await go`select to_regclass('drizzle.__drizzle_migrations')::text as name`;

      expect(after as Record<string, unknown>[]).toEqual(before);
      expect([again, rawType]).toEqual([0, { type: 'json' }]);
      expect(payloads.map((p) => JSON.parse(p))).toEqual([{ rows: 1, max_seq: 5 }]); // the no-op insert drew seq 4 (seq has gaps: decision 002)
      expect(checkpoint).toEqual({ resource_version: '42' });
      expect(applied!.n).toBe(3);
      expect([...leftInPublic]).toEqual([]);
      expect(oldTracker).toEqual({ name: null });
    } finally {
      await unlisten();
      await listener.end();
      await go.end();
      await sql.end();
    }
  });
});
