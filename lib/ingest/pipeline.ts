import type { BatchWriter } from './batch-writer.ts';
import type { CompositionResolver } from './composition.ts';
import { buildEventRecord, type KubeEvent } from './event-record.ts';
import type { DropReason } from './metrics.ts';
import type { EventRecord } from '../storage/event-store.ts';
import type { Logger } from '../runtime/log.ts';
import type { CheckpointTicket } from './watch-checkpoint.ts';

/** Turns watched Event versions into rows queued on the writer. */
export interface IngestPipeline {
  /** Takes one Event version; a returned promise asks the watch to pause until it settles. */
  accept(event: KubeEvent, source: 'list' | 'watch', ticket?: CheckpointTicket): Promise<void> | undefined;
  /** Rows waiting for a composition lookup. */
  readonly pendingRows: number;
  /** Resolves once no row waits for a lookup (all handed to the writer). */
  settle(): Promise<void>;
}

/**
 * Creates the pipeline: resolves the composition id (synchronously, or by a lookup that runs
 * beside the watch while the row waits here), builds the row and queues it. Back-pressure: the
 * watch is asked to wait while the writer is full or `maxPendingRows` rows wait for lookups. An
 * event that cannot become a row is counted with its reason and logged (at most once per
 * `dropLogIntervalMs` per reason, with the number suppressed).
 */
export function createIngestPipeline(options: {
  clusterName: string;
  resolver: CompositionResolver;
  writer: BatchWriter;
  maxPendingRows: number;
  log: Logger;
  onReceived?(source: 'list' | 'watch'): void;
  /** An event handed to the record builder, and one it could not turn into a row (also dropped). */
  onDispatched?(): void;
  onBuildFailed?(reason: DropReason): void;
  onDropped?(reason: DropReason, count: number): void;
  /** Called with each row before it is queued, with the ticket to complete once it is committed. */
  onQueued?(record: EventRecord, ticket: CheckpointTicket): void;
  now?: () => number;
  dropLogIntervalMs?: number;
}): IngestPipeline {
  const now = options.now ?? Date.now;
  // Only an event without any usable timestamp needs the time: not formatted for every event.
  const nowIso = () => new Date(now()).toISOString();
  const dropLogIntervalMs = options.dropLogIntervalMs ?? 10_000;
  let pendingRows = 0;
  let roomWaiters: (() => void)[] = [];
  let settleWaiters: (() => void)[] = [];
  const lastDropLog = new Map<DropReason, { atMs: number; suppressed: number }>();

  const drop = (reason: DropReason, event: KubeEvent) => {
    options.onDropped?.(reason, 1);
    const entry = lastDropLog.get(reason) ?? { atMs: -Infinity, suppressed: 0 };
    if (now() - entry.atMs < dropLogIntervalMs) {
      entry.suppressed++;
    } else {
      const metadata = (event.metadata ?? {}) as { name?: string; namespace?: string };
      options.log.warn('event dropped', { reason, name: metadata.name, namespace: metadata.namespace, suppressed: entry.suppressed });
      entry.atMs = now();
      entry.suppressed = 0;
    }
    lastDropLog.set(reason, entry);
  };

  const enqueue = (event: KubeEvent, compositionId: string | null, ticket: CheckpointTicket | undefined): Promise<void> | undefined => {
    options.onDispatched?.();
    const built = buildEventRecord(event, { clusterName: options.clusterName, compositionId, nowIso });
    if (!built.ok) {
      options.onBuildFailed?.(built.reason);
      drop(built.reason, event);
      ticket?.complete();
      return undefined;
    }
    if (ticket) options.onQueued?.(built.record, ticket);
    return options.writer.push(built.record);
  };

  const rowDone = () => {
    pendingRows--;
    if (pendingRows < options.maxPendingRows && roomWaiters.length > 0) {
      const ready = roomWaiters;
      roomWaiters = [];
      for (const resolve of ready) resolve();
    }
    if (pendingRows === 0 && settleWaiters.length > 0) {
      const ready = settleWaiters;
      settleWaiters = [];
      for (const resolve of ready) resolve();
    }
  };

  return {
    get pendingRows() {
      return pendingRows;
    },
    accept(event, source, ticket) {
      options.onReceived?.(source);
      const resolution = options.resolver.resolve(event);
      if (!(resolution instanceof Promise)) return enqueue(event, resolution, ticket);
      pendingRows++;
      // The writer never refuses a row, so a full writer only delays the next watch read.
      void resolution.then((id) => enqueue(event, id, ticket)).finally(rowDone);
      if (pendingRows < options.maxPendingRows) return undefined;
      return new Promise<void>((resolve) => roomWaiters.push(resolve));
    },
    settle() {
      if (pendingRows === 0) return Promise.resolve();
      return new Promise<void>((resolve) => settleWaiters.push(resolve));
    },
  };
}
