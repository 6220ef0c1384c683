import { describe, expect, test } from 'bun:test';
import { createSql, runMigrations } from '../lib/storage/db.ts';
import { insertEventRows } from '../lib/storage/event-store.ts';
import { silentLogger } from '../lib/runtime/log.ts';
import { createNamespaceCatalog } from '../lib/presenter/access/namespace-catalog.ts';
import { buildRecord } from './support/builders.ts';
import { createTestDatabase } from './support/pg.ts';

async function catalogDatabase() {
  const db = await createTestDatabase();
  await runMigrations(db.url, { log: silentLogger });
  const sql = createSql(db.url, { max: 2, fetchTypes: false });
  return {
    sql,
    async [Symbol.asyncDispose]() {
      await sql.end({ timeout: 5 });
      await db[Symbol.asyncDispose]();
    },
  };
}

const sorted = (pairs: Map<string, Set<string>>) =>
  Object.fromEntries([...pairs].sort(([a], [b]) => a.localeCompare(b)).map(([ns, kinds]) => [ns, [...kinds].sort()]));

describe('namespace catalog', () => {
  test('lists the stored namespaces and those seen on live rows since', async () => {
    await using db = await catalogDatabase();
    await insertEventRows(db.sql, [buildRecord({ namespace: 'shop' }), buildRecord({ namespace: 'billing' }), buildRecord({ namespace: 'shop' })]);
    const catalog = createNamespaceCatalog({ sql: db.sql, refreshMs: 60_000 });
    catalog.observe('live-only', 'v1.Pod');
    expect((await catalog.list()).sort()).toEqual(['billing', 'live-only', 'shop']);
  });

  test('a kind seen on a live row while the first read of kinds runs is kept (strict-mode catch-up and replay rely on it)', async () => {
    await using db = await catalogDatabase();
    await insertEventRows(db.sql, [buildRecord({ namespace: 'shop', resource_kind: 'v1.Pod' })]);
    const catalog = createNamespaceCatalog({ sql: db.sql, refreshMs: 60_000 });
    const first = catalog.kinds();
    // The row behind this was committed after the read's snapshot: only the live path knows it.
    catalog.observe('shop', 'apps/v1.Deployment');
    await first;
    expect(sorted(await catalog.kinds())).toEqual({ shop: ['apps/v1.Deployment', 'v1.Pod'] });
  });

  test('after the refresh time, kinds stored since the last read are added from the newer rows', async () => {
    await using db = await catalogDatabase();
    let nowMs = 0;
    await insertEventRows(db.sql, [buildRecord({ namespace: 'shop', resource_kind: 'v1.Pod' })]);
    const catalog = createNamespaceCatalog({ sql: db.sql, refreshMs: 1000, now: () => nowMs });
    expect(sorted(await catalog.kinds())).toEqual({ shop: ['v1.Pod'] });
    await insertEventRows(db.sql, [buildRecord({ namespace: 'billing', resource_kind: 'batch/v1.Job' })]);
    expect(sorted(await catalog.kinds())).toEqual({ shop: ['v1.Pod'] });
    nowMs = 1000;
    expect(sorted(await catalog.kinds())).toEqual({ billing: ['batch/v1.Job'], shop: ['v1.Pod'] });
  });
});
