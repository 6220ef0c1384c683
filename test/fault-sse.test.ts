import { describe, expect, test } from 'bun:test';
import { insertEventRows } from '../lib/storage/event-store.ts';
import { encodeOpenFrame } from '../lib/presenter/sse/frames.ts';
import { createSseStream, sseBurstFactor, type SseCloseReason } from '../lib/presenter/sse/stream.ts';
import { buildRecord } from './support/builders.ts';
import { readTotal, startMeteredPresenter } from './support/fault-kit.ts';
import { waitFor } from './support/ingester-fixtures.ts';
import { listEventsIn, startPresenterHarness } from './support/presenter-harness.ts';
import { openSse, parseFrame, type SseFrame } from './support/sse-client.ts';

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const ids = (frames: SseFrame[]) => frames.filter((f) => f.event === 'krateo').map((f) => Number(f.id));

/** A small deterministic PRNG (mulberry32), so the churn pattern is the same on every run. */
function seededRandom(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Exit = 'abort_before_headers' | 'abort_after_open' | 'cancel_body_after_frames';

/** One client that connects, stays a random while (reading or not), and leaves the way `exit` says. */
async function churnClient(url: string, headers: Record<string, string>, exit: Exit, stayMs: number): Promise<void> {
  const abort = new AbortController();
  const pending = fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal });
  if (exit === 'abort_before_headers') {
    abort.abort();
    await pending.catch(() => {});
    return;
  }
  const response = await pending;
  expect(response.status).toBe(200);
  if (exit === 'abort_after_open') {
    await Bun.sleep(stayMs); // the client's chosen time on the stream (not waiting for a condition)
    abort.abort();
    return;
  }
  const reader = response.body!.getReader();
  const until = Date.now() + stayMs;
  while (Date.now() < until) {
    const { done } = await Promise.race([reader.read(), Bun.sleep(until - Date.now()).then(() => ({ done: false }))]);
    if (done) break;
  }
  await reader.cancel().catch(() => {});
  abort.abort();
}

describe('SSE under client churn', () => {
  test('1,000 clients connecting and disconnecting at random while events flow leave no subscriber behind, and the presenter keeps serving', async () => {
    await using h = await startPresenterHarness();
    const root = await h.addUser('root', listEventsIn());
    const alice = await h.addUser('alice', listEventsIn(['team-a']));
    // Two users hold the 1,000 churning streams: the per-user stream cap is not what is tested here.
    await using p = await startMeteredPresenter(h, { sseMaxStreamsPerUser: 1000 });
    let producing = true;
    const producer = (async () => {
      let n = 0;
      while (producing) {
        await h.insert(buildRecord({ namespace: n++ % 2 === 0 ? 'team-a' : 'team-b' }), buildRecord({ namespace: 'team-a' }));
        await Bun.sleep(10); // one insert statement every 10 ms
      }
    })();
    // 100 streams open at once are all in the hub (an exact count, not a sample taken mid-churn).
    {
      const held = await Promise.all(Array.from({ length: 100 }, () => openSse(`${p.url}/notifications`, bearer(alice))));
      await waitFor(async () => (await readTotal(p.read, 'events_presenter.sse.clients.active')) === 100, { what: '100 clients in the hub' });
      await Promise.all(held.map((s) => s[Symbol.asyncDispose]()));
    }
    const random = seededRandom(5);
    const exits: Exit[] = ['abort_before_headers', 'abort_after_open', 'cancel_body_after_frames'];
    // Clients that reached an answer (every exit but the abort before headers): each was connected.
    let answered = 0;
    for (let wave = 0; wave < 4; wave++) {
      const clients = Array.from({ length: 250 }, (_, i) => {
        const exit = exits[Math.floor(random() * exits.length)]!;
        const token = random() < 0.5 ? root : alice;
        const query = random() < 0.3 ? '?namespace=team-a' : '';
        if (exit !== 'abort_before_headers') answered++;
        return Bun.sleep(Math.floor(random() * 100)).then(() => churnClient(`${p.url}/notifications${query}`, bearer(token), exit, Math.floor(random() * 300)));
      });
      await Promise.all(clients);
    }
    producing = false;
    await producer;
    await waitFor(async () => (await readTotal(p.read, 'events_presenter.sse.clients.active')) === 0, { what: 'no SSE client left in the hub' });
    const connected = await readTotal(p.read, 'events_presenter.sse.clients.connected');
    expect(await readTotal(p.read, 'events_presenter.sse.clients.disconnected')).toBe(connected);
    // 100 held streams plus every answered churn client; an abort before headers may or may not connect.
    expect(connected).toBeGreaterThanOrEqual(100 + answered);
    expect(connected).toBeLessThanOrEqual(100 + 1000);
    // Still serving: ready, and a new client gets a new event.
    expect((await fetch(`${p.url}/readyz`)).status).toBe(200);
    await using fresh = await openSse(`${p.url}/notifications`, bearer(alice));
    await fresh.next();
    const [seq] = await h.insert(buildRecord({ namespace: 'team-a' }));
    expect(ids(await fresh.until((f) => f.id === String(seq)))).toEqual([seq!]);
  }, 60_000);
});

