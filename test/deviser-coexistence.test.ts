// Living beside Krateo's deviser on one database (docs/decisions/011-own-schema.md): deviser's
// objects are built by test/support/deviser-fixture.ts as its public DDL describes them, and its
// restart and retention are replayed on a connection with PostgreSQL's default search_path.
import { describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storeClientConfig } from '../dev/demo-cluster.ts';
import { startSimulator } from '../dev/simulator/index.ts';
import { signDevToken } from '../dev/tokens.ts';
import { silentLogger } from '../lib/runtime/log.ts';
import { createSql, runMigrations, type Sql } from '../lib/storage/db.ts';
import { insertEventRows } from '../lib/storage/event-store.ts';
import { dropExpiredPartitions, ensurePartitions } from '../lib/storage/partitions.ts';
import { buildRecord } from './support/builders.ts';
import {
  buildGoRaw,
  connectAsGoService,
  createDeviserPartition,
  createDeviserPartitions,
  deviserPartitionName,
  describeDeviserObjects,
  describeTriggersAndPartitions,
  insertAsGoIngester,
  runDeviserRetention,
  startDeviser,
  type GoIngesterRow,
  type GoSql,
} from './support/deviser-fixture.ts';
import { startExecutable, waitForAnswer, waitForLoggedPort } from './support/executable.ts';
import { spawnIngester, waitFor } from './support/ingester-fixtures.ts';
import { createTestDatabase } from './support/pg.ts';

const dayMs = 86_400_000;
const day = (offsetDays: number) => new Date(Date.now() + offsetDays * dayMs).toISOString().slice(0, 10);

let goCounter = 0;
function buildGoRow(overrides: Partial<GoIngesterRow> = {}): GoIngesterRow {
  goCounter++;
  const base = {
    createdAt: new Date().toISOString(),
    clusterName: 'krateo',
    uid: `go-uid-${goCounter}-0000-0000`,
    namespace: 'team-a',
    kind: 'Pod',
    apiVersion: 'v1',
    name: `pod-${goCounter}`,
    involvedObjectUid: `pod-uid-${goCounter}`,
    type: 'Normal',
    reason: 'Started',
    message: `go event ${goCounter}`,
    compositionId: null,
    resourceVersion: String(1000 + goCounter),
    ...overrides,
  };
  return { ...base, raw: overrides.raw ?? buildGoRaw(base) };
}

/** A database on which deviser has started (table, trigger, today's partitions, krateo_resources) and the Go ingester wrote rows. */
async function deviserDatabase() {
  const db = await createTestDatabase();
  const go = connectAsGoService(db.url);
  await startDeviser(go);
  await createDeviserPartitions(go, { nowMs: Date.now(), days: 7 });
  await insertAsGoIngester(go, [buildGoRow(), buildGoRow({ type: 'Warning' })]);
  await go`insert into krateo_resources (uid, kind, name) values ('r-1', 'Repo', 'repo-1')`;
  return {
    url: db.url,
    go,
    async [Symbol.asyncDispose]() {
      await go.end({ timeout: 5 });
      await db[Symbol.asyncDispose]();
    },
  };
}

/** Everything of ours a deviser restart or retention pass could touch. */
async function describeOurObjects(sql: Sql) {
  const { triggers, partitions } = await describeTriggersAndPartitions(sql, 'events_stack.k8s_events');
  const functions = await sql`
    select p.proname as name, md5(pg_get_functiondef(p.oid)) as def
    from pg_proc p where p.pronamespace = 'events_stack'::regnamespace order by 1`;
  const indexes = await sql`
    select indexrelid::regclass::text as name from pg_index where indrelid = 'events_stack.k8s_events'::regclass order by 1`;
  const [rows] = await sql`select count(*)::int as n, max(seq) as max_seq from events_stack.k8s_events`;
  return { triggers, partitions, functions: [...functions], indexes: [...indexes], rows };
}

/** Collects the payloads of `channel` on a connection of `url`. */
async function listenOn(url: string, channel: string) {
  const listener = connectAsGoService(url);
  const payloads: string[] = [];
  const { unlisten } = await listener.listen(channel, (payload) => payloads.push(payload));
  return {
    payloads,
    async [Symbol.asyncDispose]() {
      await unlisten();
      await listener.end({ timeout: 5 });
    },
  };
}

async function tableNames(go: GoSql, schema: string): Promise<string[]> {
  const rows = await go<{ name: string }[]>`select tablename as name from pg_tables where schemaname = ${schema} order by 1`;
  return rows.map((r) => r.name);
}

