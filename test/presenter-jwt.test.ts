// RS256 tokens (Krateo authn's next format): a PEM public key, or a JSON Web Key Set served over
// HTTP with `kid` lookup, caching and rotation; and every algorithm that is not configured refused.
import { describe, expect, test } from 'bun:test';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { createTokenVerifier, signToken } from '../lib/presenter/access/auth-token.ts';
import { buildRecord } from './support/builders.ts';
import { listEventsIn, startPresenterHarness } from './support/presenter-harness.ts';

const nowSec = () => Math.floor(Date.now() / 1000);
const hmacKey = 'an-hs256-key-of-at-least-32-bytes-for-tests';

interface KeyPair {
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
}

async function newKeyPair(kid: string): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  return { kid, privateKey, publicKey };
}

/** An RS256 (or `alg`) token for `username`, with `kid` unless `kid: undefined`, valid for a minute. */
function signRs(pair: KeyPair, claims: Record<string, unknown> = { username: 'alice' }, options: { alg?: string; kid?: string | null } = {}) {
  const kid = options.kid === null ? undefined : (options.kid ?? pair.kid);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: options.alg ?? 'RS256', ...(kid === undefined ? {} : { kid }) })
    .setExpirationTime(nowSec() + 60)
    .sign(pair.privateKey);
}

