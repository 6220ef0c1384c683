import { describe, expect, test } from 'bun:test';
import { startSimulator } from '../dev/simulator/index.ts';
import { runMigrations } from '../lib/storage/db.ts';
import { runEventWatch } from '../lib/ingest/event-watch.ts';
import type { KubeHttp } from '../lib/kube/client.ts';
import { silentLogger } from '../lib/runtime/log.ts';
import { createCheckpointTracker } from '../lib/ingest/watch-checkpoint.ts';
import { createTestDatabase } from './support/pg.ts';
import { buildKubeEvent, historyKeys, openSql, readVersionKeys, startTestIngester, waitFor } from './support/ingester-fixtures.ts';

async function setUp() {
  const db = await createTestDatabase();
  await runMigrations(db.url, { log: silentLogger });
  const sim = await startSimulator({ tls: true, bookmarkEveryMs: 200 });
  return { db, sim, kubeconfig: await sim.adminKubeconfig() };
}

async function waitForVersions(sql: ReturnType<typeof openSql>, expected: string[]) {
  await waitFor(async () => JSON.stringify(await readVersionKeys(sql)) === JSON.stringify(expected), { what: 'rows equal to history' });
}

describe('ingester watch over HTTPS', () => {
  test('an event created in the simulator is stored with its exact column values', async () => {
    const { db, sim, kubeconfig } = await setUp();
    await using _db = db;
    await using _sim = sim;
    await using sql = openSql(db.url);
    await using _ingester = await startTestIngester({ databaseUrl: db.url, kubeconfig });
    const stored = sim.createEvent(
      buildKubeEvent({
        metadata: { name: 'web-1.abc', namespace: 'shop' },
        involvedObject: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'shop', name: 'web', uid: 'd-uid-1', fieldPath: 'spec' },
        reason: 'ScalingReplicaSet',
        message: 'Scaled up replica set web-1 to 3 ✓ ünïcødé',
        type: 'Warning',
        count: 4,
        firstTimestamp: '2030-01-02T03:00:00Z',
        lastTimestamp: '2030-01-02T03:04:05Z',
      }),
    );
    const rows = await waitFor(async () => {
      const found = await sql`select created_at, cluster_name, uid, global_uid, namespace, resource_kind, resource_name,
        involved_object_uid, event_type, reason, message, composition_id, resource_version, count, first_seen,
        reporting_controller, raw from k8s_events`;
      return found.length > 0 && found;
    });
    expect([...rows]).toEqual([
      {
        created_at: new Date('2030-01-02T03:04:05Z'),
        cluster_name: 'test-cluster',
        uid: stored.metadata.uid,
        global_uid: `test-cluster:${stored.metadata.uid}`,
        namespace: 'shop',
        resource_kind: 'apps/v1.Deployment',
        resource_name: 'web',
        involved_object_uid: 'd-uid-1',
        event_type: 'Warning',
        reason: 'ScalingReplicaSet',
        message: 'Scaled up replica set web-1 to 3 ✓ ünïcødé',
        composition_id: null,
        resource_version: stored.metadata.resourceVersion,
        count: 4,
        first_seen: new Date('2030-01-02T03:00:00Z'),
        reporting_controller: 'kubelet',
        raw: stored,
      },
    ]);
  });

  test('count bumps are stored as new rows, each version exactly once', async () => {
    const { db, sim, kubeconfig } = await setUp();
    await using _db = db;
    await using _sim = sim;
    await using sql = openSql(db.url);
    await using _ingester = await startTestIngester({ databaseUrl: db.url, kubeconfig });
    const first = sim.createEvent(buildKubeEvent({ metadata: { name: 'bump', namespace: 'default' } }));
    for (let count = 2; count <= 5; count++) {
      sim.updateEvent({ ...first, count, lastTimestamp: `2030-01-02T03:05:0${count}Z` });
    }
    await waitForVersions(sql, historyKeys(sim.history()));
    const counts = await sql<{ count: number }[]>`select count from k8s_events order by seq`;
    expect(counts.map((r) => r.count)).toEqual([1, 2, 3, 4, 5]);
  });

  test('a relist after 410 Gone, dropped watches and API errors lose no version and duplicate none', async () => {
    const { db, sim, kubeconfig } = await setUp();
    await using _db = db;
    await using _sim = sim;
    await using sql = openSql(db.url);
    await using _ingester = await startTestIngester({ databaseUrl: db.url, kubeconfig });
    const before = Array.from({ length: 20 }, () => sim.createEvent(buildKubeEvent()));
    await waitForVersions(sql, historyKeys(sim.history()));
    // The watch reconnects from a version that is now compacted: 410, relist.
    sim.compact();
    sim.closeWatches();
    for (const event of before.slice(0, 5)) sim.updateEvent({ ...event, count: 2 });
    sim.failNext(3, 500, '/events');
    sim.closeWatches();
    for (let i = 0; i < 20; i++) sim.createEvent(buildKubeEvent());
    await waitForVersions(sql, historyKeys(sim.history()));
    const [dupes] = await sql`select count(*)::int as n from (select uid, resource_version from k8s_events group by 1, 2 having count(*) > 1) d`;
    expect(dupes).toEqual({ n: 0 });
  });

  test('a restarted ingester re-reads what the API server holds without storing anything twice', async () => {
    const { db, sim, kubeconfig } = await setUp();
    await using _db = db;
    await using _sim = sim;
    await using sql = openSql(db.url);
    {
      await using _first = await startTestIngester({ databaseUrl: db.url, kubeconfig });
      for (let i = 0; i < 30; i++) sim.createEvent(buildKubeEvent());
      await waitForVersions(sql, historyKeys(sim.history()));
    }
    // Written while no ingester runs.
    for (let i = 0; i < 10; i++) sim.createEvent(buildKubeEvent());
    await using _second = await startTestIngester({ databaseUrl: db.url, kubeconfig });
    await waitForVersions(sql, historyKeys(sim.history()));
    const [total] = await sql`select count(*)::int as n from k8s_events`;
    expect(total).toEqual({ n: 40 });
  });
});

