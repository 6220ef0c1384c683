import { describe, expect, test } from 'bun:test';
import { createSql, type Sql } from '../lib/storage/db.ts';
import { insertEventRows } from '../lib/storage/event-store.ts';
import { buildRecord } from './support/builders.ts';
import { restartTestPostgres } from './support/pg.ts';
import { listEventsIn, startPresenterHarness } from './support/presenter-harness.ts';
import { openSse, parseFrame, type SseFrame } from './support/sse-client.ts';

const ids = (frames: SseFrame[]) => frames.filter((f) => f.event === 'krateo').map((f) => Number(f.id));

describe('resuming /notifications', () => {
  for (const [how, open] of [
    ['the Last-Event-ID header', (url: string, token: string, id: number) => openSse(`${url}/notifications`, { authorization: `Bearer ${token}`, 'last-event-id': String(id) })],
    ['the lastEventId query parameter', (url: string, token: string, id: number) => openSse(`${url}/notifications?lastEventId=${id}`, { authorization: `Bearer ${token}` })],
    ['the last_event_id query parameter', (url: string, token: string, id: number) => openSse(`${url}/notifications?last_event_id=${id}&token=${token}`)],
  ] as const) {
    test(`replays every missed permitted row once, in order, then goes live (${how})`, async () => {
      await using h = await startPresenterHarness();
      const token = await h.addUser('alice', listEventsIn(['team-a']));
      const first = await openSse(`${h.url}/notifications`, { authorization: `Bearer ${token}` });
      await first.next();
      const [seen] = await h.insert(buildRecord({ namespace: 'team-a' }));
      expect(ids([await first.next()])).toEqual([seen!]);
      first.close();
      const missed = await h.insert(
        buildRecord({ namespace: 'team-a' }),
        buildRecord({ namespace: 'other' }),
        buildRecord({ namespace: 'team-a' }),
      );
      await using resumed = await open(h.url, token, seen!);
      const opening = await resumed.next();
      expect(opening.text).toBe(': connected\nretry: 3000\n\n');
      const replayed = await resumed.until((f) => f.id === String(missed[2]));
      const live = await h.insert(buildRecord({ namespace: 'team-a' }));
      const after = await resumed.until((f) => f.id === String(live[0]));
      expect([...ids(replayed), ...ids(after)]).toEqual([missed[0]!, missed[2]!, live[0]!]);
    });
  }

  test('tells a client too far behind to resume after the replay cap, and resuming continues', async () => {
    await using h = await startPresenterHarness({ replayMaxRows: 2 });
    const token = await h.addUser('alice', listEventsIn(['team-a']));
    const rows = await h.insert(...Array.from({ length: 5 }, () => buildRecord({ namespace: 'team-a' })));
    await using s = await openSse(`${h.url}/notifications?lastEventId=0`, { authorization: `Bearer ${token}` });
    const frames = await s.until((f) => f.event === 'resume');
    expect(frames.map((f) => f.text)).toEqual([
      ': connected\nretry: 3000\n\n',
      expect.stringContaining(`id: ${rows[0]}\nevent: krateo\n`),
      expect.stringContaining(`id: ${rows[1]}\nevent: krateo\n`),
      `id: ${rows[1]}\nevent: resume\ndata: {"last_event_id":"${rows[1]}","reason":"replay_limit"}\n\n`,
    ]);
    await expect(s.next()).rejects.toThrow('stream ended');
    await using again = await openSse(`${h.url}/notifications?lastEventId=${rows[1]}`, { authorization: `Bearer ${token}` });
    expect(ids(await again.until((f) => f.event === 'resume'))).toEqual([rows[2]!, rows[3]!]);
  });

  test('a slow client gets a resume frame when its buffer bound is hit, and resuming loses nothing', async () => {
    await using h = await startPresenterHarness({ sseClientBufferBytes: 64 * 1024 });
    const token = await h.addUser('alice', listEventsIn(['team-a']));
    const response = await fetch(`${h.url}/notifications`, { headers: { authorization: `Bearer ${token}` } });
    const total = 6000;
    const message = 'x'.repeat(2000);
    for (let i = 0; i < total; i += 1000) {
      await insertEventRows(h.sql, Array.from({ length: 1000 }, () => buildRecord({ namespace: 'team-a', message })));
    }
    // Only now read: the socket and the bounded queue filled up long ago.
    const text = await response.text();
    const frames = text.split('\n\n').filter((t) => t !== '').map((t) => parseFrame(`${t}\n\n`));
    const resume = frames.at(-1)!;
    expect(resume.event).toBe('resume');
    const received = ids(frames);
    const [{ min }] = [...(await h.sql<{ min: number }[]>`select min(seq) as min from k8s_events`)] as [{ min: number }];
    expect(received.length).toBeLessThan(total);
    expect(received).toEqual(Array.from({ length: received.length }, (_, i) => min + i));
    expect(JSON.parse(resume.data!)).toEqual({ last_event_id: String(received.at(-1)), reason: 'slow_client' });
    // Resume as EventSource would, following each resume frame (replay is capped per connection).
    const last = min + total - 1;
    const more: number[] = [];
    let from = Number(resume.id);
    while (from < last) {
      await using rest = await openSse(`${h.url}/notifications?lastEventId=${from}`, { authorization: `Bearer ${token}` });
      const got = await rest.until((f) => f.id === String(last) || f.event === 'resume', 20_000);
      more.push(...ids(got));
      from = Number(got.at(-1)!.id);
    }
    expect([...received, ...more]).toEqual(Array.from({ length: total }, (_, i) => min + i));
  }, 60_000);
});

describe('database restart under an open stream', () => {
  test('rows written before and right after a restart are all delivered once, in order', async () => {
    await using h = await startPresenterHarness();
    const token = await h.addUser('alice', listEventsIn());
    await using s = await openSse(`${h.url}/notifications`, { authorization: `Bearer ${token}` });
    await s.next();
    const before = await h.insert(buildRecord(), buildRecord());
    await restartTestPostgres();
    let sql: Sql | undefined;
    try {
      sql = createSql(h.db.url, { max: 1 });
      await insertEventRows(sql, [buildRecord(), buildRecord()]);
      const [{ max }] = [...(await sql<{ max: number }[]>`select max(seq) as max from k8s_events`)] as [{ max: number }];
      const frames = await s.until((f) => f.id === String(max), 15_000);
      expect(ids(frames)).toEqual([before[0]!, before[1]!, max - 1, max]);
    } finally {
      await sql?.end();
    }
  });
});
