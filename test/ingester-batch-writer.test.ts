import { describe, expect, test } from 'bun:test';
import { createBatchWriter, type BatchWriterOptions } from '../lib/ingest/batch-writer.ts';
import { silentLogger } from '../lib/runtime/log.ts';
import { runMigrations } from '../lib/storage/db.ts';
import { createEventRowWriter, type EventRecord } from '../lib/storage/event-store.ts';
import { buildRecord } from './support/builders.ts';
import { openSql, waitFor } from './support/ingester-fixtures.ts';
import { createTestDatabase } from './support/pg.ts';

function buildWriter(overrides: Partial<BatchWriterOptions> & Pick<BatchWriterOptions, 'write'>) {
  return createBatchWriter({ maxRows: 100, flushIntervalMs: 5, bufferMaxRows: 1000, log: silentLogger, initialBackoffMs: 1, maxBackoffMs: 4, ...overrides });
}

function deferred() {
  let resolve: () => void = () => {};
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('createBatchWriter', () => {
  test('a row reaching an idle writer is written by the flush timer, with no further push or close', async () => {
    const written: EventRecord[][] = [];
    const writer = buildWriter({ write: async (rows) => (written.push(rows), rows.length), flushIntervalMs: 5 });
    const row = buildRecord();
    writer.push(row);
    expect(written).toEqual([]);
    await waitFor(() => written.length === 1, { what: 'the timed flush' });
    expect(written).toEqual([[row]]);
    await writer.close(5_000);
  });

  test('with a flush interval of 0, rows pushed in the same event-loop turn (microtasks included) share one batch, written after that turn', async () => {
    const written: EventRecord[][] = [];
    const writer = buildWriter({ write: async (rows) => (written.push(rows), rows.length), flushIntervalMs: 0 });
    const [a, b, c] = [buildRecord(), buildRecord(), buildRecord()];
    writer.push(a);
    writer.push(b);
    await Promise.resolve();
    writer.push(c);
    expect(written).toEqual([]);
    // The writer's flush was queued at the first push, before this one: it has run once this resolves.
    await new Promise((resolve) => setImmediate(resolve));
    expect(written).toEqual([[a, b, c]]);
    const d = buildRecord();
    writer.push(d);
    await waitFor(() => written.length === 2);
    expect(written).toEqual([[a, b, c], [d]]);
  });

  test('rows arriving while a batch is written go into the next batch, which grows up to maxRows', async () => {
    const sizes: number[] = [];
    const gate = deferred();
    const writer = buildWriter({
      maxRows: 100,
      write: async (rows) => {
        sizes.push(rows.length);
        if (sizes.length === 1) await gate.promise;
        return rows.length;
      },
    });
    writer.push(buildRecord());
    await waitFor(() => sizes.length === 1);
    for (let i = 0; i < 250; i++) writer.push(buildRecord());
    gate.resolve();
    await writer.close(5_000);
    expect(sizes).toEqual([1, 100, 100, 50]);
  });

  test('with two writers a second batch starts only when a full one is waiting, and never a third', async () => {
    const gate = deferred();
    const sizes: number[] = [];
    let concurrent = 0;
    let peak = 0;
    const writer = buildWriter({
      maxRows: 100,
      maxInFlight: 2,
      write: async (rows) => {
        sizes.push(rows.length);
        peak = Math.max(peak, ++concurrent);
        await gate.promise;
        concurrent--;
        return rows.length;
      },
    });
    writer.push(buildRecord());
    await waitFor(() => sizes.length === 1);
    for (let i = 0; i < 50; i++) writer.push(buildRecord());
    const whilePartial = sizes.length;
    for (let i = 0; i < 300; i++) writer.push(buildRecord());
    await waitFor(() => sizes.length === 2);
    gate.resolve();
    expect(await writer.close(5_000)).toEqual({ lostRows: 0 });
    expect([whilePartial, sizes.slice(0, 2), sizes.reduce((a, b) => a + b, 0), peak]).toEqual([1, [1, 100], 351, 2]);
  });

  test('a full buffer asks the caller to wait until a batch is committed', async () => {
    const gate = deferred();
    let writes = 0;
    const writer = buildWriter({ maxRows: 5, bufferMaxRows: 10, write: async (rows) => (writes++, await gate.promise, rows.length) });
    const answers = Array.from({ length: 10 }, () => writer.push(buildRecord()));
    expect(answers.slice(0, 9)).toEqual(Array(9).fill(undefined));
    const wait = answers[9];
    expect(wait).toBeInstanceOf(Promise);
    let released = false;
    void wait!.then(() => (released = true));
    // A batch is being written and cannot commit before the gate opens: the caller is still
    // waiting at this point by construction, not because a pause was long enough.
    await waitFor(() => writes === 1, { what: 'the first batch in flight' });
    expect(released).toBe(false);
    gate.resolve();
    await waitFor(() => released);
    await writer.close(5_000);
  });

  test('a failing database is retried with backoff until the batch is written, losing nothing', async () => {
    let attempts = 0;
    const written: string[] = [];
    const retries: number[] = [];
    const writer = buildWriter({
      write: async (rows) => {
        attempts++;
        if (attempts <= 3) throw Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED' });
        written.push(...rows.map((r) => r.uid));
        return rows.length;
      },
      observer: { onRetry: ({ attempt }) => retries.push(attempt) },
    });
    const rows = [buildRecord(), buildRecord(), buildRecord()];
    for (const row of rows) writer.push(row);
    expect(await writer.close(5_000)).toEqual({ lostRows: 0 });
    expect(written).toEqual(rows.map((r) => r.uid));
    expect(retries).toEqual([1, 2, 3]);
  });

  test('a row PostgreSQL rejects for its data is isolated and dropped, the rest of its batch is written', async () => {
    await using db = await createTestDatabase();
    await runMigrations(db.url, { log: silentLogger });
    await using sql = openSql(db.url);
    const dropped: [string, number][] = [];
    const writer = buildWriter({ write: createEventRowWriter(sql), observer: { onDropped: (reason, count) => dropped.push([reason, count]) } });
    // A count beyond the integer column: PostgreSQL refuses the whole statement (SQLSTATE 22003).
    const records = ['a', 'b', 'bad', 'c', 'd'].map((uid) => buildRecord({ uid, count: uid === 'bad' ? 2 ** 31 : 1 }));
    for (const record of records) writer.push(record);
    expect(await writer.close(5_000)).toEqual({ lostRows: 0 });
    const stored = await sql<{ uid: string }[]>`select uid from k8s_events order by uid`;
    expect(stored.map((r) => r.uid)).toEqual(['a', 'b', 'c', 'd']);
    expect(dropped).toEqual([['rejected_by_database', 1]]);
  });

  test('close gives up after its timeout while the database stays down and reports the rows lost', async () => {
    const dropped: [string, number][] = [];
    let attempts = 0;
    const writer = buildWriter({
      write: async () => {
        attempts++;
        throw Object.assign(new Error('down'), { code: '57P01' });
      },
      observer: { onDropped: (reason, count) => dropped.push([reason, count]) },
    });
    for (let i = 0; i < 7; i++) writer.push(buildRecord());
    expect(await writer.close(50)).toEqual({ lostRows: 7 });
    expect(dropped).toEqual([['shutdown_timeout', 7]]);
    // Once closed it must not keep hammering a closed pool (that once starved the event loop).
    // An open writer with the same backoff, failing the same way, is the clock: by the time it has
    // retried five times a closed writer that still retried would have too.
    const attemptsAtClose = attempts;
    writer.push(buildRecord());
    let controlAttempts = 0;
    const control = buildWriter({ write: async () => (controlAttempts++, Promise.reject(Object.assign(new Error('down'), { code: '57P01' }))) });
    control.push(buildRecord());
    await waitFor(() => controlAttempts >= 5, { what: 'five retries of the open writer' });
    expect(attempts - attemptsAtClose).toBeLessThanOrEqual(1);
    expect(await control.close(0)).toEqual({ lostRows: 1 });
  });
});
