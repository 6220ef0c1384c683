import { describe, expect, test } from 'bun:test';
import { heartbeatFrame } from '../lib/presenter/sse/frames.ts';
import { createHeartbeatSweep, type HeartbeatTarget } from '../lib/presenter/sse/heartbeat.ts';

/** Streams that count the comments they are given. */
function buildStreams(ids: number[]) {
  const received = new Map<number, Uint8Array[]>(ids.map((id) => [id, []]));
  const streams: HeartbeatTarget[] = ids.map((id) => ({ id, writeComment: (frame) => (received.get(id)!.push(frame), true) }));
  return { streams, received };
}

describe('heartbeat sweep', () => {
  test('over one round of ticks every stream gets exactly one heartbeat, and each tick writes only its share', () => {
    const { streams, received } = buildStreams(Array.from({ length: 1000 }, (_, i) => i + 1));
    const sweep = createHeartbeatSweep({ streams: () => streams, slices: 16 });
    const perTick = Array.from({ length: 16 }, () => sweep.tick());
    // Tick k writes the ids ≡ k (mod 16): 1,000 ids give 62 or 63 each.
    expect(perTick).toEqual([62, ...Array(8).fill(63), ...Array(7).fill(62)]);
    expect([...received.values()]).toEqual(Array(1000).fill([heartbeatFrame]));
  });

  test('a stream hears from the sweep once per round however long it stays, and a stream that left is not written', () => {
    const { streams, received } = buildStreams([5, 6, 7]);
    const open = new Set(streams);
    const sweep = createHeartbeatSweep({ streams: () => open, slices: 4 });
    for (let i = 0; i < 8; i++) sweep.tick();
    open.delete(streams[1]!);
    for (let i = 0; i < 4; i++) sweep.tick();
    expect(Object.fromEntries([...received].map(([id, frames]) => [id, frames.length]))).toEqual({ 5: 3, 6: 2, 7: 3 });
  });
});
