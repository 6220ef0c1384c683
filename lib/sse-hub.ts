import type { Sql } from './db.ts';
import { readEventsAfter, type StoredEvent } from './event-store.ts';
import { scopeToSql, type EventVisibility } from './event-visibility.ts';
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
/** Largest chunk written to one stream at once (a few frames; well under any stream's bound). */
const maxChunkBytes = 64 * 1024;
/** Rows a group catching up writes from memory between two turns of the event loop. */
const catchUpPassRows = yieldEveryRows;
/** Keys (namespace, or namespace and kind) whose visibility the hub remembers before starting over. */
const maxIndexedKeys = 50_000;

/** A subscriber as the hub sees it: one open stream with its filters. */
interface HubClient {
  stream: SseStream;
  filters: EventFilters;
  /** No equality filter: gets every row its user may see (shares its group's coalesced chunks). */
  unfiltered: boolean;
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
  /**
   * Undefined while the group is served live. Otherwise every row up to this seq was handled for it,
   * and it catches up from the table (a decision it needs is pending) until it reaches the cursor.
   */
  behind?: number;
}

/** A row the live reader passed, with its frame once encoded (shared by every stream). */
interface RecentRow {
  row: StoredEvent;
  frame?: Uint8Array;
}

/** Which groups may see one key, as last decided. */
interface KeyEntry {
  /** `groupsVersion` when built: a group added since is not in the lists. */
  version: number;
  /** The lists may be used until then (epoch ms); see `EventVisibility.peekDecision`. */
  recheckAt: number;
  allowed: UserGroup[];
  /** Groups without a fresh decision yet (asked again each time the key is used). */
  unknown: UserGroup[];
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

/** One buffer holding `parts` back to back (the part itself when there is one). */
function concatFrames(parts: Uint8Array[], bytes: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(bytes);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
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
  const chunkBytes = Math.max(1, Math.min(maxChunkBytes, Math.floor(settings.sseClientBufferBytes / 4)));
  const groups = new Map<string, UserGroup>();
  // Streams indexed by what they may see: key → groups, so a pass asks nothing per group and key.
  const index = new Map<string, KeyEntry>();
  let groupsVersion = 0;
  let cursor = options.startSeq;
  // The rows passed most recently, oldest first from `recentStart`: every passed row with a seq
  // above `recentAfter` is there, so a group catching up finishes from memory.
  const recent: RecentRow[] = [];
  let recentStart = 0;
  let recentAfter = options.startSeq;
  const maxRecentRows = 4 * batchRows;
  let clientCount = 0;
  let wanted = false;
  let running: Promise<void> | undefined;
  let stopped = false;
  const stopController = new AbortController();

  const isCurrent = (group: UserGroup) => groups.get(group.username) === group;

  // Frames written and dropped since the last `countFrames` (one metric update per pass, not per stream).
  let written = 0;
  let dropped = 0;
  const countFrames = () => {
    if (written > 0) metrics.sseEventsBroadcast.add(written);
    if (dropped > 0) metrics.sseEventsDropped.add(dropped);
    written = 0;
    dropped = 0;
  };

  /** Writes one coalesced chunk ending with `seq`; counts its frames. */
  const writeChunk = (client: HubClient, chunk: Uint8Array, seq: number, frames: number) => {
    if (client.stream.writeEvent(chunk, seq)) {
      client.minSeq = seq;
      written += frames;
    } else {
      dropped += frames;
    }
  };

  /** Holds a live frame while the client's replay runs (bounded like the stream). */
  const hold = (client: HubClient, frame: Uint8Array, seq: number) => {
    client.pending!.push({ frame, seq });
    client.pendingBytes += frame.byteLength;
    if (client.pendingBytes > settings.sseClientBufferBytes) client.stream.closeWithResume('slow_client');
  };

  /**
   * Writes `rows` (in seq order, all visible to the group's user) to the group's clients: per client
   * the frames it wants, coalesced into writes of at most `chunkBytes` (one frame may be larger).
   * Clients without filters share the same concatenated buffers.
   */
  const writeToGroup = (group: UserGroup, rows: readonly StoredEvent[], frameOf: (i: number) => Uint8Array) => {
    if (rows.length === 0) return;
    const shared: { chunk: Uint8Array; seq: number; frames: number }[] = [];
    let sharedBuilt = false;
    const buildShared = () => {
      sharedBuilt = true;
      let parts: Uint8Array[] = [];
      let bytes = 0;
      for (let i = 0; i < rows.length; i++) {
        const frame = frameOf(i);
        if (parts.length > 0 && bytes + frame.byteLength > chunkBytes) {
          shared.push({ chunk: concatFrames(parts, bytes), seq: rows[i - 1]!.seq, frames: parts.length });
          parts = [];
          bytes = 0;
        }
        parts.push(frame);
        bytes += frame.byteLength;
      }
      shared.push({ chunk: concatFrames(parts, bytes), seq: rows[rows.length - 1]!.seq, frames: parts.length });
    };
    const lastSeq = rows[rows.length - 1]!.seq;
    for (const client of group.clients) {
      if (client.stream.closed || lastSeq <= client.minSeq) continue;
      if (client.unfiltered && !client.pending && client.minSeq < rows[0]!.seq) {
        if (!sharedBuilt) buildShared();
        for (const { chunk, seq, frames } of shared) {
          if (client.stream.closed) break;
          writeChunk(client, chunk, seq, frames);
        }
        continue;
      }
      let parts: Uint8Array[] = [];
      let bytes = 0;
      // The seq of the chunk's last frame: what the stream's last id becomes when it is written.
      let partsSeq = 0;
      for (let i = 0; i < rows.length; i++) {
        const row = rows[i]!;
        if (row.seq <= client.minSeq || (!client.unfiltered && !matchesFilters(client.filters, row))) continue;
        const frame = frameOf(i);
        if (client.pending) {
          hold(client, frame, row.seq);
          continue;
        }
        if (parts.length > 0 && bytes + frame.byteLength > chunkBytes) {
          writeChunk(client, concatFrames(parts, bytes), partsSeq, parts.length);
          parts = [];
          bytes = 0;
        }
        parts.push(frame);
        bytes += frame.byteLength;
        partsSeq = row.seq;
      }
      if (parts.length > 0) writeChunk(client, concatFrames(parts, bytes), partsSeq, parts.length);
    }
    countFrames();
  };

  /** The groups that may see `key` (and those still undecided), rebuilt when stale. */
  const entryFor = (key: string, row: StoredEvent, nowMs: number): KeyEntry => {
    let entry = index.get(key);
    if (entry && entry.version === groupsVersion && nowMs < entry.recheckAt) {
      if (entry.unknown.length > 0) {
        const still: UserGroup[] = [];
        for (const group of entry.unknown) {
          if (!isCurrent(group)) continue;
          const decision = visibility.peekDecision(group.username, row.namespace, row.resource_kind);
          if (decision === undefined) still.push(group);
          else {
            if (decision.allowed) entry.allowed.push(group);
            entry.recheckAt = Math.min(entry.recheckAt, decision.recheckAt);
          }
        }
        entry.unknown = still;
      }
      return entry;
    }
    if (index.size >= maxIndexedKeys) index.clear();
    entry = { version: groupsVersion, recheckAt: Number.POSITIVE_INFINITY, allowed: [], unknown: [] };
    for (const group of groups.values()) {
      const decision = visibility.peekDecision(group.username, row.namespace, row.resource_kind);
      if (decision === undefined) entry.unknown.push(group);
      else {
        if (decision.allowed) entry.allowed.push(group);
        entry.recheckAt = Math.min(entry.recheckAt, decision.recheckAt);
      }
    }
    index.set(key, entry);
    return entry;
  };

  /**
   * Writes to a group catching up the rows after `group.behind` still held in `recent` (at most
   * `maxRows` of them), as far as its decisions are known. Returns the rows whose decision is
   * missing (empty when none); the group is live again once it reached the cursor.
   */
  const catchUpFromRecent = (group: UserGroup, maxRows: number): StoredEvent[] => {
    const behind = group.behind!;
    let lo = recentStart;
    let hi = recent.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (recent[mid]!.row.seq <= behind) lo = mid + 1;
      else hi = mid;
    }
    const end = Math.min(recent.length, lo + maxRows);
    const mine: RecentRow[] = [];
    const missing: StoredEvent[] = [];
    let k = lo;
    for (; k < end; k++) {
      const { row } = recent[k]!;
      const decision = visibility.peekDecision(group.username, row.namespace, row.resource_kind);
      if (decision === undefined) {
        // Ask every missing decision among the rows held at once, not one per round trip.
        for (let j = k; j < recent.length; j++) {
          const other = recent[j]!.row;
          if (visibility.peekDecision(group.username, other.namespace, other.resource_kind) === undefined) missing.push(other);
        }
        break;
      }
      if (decision.allowed) mine.push(recent[k]!);
    }
    writeToGroup(
      group,
      mine.map((r) => r.row),
      (i) => (mine[i]!.frame ??= encodeEventFrame(mine[i]!.row)),
    );
    if (k > lo) group.behind = recent[k - 1]!.row.seq;
    // `recent` ends with the cursor's row: nothing is left for the live reader to skip.
    if (group.behind! >= cursor) group.behind = undefined;
    return missing;
  };

