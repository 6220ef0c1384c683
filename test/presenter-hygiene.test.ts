import { describe, expect, test } from 'bun:test';
import { signToken } from '../lib/presenter/access/auth-token.ts';
import { createLogger } from '../lib/runtime/log.ts';
import { buildRecord } from './support/builders.ts';
import { authnNamespace, listEventsIn, signKey, startPresenterHarness, waitFor } from './support/presenter-harness.ts';
import { openSse } from './support/sse-client.ts';

/** Opens a plain HTTP/1.1 keep-alive connection, asks /livez once, and reports when the server closes it. */
async function idleKeepAlive(port: number) {
  let closedAt: number | undefined;
  let answer = '';
  const socket = await Bun.connect({
    hostname: '127.0.0.1',
    port,
    socket: {
      data: (_s, chunk) => void (answer += chunk.toString()),
      close: () => void (closedAt = Date.now()),
      error: () => void (closedAt = Date.now()),
    },
  });
  socket.write('GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n');
  return {
    get answer() {
      return answer;
    },
    get closedAt() {
      return closedAt;
    },
    end: () => socket.end(),
  };
}

describe('a quiet stream and Bun\'s idle cut-off', () => {
  test('an SSE stream stays open past the server idle timeout that closes an idle keep-alive connection', async () => {
    // Heartbeats far apart (a tick every interval / 16): nothing is written on the stream while we wait.
    await using h = await startPresenterHarness({ heartbeatIntervalMs: 3_600_000 }, { idleTimeoutSeconds: 1 });
    const token = await h.addUser('alice', listEventsIn(['team-a']));
    await using stream = await openSse(`${h.url}/notifications`, { authorization: `Bearer ${token}` });
    await stream.next();
    // One row first, so the row after the idle phase is not also the first the user's decisions meet.
    const [warmSeq] = await h.insert(buildRecord({ namespace: 'team-a' }));
    expect((await stream.next()).id).toBe(String(warmSeq));
    const openedAt = Date.now();
    const plain = await idleKeepAlive(h.presenter.port);
    await waitFor(() => (plain.answer.includes('"status":"ok"') ? true : undefined), { what: 'the keep-alive answer' });
    const cutAt = await waitFor(() => plain.closedAt, { timeoutMs: 10_000, what: 'the idle keep-alive connection to be cut' });
    // The stream has been idle longer than the connection just cut. Bun checks idleness in steps of a
    // few seconds, so wait one more step before proving the stream still delivers.
    await waitFor(() => (Date.now() - cutAt > 4500 ? true : undefined), { timeoutMs: 6000, what: 'another idle check' });
    const [seq] = await h.insert(buildRecord({ namespace: 'team-a' }));
    const frame = await stream.next();
    expect({ streamIdleMs: cutAt - openedAt > 1000, streamEnded: stream.ended, id: frame.id }).toEqual({
      streamIdleMs: true,
      streamEnded: false,
      id: String(seq),
    });
    plain.end();
  }, 40_000);
});

describe('secrets never reach the logs', () => {
  test('tokens, the JWT key and PEM material appear in no log line, across successful and failed requests', async () => {
    const lines: string[] = [];
    const log = createLogger({ service: 'events-presenter', level: 'debug', write: (line) => void lines.push(line) });
    await using h = await startPresenterHarness({}, { log });
    const token = await h.addUser('alice', listEventsIn(['team-a']));
    await h.insert(buildRecord({ namespace: 'team-a' }));
    const forged = signToken({ username: 'alice', exp: Math.floor(Date.now() / 1000) + 60 }, 'another-key');
    const stranger = signToken({ username: 'nobody', exp: Math.floor(Date.now() / 1000) + 60 }, signKey);

    await using viaQuery = await openSse(`${h.url}/notifications?token=${token}&lastEventId=0`);
    await viaQuery.until((f) => f.event === 'krateo');
    const bearer = await fetch(`${h.url}/events`, { headers: { authorization: `Bearer ${token}` } });
    const refused = await fetch(`${h.url}/notifications?token=${forged}`);
    const noSecret = await fetch(`${h.url}/events`, { headers: { authorization: `Bearer ${stranger}` } });
    // A user with no decisions cached yet, so the failing reviews are asked (a namespace filter
    // naming a namespace without events would ask none).
    const bobToken = await h.addUser('bob', listEventsIn(['team-a']));
    h.sim.failNext(5, 500, 'selfsubjectaccessreviews');
    const reviewFailed = await fetch(`${h.url}/events`, { headers: { authorization: `Bearer ${bobToken}` } });
    expect([bearer.status, refused.status, noSecret.status, reviewFailed.status]).toEqual([200, 401, 401, 200]);
    await waitFor(() => (lines.some((l) => l.includes('access review failed')) ? true : undefined), { what: 'the review failure log' });

    const text = lines.join('');
    const leaks = {
      token: text.includes(token) || text.includes(bobToken),
      tokenSignature: text.includes(token.split('.')[2]!),
      forged: text.includes(forged),
      stranger: text.includes(stranger),
      jwtKey: text.includes(signKey),
      pem: /-----BEGIN|PRIVATE KEY/.test(text),
      base64Pem: text.includes('LS0tLS1CRUdJTi'),
      queryToken: /[?&](access_)?token=/.test(text),
      secretNamespaceData: text.includes(authnNamespace) && text.includes('client-key-data'),
    };
    expect(leaks).toEqual({
      token: false, tokenSignature: false, forged: false, stranger: false, jwtKey: false, pem: false, base64Pem: false,
      queryToken: false, secretNamespaceData: false,
    });
    expect(lines.some((l) => l.includes('"msg":"stream opened"'))).toBe(true);
  });
});
