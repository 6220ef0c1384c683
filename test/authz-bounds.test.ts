// Authorisation state is bounded: decisions are capped and swept, users' credentials are dropped
// once unused (the credential store; the authorizer holds none), and namespace filters naming
// namespaces without events cost no review.
import { describe, expect, test } from 'bun:test';
import { createAuthorizer, type AccessCheck } from '../lib/presenter/access/access-review.ts';
import { createCredentialStore, missingSecretTtlMs, type UserCredentials } from '../lib/presenter/access/user-credentials.ts';
import { createPresenterMetrics } from '../lib/presenter/core/metrics.ts';
import { silentLogger } from '../lib/runtime/log.ts';
import { buildRecord } from './support/builders.ts';
import { listEventsIn, startPresenterHarness } from './support/presenter-harness.ts';

const creds: UserCredentials = { serverUrl: 'https://unused.invalid', token: 't' };
const b64 = (text: string) => Buffer.from(text).toString('base64');

/** A clock tests move by hand. */
function manualClock(startMs = 1_000_000) {
  let nowMs = startMs;
  return { now: () => nowMs, advance: (ms: number) => void (nowMs += ms) };
}

describe('bounded authorisation state', () => {
  test('the decision cache never holds more than its cap', async () => {
    const clock = manualClock();
    const check: AccessCheck = async (_creds, namespace) => namespace === 'ns-keep';
    const authorizer = createAuthorizer({ check, credentials: async () => creds, ttlMs: 60_000, maxEntries: 100, log: silentLogger, metrics: createPresenterMetrics(), now: clock.now });
    await authorizer.allowedNamespaces('alice', 'dev', Array.from({ length: 1000 }, (_, i) => `ns-${i}`));
    expect(authorizer.size).toBe(100);
  });

  test('expired decisions are swept, in use or not', async () => {
    const clock = manualClock();
    const check: AccessCheck = async () => true;
    const authorizer = createAuthorizer({ check, credentials: async () => creds, ttlMs: 30_000, log: silentLogger, metrics: createPresenterMetrics(), now: clock.now });
    await authorizer.canList('alice', 'dev', 'team-a');
    await authorizer.canList('bob', 'dev', 'team-a');
    clock.advance(20_000);
    await authorizer.canList('carol', 'dev', 'team-a');
    expect(authorizer.size).toBe(3);
    clock.advance(15_000);
    authorizer.prune();
    expect(authorizer.size).toBe(1);
    clock.advance(30_000);
    authorizer.prune();
    expect(authorizer.size).toBe(0);
  });

  test('a user\'s credentials (private key included) are dropped from memory once unused for the TTL', async () => {
    const clock = manualClock();
    const secret = { 'server-url': b64('https://k8s.example'), token: b64('secret-token') };
    const store = createCredentialStore({ readSecret: async () => secret, namespace: 'krateo-system', ttlMs: 30_000, now: clock.now });
    await store.get('alice');
    await store.get('bob');
    expect(store.size).toBe(2);
    clock.advance(31_000);
    await store.get('bob');
    store.prune();
    expect(store.size).toBe(1);
    clock.advance(31_000);
    store.prune();
    expect(store.size).toBe(0);
  });

  test('refresh reads a Secret again at once: later lookups get the rotated credentials, or none once it is deleted, and a failed read keeps what was cached', async () => {
    const clock = manualClock();
    const secrets = new Map([['alice-prod-clientconfig', { 'server-url': b64('https://prod.example'), token: b64('old-token') }]]);
    let unreadable = false;
    const readSecret = async (_namespace: string, name: string) => {
      if (unreadable) throw Object.assign(new Error('kubernetes API answered 503'), { code: 503 });
      return secrets.get(name);
    };
    const store = createCredentialStore({ readSecret, namespace: 'krateo-system', ttlMs: 30_000, now: clock.now });
    const tokenNow = async () => (await store.current('alice', 'alice-prod-clientconfig'))?.token;
    expect(await tokenNow()).toBe('old-token');
    secrets.set('alice-prod-clientconfig', { 'server-url': b64('https://prod.example'), token: b64('new-token') });
    expect(await tokenNow()).toBe('old-token');
    expect((await store.refresh('alice', 'alice-prod-clientconfig'))?.token).toBe('new-token');
    expect(await tokenNow()).toBe('new-token');
    unreadable = true;
    expect(await store.refresh('alice', 'alice-prod-clientconfig').catch((err: { code: number }) => err.code)).toBe(503);
    expect(await tokenNow()).toBe('new-token');
    unreadable = false;
    secrets.delete('alice-prod-clientconfig');
    expect(await store.refresh('alice', 'alice-prod-clientconfig')).toBeUndefined();
    expect(await tokenNow()).toBeUndefined();
  });

  test('a Secret found missing is read again after missingSecretTtlMs, not the whole TTL, so a deleted-and-recreated Secret locks its user out no longer', async () => {
    const clock = manualClock();
    const secrets = new Map<string, Record<string, string>>();
    const reads: string[] = [];
    const readSecret = async (_namespace: string, name: string) => {
      reads.push(name);
      return secrets.get(name);
    };
    const store = createCredentialStore({ readSecret, namespace: 'krateo-system', ttlMs: 30_000, now: clock.now });
    const tokenNow = async () => (await store.current('alice'))?.token;
    // Found missing by a lookup, and by the session guard's refresh: each remembered only briefly.
    expect(await tokenNow()).toBeUndefined();
    secrets.set('alice-clientconfig', { 'server-url': b64('https://k8s.example'), token: b64('recreated') });
    clock.advance(missingSecretTtlMs - 1);
    expect(await tokenNow()).toBeUndefined();
    clock.advance(1);
    expect(await tokenNow()).toBe('recreated');
    secrets.delete('alice-clientconfig');
    expect(await store.refresh('alice')).toBeUndefined();
    secrets.set('alice-clientconfig', { 'server-url': b64('https://k8s.example'), token: b64('again') });
    clock.advance(missingSecretTtlMs - 1);
    expect(await tokenNow()).toBeUndefined();
    clock.advance(1);
    expect(await tokenNow()).toBe('again');
    // A Secret that exists is still kept for the whole TTL.
    secrets.set('alice-clientconfig', { 'server-url': b64('https://k8s.example'), token: b64('rotated') });
    clock.advance(29_999);
    expect(await tokenNow()).toBe('again');
    expect(reads).toEqual(Array(4).fill('alice-clientconfig'));
  });

  test('/events filters naming a thousand namespaces that hold no events send no review for them', async () => {
    let reviews = 0;
    const counting: AccessCheck = async (_creds, namespace) => {
      reviews++;
      return namespace === 'team-a';
    };
    await using h = await startPresenterHarness({}, { accessCheck: counting });
    const token = await h.addUser('alice', listEventsIn(['team-a']));
    await h.insert(buildRecord({ namespace: 'team-a' }));
    const answers = [];
    // Five requests of 200 values (the most one filter takes), 995 of them namespaces never stored.
    for (let r = 0; r < 5; r++) {
      const namespaces = ['team-a', ...Array.from({ length: 199 }, (_, i) => `nope-${r}-${i}`)];
      const response = await fetch(`${h.url}/events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ namespace: namespaces }),
      });
      const body = (await response.json()) as { resources: { namespace: string }[] };
      answers.push({ status: response.status, namespaces: body.resources.map((x) => x.namespace) });
    }
    expect(answers).toEqual(Array.from({ length: 5 }, () => ({ status: 200, namespaces: ['team-a'] })));
    // The cluster-wide question, then team-a, each once (cached).
    expect(reviews).toBe(2);
  });
});