  /**
   * Brings a group whose decisions were pending up to the cursor, then it is live again; meanwhile
   * the live reader skips it, so no row is written twice and none is skipped. Rows still in
   * `recent` are written from memory once their decisions are in; older ones are read from the
   * table over what the user may see in every known namespace (as replay does).
   */
  const catchUp = async (group: UserGroup) => {
    let delayMs = 100;
    while (!stopped && isCurrent(group) && group.behind !== undefined) {
      try {
        if (group.behind >= recentAfter) {
          const missing = catchUpFromRecent(group, catchUpPassRows);
          if (group.behind === undefined) return;
          if (missing.length === 0) await new Promise<void>((resolve) => setImmediate(resolve));
          else {
            const asked = new Map<string, StoredEvent>();
            for (const row of missing) asked.set(visibility.keyOf(row.namespace, row.resource_kind), row);
            const needed = [...asked.values()].map((row) => visibility.canSee(group.username, group.creds, row.namespace, row.resource_kind));
            // The rest of the user's decisions in the same round (reviews go out in the order
            // asked): a user warming up is then done in one wait, not one per new namespace.
            const rest = catalog.list().then((candidates) => visibility.scope(group.username, group.creds, candidates));
            await Promise.all([...needed, rest]);
          }
          continue;
        }
        // The cursor first: the reader records every row's namespace (and kind) before passing it,
        // so the candidates read next cover every row up to `until`.
        const until = cursor;
        const candidates = await catalog.list();
        const scope = await visibility.scope(group.username, group.creds, candidates);
        if (stopped || !isCurrent(group)) return;
        const after: number = group.behind;
        const rows =
          scope !== 'all' && scope.length === 0
            ? []
            : await readEventsAfter(sql, {
                afterSeq: after,
                limit: batchRows,
                where: scope === 'all' ? sql`seq <= ${until}` : sql`seq <= ${until} and ${scopeToSql(sql, scope)}`,
              });
        for (let a = 0; a < rows.length; a += yieldEveryRows) {
          if (a > 0) await new Promise<void>((resolve) => setImmediate(resolve));
          if (stopped || !isCurrent(group)) return;
          const slice = rows.slice(a, a + yieldEveryRows);
          const frames: (Uint8Array | undefined)[] = [];
          writeToGroup(group, slice, (i) => (frames[i] ??= encodeEventFrame(slice[i]!)));
          group.behind = slice[slice.length - 1]!.seq;
        }
        group.behind = rows.length < batchRows ? until : rows[rows.length - 1]!.seq;
        if (group.behind >= cursor) group.behind = undefined;
        delayMs = 100;
      } catch (err) {
        log.warn('stream catch-up failed, retrying', { user: group.username, after: group.behind, delay_ms: delayMs, ...errorFields(err) });
        await sleep(delayMs, stopController.signal);
        delayMs = Math.min(5000, delayMs * 2);
      }
    }
  };