describe('a client that never reads', () => {
  test('is cut off at its buffer bound with a resume frame and leaves the hub, while a reading client gets every event', async () => {
    await using h = await startPresenterHarness();
    await using p = await startMeteredPresenter(h, { sseClientBufferBytes: 256 * 1024 });
    const token = await h.addUser('alice', listEventsIn(['team-a']));
    const stalled = await fetch(`${p.url}/notifications`, { headers: bearer(token) });
    await using reading = await openSse(`${p.url}/notifications`, bearer(token));
    await reading.next();
    // 6,000 rows of ~2.3 KB frames (about 14 MB, far more than the bound plus socket buffers), in
    // statements of 50 rows (~115 KB, under the bound) that the reading client receives before the
    // next is inserted, so only the stalled client falls behind.
    const total = 6000;
    const message = 'x'.repeat(2000);
    const received: number[] = [];
    for (let i = 0; i < total; i += 50) {
      const seqs = await h.insert(...Array.from({ length: 50 }, () => buildRecord({ namespace: 'team-a', message })));
      received.push(...ids(await reading.until((f) => f.id === String(seqs.at(-1)), 10_000)));
    }
    const [{ min }] = (await h.sql`select min(seq)::int as min from k8s_events`) as unknown as [{ min: number }];
    const all = Array.from({ length: total }, (_, i) => min + i);
    expect(received).toEqual(all);
    // The stalled stream was closed server side: only the reading client is left in the hub.
    await waitFor(async () => (await p.read('events_presenter.sse.clients.disconnected'))['{"reason":"slow_client"}'] === 1, { what: 'slow client cut off' });
    expect(await readTotal(p.read, 'events_presenter.sse.clients.active')).toBe(1);
    // What it finally reads: a gapless prefix, then the resume signal naming the last id it got.
    const frames = (await stalled.text()).split('\n\n').filter((t) => t !== '').map((t) => parseFrame(`${t}\n\n`));
    const got = ids(frames);
    expect(got.length).toBeLessThan(total);
    expect(got).toEqual(all.slice(0, got.length));
    expect({ event: frames.at(-1)!.event, data: JSON.parse(frames.at(-1)!.data!) }).toEqual({
      event: 'resume',
      data: { last_event_id: String(got.at(-1)), reason: 'slow_client' },
    });
  }, 60_000);

  test('holds at most its hard bound queued: the frame that would pass it closes the stream with a resume frame instead', async () => {
    const bound = 10_000;
    const hardBound = bound * sseBurstFactor;
    const closes: SseCloseReason[] = [];
    const stream = createSseStream({
      signal: new AbortController().signal,
      openFrame: encodeOpenFrame(3000, 0),
      bufferBytes: bound,
      startSeq: 0,
      onClose: (_s, reason) => closes.push(reason),
    });
    const frame = (seq: number) => new TextEncoder().encode(`id: ${seq}\nevent: krateo\ndata: ${'y'.repeat(980)}\n\n`);
    const accepted: boolean[] = [];
    // Nobody reads the body: every accepted frame stays queued.
    for (let seq = 1; seq <= 60; seq++) accepted.push(stream.writeEvent(frame(seq), seq));
    const fit = accepted.filter(Boolean).length;
    expect(accepted).toEqual([...Array(fit).fill(true), ...Array(60 - fit).fill(false)]);
    const text = await stream.response.text();
    const frames = text.split('\n\n').filter((t) => t !== '').map((t) => parseFrame(`${t}\n\n`));
    const queuedEventBytes = frames.filter((f) => f.event === 'krateo').reduce((sum, f) => sum + Buffer.byteLength(f.text), 0);
    expect(queuedEventBytes).toBeLessThanOrEqual(hardBound);
    expect(queuedEventBytes + frame(fit + 1).byteLength).toBeGreaterThan(hardBound - Buffer.byteLength(': connected\nretry: 3000\nid: 0\n\n'));
    expect(frames.at(-1)).toEqual(parseFrame(`id: ${fit}\nevent: resume\ndata: {"last_event_id":"${fit}","reason":"slow_client"}\n\n`));
    expect(closes).toEqual(['slow_client']);
  });

  test('a stream above its byte bound is told to resume once the grace period passes without the socket draining it', async () => {
    const closes: SseCloseReason[] = [];
    const stream = createSseStream({
      signal: new AbortController().signal,
      openFrame: encodeOpenFrame(3000, 0),
      bufferBytes: 1000,
      startSeq: 0,
      overflowGraceMs: 50,
      onClose: (_s, reason) => closes.push(reason),
    });
    const frame = new TextEncoder().encode(`id: 1\nevent: krateo\ndata: ${'z'.repeat(1500)}\n\n`);
    expect(stream.writeEvent(frame, 1)).toBe(true);
    expect(closes).toEqual([]);
    await waitFor(() => (closes.length > 0 ? true : undefined), { what: 'grace period over' });
    expect([closes, stream.closed]).toEqual([['slow_client'], true]);
  });

  test('a burst above the byte bound that a reading client drains within the grace period does not cut it off', async () => {
    // A quarter of the default bound: the burst is still 9 times it, and the hard cap (4x) holds a
    // few 64-row passes (~150 KB each), so the test does not hang on whether the socket took one
    // pass before the next on a starved machine, only on whether the client reads.
    await using h = await startPresenterHarness({ sseClientBufferBytes: 256 * 1024 });
    const token = await h.addUser('alice', listEventsIn(['team-a']));
    await using s = await openSse(`${h.url}/notifications`, { authorization: `Bearer ${token}` });
    await s.next();
    // 1,000 rows of 2 KB in one statement: one read pass writes ~2.3 MB, far above 256 KB.
    const seqs = await h.insert(...Array.from({ length: 1000 }, () => buildRecord({ namespace: 'team-a', message: 'm'.repeat(2000) })));
    const frames = await s.until((f) => f.id === String(seqs.at(-1)), 20_000);
    expect(frames.filter((f) => f.event === 'krateo').map((f) => Number(f.id))).toEqual(seqs);
  });
});
