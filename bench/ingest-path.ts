// Microbenchmark: the ingester's own CPU per event on the watch → record → batch path, in one
// process, with no network and no database, so small changes show up (bench/ingest.ts measures the
// whole stack, where the simulator and PostgreSQL dominate and the figures are noisy).
//   record       buildEventRecord on generated events as the simulator serves them
//   record+mf    the same events with managedFields and selfLink, as a real API server sends them
//   watch        runEventWatch over an in-memory watch stream (16 KB chunks), counting sink
//   path         watch → createIngestPipeline → createBatchWriter (a write that commits at once),
//                tickets completed when the batch settles, as lib/ingest/ingester.ts wires them
// CPU is the process's user+system time (GC threads included). Run it on two checkouts back to back
// to compare; each case reports the median of its rounds after one warm-up round.
// Usage: bun bench/ingest-path.ts [--events 50000] [--rounds 5] [--only record,watch,path]
import { createBatchWriter } from '../lib/ingest/batch-writer.ts';
import { createCompositionResolver } from '../lib/ingest/composition.ts';
import { buildEventRecord, type KubeEvent } from '../lib/ingest/event-record.ts';
import type { EventRecord } from '../lib/storage/event-store.ts';
import { runEventWatch } from '../lib/ingest/event-watch.ts';
import { createIngestPipeline } from '../lib/ingest/pipeline.ts';
import type { KubeHttp } from '../lib/kube/client.ts';
import { silentLogger } from '../lib/runtime/log.ts';
import { createCheckpointTracker, type CheckpointTicket } from '../lib/ingest/watch-checkpoint.ts';
import { generateStoredEvents } from './support/events.ts';
import { flag, numberFlag } from './support/report.ts';

const total = numberFlag('events', 50_000);
const rounds = numberFlag('rounds', 5);
const only = flag('only')?.split(',');
const chunkBytes = 16 * 1024;

const events = generateStoredEvents(total, { seed: 7 });
const withManagedFields = events.map((event) => {
  const metadata = event.metadata as Record<string, unknown>;
  return {
    ...event,
    metadata: {
      ...metadata,
      selfLink: `/api/v1/namespaces/${String(metadata.namespace)}/events/${String(metadata.name)}`,
      managedFields: [
        { manager: 'kubelet', operation: 'Update', apiVersion: 'v1', time: event.lastTimestamp ?? event.eventTime, fieldsType: 'FieldsV1', fieldsV1: { 'f:count': {}, 'f:message': {}, 'f:reason': {}, 'f:source': { 'f:component': {}, 'f:host': {} } } },
      ],
    },
  };
});
const watchBytes = new TextEncoder().encode(events.map((object) => `${JSON.stringify({ type: 'ADDED', object })}\n`).join(''));

/** A KubeHttp serving one watch stream of `watchBytes`, then watches that end only on abort. */
function memoryHttp(): KubeHttp {
  let served = false;
  const request: KubeHttp['request'] = async (_path, init) => {
    if (!served) {
      served = true;
      let offset = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (offset >= watchBytes.length) return controller.close();
          controller.enqueue(watchBytes.subarray(offset, offset + chunkBytes));
          offset += chunkBytes;
        },
      });
      return new Response(body, { status: 200 });
    }
    await new Promise((_, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal!.reason), { once: true }));
    throw new Error('unreachable');
  };
  return {
    server: 'memory://',
    clusterName: 'bench',
    request,
    getJson: async <T>() => ({ metadata: { resourceVersion: '1' }, items: [] }) as T,
  };
}

async function watchCase(): Promise<void> {
  const abort = new AbortController();
  let count = 0;
  const done = Promise.withResolvers<void>();
  const watch = runEventWatch({
    http: memoryHttp(),
    resumeFrom: '1',
    signal: abort.signal,
    log: silentLogger,
    sink: (_event, _source, ticket) => {
      ticket.complete();
      if (++count === total) done.resolve();
    },
  });
  await done.promise;
  abort.abort();
  await watch;
}

async function pathCase(): Promise<void> {
  const abort = new AbortController();
  const tracker = createCheckpointTracker();
  const tickets = new WeakMap<EventRecord, CheckpointTicket>();
  let settled = 0;
  const done = Promise.withResolvers<void>();
  const writer = createBatchWriter({
    write: async (records) => records.length,
    maxRows: 1000,
    flushIntervalMs: 5,
    bufferMaxRows: 20_000,
    log: silentLogger,
    observer: {
      onSettled: (records) => {
        for (const record of records) tickets.get(record)?.complete();
        settled += records.length;
        if (settled === total) done.resolve();
      },
    },
  });
  const pipeline = createIngestPipeline({
    clusterName: 'bench',
    resolver: createCompositionResolver({ lookup: undefined, ttlMs: 300_000, concurrency: 8, log: silentLogger }),
    writer,
    maxPendingRows: 20_000,
    log: silentLogger,
    onQueued: (record, ticket) => tickets.set(record, ticket),
  });
  const watch = runEventWatch({
    http: memoryHttp(),
    resumeFrom: '1',
    tracker,
    signal: abort.signal,
    log: silentLogger,
    sink: (event, source, ticket) => pipeline.accept(event, source, ticket),
  });
  await done.promise;
  abort.abort();
  await watch;
  await writer.close(1000);
  const last = events[events.length - 1]!.metadata as { resourceVersion: string };
  if (tracker.safeVersion('*') !== last.resourceVersion) throw new Error(`checkpoint ${tracker.safeVersion('*')} != ${last.resourceVersion}`);
}

function recordCase(input: readonly KubeEvent[]): () => void {
  return () => {
    for (const event of input) {
      const built = buildEventRecord(event, { clusterName: 'bench', compositionId: null, nowIso: '2030-01-01T00:00:00.000Z' });
      if (!built.ok) throw new Error('unbuildable');
    }
  };
}

const cases: [string, () => unknown][] = [
  ['record', recordCase(events)],
  ['record+mf', recordCase(withManagedFields)],
  ['watch', watchCase],
  ['path', pathCase],
];

const cpuMicros = () => {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
};
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

console.log(`events ${total}, rounds ${rounds} (+1 warm-up), ${(watchBytes.length / total).toFixed(0)} B per watch line`);
console.log('| case | CPU µs/event (median) | min | wall µs/event (median) |');
console.log('|---|---|---|---|');
for (const [name, run] of cases) {
  if (only && !only.includes(name)) continue;
  const cpu: number[] = [];
  const wall: number[] = [];
  for (let round = 0; round <= rounds; round++) {
    Bun.gc(true);
    const cpu0 = cpuMicros();
    const wall0 = performance.now();
    await run();
    if (round === 0) continue;
    cpu.push((cpuMicros() - cpu0) / total);
    wall.push(((performance.now() - wall0) * 1000) / total);
  }
  console.log(`| ${name} | ${median(cpu).toFixed(2)} | ${Math.min(...cpu).toFixed(2)} | ${median(wall).toFixed(2)} |`);
}