/** A JWKS endpoint on port 0 serving the public halves of `keys` (changeable), counting fetches. */
async function startJwksServer(initial: KeyPair[]) {
  let keys: JWK[] = await Promise.all(initial.map(async (k) => ({ ...(await exportJWK(k.publicKey)), kid: k.kid, alg: 'RS256', use: 'sig' })));
  let fetches = 0;
  const server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    fetch(request) {
      if (new URL(request.url).pathname !== '/.well-known/jwks.json') return new Response('not found', { status: 404 });
      fetches++;
      return Response.json({ keys });
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}/.well-known/jwks.json`,
    get fetches() {
      return fetches;
    },
    async serve(pairs: KeyPair[]) {
      keys = await Promise.all(pairs.map(async (k) => ({ ...(await exportJWK(k.publicKey)), kid: k.kid, alg: 'RS256', use: 'sig' })));
    },
    async [Symbol.asyncDispose]() {
      await server.stop(true);
    },
  };
}

const codeOf = (promise: Promise<unknown>) => promise.then(() => 'accepted', (err: { code?: string }) => err.code);

describe('JWT verification with jose', () => {
  test('HS256 only: refuses none, HS384, HS512 and an RS256 token with bad_algorithm', async () => {
    const verifier = await createTokenVerifier({ signKey: hmacKey });
    const pair = await newKeyPair('k1');
    const exp = nowSec() + 60;
    const answers = {
      hs256: await codeOf(verifier.verify(signToken({ username: 'alice', exp }, hmacKey))),
      none: await codeOf(verifier.verify(signToken({ username: 'alice', exp }, hmacKey, 'none'))),
      hs384: await codeOf(verifier.verify(signToken({ username: 'alice', exp }, hmacKey, 'HS384'))),
      hs512: await codeOf(verifier.verify(signToken({ username: 'alice', exp }, hmacKey, 'HS512'))),
      rs256: await codeOf(verifier.verify(await signRs(pair))),
    };
    expect(answers).toEqual({ hs256: 'accepted', none: 'bad_algorithm', hs384: 'bad_algorithm', hs512: 'bad_algorithm', rs256: 'bad_algorithm' });
  });

  test('RS256 with a PEM public key: accepts its tokens, refuses another key, HS256 and RS384, and requires exp', async () => {
    const pair = await newKeyPair('k1');
    const stranger = await newKeyPair('k1');
    const verifier = await createTokenVerifier({ publicKeyPem: await exportSPKI(pair.publicKey) });
    const noExp = await new SignJWT({ username: 'alice' }).setProtectedHeader({ alg: 'RS256' }).sign(pair.privateKey);
    const answers = {
      own: await verifier.verify(await signRs(pair, { username: 'alice', groups: ['devs'] }, { kid: null })),
      stranger: await codeOf(verifier.verify(await signRs(stranger))),
      hs256: await codeOf(verifier.verify(signToken({ username: 'alice', exp: nowSec() + 60 }, hmacKey))),
      rs384: await codeOf(verifier.verify(await signRs({ ...(await generateKeyPair('RS384')), kid: 'k1' }, { username: 'alice' }, { alg: 'RS384' }))),
      noExp: await codeOf(verifier.verify(noExp)),
    };
    expect(answers).toEqual({
      own: { username: 'alice', groups: ['devs'], expiresAtMs: expect.any(Number) },
      stranger: 'bad_signature',
      hs256: 'bad_algorithm',
      rs384: 'bad_algorithm',
      noExp: 'missing_exp',
    });
  });

  test('JWKS: keys are found by kid and cached; a rotated key is fetched once; an unknown kid is refused without hammering the server', async () => {
    const first = await newKeyPair('2026-a');
    const second = await newKeyPair('2026-b');
    await using jwks = await startJwksServer([first]);
    // No cool-down between fetches for unknown ids here, so the rotation is seen at once.
    const verifier = await createTokenVerifier({ jwksUrl: jwks.url, jwksRefreshMinIntervalMs: 0 });

    const before = await verifier.verify(await signRs(first));
    await verifier.verify(await signRs(first));
    expect({ user: before.username, fetches: jwks.fetches }).toEqual({ user: 'alice', fetches: 1 });

    await jwks.serve([first, second]);
    const rotated = await verifier.verify(await signRs(second, { username: 'bob' }));
    await verifier.verify(await signRs(first));
    expect({ user: rotated.username, fetches: jwks.fetches }).toEqual({ user: 'bob', fetches: 2 });

    const unknown = await newKeyPair('2026-z');
    expect(await codeOf(verifier.verify(await signRs(unknown)))).toBe('unknown_key');
    // A token naming a served kid but signed by another key: the signature decides.
    expect(await codeOf(verifier.verify(await signRs(unknown, { username: 'eve' }, { kid: second.kid })))).toBe('bad_signature');
  });

  test('JWKS: with the default cool-down, a burst of unknown kids fetches the set at most once more', async () => {
    const served = await newKeyPair('served');
    await using jwks = await startJwksServer([served]);
    const verifier = await createTokenVerifier({ jwksUrl: jwks.url });
    await verifier.verify(await signRs(served));
    const codes = [];
    for (let i = 0; i < 20; i++) codes.push(await codeOf(verifier.verify(await signRs(await newKeyPair(`forged-${i}`)))));
    expect({ codes: [...new Set(codes)], fetches: jwks.fetches }).toEqual({ codes: ['unknown_key'], fetches: 1 });
  });

  test('JWKS unreachable: refused as keys_unavailable (fails closed)', async () => {
    const pair = await newKeyPair('k1');
    let url: string;
    {
      await using jwks = await startJwksServer([pair]);
      url = jwks.url;
    }
    const verifier = await createTokenVerifier({ jwksUrl: url });
    expect(await codeOf(verifier.verify(await signRs(pair)))).toBe('keys_unavailable');
  });

  test('the presenter accepts RS256 tokens from a JWKS and HS256 tokens side by side, and refuses an RS256 token from an unknown key', async () => {
    const pair = await newKeyPair('authn-1');
    await using jwks = await startJwksServer([pair]);
    await using h = await startPresenterHarness({ jwtJwksUrl: jwks.url });
    const hsToken = await h.addUser('alice', listEventsIn(['team-a']));
    await h.insert(buildRecord({ namespace: 'team-a' }));
    const get = async (token: string) => {
      const response = await fetch(`${h.url}/events`, { headers: { authorization: `Bearer ${token}` } });
      const body = (await response.json()) as { resources?: unknown[]; code?: string };
      return { status: response.status, rows: body.resources?.length, code: body.code };
    };
    expect(await get(await signRs(pair))).toEqual({ status: 200, rows: 1, code: undefined });
    expect(await get(hsToken)).toEqual({ status: 200, rows: 1, code: undefined });
    expect(await get(await signRs(await newKeyPair('authn-1')))).toEqual({ status: 401, rows: undefined, code: 'bad_signature' });
    expect(await get(await signRs(await newKeyPair('other')))).toEqual({ status: 401, rows: undefined, code: 'unknown_key' });
  });
});
