// The session guard's rules over fake streams (pure logic; the real Secret deletion is in
// presenter-session.test.ts and presenter-clusters.test.ts): a missing Secret closes the user's
// streams, a missing per-cluster Secret drops that cluster's allowing decisions (and closes the
// streams when there were any), a failed read closes nothing, a rotated Secret's credentials
// replace the old ones, and caches are pruned every pass.
import { describe, expect, test } from 'bun:test';
import type { UserCredentials } from '../lib/presenter/access/user-credentials.ts';
import { startSessionGuard, type ClusterSecretChecks, type GuardedStreams } from '../lib/presenter/sse/session-guard.ts';
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

  test('a per-cluster Secret found missing drops that cluster\'s allowing decisions once, closing the streams only when some allowed', async () => {
    const { streams, closed } = fakeStreams(['lost', 'never', 'unreadable', 'kept']);
    const present = new Set(['kept-prod-clientconfig']);
    // Allowing decisions held per user and cluster; `never` never had a prod Secret, so holds none.
    const allowing = new Map([['lost prod', 2], ['lost edge', 1], ['kept prod', 3]]);
    const reads: string[] = [];
    const revoked: string[] = [];
    const clusterSecrets: ClusterSecretChecks = {
      secrets: (username) => [{ secretName: `${username}-prod-clientconfig`, clusters: ['prod', 'edge'] }],
      read: async (username, secretName) => {
        reads.push(secretName);
        if (username === 'unreadable') throw Object.assign(new Error('kubernetes API answered 503'), { code: 503 });
        return present.has(secretName) ? credsFor('prod-token') : undefined;
      },
      revoke: (username, cluster) => {
        revoked.push(`${username} ${cluster}`);
        const count = allowing.get(`${username} ${cluster}`) ?? 0;
        allowing.delete(`${username} ${cluster}`);
        return count;
      },
    };
    const guard = startSessionGuard({ streams, lookup: async () => credsFor('main'), clusterSecrets, prune: () => {}, intervalMs: 3_600_000, log: silentLogger });
    try {
      await guard.checkNow();
      expect({ closed: [...closed], revoked: [...revoked].sort(), allowing: [...allowing] }).toEqual({
        closed: [['lost', 'credentials_revoked']],
        revoked: ['lost edge', 'lost prod', 'never edge', 'never prod'],
        allowing: [['kept prod', 3]],
      });
      // A second pass reads again but neither scans nor closes for a Secret already known missing.
      await guard.checkNow();
      expect({ closed: closed.length, revoked: revoked.length, reads: reads.length }).toEqual({ closed: 1, revoked: 4, reads: 8 });
    } finally {
      guard.stop();
    }
  });
});
