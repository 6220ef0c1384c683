import type { StoredEvent } from '../../storage/event-store.ts';
import type { KrateoEventPayload } from '../core/wire.ts';

const encoder = new TextEncoder();

/**
 * `2026-12-06T10:00:00.654300Z` → `2026-12-06T10:00:00.6543Z`, `….000000Z` → `…:00Z`: the stored
 * microseconds, trailing zeros dropped, as Go's RFC3339Nano writes them (the Go services' form).
 */
export function formatCreatedAt(utcMicros: string): string {
  return utcMicros.replace(/\.?0+Z$/, 'Z');
}

/** Maps a stored row to the Krateo payload; `created_at` in RFC 3339 UTC with the stored microseconds. */
export function toKrateoPayload(row: StoredEvent): KrateoEventPayload {
  return {
    event_id: row.event_id,
    global_uid: row.global_uid,
    cluster_name: row.cluster_name,
    namespace: row.namespace,
    resource_kind: row.resource_kind,
    resource_name: row.resource_name,
    involved_object_uid: row.involved_object_uid,
    event_type: row.event_type,
    reason: row.reason,
    message: row.message,
    composition_id: row.composition_id,
    created_at: formatCreatedAt(row.created_at),
  };
}

/** `id: <seq>\nevent: krateo\ndata: <json>\n\n`, encoded once so the same bytes go to every client. */
export function encodeEventFrame(row: StoredEvent): Uint8Array {
  return encoder.encode(`id: ${row.seq}\nevent: krateo\ndata: ${JSON.stringify(toKrateoPayload(row))}\n\n`);
}

/**
 * The first frame of every stream: sent at once so headers flush immediately, suggests the
 * reconnect delay, and (for a fresh client) carries the live start id so that a reconnect after a
 * quiet period resumes from there instead of losing what happened in between.
 */
export function encodeOpenFrame(retryMs: number, startSeq?: number): Uint8Array {
  const id = startSeq === undefined ? '' : `id: ${startSeq}\n`;
  return encoder.encode(`: connected\nretry: ${retryMs}\n${id}\n`);
}

/** A comment line: keeps proxies and clients from treating a quiet stream as dead. */
export const heartbeatFrame: Uint8Array = encoder.encode(': heartbeat\n\n');

/**
 * Why a stream is told to resume: it fell behind, hit the replay cap, the server is shutting down,
 * its token expired, or its user's clientconfig Secret is gone (the last two reconnect with a new
 * token or not at all).
 */
export type ResumeReason = 'slow_client' | 'replay_limit' | 'shutdown' | 'token_expired' | 'credentials_revoked';

/**
 * Tells a client to reconnect from `lastSeq` (it fell behind, hit the replay cap, or the server is
 * shutting down). The `id:` line makes EventSource send it back as `Last-Event-ID` on reconnect.
 */
export function encodeResumeFrame(lastSeq: number, reason: ResumeReason): Uint8Array {
  return encoder.encode(
    `id: ${lastSeq}\nevent: resume\ndata: ${JSON.stringify({ last_event_id: String(lastSeq), reason })}\n\n`,
  );
}