describe('beside deviser', () => {
  test('our migrations apply on a database holding deviser\'s table, trigger, partitions, rows and krateo_resources, and leave all of it as it was', async () => {
    await using db = await deviserDatabase();
    const before = await describeDeviserObjects(db.go);
    await Promise.all([runMigrations(db.url, { log: silentLogger }), runMigrations(db.url, { log: silentLogger })]);
    const sql = createSql(db.url, { max: 1 });
    try {
      expect(await insertEventRows(sql, [buildRecord()])).toBe(1);
      const ours = await describeOurObjects(sql);
      expect(await describeDeviserObjects(db.go)).toEqual(before);
      expect(ours.triggers.map((t) => t.name)).toEqual(['k8s_events_lock_seq', 'k8s_events_notify_statement']);
      expect(ours.rows).toEqual({ n: 1, max_seq: 1 });
      expect((await tableNames(db.go, 'events_stack')).filter((t) => !t.startsWith('k8s_events_'))).toEqual([
        '__drizzle_migrations',
        'ingester_checkpoints',
        'k8s_events',
        'legacy_import_state',
      ]);
    } finally {
      await sql.end();
    }
  });

  test('a deviser restart after ours changes nothing of ours, and each side\'s inserts notify only its own channel', async () => {
    await using db = await deviserDatabase();
    await runMigrations(db.url, { log: silentLogger });
    const sql = createSql(db.url, { max: 1 });
    try {
      await insertEventRows(sql, [buildRecord()]);
      const before = await describeOurObjects(sql);
      await startDeviser(db.go);
      await createDeviserPartitions(db.go, { nowMs: Date.now(), days: 7 });
      expect(await describeOurObjects(sql)).toEqual(before);

      await using ourChannel = await listenOn(db.url, 'events_stack');
      await using deviserChannel = await listenOn(db.url, 'events');
      await insertEventRows(sql, [buildRecord(), buildRecord()]);
      const goRow = buildGoRow();
      await insertAsGoIngester(db.go, [goRow]);
      await waitFor(() => ourChannel.payloads.length >= 1 && deviserChannel.payloads.length >= 1);
      expect(ourChannel.payloads.map((p) => JSON.parse(p))).toEqual([{ rows: 2, max_seq: (before.rows?.max_seq as number) + 2 }]);
      expect(deviserChannel.payloads.map((p) => JSON.parse(p).global_uid)).toEqual([`krateo:${goRow.uid}`]);
    } finally {
      await sql.end();
    }
  });

  test('deviser\'s retention drops only its partitions and ours drops only ours, though both carry the same day names', async () => {
    await using db = await deviserDatabase();
    await runMigrations(db.url, { log: silentLogger });
    const sql = createSql(db.url, { max: 1 });
    try {
      const old = [day(-12), day(-11)];
      for (const d of old) await createDeviserPartition(db.go, d);
      await ensurePartitions(sql, old[0]!, 2);
      await insertAsGoIngester(db.go, [buildGoRow({ createdAt: `${old[0]}T12:00:00Z` })]);
      await insertEventRows(sql, [buildRecord({ created_at: `${old[0]}T12:00:00Z` })]);
      const oldNames = old.map(deviserPartitionName);

      const deviserDropped = await runDeviserRetention(db.go, { nowMs: Date.now(), retentionDays: 7 });
      const oursAfterDeviser = (await describeOurObjects(sql)).partitions.map((p) => p.name);
      const oursDropped = await dropExpiredPartitions(sql, { nowMs: Date.now(), retentionMs: 7 * dayMs });
      const [rows] = await db.go`
        select (select count(*)::int from public.k8s_events) as deviser, (select count(*)::int from events_stack.k8s_events) as ours`;

      expect(deviserDropped).toEqual(oldNames);
      expect(oldNames.every((name) => oursAfterDeviser.includes(name))).toBe(true);
      expect(oursDropped).toEqual(oldNames);
      expect(rows).toEqual({ deviser: 2, ours: 0 });
      expect((await describeDeviserObjects(db.go)).partitions).toEqual([0, 1, 2, 3, 4, 5, 6].map((o) => ({ name: deviserPartitionName(day(o)) })));
    } finally {
      await sql.end();
    }
  });

  test('the ingester and the presenter, as processes, start on a deviser database and serve an event from the cluster', async () => {
    await using db = await deviserDatabase();
    await using sim = await startSimulator({ tls: true, bookmarkEveryMs: 200 });
    const dir = mkdtempSync(join(tmpdir(), 'events-deviser-'));
    try {
      const kubeconfig = join(dir, 'admin.kubeconfig');
      writeFileSync(kubeconfig, await sim.adminKubeconfig());
      sim.setRbac('alice', [{ verbs: ['list'], resources: ['events'], apiGroups: [''], namespaces: ['team-a'] }]);
      await storeClientConfig(sim, 'krateo-system', 'alice', []);
      const base = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', DATABASE_URL: db.url, KUBECONFIG: kubeconfig };
      await using ingester = spawnIngester({ ...base, CLUSTER_NAME: 'ours', PORT: '0', COMPOSITION_LOOKUP: 'false' });
      await using presenter = startExecutable('bun', {
        cwd: new URL('..', import.meta.url).pathname,
        args: ['presenter.ts'],
        env: { ...base, PORT: '0', JWT_SIGN_KEY: 'coexistence-sign-key-5b1d9e0c7a2f4e6d8c0b', AUTHN_NS: 'krateo-system', OTEL_ENABLED: 'false', CLUSTER_NAME: 'ours' },
      });
      const port = await waitForLoggedPort(presenter, 'presenter listening');
      await waitForAnswer(`http://127.0.0.1:${port}/readyz`, presenter, (status) => status === 200, 30_000);
      await waitFor(async () => (await ingester.readiness()).ready === true || undefined, { timeoutMs: 30_000, what: 'ingester ready' });
      const now = new Date().toISOString();
      const created = sim.createEvent({
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { namespace: 'team-a', name: 'pod-x.1' },
        involvedObject: { apiVersion: 'v1', kind: 'Pod', namespace: 'team-a', name: 'pod-x', uid: 'pod-x-uid' },
        type: 'Normal',
        reason: 'Started',
        message: 'beside deviser',
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      });
      const token = signDevToken({ key: 'coexistence-sign-key-5b1d9e0c7a2f4e6d8c0b', username: 'alice' });
      const body = await waitFor(async () => {
        const response = await fetch(`http://127.0.0.1:${port}/events`, { headers: { authorization: `Bearer ${token}` } });
        const page = (await response.json()) as { resources: { global_uid: string }[] };
        return page.resources.length > 0 ? page : undefined;
      }, { timeoutMs: 30_000, what: 'the event served' });
      expect(body.resources.map((r) => r.global_uid)).toEqual([`ours:${created.metadata.uid}`]);
      expect((await describeDeviserObjects(db.go)).counts).toEqual({ events: 2, resources: 1 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
