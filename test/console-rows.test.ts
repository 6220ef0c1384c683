// Pure logic of the console page (no DOM): the list model and the view's URL state.
import { describe, expect, test } from 'bun:test';
import type { EventPayload } from '../console/api.ts';
import { EventRows } from '../console/event-rows.ts';
import { bucketFor, EmptyPageBrake, matchesClientFilters, readFilters } from '../console/view-state.ts';

let counter = 0;
function buildPayload(overrides: Partial<EventPayload> = {}): EventPayload {
  counter++;
  return {
    event_id: `e-${counter}`, global_uid: `c:${counter}`, cluster_name: 'c', namespace: 'team-a', resource_kind: 'v1.Pod',
    resource_name: `pod-${counter}`, involved_object_uid: null, event_type: 'Normal', reason: 'Started', message: 'started',
    composition_id: null, created_at: new Date(Date.UTC(2030, 0, 1, 0, 0, counter)).toISOString(), ...overrides,
  };
}

const uids = (rows: EventRows) => rows.rows.map((r) => r.event.global_uid);
/** A later stored version of the same Event: its own row (`event_id`), a later time. */
const laterVersion = (event: EventPayload): EventPayload => {
  const next = buildPayload();
  return { ...event, event_id: next.event_id, created_at: next.created_at };
};

describe('the console list model', () => {
  test('live versions of one Event are one row, moved to the top with its count bumped, even within one batch', () => {
    const rows = new EventRows(100);
    const a = buildPayload();
    const b = buildPayload();
    rows.addPage([b, a].map((e) => ({ ...e, raw: JSON.stringify({ count: 3, firstTimestamp: 'first', lastTimestamp: 'last' }) })));
    const c = buildPayload();
    rows.addLive([c, laterVersion(c), laterVersion(a)]);
    expect({ uids: uids(rows), counts: rows.rows.map((r) => r.count), firstSeen: rows.rows.map((r) => r.firstSeen), raw: rows.rows.map((r) => r.event.raw) }).toEqual({
      uids: [a.global_uid, c.global_uid, b.global_uid],
      counts: [4, 2, 3],
      firstSeen: ['first', c.created_at, 'first'],
      raw: [undefined, undefined, undefined],
    });
  });

  test('a version the list already shows, delivered again live, neither moves nor counts', () => {
    const rows = new EventRows(100);
    const first = buildPayload();
    const second = buildPayload({ created_at: first.created_at });
    rows.addPage([second, first]);
    rows.addLive([first]);
    rows.addLive([second]);
    expect({ uids: uids(rows), counts: rows.rows.map((r) => r.count) }).toEqual({ uids: [second.global_uid, first.global_uid], counts: [1, 1] });
  });

  test('a history page keeps once the Events the live tail already shows, and an older version never replaces a newer one', () => {
    const rows = new EventRows(100);
    const live = buildPayload();
    rows.addLive([live]);
    const older = buildPayload();
    rows.addPage([{ ...live, created_at: older.created_at }, older]);
    rows.addLive([{ ...live, created_at: '2000-01-01T00:00:00.000Z', message: 'stale' }]);
    expect({ uids: uids(rows), messages: rows.rows.map((r) => r.event.message) }).toEqual({ uids: [live.global_uid, older.global_uid], messages: ['started', 'started'] });
  });

  test('holds at most maxRows, dropping the oldest and saying so', () => {
    const rows = new EventRows(2);
    const events = [buildPayload(), buildPayload(), buildPayload()];
    rows.addLive(events);
    expect({ uids: uids(rows), trimmed: rows.trimmed, dropped: rows.has(events[0]!.global_uid) }).toEqual({
      uids: [events[2]!.global_uid, events[1]!.global_uid],
      trimmed: true,
      dropped: false,
    });
  });
});

describe('the console view state', () => {
  test('reads the filters from the URL, defaulting the window to the last hour', () => {
    expect([readFilters('?namespace=team-a&q=zebra&empty='), readFilters('?since=7d')]).toEqual([
      { namespace: 'team-a', q: 'zebra', since: '1h' },
      { since: '7d' },
    ]);
  });

  test('picks chart buckets giving at most 60 bars', () => {
    expect(['15m', '1h', '6h', '24h', '7d', 'odd'].map(bucketFor)).toEqual(['30s', '1m', '15m', '1h', '3h', '1m']);
  });

  test('lets a live event through only when it matches the search and no end time is set', () => {
    const event = { message: 'Pulling image zebra', reason: 'Pulling', resource_name: 'api' };
    expect([
      matchesClientFilters({}, event),
      matchesClientFilters({ q: 'ZEBRA' }, event),
      matchesClientFilters({ q: 'pulling' }, event),
      matchesClientFilters({ q: 'giraffe' }, event),
      matchesClientFilters({ until: '2030-01-01T00:00:00Z' }, event),
    ]).toEqual([true, true, true, false, false]);
  });

  test('stops asking for pages after maxEmptyPages empty pages in a row that still had a cursor, until released', () => {
    const brake = new EmptyPageBrake(3);
    const held = [brake.record(0, true), brake.record(0, true), brake.record(2, true), brake.record(0, true), brake.record(0, true), brake.record(0, true)];
    const afterRelease = (brake.release(), brake.held);
    const lastPageEmpty = brake.record(0, false);
    expect({ held, afterRelease, lastPageEmpty }).toEqual({ held: [false, false, false, false, false, true], afterRelease: false, lastPageEmpty: false });
  });
});