  /** Stops live delivery to `group` after `after` and catches it up. */
  const fallBehind = (group: UserGroup, after: number) => {
    group.behind = after;
    // Started after the current pass: it reads the cursor only once that pass is written.
    void Promise.resolve().then(() => catchUp(group));
  };

  const deliver = async (rows: StoredEvent[]) => {
    const rowKeys = rows.map((r) => visibility.keyOf(r.namespace, r.resource_kind));
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
        const entry = entryFor(rowKeys[i]!, held.row, nowMs);
        for (const group of entry.unknown) {
          if (group.behind === undefined && isCurrent(group)) fallBehind(group, i > 0 ? rows[i - 1]!.seq : cursor);
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
        writeToGroup(
          group,
          mine.map((r) => r.row),
          (k) => (mine[k]!.frame ??= encodeEventFrame(mine[k]!.row)),
        );
      }
      // A stream opened after this pass starts after the rows already written; `recent` always
      // ends with the cursor's row.
      cursor = rows[end - 1]!.seq;
      for (const held of pass) recent.push(held);
      if (recent.length - recentStart > maxRecentRows) {
        const drop = recent.length - recentStart - maxRecentRows;
        recentAfter = recent[recentStart + drop - 1]!.row.seq;
        recentStart += drop;
        if (recentStart > maxRecentRows) {
          recent.splice(0, recentStart);
          recentStart = 0;
        }
      }
      for (let i = a; i < end; i++) {
        if (visible[i - a]) metrics.sseDeliveryDelay.record(Math.max(0, nowMs - new Date(rows[i]!.inserted_at).getTime()) / 1000);
      }
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
      client = {
        stream,
        filters,
        unfiltered: Object.keys(filters.equal).length === 0,
        // Replay writes the rows up to `replayUntil`; a group catching up may offer them again.
        minSeq: resuming ? replayUntil : startSeq,
        pending: resuming ? [] : undefined,
        pendingBytes: 0,
      };
      let group = groups.get(username);
      if (!group) {
        groups.set(username, (group = { username, creds, clients: new Set() }));
        groupsVersion++;
      }
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
            if (!complete || stream.closed || held.length === 0) return;
            const fresh = held.filter(({ seq }) => seq > client.minSeq);
            if (fresh.length === 0) return;
            const bytes = fresh.reduce((sum, { frame }) => sum + frame.byteLength, 0);
            writeChunk(client, concatFrames(fresh.map(({ frame }) => frame), bytes), fresh[fresh.length - 1]!.seq, fresh.length);
            countFrames();
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