/** A KubeHttp whose first watch answers with `body` cut into `chunks`; later watches hang until aborted. */
function chunkedWatchHttp(chunks: Uint8Array[]): { http: KubeHttp; watchVersions: string[] } {
  const watchVersions: string[] = [];
  const request: KubeHttp['request'] = async (path, init) => {
    watchVersions.push(new URL(path, 'http://x').searchParams.get('resourceVersion') ?? '');
    if (watchVersions.length === 1) {
      const queue = [...chunks];
      return new Response(new ReadableStream<Uint8Array>({ pull: (c) => (queue.length > 0 ? c.enqueue(queue.shift()!) : c.close()) }));
    }
    return await new Promise<Response>((_, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal!.reason), { once: true }));
  };
  return { http: { server: 'memory://', clusterName: 'memory', request, getJson: () => Promise.reject(new Error('no list here')) }, watchVersions };
}

function cut(bytes: Uint8Array, sizes: number[]): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (let i = 0; offset < bytes.length; i++) {
    const size = sizes[i % sizes.length]!;
    chunks.push(bytes.slice(offset, offset + size));
    offset += size;
  }
  return chunks;
}

describe('watch stream decoding', () => {
  const objects = Array.from({ length: 40 }, (_, i) => ({
    metadata: { name: `e${i}`, namespace: 'ünï', uid: `u${i}`, resourceVersion: String(100 + i) },
    message: `${'日本語 🚀 naïve '.repeat(i % 7)}\u0000 line ${i}`,
  }));
  const text = objects.map((object, i) => `${JSON.stringify({ type: i % 5 === 0 ? 'MODIFIED' : 'ADDED', object })}${i % 4 === 0 ? '\r\n\n' : '\n'}`).join('');
  const bytes = new TextEncoder().encode(text);

  for (const sizes of [[1], [7, 3, 50], [1000], [bytes.length]]) {
    test(`every line reaches the sink once, in order and intact, with chunks of ${sizes.join('/')} bytes (cut inside characters and lines)`, async () => {
      const { http } = chunkedWatchHttp(cut(bytes, sizes));
      const abort = new AbortController();
      const received: unknown[] = [];
      const tracker = createCheckpointTracker();
      const watch = runEventWatch({
        http,
        tracker,
        resumeFrom: '1',
        signal: abort.signal,
        log: silentLogger,
        sink: (event, source, ticket) => {
          received.push({ source, event });
          ticket.complete();
          if (received.length === objects.length) abort.abort();
        },
      });
      await watch;
      expect(received).toEqual(objects.map((event) => ({ source: 'watch', event })));
      expect(tracker.safeVersion('*')).toBe('139');
    });
  }

  test('a malformed line ends the stream after the lines before it, and the watch resumes from the last good version', async () => {
    const good = objects.slice(0, 3).map((object) => JSON.stringify({ type: 'ADDED', object }));
    const lines = [...good.slice(0, 2), '{"type":"ADDED","object":', good[2]!].join('\n') + '\n';
    const { http, watchVersions } = chunkedWatchHttp(cut(new TextEncoder().encode(lines), [64]));
    const abort = new AbortController();
    const received: string[] = [];
    const watch = runEventWatch({
      http,
      resumeFrom: '1',
      signal: abort.signal,
      log: silentLogger,
      initialBackoffMs: 1,
      sink: (event) => {
        received.push((event.metadata as { name: string }).name);
      },
    });
    await waitFor(async () => watchVersions.length === 2, { what: 'the watch resumed' });
    abort.abort();
    await watch;
    expect({ received, watchVersions }).toEqual({ received: ['e0', 'e1'], watchVersions: ['1', '101'] });
  });
});
