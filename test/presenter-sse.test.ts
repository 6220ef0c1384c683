import { describe, expect, test } from 'bun:test';
import { selfSubjectAccessReview } from '../lib/presenter/access/access-review.ts';
import { insertEventRows } from '../lib/storage/event-store.ts';
import { buildRecord } from './support/builders.ts';
import { listEventsIn, startPresenterHarness, waitFor } from './support/presenter-harness.ts';
import { openSse, type SseFrame } from './support/sse-client.ts';

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const eventFrames = (frames: SseFrame[]) => frames.filter((f) => f.event === 'krateo');

describe('GET /notifications', () => {
  test('starts with a retry hint carrying the live start id, then sends exact event frames, created_at with its microseconds', async () => {
    await using h = await startPresenterHarness();
    const token = await h.addUser('alice', listEventsIn(['team-a']));
    // The hub reads a committed row on its NOTIFY, a moment later: a stream opened before the row
    // shows when the hub has read it, and only then is the row the live start of a new stream.
    await using watcher = await openSse(`${h.url}/notifications`, bearer(token));
    await watcher.next();
    const [firstSeq] = await h.insert(buildRecord({ namespace: 'team-a' }));
    expect((await watcher.next()).id).toBe(String(firstSeq));
    await using stream = await openSse(`${h.url}/notifications`, bearer(token));
    expect(stream.response.status).toBe(200);
    expect(stream.response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const open = await stream.next();
    expect(open.text).toBe(`: connected\nretry: 3000\nid: ${firstSeq}\n\n`);

    const record = buildRecord({
      namespace: 'team-a',
      created_at: '2025-03-04T05:06:07.654321Z',
      composition_id: '11111111-2222-3333-4444-555555555555',
      involved_object_uid: 'pod-uid-1',
      reason: 'BackOff',
      message: 'restarting "x"',
      event_type: 'Warning',
    });
    const [seq] = await h.insert(record);
    const frame = await stream.next();
    const [row] = await h.sql<{ event_id: string }[]>`select event_id from k8s_events where seq = ${seq!}`;
    const data = JSON.stringify({
      event_id: row!.event_id,
      global_uid: record.global_uid,
      cluster_name: 'test',
      namespace: 'team-a',
      resource_kind: 'v1.Pod',
      resource_name: 'pod-1',
      involved_object_uid: 'pod-uid-1',
      event_type: 'Warning',
      reason: 'BackOff',
      message: 'restarting "x"',
      composition_id: '11111111-2222-3333-4444-555555555555',
      created_at: '2025-03-04T05:06:07.654321Z',
    });
    expect(frame.text).toBe(`id: ${seq}\nevent: krateo\ndata: ${data}\n\n`);
  });

  test('sends comment heartbeats on a quiet stream and keeps it open past several intervals', async () => {
    await using h = await startPresenterHarness({ heartbeatIntervalMs: 200 });
    const token = await h.addUser('alice', listEventsIn(['team-a']));
    await using stream = await openSse(`${h.url}/notifications`, bearer(token));
    await stream.next();
    const heartbeats = [await stream.next(), await stream.next(), await stream.next(), await stream.next()];
    expect(heartbeats.map((f) => f.text)).toEqual(Array(4).fill(': heartbeat\n\n'));
    expect(stream.ended).toBe(false);
  });

  test('two users with different RBAC each receive exactly the namespaces they may list, a cluster-wide user all', async () => {
    await using h = await startPresenterHarness();
    const alice = await h.addUser('alice', listEventsIn(['team-a']));
    const bob = await h.addUser('bob', listEventsIn(['team-b', 'shared']));
    const root = await h.addUser('root', listEventsIn());
    await using a = await openSse(`${h.url}/notifications`, bearer(alice));
    await using b = await openSse(`${h.url}/notifications`, bearer(bob));
    await using r = await openSse(`${h.url}/notifications`, bearer(root));
    for (const s of [a, b, r]) await s.next();
    const seqs = await h.insert(
      buildRecord({ namespace: 'team-a' }),
      buildRecord({ namespace: 'team-b' }),
      buildRecord({ namespace: 'shared' }),
      buildRecord({ namespace: 'other' }),
    );
    const marker = await h.insert(buildRecord({ namespace: 'team-a' }), buildRecord({ namespace: 'team-b' }));
    const rootFrames = eventFrames(await r.until((f) => f.id === String(marker[1])));
    const aliceFrames = eventFrames(await a.until((f) => f.id === String(marker[0])));
    const bobFrames = eventFrames(await b.until((f) => f.id === String(marker[1])));
    expect(aliceFrames.map((f) => f.id)).toEqual([seqs[0], marker[0]].map(String));
    expect(bobFrames.map((f) => f.id)).toEqual([seqs[1], seqs[2], marker[1]].map(String));
    expect(rootFrames.map((f) => f.id)).toEqual([...seqs, ...marker].map(String));
  });

  test("one user's streams with and without a filter each get exactly their rows of a multi-row batch, in order, and nothing the user may not list", async () => {
    await using h = await startPresenterHarness();
    const token = await h.addUser('alice', listEventsIn(['team-a', 'team-b']));
    await using all = await openSse(`${h.url}/notifications`, bearer(token));
    await using onlyA = await openSse(`${h.url}/notifications?namespace=team-a`, bearer(token));
    await using onlyC = await openSse(`${h.url}/notifications?namespace=team-c`, bearer(token));
    for (const s of [all, onlyA, onlyC]) await s.next();
    const seqs = await h.insert(
      ...['team-a', 'team-b', 'team-c', 'team-a', 'team-c', 'team-b', 'team-a'].map((namespace) => buildRecord({ namespace })),
    );
    const [marker] = await h.insert(buildRecord({ namespace: 'team-a' }));
    const got = {
      all: eventFrames(await all.until((f) => f.id === String(marker))).map((f) => Number(f.id)),
      onlyA: eventFrames(await onlyA.until((f) => f.id === String(marker))).map((f) => Number(f.id)),
      // A filter on a namespace the user may not list yields nothing (the next frame is a heartbeat or none).
      onlyC: onlyC.received,
    };
    expect(got).toEqual({
      all: [seqs[0]!, seqs[1]!, seqs[3]!, seqs[5]!, seqs[6]!, marker!],
      onlyA: [seqs[0]!, seqs[3]!, seqs[6]!, marker!],
      onlyC: ': connected\nretry: 3000\n' + `id: ${seqs[0]! - 1}\n\n`,
    });
  });

  for (const [from, filler] of [['from memory', 0], ['from the table, once more rows passed than the hub keeps', 5000]] as const) {
    test(`a user whose access review is slow holds back no one else, then gets every row it may see once and in order (${from})`, async () => {
      // While `holding`, every new access review waits until the test lets it go.
      let holding = false;
      const held: (() => void)[] = [];
      const accessCheck = async (creds: Parameters<typeof selfSubjectAccessReview>[0], namespace: string | undefined) => {
        if (holding) await new Promise<void>((resolve) => held.push(resolve));
        return await selfSubjectAccessReview(creds, namespace);
      };
      await using h = await startPresenterHarness({}, { accessCheck });
      const alice = await h.addUser('alice', listEventsIn(['team-a']));
      const bob = await h.addUser('bob', listEventsIn(['team-b']));
      await using a = await openSse(`${h.url}/notifications`, bearer(alice));
      await a.next();
      // Rows in every namespace used below: alice's decisions are all made (and cached) now.
      const warm = await h.insert(buildRecord({ namespace: 'team-b' }), buildRecord({ namespace: 'team-c' }), buildRecord({ namespace: 'team-a' }));
      expect(eventFrames(await a.until((f) => f.id === String(warm[2]))).map((f) => f.id)).toEqual([String(warm[2])]);

      holding = true;
      await using b = await openSse(`${h.url}/notifications`, bearer(bob));
      const bobOpen = await b.next();
      for (let i = 0; i < filler; i += 1000) await insertEventRows(h.sql, Array.from({ length: 1000 }, () => buildRecord({ namespace: 'team-c' })));
      const early = await h.insert(
        buildRecord({ namespace: 'team-a' }),
        buildRecord({ namespace: 'team-b' }),
        buildRecord({ namespace: 'team-c' }),
        buildRecord({ namespace: 'team-b' }),
        buildRecord({ namespace: 'team-a' }),
      );
      // Alice gets her rows while bob's decisions are still pending, and bob has nothing yet.
      await waitFor(() => (held.length > 0 ? true : undefined), { what: "bob's review held" });
      expect(eventFrames(await a.until((f) => f.id === String(early[4]))).map((f) => f.id)).toEqual([early[0], early[4]].map(String));
      expect([held.length > 0, b.received]).toEqual([true, bobOpen.text]);

      holding = false;
      for (const release of held.splice(0)) release();
      const caughtUp = eventFrames(await b.until((f) => f.id === String(early[3])));
      const late = await h.insert(buildRecord({ namespace: 'team-b' }), buildRecord({ namespace: 'team-c' }), buildRecord({ namespace: 'team-a' }));
      const live = eventFrames(await b.until((f) => f.id === String(late[0])));
      const aliceLate = eventFrames(await a.until((f) => f.id === String(late[2])));
      expect({ bob: [...caughtUp, ...live].map((f) => f.id), alice: aliceLate.map((f) => f.id) }).toEqual({
        bob: [early[1], early[3], late[0]].map(String),
        alice: [String(late[2])],
      });
      // Nothing more for bob: the next frame after a team-b marker is that marker.
      const [marker] = await h.insert(buildRecord({ namespace: 'team-b' }));
      expect((await b.next()).id).toBe(String(marker));
    }, 30_000);
  }
});
