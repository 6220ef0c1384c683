// Limits that keep one user (or history queries) from taking the presenter down: the request body
// cap on chunked uploads, stream caps, the per-user cap on concurrent /events, the global cap and
// wait limit on history requests, the history statement timeout, and /readyz answered on
// connections history cannot take.
import { describe, expect, test } from 'bun:test';
import { connect } from 'node:net';
import { createSql } from '../lib/storage/db.ts';
import { buildRecord } from './support/builders.ts';
import { createTestDatabase } from './support/pg.ts';
import { listEventsIn, startPresenterHarness, waitFor, type PresenterHarness } from './support/presenter-harness.ts';
import { openSse } from './support/sse-client.ts';
import { noPostgresTimers, skipNote } from './support/environment.ts';

/**
 * POSTs a chunked body of up to `totalBytes` to /events over a raw socket and stops sending as soon
 * as an answer arrives. Returns the answer's head and body and how many body bytes were sent.
 */
async function postChunked(url: string, token: string, totalBytes: number): Promise<{ head: string; body: string; sentBytes: number }> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  let answer = '';
  let closed = false;
  socket.on('data', (chunk) => (answer += chunk.toString('latin1')));
  socket.on('close', () => (closed = true));
  socket.on('error', () => (closed = true));
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(`POST /events HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`);
  const chunk = Buffer.alloc(65_536, 0x20);
  let sentBytes = 0;
  while (sentBytes < totalBytes && answer === '' && !closed) {
    socket.write(`${chunk.length.toString(16)}\r\n`);
    const drained = socket.write(Buffer.concat([chunk, Buffer.from('\r\n')]));
    sentBytes += chunk.length;
    if (!drained) await new Promise((resolve) => socket.once('drain', resolve).once('close', resolve));
  }
  await waitFor(() => (/\r\n\r\n/.test(answer) ? true : undefined), { timeoutMs: 10_000, what: 'the answer' });
  const [head = '', body = ''] = answer.split('\r\n\r\n');
  socket.destroy();
  return { head, body, sentBytes };
}

/** Holds an ACCESS EXCLUSIVE lock on k8s_events until disposed: every query of the table waits. */
async function lockEvents(h: PresenterHarness) {
  const reserved = await h.sql.reserve();
  await reserved`begin`;
  await reserved`lock table k8s_events in access exclusive mode`;
  return {
    async [Symbol.asyncDispose]() {
      await reserved`rollback`;
      reserved.release();
    },
  };
}

/** How many presenter history queries wait for a lock right now. */
const waitingHistoryQueries = async (h: PresenterHarness) => {
  const [row] = await h.sql<{ n: number }[]>`
    select count(*)::int as n from pg_stat_activity
    where application_name = 'events-presenter-history' and wait_event_type = 'Lock'`;
  return row!.n;
};

