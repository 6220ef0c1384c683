import { describe, expect, test } from 'bun:test';
import postgres from 'postgres';
import { createSql, runMigrations } from '../lib/storage/db.ts';
import { insertEventRows } from '../lib/storage/event-store.ts';
import { silentLogger } from '../lib/runtime/log.ts';
import { runMaintenanceLoop } from '../lib/storage/partition-maintenance.ts';
import { dropExpiredPartitions, dropPartitionsOverSize, ensurePartitions, ensurePartitionsAround, listPartitions } from '../lib/storage/partitions.ts';
import { buildRecord } from './support/builders.ts';
import { createTestDatabase } from './support/pg.ts';

const dayMs = 86_400_000;

/** A migrated database with no partitions left, and a client whose session TimeZone is far from UTC. */
async function emptyPartitionedDatabase(timeZone = 'Pacific/Kiritimati') {
  const db = await createTestDatabase();
  await runMigrations(db.url, { log: silentLogger });
  const url = new URL(db.url);
  url.searchParams.set('options', `-c TimeZone=${timeZone}`);
  const sql = createSql(url.href, { max: 2 });
  for (const p of await listPartitions(sql)) await sql`drop table ${sql(p.name)}`;
  return {
    sql,
    async [Symbol.asyncDispose]() {
      await sql.end({ timeout: 5 });
      await db[Symbol.asyncDispose]();
    },
  };
}

async function bounds(sql: postgres.Sql) {
  return await sql<{ name: string; bound: string }[]>`
    select c.relname as name, pg_get_expr(c.relpartbound, c.oid) as bound
    from pg_inherits i join pg_class c on c.oid = i.inhrelid
    where i.inhparent = 'k8s_events'::regclass order by 1`;
}

describe('partition maintenance', () => {
  test('partitions get UTC day bounds whatever the session TimeZone', async () => {
    await using db = await emptyPartitionedDatabase();
    const [tz] = await db.sql`show timezone`;
    expect(tz!.TimeZone).toBe('Pacific/Kiritimati');
    expect(await ensurePartitions(db.sql, '2026-02-28', 2)).toBe(2);
    // pg_get_expr prints bounds in the session zone (+14): midnight UTC is 14:00 there.
    await db.sql`set timezone = 'UTC'`;
    expect([...(await bounds(db.sql))]).toEqual([
      { name: 'k8s_events_2026_02_28', bound: "FOR VALUES FROM ('2026-02-28 00:00:00+00') TO ('2026-03-01 00:00:00+00')" },
      { name: 'k8s_events_2026_03_01', bound: "FOR VALUES FROM ('2026-03-01 00:00:00+00') TO ('2026-03-02 00:00:00+00')" },
    ]);
  });

  test('ensuring partitions is idempotent and safe from several sessions at once', async () => {
    await using db = await emptyPartitionedDatabase('America/Los_Angeles');
    // A fixed day is the subject, not the clock: US daylight saving time ends on 2026-11-01, and
    // the days are given explicitly (no retention runs), so the test does not expire.
    const created = await Promise.all([0, 1, 2, 3].map(() => ensurePartitions(db.sql, '2026-11-01', 5)));
    expect(created.reduce((a, b) => a + b, 0)).toBe(5);
    expect(await ensurePartitions(db.sql, '2026-11-01', 5)).toBe(0);
    expect((await listPartitions(db.sql)).map((p) => p.day)).toEqual(['2026-11-01', '2026-11-02', '2026-11-03', '2026-11-04', '2026-11-05']);
  });

  test('the next days are ensured relative to a given now, in UTC', async () => {
    await using db = await emptyPartitionedDatabase();
    const nowMs = Date.parse('2026-12-31T23:30:00Z');
    await ensurePartitionsAround(db.sql, { nowMs, aheadDays: 2 });
    expect((await listPartitions(db.sql)).map((p) => p.day)).toEqual(['2026-12-30', '2026-12-31', '2027-01-01', '2027-01-02']);
  });

  test('a row just before UTC midnight lands in that day even in a session ahead of UTC', async () => {
    await using db = await emptyPartitionedDatabase();
    await insertEventRows(db.sql, [buildRecord({ created_at: '2026-05-01T23:59:59.999999Z' }), buildRecord({ created_at: '2026-05-02T00:00:00Z' })]);
    const rows = await db.sql`select tableoid::regclass::text as part from k8s_events order by created_at`;
    expect(rows.map((r) => r.part)).toEqual(['k8s_events_2026_05_01', 'k8s_events_2026_05_02']);
  });

  test('retention drops whole days past the retention and keeps every younger row', async () => {
    await using db = await emptyPartitionedDatabase();
    const nowMs = Date.parse('2026-11-27T12:00:00Z');
    await ensurePartitions(db.sql, '2026-11-20', 10);
    await insertEventRows(db.sql, [buildRecord({ created_at: '2026-11-23T11:00:00Z' }), buildRecord({ created_at: '2026-11-24T13:00:00Z' })]);
    // Retention 3 days: cutoff 2026-11-24T12:00Z; the 24th still holds younger rows, so it stays.
    const dropped = await dropExpiredPartitions(db.sql, { nowMs, retentionMs: 3 * dayMs });
    expect(dropped).toEqual(['k8s_events_2026_11_20', 'k8s_events_2026_11_21', 'k8s_events_2026_11_22', 'k8s_events_2026_11_23']);
    const [left] = await db.sql`select count(*)::int as n from k8s_events`;
    expect(left!.n).toBe(1);
    expect(await dropExpiredPartitions(db.sql, { nowMs, retentionMs: 3 * dayMs })).toEqual([]);
  });

  test('the size cap drops the oldest partitions but never today or later', async () => {
    await using db = await emptyPartitionedDatabase();
    const nowMs = Date.parse('2026-11-27T12:00:00Z');
    await ensurePartitions(db.sql, '2026-11-25', 4);
    const rows = ['2026-11-25', '2026-11-26', '2026-11-27', '2026-11-28'].flatMap((day) =>
      Array.from({ length: 50 }, () => buildRecord({ created_at: `${day}T06:00:00Z`, message: 'm'.repeat(2000) })),
    );
    await insertEventRows(db.sql, rows);
    expect(await dropPartitionsOverSize(db.sql, { nowMs, maxBytes: 1 })).toEqual(['k8s_events_2026_11_25', 'k8s_events_2026_11_26']);
    const total = (await listPartitions(db.sql)).reduce((sum, p) => sum + p.bytes, 0);
    expect(await dropPartitionsOverSize(db.sql, { nowMs, maxBytes: total })).toEqual([]);
  });

  test('a stop that arrives during a pass ends the loop when the pass is done, not an interval later', async () => {
    await using db = await emptyPartitionedDatabase();
    const stop = new AbortController();
    const loop = runMaintenanceLoop({
      sql: db.sql,
      settings: { partitionsAheadDays: 2, retentionMs: 7 * dayMs, retentionMaxBytes: 0 },
      intervalMs: 3_600_000,
      // Called just before the pass starts: the abort is already fired when the pass finishes.
      now: () => {
        stop.abort();
        return Date.parse('2026-11-27T12:00:00Z');
      },
      log: silentLogger,
      signal: stop.signal,
    });
    const outcome = await Promise.race([loop.then(() => 'ended'), Bun.sleep(10_000).then(() => 'still waiting')]);
    expect(outcome).toBe('ended');
    expect((await listPartitions(db.sql)).map((p) => p.name)).toEqual([
      'k8s_events_2026_11_26',
      'k8s_events_2026_11_27',
      'k8s_events_2026_11_28',
      'k8s_events_2026_11_29',
    ]);
  });
});
