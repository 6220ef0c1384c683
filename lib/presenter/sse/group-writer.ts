import type { StoredEvent } from '../../storage/event-store.ts';
import { matchesFilters } from '../core/filters.ts';
import type { PresenterMetrics } from '../core/metrics.ts';
import type { HubClient, UserGroup } from './subscribers.ts';

/** Largest chunk written to one stream at once (a few frames; well under any stream's bound). */
const maxChunkBytes = 64 * 1024;

/** Writes frames to a user's streams, coalesced, counting them in the metrics once per call. */
export interface GroupWriter {
  /**
   * Writes `rows` (in seq order, all visible to the group's user) to the group's clients: per client
   * the frames its filters want and it has not had yet (seq above its `minSeq`), in seq order,
   * coalesced into writes of at most a quarter of the stream bound (and 64 KiB; one frame may be
   * larger). Clients without filters share the same concatenated buffers. A client whose replay is
   * running gets its frames held instead (closed with a resume frame when they pass its bound).
   * `frameOf(i)` may be called more than once for a row (the caller keeps the encoded frame).
   */
  writeToGroup(group: UserGroup, rows: readonly StoredEvent[], frameOf: (i: number) => Uint8Array): void;
  /**
   * Ends the hold of a client whose replay finished: when replay `complete`d and the stream is still
   * open, the held frames newer than what was written meanwhile go out in one write; else they are
   * dropped. The client is live from then on.
   */
  endReplay(client: HubClient, complete: boolean): void;
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

/** Creates a writer for streams bounded at `bufferBytes`. */
export function createGroupWriter(options: { bufferBytes: number; metrics: PresenterMetrics }): GroupWriter {
  const { bufferBytes, metrics } = options;
  const chunkBytes = Math.max(1, Math.min(maxChunkBytes, Math.floor(bufferBytes / 4)));

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
    if (client.pendingBytes > bufferBytes) client.stream.closeWithResume('slow_client');
  };

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

  const endReplay = (client: HubClient, complete: boolean) => {
    const held = client.pending ?? [];
    client.pending = undefined;
    if (!complete || client.stream.closed || held.length === 0) return;
    const fresh = held.filter(({ seq }) => seq > client.minSeq);
    if (fresh.length === 0) return;
    const bytes = fresh.reduce((sum, { frame }) => sum + frame.byteLength, 0);
    writeChunk(client, concatFrames(fresh.map(({ frame }) => frame), bytes), fresh[fresh.length - 1]!.seq, fresh.length);
    countFrames();
  };

  return { writeToGroup, endReplay };
}
