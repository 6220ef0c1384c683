import type { Sql } from '../../storage/db.ts';
import type { StoredEvent } from '../../storage/event-store.ts';
import type { EventVisibility } from '../access/event-visibility.ts';
import { errorFields, type Logger } from '../../runtime/log.ts';
import type { NamespaceCatalog } from '../access/namespace-catalog.ts';
import type { EventFilters } from '../core/filters.ts';
import type { PresenterMetrics } from '../core/metrics.ts';
import { createAudienceIndex } from './audience-index.ts';
import { createCatchUp } from './catch-up.ts';
import { encodeEventFrame, encodeOpenFrame } from './frames.ts';
import { startHeartbeats } from './heartbeat.ts';
import { createGroupWriter } from './group-writer.ts';
import { createLiveReader } from './live-reader.ts';
import { createRecentRows, type RecentRow } from './recent-rows.ts';
import { replayInto } from './replay.ts';
import { createSseStream, type SseStream } from './stream.ts';
import { createSubscriberGroups, type HubClient, type SubscriberGroups, type UserGroup } from './subscribers.ts';
import type { UserCredentials } from '../access/user-credentials.ts';

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
    /** The token's `exp` (epoch ms): the stream is closed then with a `token_expired` resume frame. */
    expiresAtMs?: number;
  }): SseStream;
  /** Open streams of `username`. */
  streamsOf(username: string): number;
  /** Users with at least one open stream. */
  users(): string[];
  /** Sends each of the user's streams a resume frame with `reason` and closes it. */
  closeUser(username: string, reason: 'credentials_revoked'): void;
  /** Replaces the credentials the user's decisions are asked with (a rotated clientconfig Secret). */
  updateCredentials(username: string, creds: UserCredentials): void;
  /** Tells every stream to resume later and closes it (graceful shutdown), then stops the reader. */
  close(): Promise<void>;
}

/** The hub's per-user controls over the open streams' groups. */
function controlUsers(groups: SubscriberGroups): Pick<SseHub, 'streamsOf' | 'users' | 'closeUser' | 'updateCredentials'> {
  return {
    streamsOf: (username) => groups.find(username)?.clients.size ?? 0,
    users: () => [...groups.values()].map((group) => group.username),
    closeUser(username, reason) {
      const group = groups.find(username);
      for (const client of [...(group?.clients ?? [])]) client.stream.closeWithResume(reason);
    },
    updateCredentials(username, creds) {
      const group = groups.find(username);
      if (group) group.creds = creds;
    },
  };
}

// Timers fire at once past 2^31 - 1 ms (≈ 24.8 days): a later expiry is re-armed in steps.
const maxTimerStepMs = 2 ** 31 - 1;

/** Closes `stream` with a `token_expired` resume frame at `atMs` (epoch ms); clear `timer` on close. */
function closeAtExpiry(stream: SseStream, atMs: number): { timer: ReturnType<typeof setTimeout> } {
  const holder = {} as { timer: ReturnType<typeof setTimeout> };
  const arm = () => {
    const leftMs = atMs - Date.now();
    if (leftMs <= 0) stream.closeWithResume('token_expired');
    else holder.timer = setTimeout(arm, Math.min(leftMs, maxTimerStepMs));
  };
  holder.timer = setTimeout(arm, Math.max(0, Math.min(atMs - Date.now(), maxTimerStepMs)));
  return holder;
}

// The live reads after notifications, as Krateo's listener metrics count them.
function liveReadObserver(metrics: PresenterMetrics) {
  return {
    onPass: () => metrics.listenerJobsEnqueued.add(1),
    onQuery: (durationMs: number) => metrics.listenerLoadLatestDuration.record(durationMs / 1000),
    onFailure: () => metrics.listenerLoadLatestFailure.add(1),
  };
}

