import { describe, expect, test } from 'bun:test';
import { createSql, runMigrations } from '../lib/storage/db.ts';
import { silentLogger } from '../lib/runtime/log.ts';
import { createCheckpointTracker, loadCheckpoints, saveCheckpoints } from '../lib/ingest/watch-checkpoint.ts';
import { createTestDatabase } from './support/pg.ts';

describe('checkpoint tracker', () => {
  test('the safe version only passes items whose rows and every earlier row are committed', () => {
    const tracker = createCheckpointTracker();
    const [a, b, c] = ['11', '12', '13'].map((rv) => tracker.track('*', rv));
    const seen: (string | undefined)[] = [tracker.safeVersion('*')];
    c!.complete();
    seen.push(tracker.safeVersion('*'));
    a!.complete();
    seen.push(tracker.safeVersion('*'));
    b!.complete();
    seen.push(tracker.safeVersion('*'));
    expect(seen).toEqual([undefined, undefined, '11', '13']);
  });

  test('list items count only once the whole list is committed, then the list version is safe', () => {
    const tracker = createCheckpointTracker();
    const listed = [tracker.track('ns', undefined), tracker.track('ns', undefined)];
    tracker.mark('ns', '500');
    listed[0]!.complete();
    const midway = tracker.safeVersion('ns');
    listed[1]!.complete();
    expect([midway, tracker.safeVersion('ns')]).toEqual([undefined, '500']);
  });

  test('bookmarks advance the safe version when nothing is pending, and scopes are independent', () => {
    const tracker = createCheckpointTracker();
    tracker.mark('a', '7');
    const pending = tracker.track('b', '8');
    tracker.mark('b', '9');
    expect([tracker.safeVersion('a'), tracker.safeVersion('b')]).toEqual(['7', undefined]);
    pending.complete();
    expect(tracker.safeVersion('b')).toBe('9');
  });

  test('after a reset, completions of the abandoned items change nothing', () => {
    const tracker = createCheckpointTracker();
    tracker.mark('*', '1');
    const stale = tracker.track('*', '2');
    tracker.reset('*');
    const fresh = tracker.track('*', '3');
    stale.complete();
    expect(tracker.safeVersion('*')).toBe('1');
    fresh.complete();
    expect(tracker.safeVersion('*')).toBe('3');
  });

  test('completions in reverse delivery order move the safe version only at the last one, across the trimming of consumed items', () => {
    const tracker = createCheckpointTracker();
    const early = Array.from({ length: 3000 }, (_, i) => tracker.track('*', String(i)));
    for (const ticket of early) ticket.complete();
    const late = Array.from({ length: 3000 }, (_, i) => tracker.track('*', String(3000 + i)));
    const seen = new Set<string | undefined>();
    for (const ticket of late.toReversed()) {
      ticket.complete();
      seen.add(tracker.safeVersion('*'));
    }
    late[0]!.complete();
    expect([...seen]).toEqual(['2999', '5999']);
  });

  test('a long run of completions keeps memory bounded', () => {
    const tracker = createCheckpointTracker();
    for (let i = 0; i < 100_000; i++) tracker.track('*', String(i)).complete();
    expect(tracker.safeVersion('*')).toBe('99999');
  });
});

describe('checkpoint storage', () => {
  test('checkpoints are stored per cluster and scope and overwritten', async () => {
    await using db = await createTestDatabase();
    await runMigrations(db.url, { log: silentLogger });
    const sql = createSql(db.url, { max: 1 });
    try {
      await saveCheckpoints(sql, 'one', new Map([['*', '10']]));
      await saveCheckpoints(sql, 'one', new Map([['*', '12'], ['team-a', '11']]));
      await saveCheckpoints(sql, 'two', new Map([['*', '99']]));
      expect(await loadCheckpoints(sql, 'one')).toEqual(new Map([['*', '12'], ['team-a', '11']]));
    } finally {
      await sql.end();
    }
  });
});
