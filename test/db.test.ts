import { describe, expect, test } from 'bun:test';
import { createServer, connect, type Socket } from 'node:net';
import { createSql, reconnectDelaySeconds, runMigrations, toArrayLiteral, waitForDb } from '../lib/storage/db.ts';
import { createEventRowWriter, findStoredVersions, insertEventRows, readEventsAfter, readLastSeq } from '../lib/storage/event-store.ts';
import { silentLogger } from '../lib/runtime/log.ts';
import { buildRecord, utcTodayAt } from './support/builders.ts';
import { createTestDatabase } from './support/pg.ts';
import { waitFor } from './support/wait.ts';

async function migratedDatabase() {
  const db = await createTestDatabase();
  await runMigrations(db.url, { log: silentLogger });
  const sql = createSql(db.url, { max: 4 });
  return {
    url: db.url,
    sql,
    async [Symbol.asyncDispose]() {
      await sql.end({ timeout: 5 });
      await db[Symbol.asyncDispose]();
    },
  };
}

describe('migrations', () => {
  test('two processes migrating an empty database at once both succeed and apply it once', async () => {
    await using db = await createTestDatabase();
    await Promise.all([runMigrations(db.url, { log: silentLogger }), runMigrations(db.url, { log: silentLogger })]);
    const sql = createSql(db.url, { max: 1 });
    try {
      const applied = await sql`select count(*)::int as n from events_stack.__drizzle_migrations`;
      const kind = await sql`select relkind from pg_class where relname = 'k8s_events'`;
      expect([applied[0]!.n, kind[0]!.relkind]).toEqual([3, 'p']);
    } finally {
      await sql.end();
    }
  });

  test('the table is partitioned by created_at with daily UTC partitions from yesterday to three days ahead, and no default partition', async () => {
    const startedMs = Date.now();
    await using db = await migratedDatabase();
    const endedMs = Date.now();
    const [key] = await db.sql`select pg_get_partkeydef('k8s_events'::regclass) as def`;
    const parts = await db.sql<{ name: string; bound: string }[]>`
      select c.relname as name, pg_get_expr(c.relpartbound, c.oid) as bound
      from pg_inherits i join pg_class c on c.oid = i.inhrelid
      where i.inhparent = 'k8s_events'::regclass order by 1`;
    const namesAround = (nowMs: number) => [-1, 0, 1, 2, 3].map((o) => `k8s_events_${new Date(nowMs + o * 86_400_000).toISOString().slice(0, 10).replaceAll('-', '_')}`);
    expect(key!.def).toBe('RANGE (created_at)');
    // The migration's own clock read is between the two: a run across UTC midnight may see either day.
    expect([namesAround(startedMs), namesAround(endedMs)]).toContainEqual(parts.map((p) => p.name));
    expect(parts.some((p) => p.bound === 'DEFAULT')).toBe(false);
  });

  test('waiting for an unreachable database ends with a clear error after the timeout', async () => {
    const sql = createSql('postgres://nobody@127.0.0.1:1/none', { max: 1 });
    try {
      await expect(waitForDb(sql, { timeoutMs: 300, log: silentLogger, maxDelayMs: 50 })).rejects.toThrow(/^database not ready after 300 ms \(\d+ attempts\): /);
    } finally {
      await sql.end();
    }
  });
});

/**
 * A TCP proxy in front of the test server that answers the first query message ('P'arse or 'Q')
 * of its first connection the way a PostgreSQL fast shutdown does (FATAL 57P01, then the
 * connection closes) and passes everything else through.
 */
