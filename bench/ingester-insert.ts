// Measures the ingester's write path: N synthetic ~1 KB event rows pushed through the batch
// writer into k8s_events on one connection. Usage: bun bench/ingester-insert.ts [rows] [maxRows]
import { createBatchWriter } from '../lib/ingest/batch-writer.ts';
import { buildEventRecord } from '../lib/ingest/event-record.ts';
import { createSql, runMigrations } from '../lib/storage/db.ts';
import { insertEventRows } from '../lib/storage/event-store.ts';
import { silentLogger } from '../lib/runtime/log.ts';
import { createTestDatabase, stopTestPostgres } from '../test/support/pg.ts';

const total = Number(process.argv[2] ?? 100_000);
const maxRows = Number(process.argv[3] ?? 1000);

const db = await createTestDatabase();
try {
  await runMigrations(db.url, { log: silentLogger });
  const sql = createSql(db.url, { max: 1 });
  const now = Date.now();
  const records = Array.from({ length: total }, (_, i) => {
    const built = buildEventRecord(
      {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: `pod-${i}.17a`, namespace: `ns-${i % 50}`, uid: crypto.randomUUID(), resourceVersion: String(i + 1), creationTimestamp: new Date(now - i).toISOString() },
        involvedObject: { apiVersion: 'v1', kind: 'Pod', namespace: `ns-${i % 50}`, name: `pod-${i}`, uid: crypto.randomUUID(), fieldPath: 'spec.containers{app}' },
        reason: 'BackOff',
        message: `Back-off restarting failed container app in pod pod-${i}: ${'x'.repeat(500)}`,
        type: 'Warning',
        count: 1,
        firstTimestamp: new Date(now - i).toISOString(),
        lastTimestamp: new Date(now - i).toISOString(),
        source: { component: 'kubelet', host: 'node-1' },
      },
      { clusterName: 'bench', compositionId: null, nowIso: new Date(now).toISOString() },
    );
    if (!built.ok) throw new Error('unbuildable');
    return built.record;
  });
  const avgBytes = Math.round(records.reduce((s, r) => s + r.raw.length, 0) / total);
  let flushes = 0;
  const writer = createBatchWriter({
    write: (batch) => insertEventRows(sql, batch),
    maxRows,
    flushIntervalMs: 5,
    bufferMaxRows: 20_000,
    log: silentLogger,
    observer: { onFlush: () => void flushes++ },
  });
  const started = performance.now();
  for (const record of records) {
    const wait = writer.push(record);
    if (wait) await wait;
  }
  await writer.close(60_000);
  const seconds = (performance.now() - started) / 1000;
  const [count] = await sql`select count(*)::int as n from k8s_events`;
  console.log(JSON.stringify({ rows: count?.n, raw_bytes_avg: avgBytes, seconds: +seconds.toFixed(2), rows_per_second: Math.round(total / seconds), statements: flushes }));
  await sql.end();
} finally {
  await db[Symbol.asyncDispose]();
  await stopTestPostgres();
}
