// An open stream lives no longer than the right to open it: it ends at the token's `exp`, and when
// the user's clientconfig Secret is deleted, each time with a resume frame naming the last id sent.
import { describe, expect, test } from 'bun:test';
import { buildRecord } from './support/builders.ts';
import { authnNamespace, listEventsIn, startPresenterHarness, tokenFor, waitFor } from './support/presenter-harness.ts';
import { openSse } from './support/sse-client.ts';

const resumeFrame = (seq: number, reason: string) =>
  `id: ${seq}\nevent: resume\ndata: {"last_event_id":"${seq}","reason":"${reason}"}\n\n`;

describe('presenter stream lifetime', () => {
  test('a stream is closed at the token\'s exp with a token_expired resume frame', async () => {
    await using h = await startPresenterHarness();
    const longToken = await h.addUser('alice', listEventsIn(['team-a']));
    // Alice's credentials, access decisions and the database connections are made warm first by a
    // stream whose token outlives the test, so the short-lived stream's row cannot lose a race
    // against its own expiry to a cold start on a loaded machine.
    {
      await using warm = await openSse(`${h.url}/notifications`, { authorization: `Bearer ${longToken}` });
      await warm.next();
      const [warmSeq] = await h.insert(buildRecord({ namespace: 'team-a' }));
      expect((await warm.next()).id).toBe(String(warmSeq));
    }
    const token = tokenFor('alice', { exp: Math.ceil(Date.now() / 1000) + 3 });
    await using stream = await openSse(`${h.url}/notifications`, { authorization: `Bearer ${token}` });
    await stream.next();
    const [seq] = await h.insert(buildRecord({ namespace: 'team-a' }));
    expect((await stream.next()).id).toBe(String(seq));
    const [last] = await stream.until((f) => f.event === 'resume');
    expect(last!.text).toBe(resumeFrame(seq!, 'token_expired'));
    expect(await waitFor(() => stream.ended || undefined, { what: 'the stream to end' })).toBe(true);
  });

  test('a stream is closed within the cache TTL once the user\'s clientconfig Secret is deleted, with a credentials_revoked resume frame', async () => {
    await using h = await startPresenterHarness({ authzCacheTtlMs: 300 });
    const token = await h.addUser('alice', listEventsIn(['team-a']));
    const bobToken = await h.addUser('bob', listEventsIn(['team-a']));
    await using stream = await openSse(`${h.url}/notifications`, { authorization: `Bearer ${token}` });
    await using bob = await openSse(`${h.url}/notifications`, { authorization: `Bearer ${bobToken}` });
    await stream.next();
    await bob.next();
    const [seq] = await h.insert(buildRecord({ namespace: 'team-a' }));
    expect((await stream.next()).id).toBe(String(seq));
    h.sim.deleteSecret(authnNamespace, 'alice-clientconfig');
    const [last] = await stream.until((f) => f.event === 'resume');
    expect(last!.text).toBe(resumeFrame(seq!, 'credentials_revoked'));
    // Bob's Secret is still there: his stream goes on.
    const [next] = await h.insert(buildRecord({ namespace: 'team-a' }));
    const frames = await bob.until((f) => f.id === String(next));
    expect(frames.map((f) => f.event)).toEqual(['krateo', 'krateo']);
    const again = await fetch(`${h.url}/notifications`, { headers: { authorization: `Bearer ${token}` } });
    expect({ status: again.status, body: await again.json() }).toEqual({ status: 401, body: { code: 'no_credentials', message: expect.any(String) } });
  });
});
