import { describe, expect, test } from 'bun:test';
import { signToken } from '../lib/presenter/access/auth-token.ts';
import { buildRecord } from './support/builders.ts';
import { authnNamespace, createTestClock, listEventsIn, signKey, startPresenterHarness, tokenFor } from './support/presenter-harness.ts';
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

  test('with a CORS allow-list, a listed origin is echoed on preflights, answers and streams, and any other origin gets no allow-origin header', async () => {
    await using h = await startPresenterHarness({ corsOrigins: ['https://portal.example'] });
    const token = await h.addUser('alice', listEventsIn(['team-a']));
    const cors = (response: Response) => ({
      status: response.status,
      allowOrigin: response.headers.get('access-control-allow-origin'),
      vary: response.headers.get('vary'),
    });
    const ask = async (origin: string) => {
      const preflight = await fetch(`${h.url}/events`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
      });
      const answer = await fetch(`${h.url}/events`, { headers: { origin, authorization: `Bearer ${token}` } });
      await answer.body?.cancel();
      await using stream = await openSse(`${h.url}/notifications`, { origin, authorization: `Bearer ${token}` });
      return [cors(preflight), cors(answer), cors(stream.response)];
    };
    const allowed = { allowOrigin: 'https://portal.example', vary: 'Origin' };
    expect(await ask('https://portal.example')).toEqual([{ status: 204, ...allowed }, { status: 200, ...allowed }, { status: 200, ...allowed }]);
    const refused = { allowOrigin: null, vary: 'Origin' };
    expect(await ask('https://evil.example')).toEqual([{ status: 204, ...refused }, { status: 200, ...refused }, { status: 200, ...refused }]);
  });
});

describe('users whose clientconfig Secret holds a bearer token instead of a client certificate', () => {
  const tokenSecret = (h: { sim: { url: string; caPem: string } }, token: string) => ({
    'server-url': h.sim.url,
    'certificate-authority-data': Buffer.from(h.sim.caPem).toString('base64'),
    token,
  });
  const rowsOf = async (response: Response) => ({
    status: response.status,
    rows: ((await response.json()) as { resources: { namespace: string }[] }).resources.map((r) => r.namespace),
  });

  test('see the rows of the namespaces they may list, reviewed as themselves over the token, and no others', async () => {
    await using h = await startPresenterHarness();
    h.sim.addToken('bearer-of-bob', 'bob');
    h.sim.setSecret(authnNamespace, 'bob-clientconfig', tokenSecret(h, 'bearer-of-bob'));
    h.sim.setRbac('bob', listEventsIn(['team-a']));
    await h.insert(buildRecord({ namespace: 'team-a' }), buildRecord({ namespace: 'team-b' }));
    const response = await fetch(`${h.url}/events`, { headers: { authorization: `Bearer ${tokenFor('bob')}` } });
    expect(await rowsOf(response)).toEqual({ status: 200, rows: ['team-a'] });
    const reviewers = h.sim.requests().filter((r) => r.path.includes('selfsubjectaccessreviews')).map((r) => r.username);
    expect(reviewers.length).toBeGreaterThan(0);
    expect(new Set(reviewers)).toEqual(new Set(['bob']));
  });

  test('are shown nothing when the API server does not accept the Secret\'s token, even with every permission', async () => {
    await using h = await startPresenterHarness();
    h.sim.addToken('bearer-of-bob', 'bob');
    h.sim.setSecret(authnNamespace, 'bob-clientconfig', tokenSecret(h, 'not-the-bearer-of-bob'));
    h.sim.setRbac('bob', listEventsIn());
    await h.insert(buildRecord({ namespace: 'team-a' }));
    const response = await fetch(`${h.url}/events`, { headers: { authorization: `Bearer ${tokenFor('bob')}` } });
    expect(await rowsOf(response)).toEqual({ status: 200, rows: [] });
    // The reviews were refused by the API server (no user), not skipped.
    const reviewers = h.sim.requests().filter((r) => r.path.includes('selfsubjectaccessreviews')).map((r) => r.username);
    expect({ asked: reviewers.length > 0, as: [...new Set(reviewers)] }).toEqual({ asked: true, as: [undefined] });
  });
});

describe('presenter authorisation on open streams', () => {
  test('stops delivery within the cache TTL once the permission is revoked', async () => {
    const clock = createTestClock();
    await using h = await startPresenterHarness({ authzCacheTtlMs: 300 }, { now: clock.now });
    const token = await h.addUser('alice', listEventsIn(['team-a']));
    await using stream = await openSse(`${h.url}/notifications`, { authorization: `Bearer ${token}` });
    await stream.next();
    const [before] = await h.insert(buildRecord({ namespace: 'team-a' }));
    expect((await stream.next()).id).toBe(String(before));
    h.sim.setRbac('alice', listEventsIn(['team-b']));
    // After the TTL (on the presenter's clock), rows of team-a no longer arrive; a team-b row,
    // inserted after the team-a one, proves the stream is still live and that nothing came before it.
    clock.advance(301);
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
