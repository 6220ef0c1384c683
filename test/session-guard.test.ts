// The session guard's rules over fake streams (pure logic; the real Secret deletion is in
// presenter-session.test.ts): a missing Secret closes the user's streams, a failed read closes
// nothing, a rotated Secret's credentials replace the old ones, and caches are pruned every pass.
import { describe, expect, test } from 'bun:test';
import type { UserCredentials } from '../lib/presenter/access/user-credentials.ts';
import { startSessionGuard, type GuardedStreams } from '../lib/presenter/sse/session-guard.ts';
import { silentLogger } from '../lib/runtime/log.ts';

const credsFor = (token: string): UserCredentials => ({ serverUrl: 'https://k8s.invalid', token });

function fakeStreams(users: string[]) {
  const closed: [string, string][] = [];
  const updated: [string, string | undefined][] = [];
  const streams: GuardedStreams = {
    users: () => [...users],
    closeUser: (username, reason) => void closed.push([username, reason]),
    updateCredentials: (username, creds) => void updated.push([username, creds.token]),
  };
  return { streams, closed, updated };
}

describe('session guard', () => {
  test('closes the streams of a user whose Secret is gone, keeps them on a read error, and takes rotated credentials', async () => {
    const { streams, closed, updated } = fakeStreams(['gone', 'unreadable', 'rotated']);
    let prunes = 0;
    const lookup = async (username: string) => {
      if (username === 'gone') return undefined;
      if (username === 'unreadable') throw Object.assign(new Error('kubernetes API answered 503'), { code: 503 });
      return credsFor('new-token');
    };
    const guard = startSessionGuard({ streams, lookup, prune: () => void prunes++, intervalMs: 3_600_000, log: silentLogger });
    try {
      await guard.checkNow();
    } finally {
      guard.stop();
    }
    expect({ closed, updated, prunes }).toEqual({ closed: [['gone', 'credentials_revoked']], updated: [['rotated', 'new-token']], prunes: 1 });
  });

  test('looks up at most 8 users at once', async () => {
    const users = Array.from({ length: 50 }, (_, i) => `u${i}`);
    const { streams } = fakeStreams(users);
    let inFlight = 0;
    let most = 0;
    const lookup = async () => {
      most = Math.max(most, ++inFlight);
      await new Promise((resolve) => setImmediate(resolve));
      inFlight--;
      return credsFor('t');
    };
    const guard = startSessionGuard({ streams, lookup, prune: () => {}, intervalMs: 3_600_000, log: silentLogger });
    try {
      await guard.checkNow();
    } finally {
      guard.stop();
    }
    expect(most).toBe(8);
  });
});
