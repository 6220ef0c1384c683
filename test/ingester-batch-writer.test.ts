import { describe, expect, test } from 'bun:test';
import { createBatchWriter, type BatchWriterOptions } from '../lib/ingest/batch-writer.ts';
import type { EventRecord } from '../lib/storage/event-store.ts';
import { silentLogger } from '../lib/runtime/log.ts';
import { buildRecord } from './support/builders.ts';
import { waitFor } from './support/ingester-fixtures.ts';

function buildWriter(overrides: Partial<BatchWriterOptions> & Pick<BatchWriterOptions, 'write'>) {
  return createBatchWriter({ maxRows: 100, flushIntervalMs: 5, bufferMaxRows: 1000, log: silentLogger, initialBackoffMs: 1, maxBackoffMs: 4, ...overrides });
}

function deferred() {
  let resolve: () => void = () => {};
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('createBatchWriter', () => {
  test('a row reaching an idle writer is written within about the flush interval', async () => {
    const written: EventRecord[][] = [];
    const writer = buildWriter({ write: async (rows) => (written.push(rows), rows.length), flushIntervalMs: 5 });
    const started = performance.now();
    const row = buildRecord();
    writer.push(row);
    await waitFor(() => written.length === 1);
    expect(performance.now() - started).toBeLessThan(100);
    expect(written).toEqual([[row]]);
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
    const writer = buildWriter({ maxRows: 5, bufferMaxRows: 10, write: async (rows) => (await gate.promise, rows.length) });
    const answers = Array.from({ length: 10 }, () => writer.push(buildRecord()));
    expect(answers.slice(0, 9)).toEqual(Array(9).fill(undefined));
    const wait = answers[9];
    expect(wait).toBeInstanceOf(Promise);
    let released = false;
    void wait!.then(() => (released = true));
    await Bun.sleep(20);
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

  test('a row the database rejects for its data is isolated and dropped, the rest of its batch is written', async () => {
    const written: string[] = [];
    const dropped: [string, number][] = [];
    const writer = buildWriter({
      write: async (rows) => {
        if (rows.some((r) => r.uid === 'bad')) throw Object.assign(new Error('invalid input syntax'), { code: '22P02' });
        written.push(...rows.map((r) => r.uid));
        return rows.length;
      },
      observer: { onDropped: (reason, count) => dropped.push([reason, count]) },
    });
    for (const uid of ['a', 'b', 'bad', 'c', 'd']) writer.push(buildRecord({ uid }));
    await writer.close(5_000);
    expect(written.sort()).toEqual(['a', 'b', 'c', 'd']);
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
    const attemptsAtClose = attempts;
    writer.push(buildRecord());
    await Bun.sleep(30);
    expect(attempts - attemptsAtClose).toBeLessThanOrEqual(1);
  });
});
