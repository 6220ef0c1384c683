import { describe, expect, test } from 'bun:test';
import { createHmac } from 'node:crypto';
import { startSimulator, type KubeObject } from '../dev/simulator/index.ts';
import { signToken } from '../lib/presenter/access/auth-token.ts';
import { runMigrations } from '../lib/storage/db.ts';
import { silentLogger } from '../lib/runtime/log.ts';
import { buildRecord } from './support/builders.ts';
import { createTestMeter } from './support/fault-kit.ts';
import { buildKubeEvent, historyKeys, openSql, readVersionKeys, startTestIngester, waitFor } from './support/ingester-fixtures.ts';
import { createTestDatabase } from './support/pg.ts';
import { listEventsIn, signKey, startPresenterHarness, type PresenterHarness } from './support/presenter-harness.ts';

/** What PostgreSQL can hold of a JavaScript string: NUL and lone surrogates become U+FFFD. */
const storable = (text: string) => text.toWellFormed().replaceAll('\u0000', '\uFFFD');

describe('bad events from the API server', () => {
  test('unicode-heavy, 1 MB and malformed events are stored faithfully; only the one without a uid is dropped, and counted', async () => {
    await using db = await createTestDatabase();
    await runMigrations(db.url, { log: silentLogger });
    await using sim = await startSimulator({ tls: true });
    await using metrics = createTestMeter();
    await using sql = openSql(db.url);
    await using _ingester = await startTestIngester({
      databaseUrl: db.url,
      kubeconfig: await sim.adminKubeconfig(),
      env: { COMPOSITION_LOOKUP: 'false' },
      meter: metrics.meter,
    });
    const unicodeText = 'emoji 😀👩‍👩‍👧 RTL مرحبا עברית \u202Eevil\u202C é\u0301 zero\u200Bwidth \uFEFFBOM NUL\u0000byte lone \ud800 high and \udc00 low';
    const unicode = sim.createEvent(
      buildKubeEvent({
        metadata: { name: 'unicode.1', namespace: 'ünï-cödé', labels: { 'team\u0000x': 'a', 'k\ud800': 'v\u0000' } },
        reason: 'Émoji😀',
        message: unicodeText,
        involvedObject: { apiVersion: 'v1', kind: 'Pod', namespace: 'ünï-cödé', name: 'בדיקה-\u0000-pod', uid: 'u-1' },
      }),
    );
    const oversized = sim.createEvent(buildKubeEvent({ metadata: { name: 'big.1', namespace: 'default' }, message: 'm'.repeat(1_048_576) }));
    const malformed = sim.createEvent({
      metadata: { name: 'malformed.1', namespace: 'default', creationTimestamp: '2030-01-02T03:04:05Z', labels: { app: 5 } as unknown as Record<string, string> },
      involvedObject: 'not-an-object',
      type: 42,
      reason: { nested: true },
      message: ['a', 'b'],
      count: 'many',
      firstTimestamp: 'yesterday',
      lastTimestamp: '2030', // Date.parse takes it, PostgreSQL does not
      series: { count: -3, lastObservedTime: 12 },
    } as KubeObject);
    sim.createEvent(buildKubeEvent({ metadata: { name: 'no-uid.1', namespace: 'default', uid: '' } }));
    const last = sim.createEvent(buildKubeEvent());

    const stored = historyKeys(sim.history().filter((e) => e.metadata.uid !== ''));
    await waitFor(async () => (await readVersionKeys(sql)).length >= stored.length, { what: 'rows', timeoutMs: 15_000 });
    expect(await readVersionKeys(sql)).toEqual(stored);
    await waitFor(async () => (await metrics.read('events_ingester.events.dropped'))['{"reason":"missing_uid"}'] === 1, { what: 'drop counted' });
    expect(await metrics.read('events_ingester.events.dropped')).toEqual({ '{"reason":"missing_uid"}': 1 });

    const row = async (uid: string) =>
      (await sql`select created_at, namespace, resource_kind, resource_name, involved_object_uid, event_type, reason, message, count, raw
                 from k8s_events where uid = ${uid}`)[0];
    // Keys too: a NUL or lone surrogate in a label name would otherwise make PostgreSQL refuse the row.
    const cleaned = (value: unknown): unknown =>
      typeof value === 'string' ? storable(value)
      : Array.isArray(value) ? value.map(cleaned)
      : value !== null && typeof value === 'object' ? Object.fromEntries(Object.entries(value).map(([k, v]) => [storable(k), cleaned(v)]))
      : value;
    const rawOf = (object: KubeObject) => JSON.parse(JSON.stringify(cleaned(object)));
    expect(await row(unicode.metadata.uid)).toEqual({
      created_at: new Date('2030-01-02T03:04:05Z'),
      namespace: 'ünï-cödé',
      resource_kind: 'v1.Pod',
      resource_name: 'בדיקה-\uFFFD-pod',
      involved_object_uid: 'u-1',
      event_type: 'Normal',
      reason: 'Émoji😀',
      message: storable(unicodeText),
      count: 1,
      raw: rawOf(unicode),
    });
    expect(storable(unicodeText)).toContain('lone \uFFFD high and \uFFFD low');
    expect((await sql`select labels from k8s_events where uid = ${unicode.metadata.uid}`)[0]).toEqual({
      labels: { 'team\uFFFDx': 'a', 'k\uFFFD': 'v\uFFFD' },
    });
    const big = await row(oversized.metadata.uid);
    expect({ length: (big!.message as string).length, raw: big!.raw }).toEqual({ length: 1_048_576, raw: rawOf(oversized) });
    expect(await row(malformed.metadata.uid)).toEqual({
      created_at: new Date('2030-01-02T03:04:05Z'),
      namespace: 'default',
      resource_kind: '',
      resource_name: '',
      involved_object_uid: null,
      event_type: '',
      reason: null,
      message: null,
      count: 1,
      raw: rawOf(malformed),
    });
    expect(await row(last.metadata.uid)).toMatchObject({ message: last.message });
  }, 30_000);
});

