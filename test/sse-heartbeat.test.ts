import { describe, expect, test } from 'bun:test';
import { heartbeatFrame } from '../lib/sse-frames.ts';
import { createHeartbeatSweep, type HeartbeatTarget } from '../lib/sse-heartbeat.ts';

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
    expect(perTick.every((n) => n === 62 || n === 63)).toBe(true);
    expect(perTick.reduce((a, b) => a + b, 0)).toBe(1000);
    expect([...received.values()].every((frames) => frames.length === 1 && frames[0] === heartbeatFrame)).toBe(true);
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
