import { describe, expect, test } from 'bun:test';
import { signToken } from '../lib/presenter/access/auth-token.ts';
import { buildRecord } from './support/builders.ts';
import { listEventsIn, signKey, startPresenterHarness, tokenFor, waitFor } from './support/presenter-harness.ts';
import { openSse } from './support/sse-client.ts';

const nowSec = () => Math.floor(Date.now() / 1000);

describe('presenter authentication', () => {
  const refused: [string, () => string, string][] = [
    ['a user without a clientconfig secret', () => tokenFor('nobody'), 'no_credentials'],
    ['an expired token', () => signToken({ username: 'alice', exp: nowSec() - 10 }, signKey), 'expired'],
    ['a token without exp', () => signToken({ username: 'alice' }, signKey), 'missing_exp'],
    ['an HS512 token', () => signToken({ username: 'alice', exp: nowSec() + 60 }, signKey, 'HS512'), 'bad_algorithm'],
    ['a none token', () => signToken({ username: 'alice', exp: nowSec() + 60 }, signKey, 'none'), 'bad_algorithm'],
    ['a token signed with another key', () => signToken({ username: 'alice', exp: nowSec() + 60 }, 'other-key'), 'bad_signature'],
    ['a token without username', () => signToken({ sub: 'alice', exp: nowSec() + 60 }, signKey), 'missing_username'],
  ];

  test('refuses each bad credential with 401 and a JSON body only, on both endpoints', async () => {
    await using h = await startPresenterHarness();
    await h.addUser('alice', listEventsIn());
    await h.insert(buildRecord({ namespace: 'team-a' }));
    for (const [, makeToken, code] of refused) {
      for (const path of ['/notifications', '/events']) {
        const response = await fetch(`${h.url}${path}`, { headers: { authorization: `Bearer ${makeToken()}` } });
        expect({ path, status: response.status, type: response.headers.get('content-type') }).toEqual({
          path,
          status: 401,
          type: 'application/json',
        });
        expect({ path, body: await response.json() }).toEqual({ path, body: { code, message: expect.any(String) } });
      }
    }
    const missing = await fetch(`${h.url}/events`);
    expect({ status: missing.status, body: await missing.json() }).toEqual({
      status: 401,
      body: { code: 'missing_token', message: 'a Bearer token is required' },
    });
  });

  test('accepts a lowercase bearer scheme, and a query token only on /notifications', async () => {
    await using h = await startPresenterHarness();
    const token = await h.addUser('alice', listEventsIn(['team-a']));
    const lower = await fetch(`${h.url}/events`, { headers: { authorization: `bearer ${token}` } });
    expect({ status: lower.status, body: await lower.json() }).toEqual({ status: 200, body: { resources: [] } });
    const queryOnEvents = await fetch(`${h.url}/events?token=${token}`);
    expect(queryOnEvents.status).toBe(401);
    await using stream = await openSse(`${h.url}/notifications?token=${token}`);
    expect(stream.response.status).toBe(200);
    await using viaAccessToken = await openSse(`${h.url}/notifications?access_token=${token}`);
    expect(viaAccessToken.response.status).toBe(200);
  });

  test('answers a CORS preflight without a token and lets browsers read answers', async () => {
    await using h = await startPresenterHarness();
    const preflight = await fetch(`${h.url}/events`, {
      method: 'OPTIONS',
      headers: { origin: 'https://portal.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
    expect(preflight.headers.get('access-control-allow-headers')).toContain('Authorization');
    expect(preflight.headers.get('access-control-allow-headers')).toContain('Last-Event-ID');
    const refusedAnswer = await fetch(`${h.url}/events`, { headers: { origin: 'https://portal.example' } });
    expect(refusedAnswer.headers.get('access-control-allow-origin')).toBe('*');
  });
});

describe('presenter authorisation on open streams', () => {
  test('stops delivery within the cache TTL once the permission is revoked', async () => {
    await using h = await startPresenterHarness({ authzCacheTtlMs: 300 });
    const token = await h.addUser('alice', listEventsIn(['team-a']));
    await using stream = await openSse(`${h.url}/notifications`, { authorization: `Bearer ${token}` });
    await stream.next();
    const [before] = await h.insert(buildRecord({ namespace: 'team-a' }));
    expect((await stream.next()).id).toBe(String(before));
    h.sim.setRbac('alice', listEventsIn(['team-b']));
    const revokedAt = Date.now();
    // After the TTL, rows of team-a no longer arrive; a team-b row proves the stream is still live.
    await waitFor(async () => (Date.now() - revokedAt > 350 ? true : undefined), 2000, 'ttl');
    const [hidden] = await h.insert(buildRecord({ namespace: 'team-a' }));
    const [visible] = await h.insert(buildRecord({ namespace: 'team-b' }));
    const frames = await stream.until((f) => f.event === 'krateo');
    expect(frames.filter((f) => f.event === 'krateo').map((f) => f.id)).toEqual([String(visible)]);
    expect(hidden).toBeLessThan(visible!);
  });

  test('fails closed when the access review fails: nothing is shown', async () => {
    await using h = await startPresenterHarness();
    const token = await h.addUser('alice', listEventsIn());
    await h.insert(buildRecord({ namespace: 'team-a' }));
    h.sim.failNext(10, 500, 'selfsubjectaccessreviews');
    const response = await fetch(`${h.url}/events`, { headers: { authorization: `Bearer ${token}` } });
    expect({ status: response.status, body: await response.json() }).toEqual({ status: 200, body: { resources: [] } });
  });
});