// --- presenter -----------------------------------------------------------------------------------

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
/** A token with the given raw header and payload segments, correctly signed with the test key. */
const signedRaw = (header: string, payload: string) =>
  `${header}.${payload}.${createHmac('sha256', signKey).update(`${header}.${payload}`).digest('base64url')}`;
const hs256 = b64({ alg: 'HS256', typ: 'JWT' });
const inAnHour = () => Math.floor(Date.now() / 1000) + 3600;

const malformedTokens: [string, () => string, string][] = [
  ['garbage', () => 'garbage', 'malformed_token'],
  ['two segments', () => `${hs256}.${b64({ username: 'root', exp: inAnHour() })}`, 'malformed_token'],
  ['four segments', () => `${signToken({ username: 'root', exp: inAnHour() }, signKey)}.extra`, 'malformed_token'],
  ['empty segments', () => '..', 'malformed_token'],
  ['bad base64 characters', () => '*.*.*', 'malformed_token'],
  ['a header that is not JSON', () => signedRaw(b64('{"alg":"HS256"'), b64({ username: 'root', exp: inAnHour() })), 'malformed_token'],
  ['a header that is a JSON array', () => signedRaw(b64(['HS256']), b64({ username: 'root', exp: inAnHour() })), 'malformed_token'],
  ['a header without alg', () => signedRaw(b64({ typ: 'JWT' }), b64({ username: 'root', exp: inAnHour() })), 'bad_algorithm'],
  ['alg in lower case', () => signedRaw(b64({ alg: 'hs256' }), b64({ username: 'root', exp: inAnHour() })), 'bad_algorithm'],
  ['a signed payload that is not JSON', () => signedRaw(hs256, b64('username=root')), 'malformed_token'],
  ['a signed payload that is a JSON string', () => signedRaw(hs256, b64('"root"')), 'malformed_token'],
  ['a signature with standard base64 characters', () => `${signToken({ username: 'root', exp: inAnHour() }, signKey).slice(0, -2)}+/`, 'malformed_token'],
  ['a truncated signature', () => signToken({ username: 'root', exp: inAnHour() }, signKey).slice(0, -5), 'bad_signature'],
  ['exp as a string', () => signToken({ username: 'root', exp: String(inAnHour()) }, signKey), 'missing_exp'],
  ['exp as a boolean', () => signToken({ username: 'root', exp: true }, signKey), 'missing_exp'],
  ['exp null', () => signToken({ username: 'root', exp: null }, signKey), 'missing_exp'],
  ['username as a number', () => signToken({ username: 42, exp: inAnHour() }, signKey), 'missing_username'],
  ['username as an array', () => signToken({ username: ['root'], exp: inAnHour() }, signKey), 'missing_username'],
  ['an empty username', () => signToken({ username: '', exp: inAnHour() }, signKey), 'missing_username'],
  ['a 15 KB token', () => `${hs256}.${'A'.repeat(15_000)}.sig`, 'bad_signature'],
];

