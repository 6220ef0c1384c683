import { describe, expect, test } from 'bun:test';
import { createSql } from '../lib/storage/db.ts';
import { createTestDatabase } from './support/pg.ts';

const root = new URL('..', import.meta.url).pathname;

async function runDrizzleKit(args: string[], env: Record<string, string> = {}) {
  const child = Bun.spawn(['bunx', 'drizzle-kit', ...args], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { exitCode, output: stdout + stderr };
}

describe('drizzle-kit', () => {
  test('generate finds the schema and the committed migrations in agreement', async () => {
    const { exitCode, output } = await runDrizzleKit(['generate']);
    expect(exitCode).toBe(0);
    expect(output).toContain('No schema changes, nothing to migrate');
  });

  test('migrate applies everything to an empty database using the services\' DB_* settings', async () => {
    await using db = await createTestDatabase();
    const url = new URL(db.url);
    const { exitCode, output } = await runDrizzleKit(['migrate'], {
      DB_HOST: url.hostname,
      DB_PORT: url.port,
      DB_NAME: url.pathname.slice(1),
      DB_USER: decodeURIComponent(url.username),
      DB_PASS: decodeURIComponent(url.password),
      DB_PARAMS: 'sslmode=disable',
    });
    expect({ exitCode, output: exitCode === 0 ? '' : output }).toEqual({ exitCode: 0, output: '' });
    const sql = createSql(db.url, { max: 1 });
    try {
      const [table] = await sql`select relkind from pg_class where relname = 'k8s_events'`;
      const triggers = await sql`select tgname from pg_trigger where tgrelid = 'k8s_events'::regclass and not tgisinternal order by 1`;
      const [parts] = await sql`select count(*)::int as n from pg_inherits where inhparent = 'k8s_events'::regclass`;
      expect([table!.relkind, triggers.map((t) => t.tgname), parts!.n]).toEqual(['p', ['k8s_events_lock_seq', 'k8s_events_notify_statement'], 5]);
    } finally {
      await sql.end();
    }
  });
});
