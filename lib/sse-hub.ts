import type { Sql } from './db.ts';
import { readEventsAfter, type StoredEvent } from './event-store.ts';
import type { EventVisibility } from './event-visibility.ts';
import { errorFields, type Logger } from './log.ts';
import type { NamespaceCatalog } from './namespace-catalog.ts';
import { matchesFilters, type EventFilters } from './presenter-filters.ts';
import type { PresenterMetrics } from './presenter-metrics.ts';
import { encodeEventFrame, encodeOpenFrame, heartbeatFrame } from './sse-frames.ts';
import { replayInto } from './sse-replay.ts';
import { createSseStream, type SseStream } from './sse-stream.ts';
import type { UserCredentials } from './user-credentials.ts';
import { sleep } from './sleep.ts';

/** Stream settings (from PresenterConfig). */
export interface HubSettings {
  heartbeatIntervalMs: number;
  sseRetryMs: number;
  sseClientBufferBytes: number;
  replayMaxRows: number;
  /** Rows read per query by the live reader and by replay. */
  readBatchRows?: number;
}

/** Rows written to the streams between two turns of the event loop. */
const yieldEveryRows = 64;

/** A subscriber as the hub sees it: one open stream with its filters. */
interface HubClient {
  stream: SseStream;
  filters: EventFilters;
  /** Frames up to this seq were already sent (or replayed); later duplicates are dropped. */
  minSeq: number;
  /** Live frames held while replay runs; undefined once live. */
  pending?: { frame: Uint8Array; seq: number }[];
  pendingBytes: number;
}

/** Clients of one user share its authorisation decisions. */
interface UserGroup {
  username: string;
  creds: UserCredentials;
  clients: Set<HubClient>;
}

/** In-memory fan-out of new rows to open SSE streams. */
export interface SseHub {
  /** Highest seq read from the table (live streams continue after it). */
  readonly cursor: number;
  readonly clientCount: number;
  /** Asks the reader to look for new rows (NOTIFY, LISTEN resubscribe). Wake-ups coalesce. */
  wake(): void;
  /** Opens a stream for an authenticated user, replaying after `resumeAfterSeq` first when given. */
  connect(options: {
    signal: AbortSignal;
    username: string;
    creds: UserCredentials;
    filters: EventFilters;
    resumeAfterSeq?: number;
    headers?: Record<string, string>;
  }): SseStream;
  /** Tells every stream to resume later and closes it (graceful shutdown), then stops the reader. */
  close(): Promise<void>;
}

/**
 * Creates the hub. Guarantees: rows are read by cursor (never skipping a committed row), each row's
 * frame is encoded once and written only to streams whose user may see it (`visibility`: list events
 * in its namespace, and in strict mode get its kind there; decisions re-asked when their TTL expires, so revocation applies to open streams) and whose
 * filters match; a resuming stream gets replay then live with no gap and no duplicate; a read error
 * is logged and retried with backoff from the same cursor.
 */
