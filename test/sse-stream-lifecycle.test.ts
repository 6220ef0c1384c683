import { describe, expect, test } from 'bun:test';
import { encodeOpenFrame } from '../lib/presenter/sse/frames.ts';
import { createSseStream, type SseCloseReason, type SseStream } from '../lib/presenter/sse/stream.ts';
import { authnNamespace, listEventsIn, startPresenterHarness, waitFor } from './support/presenter-harness.ts';
import { openSse } from './support/sse-client.ts';

const encoder = new TextEncoder();
const eventFrame = (seq: number, bytes = 100) => encoder.encode(`id: ${seq}\nevent: krateo\ndata: ${'x'.repeat(bytes)}\n\n`);

/** A stream nobody reads, recording its onClose calls. */
function idleStream(options: { signal?: AbortSignal; bufferBytes?: number } = {}) {
  const closes: [SseStream, SseCloseReason][] = [];
  const stream = createSseStream({
    signal: options.signal ?? new AbortController().signal,
    openFrame: encodeOpenFrame(3000, 7),
    bufferBytes: options.bufferBytes ?? 10_000,
    startSeq: 7,
    headers: { 'access-control-allow-origin': '*' },
    onClose: (s, reason) => closes.push([s, reason]),
  });
  return { stream, closes };
}

describe('an SSE stream', () => {
  test('answers with the event-stream headers plus the given ones, the open frame first, and distinct ids', async () => {
    const a = idleStream();
    const b = idleStream();
    expect(b.stream.id).toBeGreaterThan(a.stream.id);
    expect(Object.fromEntries(a.stream.response.headers)).toEqual({
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      'access-control-allow-origin': '*',
    });
    expect(a.stream.writeEvent(eventFrame(8, 3), 8)).toBe(true);
    expect(a.stream.lastSeq).toBe(8);
    a.stream.closeWithResume('shutdown');
    expect(await a.stream.response.text()).toBe(
      ': connected\nretry: 3000\nid: 7\n\n' +
        'id: 8\nevent: krateo\ndata: xxx\n\n' +
        'id: 8\nevent: resume\ndata: {"last_event_id":"8","reason":"shutdown"}\n\n',
    );
    expect(a.closes.map(([s, reason]) => [s === a.stream, reason])).toEqual([[true, 'shutdown']]);
  });

  test('runs onClose exactly once when the client goes away, however many ways it is told', async () => {
    const abort = new AbortController();
    const { stream, closes } = idleStream({ signal: abort.signal });
    abort.abort();
    await stream.response.body!.cancel();
    stream.close('error');
    stream.closeWithResume('shutdown');
    expect([closes.map(([s, reason]) => [s === stream, reason]), stream.closed]).toEqual([[[true, 'client_gone']], true]);
    expect([stream.writeEvent(eventFrame(9), 9), stream.writeComment(eventFrame(9)), stream.lastSeq]).toEqual([false, false, 7]);
  });

  test('a body cancelled by its reader closes the stream as client_gone', async () => {
    const { stream, closes } = idleStream();
    await stream.response.body!.cancel();
    expect([closes.map(([, reason]) => reason), stream.closed]).toEqual([['client_gone'], true]);
  });

  test('a signal already aborted when the stream is created closes it as client_gone', async () => {
    const { stream, closes } = idleStream({ signal: AbortSignal.abort() });
    await new Promise<void>((resolve) => queueMicrotask(resolve));
    expect([closes.map(([, reason]) => reason), stream.closed]).toEqual([['client_gone'], true]);
  });

  test('a writer waiting for room resumes when the reader takes the queued bytes, and learns when the stream closed instead', async () => {
    const { stream } = idleStream({ bufferBytes: 1000 });
    expect(stream.writeEvent(eventFrame(8, 900), 8)).toBe(true);
    const waiting = stream.writeEventWhenRoom(eventFrame(9, 900), 9);
    const reader = stream.response.body!.getReader();
    const received: string[] = [];
    const decoder = new TextDecoder();
    while (!received.join('').includes('id: 9\n')) received.push(decoder.decode((await reader.read()).value));
    expect([await waiting, stream.lastSeq]).toEqual([true, 9]);

    expect(stream.writeEvent(eventFrame(10, 900), 10)).toBe(true);
    const blocked = stream.writeEventWhenRoom(eventFrame(11, 900), 11);
    stream.close('error');
    expect([await blocked, stream.lastSeq]).toEqual([false, 10]);
  });
});

describe('credentials of stream users', () => {
  test('a new stream is refused once the user has lost its clientconfig Secret and the cache time has passed', async () => {
    await using h = await startPresenterHarness({ authzCacheTtlMs: 300 });
    const token = await h.addUser('alice', listEventsIn(['team-a']));
    await using first = await openSse(`${h.url}/notifications`, { authorization: `Bearer ${token}` });
    await using second = await openSse(`${h.url}/notifications?token=${token}`);
    expect([first.response.status, second.response.status]).toEqual([200, 200]);
    h.sim.deleteSecret(authnNamespace, 'alice-clientconfig');
    const answer = await waitFor(
      async () => {
        const response = await fetch(`${h.url}/notifications`, { headers: { authorization: `Bearer ${token}` } });
        if (response.status === 200) {
          await response.body!.cancel();
          return undefined;
        }
        return { status: response.status, body: await response.json() };
      },
      5000,
      'refused after the cache time',
    );
    expect(answer).toEqual({ status: 401, body: { code: 'no_credentials', message: 'no Kubernetes credentials for this user' } });
  });
});
