// Importing the Go events-ingester's rows from deviser's table into ours (lib/storage/legacy-import.ts).
import { describe, expect, test } from 'bun:test';
import { createLogger, silentLogger } from '../lib/runtime/log.ts';
import { createSql, runMigrations } from '../lib/storage/db.ts';
import { importLegacyEvents } from '../lib/storage/legacy-import.ts';
import { runLegacyImportCommand } from '../lib/storage/legacy-import-command.ts';
import {
  buildGoRaw,
  connectAsGoService,
  createDeviserPartition,
  insertAsGoIngester,
  startDeviser,
  type GoIngesterRow,
} from './support/deviser-fixture.ts';
import { createTestDatabase } from './support/pg.ts';

const dayMs = 86_400_000;
const dayAgo = (days: number, time: string) => `${new Date(Date.now() - days * dayMs).toISOString().slice(0, 10)}T${time}Z`;

let counter = 0;
function goRow(createdAt: string, extra: Record<string, unknown> = {}, overrides: Partial<GoIngesterRow> = {}): GoIngesterRow {
  counter++;
  const base = {
    createdAt,
    clusterName: 'krateo',
    uid: `legacy-${String(counter).padStart(4, '0')}`,
    namespace: 'team-a',
    kind: 'Pod',
    apiVersion: 'v1',
    name: `pod-${counter}`,
    involvedObjectUid: `pod-uid-${counter}`,
    type: 'Normal',
    reason: 'Started',
    message: `legacy ${counter}`,
    compositionId: null,
    resourceVersion: String(500 + counter),
    ...overrides,
  };
  return { ...base, raw: buildGoRaw(base, extra) };
}

/** Deviser's table with rows of three days ago, two days ago and today, and our migrations applied. */
async function legacyDatabase(rows: GoIngesterRow[]) {
  const db = await createTestDatabase();
  const go = connectAsGoService(db.url);
  await startDeviser(go);
  for (const day of new Set(rows.map((r) => r.createdAt.slice(0, 10)))) await createDeviserPartition(go, day);
  await insertAsGoIngester(go, rows);
  await runMigrations(db.url, { log: silentLogger });
  const sql = createSql(db.url, { max: 2 });
  return {
    url: db.url,
    go,
    sql,
    async [Symbol.asyncDispose]() {
      await sql.end({ timeout: 5 });
      await go.end({ timeout: 5 });
      await db[Symbol.asyncDispose]();
    },
  };
}

const compare = `event_id::text, created_at, global_uid, namespace, resource_kind, resource_name, involved_object_uid,
  event_type, reason, message, composition_id::text, raw::text as raw, resource_version`;

describe('importing the Go ingester\'s rows', () => {
  test('copies every row with the shared columns and raw as found, deriving count, first_seen, reporting controller and labels from raw', async () => {
    const comp = '55555555-5555-4555-8555-555555555555';
    const legacy = goRow(dayAgo(3, '10:00:00.5'), { count: 4, firstTimestamp: dayAgo(3, '09:00:00'), lastTimestamp: dayAgo(3, '10:00:00') });
    const modern = goRow(dayAgo(2, '11:00:00'), {
      eventTime: dayAgo(2, '08:00:00.123456'),
      series: { count: 9, lastObservedTime: dayAgo(2, '11:00:00.000000') },
      reportingComponent: 'kubelet-x',
    }, { compositionId: comp });
    const bare = goRow(dayAgo(0, '00:00:01'), { metadata: { uid: 'x', labels: { 'krateo.io/composition-id': '', team: 'a' } }, source: undefined });
    await using db = await legacyDatabase([legacy, modern, bare]);

    const result = await importLegacyEvents(db.sql, { batchRows: 2 });
    const theirs = await db.go.unsafe(`select ${compare} from public.k8s_events order by uid`);
    const ours = await db.sql.unsafe(`select ${compare} from k8s_events order by uid`);
    const derived = await db.sql`
      select uid, count, to_char(first_seen at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as first_seen, reporting_controller, labels
      from k8s_events order by uid`;

    expect(result).toEqual({ rowsRead: 3, rowsInserted: 3, partitions: 3, finished: true });
    expect([...ours]).toEqual([...theirs]);
    expect([...derived]).toEqual([
      { uid: legacy.uid, count: 4, first_seen: dayAgo(3, '09:00:00.000000'), reporting_controller: 'kubelet', labels: null },
      { uid: modern.uid, count: 9, first_seen: dayAgo(2, '08:00:00.123456'), reporting_controller: 'kubelet-x', labels: null },
      { uid: bare.uid, count: 1, first_seen: null, reporting_controller: null, labels: { team: 'a' } },
    ]);
  });

  test('a second run adds nothing, and an interrupted run resumes where it stopped with nothing twice', async () => {
    const rows = [
      ...Array.from({ length: 5 }, (_, i) => goRow(dayAgo(3, `10:00:0${i}`))),
      ...Array.from({ length: 4 }, (_, i) => goRow(dayAgo(0, `00:00:0${i}`))),
    ];
    await using db = await legacyDatabase(rows);
    const stop = new AbortController();
    const first = await importLegacyEvents(db.sql, { batchRows: 2, onProgress: (p) => p.rowsRead >= 4 && stop.abort(), signal: stop.signal });
    const second = await importLegacyEvents(db.sql, { batchRows: 2 });
    const third = await importLegacyEvents(db.sql, { batchRows: 2 });
    const [counts] = await db.sql`select count(*)::int as n, count(distinct (global_uid, resource_version))::int as versions from k8s_events`;
    const [state] = await db.sql`select rows_read::int from legacy_import_state`;

    expect(first).toEqual({ rowsRead: 4, rowsInserted: 4, partitions: 1, finished: false });
    // The closed partition resumes after its 4th row; today's (still written by the Go ingester) is read whole.
    expect(second).toEqual({ rowsRead: 5, rowsInserted: 5, partitions: 2, finished: true });
    expect(third).toEqual({ rowsRead: 4, rowsInserted: 0, partitions: 1, finished: true });
    expect(counts).toEqual({ n: 9, versions: 9 });
    expect(state).toEqual({ rows_read: 13 });
  });

  test('the command logs progress with rows per second and exits 0; a bad argument exits 2 naming it', async () => {
    await using db = await legacyDatabase([goRow(dayAgo(1, '12:00:00')), goRow(dayAgo(1, '12:00:01'))]);
    const lines: Record<string, unknown>[] = [];
    const log = createLogger({ service: 'import-test', write: (line) => lines.push(JSON.parse(line)) });
    const code = await runLegacyImportCommand({ env: { DATABASE_URL: db.url }, args: ['--batch-rows=1'], log, progressEveryMs: 0 });
    const bad = await runLegacyImportCommand({ env: { DATABASE_URL: db.url }, args: ['--nope'], log });
    const progress = lines.filter((l) => l.msg === 'legacy import progress');

    expect(code).toBe(0);
    expect(progress.map((l) => [l.rows_read, l.rows_inserted, typeof l.rows_per_second])).toEqual([[1, 1, 'number'], [2, 2, 'number']]);
    expect(lines.find((l) => l.msg === 'legacy import done')).toMatchObject({ rows_read: 2, rows_inserted: 2, partitions: 1, finished: true });
    expect(bad).toBe(2);
    expect(lines.at(-1)).toMatchObject({ msg: 'invalid configuration', problems: ['unknown or malformed argument "--nope" (use --source=schema.table, --batch-rows=N)'] });
  });
});