/**
 * Creates the hub. Guarantees: rows are read by cursor (never skipping a committed row), each row's
 * frame is encoded once and written only to streams whose user may see it (`visibility`: list events
 * in its namespace, and in strict mode get its kind there; decisions re-asked when their TTL expires,
 * so revocation applies to open streams) and whose filters match; every stream gets its rows
 * exactly once and in seq order, the frames of one pass (at most `yieldEveryRows` rows) coalesced
 * into one write per stream; a user whose decisions are not known yet does not hold back anyone
 * else: its streams catch up once they are (from the rows kept in memory, else from the table),
 * then continue live; a resuming stream
 * gets replay then live with no gap and no duplicate; a read error is logged and retried with
 * backoff from the same cursor.
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
  const groups = createSubscriberGroups();
  const index = createAudienceIndex({ visibility, groups });
  const writer = createGroupWriter({ bufferBytes: settings.sseClientBufferBytes, metrics });
  let cursor = options.startSeq;
  // Every passed row with a seq above `recent.after` is there, so a group catching up finishes from memory.
  const recent = createRecentRows({ startSeq: options.startSeq, maxRows: 4 * batchRows });
  let clientCount = 0;
  const stopController = new AbortController();
  const catchUp = createCatchUp({
    sql, visibility, catalog, groups, recent, writer,
    cursor: () => cursor,
    batchRows, passRows: yieldEveryRows, log, signal: stopController.signal,
  });

  const deliver = async (rows: StoredEvent[]) => {
    const rowKeys = rows.map((r) => visibility.keyOf(r.cluster_name, r.namespace, r.resource_kind));
    const seen = new Set<string>();
    rows.forEach((row, i) => {
      if (seen.has(rowKeys[i]!)) return;
      seen.add(rowKeys[i]!);
      catalog.observe(row.namespace, row.resource_kind);
    });
    // Passes of `yieldEveryRows` rows: sockets take what is queued before more is written, so a
    // burst (a relist) stays within the streams' bounds for clients that read promptly.
    for (let a = 0; a < rows.length; a += yieldEveryRows) {
      if (a > 0) await new Promise<void>((resolve) => setImmediate(resolve));
      const end = Math.min(rows.length, a + yieldEveryRows);
      const nowMs = Date.now();
      const pass: RecentRow[] = [];
      const byGroup = new Map<UserGroup, RecentRow[]>();
      const visible = new Uint8Array(end - a);
      for (let i = a; i < end; i++) {
        const held: RecentRow = { row: rows[i]! };
        pass.push(held);
        const entry = index.entryFor(rowKeys[i]!, held.row, nowMs);
        for (const group of entry.unknown) {
          if (group.behind === undefined && groups.isCurrent(group)) catchUp.fallBehind(group, i > 0 ? rows[i - 1]!.seq : cursor);
        }
        for (const group of entry.allowed) {
          if (group.behind !== undefined || group.clients.size === 0) continue;
          const list = byGroup.get(group);
          if (list) list.push(held);
          else byGroup.set(group, [held]);
          visible[i - a] = 1;
        }
      }
      for (const [group, mine] of byGroup) {
        writer.writeToGroup(
          group,
          mine.map((r) => r.row),
          (k) => (mine[k]!.frame ??= encodeEventFrame(mine[k]!.row)),
        );
      }
      // A stream opened after this pass starts after the rows already written; `recent` always
      // ends with the cursor's row.
      cursor = rows[end - 1]!.seq;
      recent.append(pass);
      for (let i = a; i < end; i++) {
        if (visible[i - a]) metrics.sseDeliveryDelay.record(Math.max(0, nowMs - new Date(rows[i]!.inserted_at).getTime()) / 1000);
      }
    }
  };

  const observer = liveReadObserver(metrics);
  const reader = createLiveReader({ sql, batchRows, cursor: () => cursor, deliver, log, signal: stopController.signal, observer });

  const heartbeats = startHeartbeats({
    intervalMs: settings.heartbeatIntervalMs,
    *streams() {
      for (const group of groups.values()) for (const client of group.clients) yield client.stream;
    },
  });

  return {
    get cursor() {
      return cursor;
    },
    get clientCount() {
      return clientCount;
    },
    wake: reader.wake,
    connect({ signal, username, creds, filters, resumeAfterSeq, headers, expiresAtMs }) {
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
          if (expiry) clearTimeout(expiry.timer);
          groups.leave(username, client);
          clientCount--;
          metrics.sseClientsActive.add(-1);
          metrics.sseClientsDisconnected.add(1, { reason });
        },
      });
      client = {
        stream,
        filters,
        unfiltered: Object.keys(filters.equal).length === 0,
        // Replay writes the rows up to `replayUntil`; a group catching up may offer them again.
        minSeq: resuming ? replayUntil : startSeq,
        pending: resuming ? [] : undefined,
        pendingBytes: 0,
      };
      const expiry = expiresAtMs === undefined ? undefined : closeAtExpiry(stream, expiresAtMs);
      groups.join(username, creds, client);
      clientCount++;
      metrics.sseClientsActive.add(1);
      metrics.sseClientsConnected.add(1);
      if (resuming) {
        replayInto(stream, {
          sql, visibility, catalog, username, filters,
          afterSeq: resumeAfterSeq, untilSeq: replayUntil,
          maxRows: settings.replayMaxRows, batchRows, metrics,
        })
          .then((complete) => writer.endReplay(client, complete))
          .catch((err: unknown) => {
            log.warn('replay failed, closing stream', { user: username, ...errorFields(err) });
            stream.close('error');
          });
      }
      return stream;
    },
    ...controlUsers(groups),
    async close() {
      heartbeats.stop();
      stopController.abort();
      for (const group of [...groups.values()]) for (const client of [...group.clients]) client.stream.closeWithResume('shutdown');
      await reader.finished();
    },
  };
}