export function createSseHub(options: {
  sql: Sql;
  startSeq: number;
  visibility: EventVisibility;
  catalog: NamespaceCatalog;
  settings: HubSettings;
  log: Logger;
  metrics: PresenterMetrics;
}): SseHub {
  const { sql, visibility, catalog, settings, log, metrics } = options;
  const batchRows = settings.readBatchRows ?? 1000;
  const groups = new Map<string, UserGroup>();
  let cursor = options.startSeq;
  let clientCount = 0;
  let wanted = false;
  let running: Promise<void> | undefined;
  let stopped = false;
  const stopController = new AbortController();

  const deliverLive = (client: HubClient, frame: Uint8Array, seq: number) => {
    if (seq <= client.minSeq) return;
    if (client.pending) {
      client.pending.push({ frame, seq });
      client.pendingBytes += frame.byteLength;
      if (client.pendingBytes > settings.sseClientBufferBytes) client.stream.closeWithResume('slow_client');
      return;
    }
    if (client.stream.writeEvent(frame, seq)) metrics.sseEventsBroadcast.add(1);
    else metrics.sseEventsDropped.add(1);
  };

  const deliver = async (rows: StoredEvent[]) => {
    const rowKeys = rows.map((r) => visibility.keyOf(r.namespace, r.resource_kind));
    const scopes = new Map<string, StoredEvent>();
    rows.forEach((row, i) => {
      if (scopes.has(rowKeys[i]!)) return;
      scopes.set(rowKeys[i]!, row);
      catalog.observe(row.namespace, row.resource_kind);
    });
    // Decisions are fixed for the whole batch; groups that appear while we wait (or while the
    // writes below yield) are asked too before any further row is written.
    const decisions = new Map<UserGroup, Map<string, boolean>>();
    const decideForNewGroups = async () => {
      for (;;) {
        const asks: Promise<void>[] = [];
        for (const group of groups.values()) {
          if (decisions.has(group)) continue;
          const byKey = new Map<string, boolean>();
          decisions.set(group, byKey);
          for (const [key, { namespace, resource_kind }] of scopes) {
            const known = visibility.peek(group.username, namespace, resource_kind);
            if (known !== undefined) byKey.set(key, known);
            else asks.push(visibility.canSee(group.username, group.creds, namespace, resource_kind).then((ok) => void byKey.set(key, ok)));
          }
        }
        if (asks.length === 0) return;
        await Promise.all(asks);
      }
    };
    await decideForNewGroups();
    const nowMs = Date.now();
    for (const [i, row] of rows.entries()) {
      // Let sockets take what is queued before writing more, so a burst (a relist) stays within
      // the streams' bounds for clients that read promptly.
      if (i > 0 && i % yieldEveryRows === 0) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        await decideForNewGroups();
      }
      let frame: Uint8Array | undefined;
      for (const [group, byKey] of decisions) {
        if (byKey.get(rowKeys[i]!) !== true) continue;
        for (const client of group.clients) {
          if (!matchesFilters(client.filters, row)) continue;
          frame ??= encodeEventFrame(row);
          deliverLive(client, frame, row.seq);
        }
      }
      // A stream opened while this batch is being written starts after the rows already written.
      cursor = row.seq;
      if (frame) metrics.sseDeliveryDelay.record(Math.max(0, nowMs - new Date(row.inserted_at).getTime()) / 1000);
    }
  };

  const readLoop = async () => {
    let delayMs = 100;
    while (wanted && !stopped) {
      wanted = false;
      try {
        for (;;) {
          const rows = await readEventsAfter(sql, { afterSeq: cursor, limit: batchRows });
          if (rows.length === 0) break;
          await deliver(rows);
          cursor = rows[rows.length - 1]!.seq;
          if (rows.length < batchRows) break;
        }
        delayMs = 100;
      } catch (err) {
        log.warn('live read failed, retrying', { cursor, delay_ms: delayMs, ...errorFields(err) });
        wanted = true;
        // A wake-up (the LISTEN re-subscribing once the database is back) ends the wait early.
        backoff = new AbortController();
        await sleep(delayMs, AbortSignal.any([stopController.signal, backoff.signal]));
        backoff = undefined;
        delayMs = Math.min(5000, delayMs * 2);
      }
    }
  };

  let backoff: AbortController | undefined;
  const wake = () => {
    wanted = true;
    backoff?.abort();
    if (running || stopped) return;
    running = readLoop().finally(() => {
      running = undefined;
      if (wanted) wake();
    });
  };

  const heartbeat = setInterval(() => {
    for (const group of groups.values()) for (const client of group.clients) client.stream.writeComment(heartbeatFrame);
  }, settings.heartbeatIntervalMs);

  const remove = (username: string, client: HubClient) => {
    const group = groups.get(username);
    if (!group) return;
    group.clients.delete(client);
    if (group.clients.size === 0) groups.delete(username);
  };

  return {
    get cursor() {
      return cursor;
    },
    get clientCount() {
      return clientCount;
    },
    wake,
    connect({ signal, username, creds, filters, resumeAfterSeq, headers }) {
      const replayUntil = cursor;
      const resuming = resumeAfterSeq !== undefined && resumeAfterSeq < replayUntil;
      const startSeq = resumeAfterSeq !== undefined ? resumeAfterSeq : replayUntil;
      let client: HubClient;
      const stream = createSseStream({
        signal,
        openFrame: encodeOpenFrame(settings.sseRetryMs, resumeAfterSeq === undefined ? replayUntil : undefined),
        bufferBytes: settings.sseClientBufferBytes,
        startSeq,
        headers,
        onClose: (_stream, reason) => {
          remove(username, client);
          clientCount--;
          metrics.sseClientsActive.add(-1);
          metrics.sseClientsDisconnected.add(1, { reason });
        },
      });
      client = { stream, filters, minSeq: startSeq, pending: resuming ? [] : undefined, pendingBytes: 0 };
      let group = groups.get(username);
      if (!group) groups.set(username, (group = { username, creds, clients: new Set() }));
      group.clients.add(client);
      clientCount++;
      metrics.sseClientsActive.add(1);
      metrics.sseClientsConnected.add(1);
      if (resuming) {
        replayInto(stream, {
          sql, visibility, catalog, username, creds, filters,
          afterSeq: resumeAfterSeq, untilSeq: replayUntil,
          maxRows: settings.replayMaxRows, batchRows, metrics,
        })
          .then((complete) => {
            const held = client.pending ?? [];
            client.pending = undefined;
            if (!complete || stream.closed) return;
            for (const { frame, seq } of held) deliverLive(client, frame, seq);
          })
          .catch((err: unknown) => {
            log.warn('replay failed, closing stream', { user: username, ...errorFields(err) });
            stream.close('error');
          });
      }
      return stream;
    },
    async close() {
      stopped = true;
      clearInterval(heartbeat);
      stopController.abort();
      for (const group of [...groups.values()]) for (const client of [...group.clients]) client.stream.closeWithResume('shutdown');
      await running;
    },
  };
}