async function startTerminatingProxy(serverUrl: string) {
  const upstream = new URL(serverUrl);
  const fatal = (() => {
    const fields = Buffer.from('SFATAL\0VFATAL\0C57P01\0Mterminating connection due to administrator command\0\0');
    const header = Buffer.alloc(5);
    header.write('E', 0);
    header.writeUInt32BE(fields.length + 4, 1);
    return Buffer.concat([header, fields]);
  })();
  let armed = true;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const backend = connect(Number(upstream.port), upstream.hostname);
    sockets.add(client).add(backend);
    const intercept = armed;
    armed = false;
    let pending = Buffer.alloc(0);
    let startedUp = false;
    client.on('data', (chunk) => {
      if (!intercept) return void backend.write(chunk);
      pending = Buffer.concat([pending, chunk]);
      // The startup message has no type byte; every later message has one before its length.
      for (;;) {
        const headerLength = startedUp ? 5 : 4;
        if (pending.length < headerLength) return;
        const length = pending.readUInt32BE(startedUp ? 1 : 0) + (startedUp ? 1 : 0);
        if (pending.length < length) return;
        const type = startedUp ? String.fromCharCode(pending[0]!) : '';
        if (type === 'P' || type === 'Q') {
          client.end(fatal);
          backend.destroy();
          return;
        }
        backend.write(pending.subarray(0, length));
        pending = pending.subarray(length);
        startedUp = true;
      }
    });
    backend.on('data', (chunk) => client.write(chunk));
    client.on('error', () => backend.destroy());
    backend.on('error', () => client.destroy());
    client.on('close', () => backend.destroy());
    backend.on('close', () => client.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = new URL(serverUrl);
  url.hostname = '127.0.0.1';
  url.port = String((server.address() as { port: number }).port);
  return {
    url: url.toString(),
    async [Symbol.asyncDispose]() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('connections terminated while they start', () => {
  test('a pool without type fetching whose new connection is terminated at its first query fails only queries (no unhandled rejection) and then recovers', async () => {
    await using db = await createTestDatabase();
    await using proxy = await startTerminatingProxy(db.url);
    const sql = createSql(proxy.url, { max: 1, fetchTypes: false });
    try {
      const outcome = () => sql`select 1 as ok`.then((rows) => [...rows], (err: { code?: string }) => err.code);
      const results = [await outcome(), await outcome(), await outcome()];
      // postgres.js 3.4.9 replays the dead connection's 57P01 onto the next query (porsager/postgres#1223):
      // a caught failure that the writer retries. With type fetching the same reset is an unhandled rejection.
      expect(results).toEqual(['CONNECTION_CLOSED', '57P01', [{ ok: 1 }]]);
    } finally {
      await sql.end({ timeout: 1 });
    }
  });
});

describe('reconnecting', () => {
  test('a pool waits 20 ms after its first failed connect, doubling to at most 250 ms, never postgres.js\'s 20 s', () => {
    expect([1, 2, 3, 4, 5, 6, 10, 50].map(reconnectDelaySeconds)).toEqual([0.02, 0.04, 0.08, 0.16, 0.25, 0.25, 0.25, 0.25]);
  });
});

describe('array parameters without type fetching', () => {
  test('an array literal binds every string exactly, quotes, backslashes, commas, braces and unicode included, as text[] and uuid[]', async () => {
    await using db = await createTestDatabase();
    const sql = createSql(db.url, { max: 1, fetchTypes: false });
    try {
      const texts = ['plain', '', 'a,b', '{x}', 'say "hi"', 'back\\slash\\', 'NULL', ' spaced ', 'ünï 😀', "it's; drop table x"];
      const uuids = ['00000000-0000-4000-8000-000000000001', 'ffffffff-ffff-4fff-bfff-ffffffffffff'];
      const textRows = await sql<{ value: string }[]>`select unnest(${toArrayLiteral(texts)}::text[]) as value`;
      const uuidRows = await sql<{ value: string }[]>`select unnest(${toArrayLiteral(uuids)}::uuid[])::text as value`;
      const empty = await sql<{ n: number }[]>`select cardinality(${toArrayLiteral([])}::text[]) as n`;
      expect([textRows.map((r) => r.value), uuidRows.map((r) => r.value), empty[0]!.n]).toEqual([texts, uuids, 0]);
    } finally {
      await sql.end({ timeout: 1 });
    }
  });
});

describe('writing events', () => {
  test('writing the same version twice stores it once', async () => {
    await using db = await migratedDatabase();
    const record = buildRecord();
    expect(await insertEventRows(db.sql, [record])).toBe(1);
    expect(await insertEventRows(db.sql, [record, buildRecord()])).toBe(1);
    const [row] = await db.sql`select count(*)::int as n from k8s_events`;
    expect(row!.n).toBe(2);
  });

  test('every column is read back as written', async () => {
    await using db = await migratedDatabase();
    // Today, so the row lands in a partition the migration made (a missing one burns a seq value).
    const createdAt = utcTodayAt('10:00:00.123456');
    const firstSeen = utcTodayAt('09:00:00');
    const record = buildRecord({
      created_at: createdAt,
      first_seen: firstSeen,
      composition_id: '6f1b4a3e-9a7c-4c1e-8d2f-0a1b2c3d4e5f',
      involved_object_uid: 'pod-uid',
      reporting_controller: 'kubelet',
      labels: JSON.stringify({ 'krateo.io/composition-id': '6f1b4a3e-9a7c-4c1e-8d2f-0a1b2c3d4e5f' }),
      raw: JSON.stringify({ message: 'ünïcødé ✓', count: 3 }),
      count: 3,
    });
    await insertEventRows(db.sql, [record]);
    const [row] = await db.sql`
      select to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') as created_at, first_seen, composition_id::text,
             involved_object_uid, reporting_controller, labels, raw, count, global_uid, seq, event_id is not null as has_id
      from k8s_events`;
    expect(row).toEqual({
      created_at: createdAt.slice(0, -1),
      first_seen: new Date(firstSeen),
      composition_id: '6f1b4a3e-9a7c-4c1e-8d2f-0a1b2c3d4e5f',
      involved_object_uid: 'pod-uid',
      reporting_controller: 'kubelet',
      labels: { 'krateo.io/composition-id': '6f1b4a3e-9a7c-4c1e-8d2f-0a1b2c3d4e5f' },
      raw: { message: 'ünïcødé ✓', count: 3 },
      count: 3,
      global_uid: record.global_uid,
      seq: 1,
      has_id: true,
    });
  });

  test('findStoredVersions reports the positions of exactly the stored versions, not other versions, days or clusters of them', async () => {
    await using db = await migratedDatabase();
    const stored = buildRecord({ created_at: utcTodayAt('10:00:00.123456') });
    await insertEventRows(db.sql, [stored]);
    const candidates = [
      buildRecord(),
      { ...stored },
      { ...stored, resource_version: `${stored.resource_version}0` },
      { ...stored, created_at: utcTodayAt('10:00:00.123456', Date.now() + 86_400_000) },
      { ...stored, cluster_name: 'other', global_uid: `other:${stored.uid}` },
    ];
    expect([...(await findStoredVersions(db.sql, candidates))]).toEqual([1]);
    expect([...(await findStoredVersions(db.sql, []))]).toEqual([]);
  });

  test('the row writer stores every version once and, after a batch that met stored versions, sends only the new ones (no seq burnt)', async () => {
    await using db = await migratedDatabase();
    const write = createEventRowWriter(db.sql);
    const first = [buildRecord(), buildRecord()];
    const second = [buildRecord(), buildRecord()];
    const third = [buildRecord(), buildRecord()];
    const fourth = buildRecord();
    const inserted = [
      await write(first),
      // A relist: everything again plus new versions. The first such batch meets the stored ones in
      // the insert (burning their seq values), the later ones ask first.
      await write([...first, ...second]),
      await write([...first, ...second, ...third]),
      await write([fourth]),
    ];
    const rows = await db.sql<{ uid: string; seq: number }[]>`select uid, seq from k8s_events order by seq`;
    expect(inserted).toEqual([2, 2, 2, 1]);
    expect(rows.map((r) => [r.uid, r.seq])).toEqual([
      [first[0]!.uid, 1],
      [first[1]!.uid, 2],
      [second[0]!.uid, 5],
      [second[1]!.uid, 6],
      [third[0]!.uid, 7],
      [third[1]!.uid, 8],
      [fourth.uid, 9],
    ]);
  });

  test('while the row writer asks for stored versions, a version whose key the question cannot carry (lone surrogate uid) is still stored', async () => {
    await using db = await migratedDatabase();
    const write = createEventRowWriter(db.sql);
    const stored = buildRecord();
    const odd = buildRecord({ uid: 'odd-\ud800', raw: '{}' });
    const inserted = [await write([stored]), await write([stored, buildRecord()]), await write([stored, odd])];
    const [row] = await db.sql<{ uid: string }[]>`select uid from k8s_events where resource_version = ${odd.resource_version}`;
    expect([inserted, row]).toEqual([[1, 1, 1], { uid: 'odd-\ufffd' }]);
  });

  test('a row for a day without a partition gets one on demand', async () => {
    await using db = await migratedDatabase();
    const farPast = buildRecord({ created_at: '2019-03-04T23:59:59Z' });
    expect(await insertEventRows(db.sql, [farPast, buildRecord()])).toBe(2);
    const [part] = await db.sql`select tableoid::regclass::text as name from k8s_events where uid = ${farPast.uid}`;
    expect(part!.name).toBe('k8s_events_2019_03_04');
  });

  test('a 9 KB message is stored and a listener is woken once per insert statement, not once per row', async () => {
    await using db = await migratedDatabase();
    const listener = createSql(db.url, { max: 1 });
    const payloads: string[] = [];
    const { unlisten } = await listener.listen('events_stack', (payload) => payloads.push(payload));
    try {
      const big = buildRecord({ message: 'x'.repeat(9 * 1024) });
      await insertEventRows(db.sql, [big, buildRecord(), buildRecord()]);
      await insertEventRows(db.sql, [buildRecord()]);
      await insertEventRows(db.sql, [big]); // nothing new: no notification
      await insertEventRows(db.sql, [buildRecord()]);
      await waitFor(() => payloads.length >= 3, { what: 'three notifications' });
      expect(payloads.map((p) => JSON.parse(p))).toEqual([
        { rows: 3, max_seq: 3 },
        { rows: 1, max_seq: 4 },
        { rows: 1, max_seq: 6 },
      ]);
    } finally {
      await unlisten();
      await listener.end();
    }
  });
});

describe('reading by cursor', () => {
  test('readEventsAfter returns rows above the cursor in seq order, narrowed by a predicate', async () => {
    await using db = await migratedDatabase();
    await insertEventRows(db.sql, [buildRecord({ namespace: 'a' }), buildRecord({ namespace: 'b' }), buildRecord({ namespace: 'a' })]);
    const rows = await readEventsAfter(db.sql, { afterSeq: 1, limit: 10, where: db.sql`namespace = ${'a'}` });
    expect(rows.map((r) => [r.seq, r.namespace])).toEqual([[3, 'a']]);
    expect(await readLastSeq(db.sql)).toBe(3);
  });

  test('a later writer waits for an earlier open insert, so the earlier row is never behind the cursor', async () => {
    await using db = await migratedDatabase();
    const [first, second] = [buildRecord(), buildRecord()];
    const reads: string[][] = [];
    const readAll = async () => reads.push((await readEventsAfter(db.sql, { afterSeq: 0, limit: 10 })).map((r) => r.uid));
    let releaseFirst!: () => void;
    const firstHeld = new Promise<void>((resolve) => (releaseFirst = resolve));
    const firstTx = db.sql.begin(async (tx) => {
      await insertEventRows(tx, [first]);
      await firstHeld;
    });
    await waitFor(async () => (await db.sql`select count(*)::int as n from pg_locks where locktype = 'advisory' and granted and database = (select oid from pg_database where datname = current_database())`)[0]!.n === 1);
    const secondInsert = insertEventRows(db.sql, [second]);
    await waitFor(async () => (await db.sql`select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted and database = (select oid from pg_database where datname = current_database())`)[0]!.n === 1);
    await readAll();
    releaseFirst();
    await Promise.all([firstTx, secondInsert]);
    await readAll();
    expect(reads).toEqual([[], [first.uid, second.uid]]);
  });

  test('without the commit-order trigger the same interleaving would make a cursor reader skip a row', async () => {
    await using db = await migratedDatabase();
    await db.sql`drop trigger k8s_events_lock_seq on k8s_events`;
    const [first, second] = [buildRecord(), buildRecord()];
    let releaseFirst!: () => void;
    const firstHeld = new Promise<void>((resolve) => (releaseFirst = resolve));
    let inserted!: () => void;
    const firstInserted = new Promise<void>((resolve) => (inserted = resolve));
    const firstTx = db.sql.begin(async (tx) => {
      await insertEventRows(tx, [first]);
      inserted();
      await firstHeld;
    });
    await firstInserted;
    await insertEventRows(db.sql, [second]);
    const before = await readEventsAfter(db.sql, { afterSeq: 0, limit: 10 });
    releaseFirst();
    await firstTx;
    const after = await readEventsAfter(db.sql, { afterSeq: before.at(-1)!.seq, limit: 10 });
    expect([before.map((r) => r.uid), after.map((r) => r.uid)]).toEqual([[second.uid], []]);
  });

  test('a reader following the cursor sees every row exactly once while writers commit out of seq order', async () => {
    await using db = await migratedDatabase();
    const writers = [0, 1, 2, 3].map(() => createSql(db.url, { max: 1 }));
    const reader = createSql(db.url, { max: 1 });
    const writtenUids: string[] = [];
    let writing = true;
    try {
      const write = async (writer: ReturnType<typeof createSql>, w: number) => {
        for (let i = 0; i < 25; i++) {
          const batch = [buildRecord(), buildRecord(), buildRecord()];
          // Delay commit after the insert by a varying amount so transactions interleave.
          await writer.begin(async (tx) => {
            await insertEventRows(tx, batch);
            await Bun.sleep(((i * 7 + w * 3) % 5) * 2);
          });
          writtenUids.push(...batch.map((r) => r.uid));
        }
      };
      const seen: string[] = [];
      const read = async () => {
        let cursor = 0;
        while (true) {
          const done = !writing;
          const rows = await readEventsAfter(reader, { afterSeq: cursor, limit: 7 });
          for (const row of rows) {
            seen.push(row.uid);
            cursor = row.seq;
          }
          if (done && rows.length === 0) return;
        }
      };
      const reading = read();
      await Promise.all(writers.map(write));
      writing = false;
      await reading;
      expect(seen.length).toBe(300);
      expect(new Set(seen).size).toBe(300);
      expect([...seen].sort()).toEqual([...writtenUids].sort());
    } finally {
      await Promise.all([...writers, reader].map((s) => s.end()));
    }
  });
});