describe('presenter limits', () => {
  test('a chunked 120 MB POST /events is refused with 413 after about a megabyte, not read whole', async () => {
    await using h = await startPresenterHarness();
    const token = await h.addUser('alice', listEventsIn());
    const { head, body, sentBytes } = await postChunked(h.url, token, 120 * 2 ** 20);
    expect(head.split('\r\n')[0]).toBe('HTTP/1.1 413 Payload Too Large');
    expect(JSON.parse(body.slice(body.indexOf('{'), body.lastIndexOf('}') + 1))).toEqual({ code: 'body_too_large', message: 'body must be at most 1048576 bytes' });
    // What the socket buffers took before the answer came back; far from the 120 MB offered.
    expect({ refusedEarly: sentBytes < 16 * 2 ** 20 }).toEqual({ refusedEarly: true });
  });

  test('streams past the per-user cap, and past the global cap, are answered 429 with Retry-After', async () => {
    await using h = await startPresenterHarness({ sseMaxStreamsPerUser: 2, sseMaxStreams: 3 });
    const alice = await h.addUser('alice', listEventsIn());
    const bob = await h.addUser('bob', listEventsIn());
    const open = (token: string) => openSse(`${h.url}/notifications`, { authorization: `Bearer ${token}` });
    await using a1 = await open(alice);
    await using a2 = await open(alice);
    await using a3 = await open(alice);
    await using b1 = await open(bob);
    await using b2 = await open(bob);
    const answer = async (client: { response: Response }) => ({
      status: client.response.status,
      retryAfter: client.response.headers.get('retry-after'),
      body: client.response.status === 200 ? undefined : await client.response.json(),
    });
    expect([await answer(a1), await answer(a2), await answer(a3), await answer(b1), await answer(b2)]).toEqual([
      { status: 200, retryAfter: null, body: undefined },
      { status: 200, retryAfter: null, body: undefined },
      { status: 429, retryAfter: '5', body: { code: 'too_many_streams', message: 'this user has too many open streams' } },
      { status: 200, retryAfter: null, body: undefined },
      { status: 429, retryAfter: '5', body: { code: 'server_busy', message: 'the server has too many open streams' } },
    ]);
    // A closed stream frees its place at once.
    a1.close();
    await using b3 = await waitFor(async () => {
      const client = await open(bob);
      if (client.response.status === 200) return client;
      await client[Symbol.asyncDispose]();
      return undefined;
    });
    expect(b3.response.status).toBe(200);
  });

  test('a user past EVENTS_MAX_CONCURRENT_PER_USER concurrent /events gets 429 with Retry-After; others are not affected', async () => {
    // A pool larger than the cap, so Bob's request reaches PostgreSQL (and the lock) too.
    await using h = await startPresenterHarness({ eventsMaxConcurrentPerUser: 2, eventsPoolSize: 4 }, { namespaceRefreshMs: 60_000 });
    const alice = await h.addUser('alice', listEventsIn());
    const bob = await h.addUser('bob', listEventsIn());
    await h.insert(buildRecord({ namespace: 'team-a' }));
    const get = (token: string) => fetch(`${h.url}/events`, { headers: { authorization: `Bearer ${token}` } });
    // Warm the decisions, so every request below waits only on the table lock.
    expect([(await get(alice)).status, (await get(bob)).status]).toEqual([200, 200]);
    let held: Promise<Response>[];
    {
      await using _lock = await lockEvents(h);
      held = [get(alice), get(alice)];
      await waitFor(async () => ((await waitingHistoryQueries(h)) === 2 ? true : undefined));
      const third = await get(alice);
      expect({ status: third.status, retryAfter: third.headers.get('retry-after'), body: await third.json() }).toEqual({
        status: 429,
        retryAfter: '1',
        body: { code: 'too_many_requests', message: 'too many /events requests in flight for this user' },
      });
      held.push(get(bob));
      await waitFor(async () => ((await waitingHistoryQueries(h)) === 3 ? true : undefined));
    }
    expect((await Promise.all(held)).map((r) => r.status)).toEqual([200, 200, 200]);
    expect((await get(alice)).status).toBe(200);
  });

  test('past EVENTS_POOL_SIZE running and EVENTS_QUEUE_MAX waiting, history requests of any user are answered 503 history_busy, and one waiting EVENTS_QUEUE_TIMEOUT 503 history_wait_timeout; no slot is lost', async () => {
    await using h = await startPresenterHarness({ eventsPoolSize: 1, eventsQueueMax: 1, eventsQueueTimeoutMs: 2000 }, { namespaceRefreshMs: 60_000 });
    const users = await Promise.all(['u1', 'u2', 'u3', 'u4'].map((name) => h.addUser(name, listEventsIn())));
    await h.insert(buildRecord({ namespace: 'team-a' }));
    const get = (token: string, path = '/events') => fetch(`${h.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    const answer = async (response: Response) => ({ status: response.status, retryAfter: response.headers.get('retry-after'), body: (await response.json()) as { code: string; message: string } });
    // Warm every user's decisions: below, requests wait only for the gate or the table lock.
    for (const token of users) expect((await get(token)).status).toBe(200);
    let held: Promise<Response>;
    let refused: Awaited<ReturnType<typeof answer>>[];
    {
      await using _lock = await lockEvents(h);
      held = get(users[0]!);
      await waitFor(async () => ((await waitingHistoryQueries(h)) === 1 ? true : undefined));
      // The one connection is taken: of three more users (the console's aggregates too), one may wait and times out, two are refused at once.
      refused = await Promise.all([get(users[1]!), get(users[2]!, '/events/histogram?bucket=1h'), get(users[3]!, '/events/facets')].map(async (r) => answer(await r)));
      expect(await waitingHistoryQueries(h)).toBe(1);
    }
    const busy = { status: 503, retryAfter: '2', body: { code: 'history_busy', message: 'too many history requests are waiting; retry later' } };
    const timedOut = { status: 503, retryAfter: '2', body: { code: 'history_wait_timeout', message: 'no history connection became free in time; retry later' } };
    expect(refused.toSorted((a, b) => a.body.code.localeCompare(b.body.code))).toEqual([busy, busy, timedOut]);
    expect((await held).status).toBe(200);
    // Neither the refused nor the timed-out requests kept a slot: with one connection, each of these would otherwise wait and time out.
    const after = [];
    for (const token of users) after.push((await get(token)).status, (await get(token, '/events/facets')).status);
    expect(after).toEqual(users.flatMap(() => [200, 200]));
  });

  test.skipIf(noPostgresTimers !== undefined)(`a history query past EVENTS_QUERY_TIMEOUT is cancelled and answered 503 JSON with Retry-After${skipNote(noPostgresTimers)}`, async () => {
    await using h = await startPresenterHarness({ eventsQueryTimeoutMs: 300 }, { namespaceRefreshMs: 60_000 });
    const alice = await h.addUser('alice', listEventsIn());
    await h.insert(buildRecord({ namespace: 'team-a' }));
    expect((await fetch(`${h.url}/events`, { headers: { authorization: `Bearer ${alice}` } })).status).toBe(200);
    await using _lock = await lockEvents(h);
    const response = await fetch(`${h.url}/events`, { headers: { authorization: `Bearer ${alice}` } });
    expect({ status: response.status, retryAfter: response.headers.get('retry-after'), body: await response.json() }).toEqual({
      status: 503,
      retryAfter: '5',
      body: { code: 'query_timeout', message: 'the history query took too long; narrow the filters (namespace, since) or retry later' },
    });
  });

  test('a pool created with a statement timeout and no parallel workers has both settings on its connections', async () => {
    await using db = await createTestDatabase();
    const pool = createSql(db.url, { max: 1, fetchTypes: false, statementTimeoutMs: 1234, parallelWorkers: 0 });
    try {
      const [settings] = await pool<{ timeout: string; workers: string }[]>`
        select current_setting('statement_timeout') as timeout, current_setting('max_parallel_workers_per_gather') as workers`;
      expect(settings).toEqual({ timeout: '1234ms', workers: '0' });
    } finally {
      await pool.end();
    }
  });

  test.skipIf(noPostgresTimers !== undefined)(`/readyz answers while every history connection is taken${skipNote(noPostgresTimers)}`, async () => {
    await using h = await startPresenterHarness({ eventsPoolSize: 2 }, { namespaceRefreshMs: 60_000 });
    // More users with a request in flight than the whole pool once had (10).
    const users = await Promise.all(Array.from({ length: 12 }, (_, i) => h.addUser(`u${i}`, listEventsIn())));
    await h.insert(buildRecord({ namespace: 'team-a' }));
    // Warm each user's decisions first: the requests below then wait only on the table.
    for (const token of users) await fetch(`${h.url}/events`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.arrayBuffer());
    let held: Promise<Response>[];
    {
      await using _lock = await lockEvents(h);
      held = users.map((token) => fetch(`${h.url}/events`, { headers: { authorization: `Bearer ${token}` } }));
      await waitFor(async () => ((await waitingHistoryQueries(h)) === 2 ? true : undefined));
      const ready = await fetch(`${h.url}/readyz`, { signal: AbortSignal.timeout(10_000) });
      expect({ status: ready.status, body: await ready.json() }).toEqual({ status: 200, body: { status: 'ready' } });
    }
    expect((await Promise.all(held)).map((r) => r.status)).toEqual(users.map(() => 200));
  });
});