async function expectStillServing(h: PresenterHarness, token: string, rows: number) {
  const response = await fetch(`${h.url}/events?limit=1000`, { headers: { authorization: `Bearer ${token}` } });
  const body = (await response.json()) as { resources: unknown[] };
  expect({ status: response.status, rows: body.resources.length }).toEqual({ status: 200, rows });
  const [{ n }] = (await h.sql`select count(*)::int as n from k8s_events`) as unknown as [{ n: number }];
  expect(n).toBe(rows);
}

describe('bad requests to the presenter', () => {
  test('every kind of malformed JWT gets 401 JSON with a stable code, by header on both endpoints and by query on /notifications', async () => {
    await using h = await startPresenterHarness();
    const root = await h.addUser('root', listEventsIn());
    await h.insert(buildRecord());
    const asked: string[] = [];
    for (const [what, makeToken, code] of malformedTokens) {
      const token = makeToken();
      const requests: [string, string, Record<string, string>][] = [
        ['/events', '', { authorization: `Bearer ${token}` }],
        ['/notifications', '', { authorization: `Bearer ${token}` }],
        ['/notifications', `?token=${encodeURIComponent(token)}`, {}],
      ];
      for (const [path, query, headers] of requests) {
        const response = await fetch(`${h.url}${path}${query}`, { headers });
        const body = await response.json();
        expect({ what, path, status: response.status, type: response.headers.get('content-type'), body }).toEqual({
          what, path, status: 401, type: 'application/json', body: { code, message: expect.any(String) },
        });
        expect(JSON.stringify(body)).not.toContain(token.slice(0, 40));
        asked.push(what);
      }
    }
    for (const header of ['Basic cm9vdDpyb290', 'Bearer', 'Bearer a b']) {
      const response = await fetch(`${h.url}/events`, { headers: { authorization: header } });
      expect({ header, status: response.status, body: await response.json() }).toEqual({
        header, status: 401, body: { code: 'missing_token', message: 'a Bearer token is required' },
      });
    }
    // A token larger than the HTTP server's header limit is refused by the server itself (431), and nothing breaks.
    const huge = await fetch(`${h.url}/events`, { headers: { authorization: `Bearer ${'A'.repeat(100_000)}` } });
    expect(huge.status).toBe(431);
    expect(asked.length).toBe(malformedTokens.length * 3);
    await expectStillServing(h, root, 1);
  }, 30_000);

  test('filter values with SQL metacharacters are matched literally, never as SQL or LIKE patterns', async () => {
    await using h = await startPresenterHarness();
    const root = await h.addUser('root', listEventsIn());
    const names = ['plain', '%', '_', '\\', "o'brien", "' or 1=1 --"];
    await h.insert(...names.map((name, i) => buildRecord({ resource_name: name, created_at: new Date(Date.UTC(2025, 0, 1, 0, i)).toISOString() })));
    const cases: [string, string[]][] = [
      ['name=%25', ['%']],
      ['name=_', ['_']],
      ['name=%5C', ['\\']],
      ["name=o'brien", ["o'brien"]],
      [`name=${encodeURIComponent("' or 1=1 --")}`, ["' or 1=1 --"]],
      [`namespace=${encodeURIComponent("' or 1=1 --")}`, []],
      [`namespace=${encodeURIComponent("default' --")}`, []],
      ['reason=%25', []],
      [`kind=${encodeURIComponent('v1.Pod; drop table k8s_events; --')}`, []],
      [`labels=${encodeURIComponent("app=' or 1>0 --")}`, []],
      [`cluster=${encodeURIComponent('test\\')}`, []],
    ];
    for (const [query, expected] of cases) {
      const response = await fetch(`${h.url}/events?${query}`, { headers: { authorization: `Bearer ${root}` } });
      const body = (await response.json()) as { resources?: { resource_name: string }[] };
      expect({ query, status: response.status, names: body.resources?.map((r) => r.resource_name) ?? body }).toEqual({ query, status: 200, names: expected });
    }
    await expectStillServing(h, root, names.length);
  });

  test('malformed limits, cursors, dates, NUL bytes and resume ids get 400 JSON with a stable code and no SQL text', async () => {
    await using h = await startPresenterHarness();
    const root = await h.addUser('root', listEventsIn());
    await h.insert(buildRecord(), buildRecord());
    const cursor = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const cases: [string, string, string][] = [
      ['/events', 'limit=-1', 'invalid_limit'],
      ['/events', 'limit=99999999999999999999', 'invalid_limit'],
      ['/events', 'limit=1e3', 'invalid_limit'],
      ['/events', 'limit=1.5', 'invalid_limit'],
      ['/events', 'limit=10&limit=20', 'invalid_limit'],
      ['/events', `cursor=${'A'.repeat(201)}`, 'invalid_cursor'],
      ['/events', `cursor=${cursor([1, 2])}`, 'invalid_cursor'],
      ['/events', `cursor=${cursor(['2025-01-01 00:00:00+00', -1, 5])}`, 'invalid_cursor'],
      ['/events', `cursor=${cursor(['2025-01-01 00:00:00+00', 1, 1e300])}`, 'invalid_cursor'],
      ['/events', `cursor=${cursor(['2025-01-01 00:00:00+00', 1, 2])}==`, 'invalid_cursor'],
      ['/events', `namespace=${Array.from({ length: 201 }, (_, i) => `ns-${i}`).join(',')}`, 'invalid_parameter'],
      ['/notifications', `namespace=${Array.from({ length: 201 }, (_, i) => `ns-${i}`).join(',')}`, 'invalid_parameter'],
      ['/events', 'since=99999999999h', 'invalid_parameter'],
      ['/events', 'since=-1h', 'invalid_parameter'],
      ['/events', 'until=9999-99-99', 'invalid_parameter'],
      ['/events', 'since=2025-01-01T25:00:00Z', 'invalid_parameter'],
      ['/events', `since=${encodeURIComponent("2025-01-01' or '1'='1")}`, 'invalid_parameter'],
      ['/events', 'namespace=%00', 'invalid_parameter'],
      ['/events', 'name=a%00b', 'invalid_parameter'],
      ['/events', 'labels=app=%00', 'invalid_parameter'],
      ['/notifications', 'reason=%00', 'invalid_parameter'],
      ['/notifications', 'lastEventId=abc', 'invalid_last_event_id'],
      ['/notifications', 'lastEventId=-1', 'invalid_last_event_id'],
      ['/notifications', 'last_event_id=1234567890123456', 'invalid_last_event_id'],
    ];
    for (const [path, query, code] of cases) {
      const response = await fetch(`${h.url}${path}?${query}`, { headers: { authorization: `Bearer ${root}` } });
      const body = (await response.json()) as { code: string; message: string };
      expect({ path, query, status: response.status, code: body.code }).toEqual({ path, query, status: 400, code });
      expect(body.message).not.toMatch(/select|k8s_events|syntax|postgres|invalid byte/i);
    }
    const posted: [unknown, string][] = [
      [{ limit: -5 }, 'invalid_limit'],
      [{ limit: '1; drop table k8s_events' }, 'invalid_limit'],
      [{ cursor: 12345 }, 'invalid_cursor'],
      [{ namespace: ['a\u0000'] }, 'invalid_parameter'],
      [{ since: 1e300 }, 'invalid_parameter'],
    ];
    for (const [body, code] of posted) {
      const response = await fetch(`${h.url}/events`, { method: 'POST', headers: { authorization: `Bearer ${root}` }, body: JSON.stringify(body) });
      expect({ body, status: response.status, code: ((await response.json()) as { code: string }).code }).toEqual({ body, status: 400, code });
    }
    await expectStillServing(h, root, 2);
  });

  test('a 10 MB POST /events body is refused with 413 JSON within a second, declared or streamed, and the service keeps serving', async () => {
    await using h = await startPresenterHarness();
    const root = await h.addUser('root', listEventsIn(['team-a']));
    await h.insert(buildRecord({ namespace: 'team-a' }));
    const tenMegabytes = JSON.stringify({ namespace: Array.from({ length: 20_000 }, (_, i) => `ns-${i}-${'x'.repeat(500)}`) });
    expect(tenMegabytes.length).toBeGreaterThan(10_000_000);
    const streamed = () =>
      new ReadableStream<Uint8Array>({
        start(controller) {
          const bytes = new TextEncoder().encode(tenMegabytes);
          for (let i = 0; i < bytes.length; i += 65_536) controller.enqueue(bytes.subarray(i, i + 65_536));
          controller.close();
        },
      });
    for (const [how, body] of [['declared', () => tenMegabytes], ['streamed', streamed]] as const) {
      const started = performance.now();
      const response = await fetch(`${h.url}/events`, { method: 'POST', headers: { authorization: `Bearer ${root}`, 'content-type': 'application/json' }, body: body() });
      const answer = await response.json();
      expect({ how, status: response.status, answer }).toEqual({ how, status: 413, answer: { code: 'body_too_large', message: 'body must be at most 1048576 bytes' } });
      expect(performance.now() - started).toBeLessThan(1000);
    }
    await expectStillServing(h, root, 1);
  });
});
