import { describe, expect, test } from 'bun:test';
import type { EventRecord } from '../lib/storage/event-store.ts';
import type { EventsPage } from '../lib/presenter/core/wire.ts';
import { buildRecord } from './support/builders.ts';
import { listEventsIn, startPresenterHarness, type PresenterHarness } from './support/presenter-harness.ts';

// docs/decisions/014-history-scan-window.md: a page no indexed filter narrows reads at most
// EVENTS_SCAN_WINDOW_ROWS rows of the table, newest first, and its cursor continues after them.
const windowRows = 1000;
const tableRows = 2500;
const start = Date.UTC(2025, 0, 1, 12);
const atSecond = (i: number) => new Date(start + i * 1000).toISOString();

type Page = EventsPage & { code?: string };
const get = async (h: PresenterHarness, token: string, query: string): Promise<Page> =>
  (await fetch(`${h.url}/events?${query}`, { headers: { authorization: `Bearer ${token}` } })).json() as Promise<Page>;

/** Follows cursors to the end: each page's names, and whether it carried a cursor. */
async function readAllPages(h: PresenterHarness, token: string, query: string): Promise<{ names: string[]; more: boolean }[]> {
  const pages: { names: string[]; more: boolean }[] = [];
  let cursor: string | undefined;
  do {
    const page = await get(h, token, `${query}${cursor ? `&cursor=${cursor}` : ''}`);
    pages.push({ names: page.resources.map((r) => r.resource_name), more: page.cursor !== undefined });
    cursor = page.cursor;
  } while (cursor);
  return pages;
}

/** `tableRows` events one second apart (row i at second i, so row 2499 is the newest); `pick` overrides some. */
async function fillTable(h: PresenterHarness, pick: (i: number) => Partial<EventRecord> = () => ({})): Promise<void> {
  const records = Array.from({ length: tableRows }, (_, i) => buildRecord({ resource_name: `pod-${i}`, created_at: atSecond(i), ...pick(i) }));
  for (let i = 0; i < records.length; i += 500) await h.insert(...records.slice(i, i + 500));
}

// Three rare matches: one in each window of 1000 rows, newest first (rows 2499–1500, 1499–500, 499–0).
const rare = new Set([2400, 1200, 100]);
const rareReason = (i: number): Partial<EventRecord> => (rare.has(i) ? { reason: 'OOMKilled' } : {});
// team-a holds the oldest 1500 rows, team-b the newest 1000; the one match is team-a's row 100.
const teamAOldestOneMatch = (i: number): Partial<EventRecord> => ({ namespace: i < 1500 ? 'team-a' : 'team-b', ...(i === 100 ? { reason: 'OOMKilled' } : {}) });

describe('/events scan window', () => {
  test('a filter no index narrows reads one window per page: fewer events than limit, and a cursor until the table ends', async () => {
    await using h = await startPresenterHarness({ eventsScanWindowRows: windowRows });
    const token = await h.addUser('root', listEventsIn());
    await fillTable(h, rareReason);
    expect(await readAllPages(h, token, 'reason=OOMKilled&limit=50')).toEqual([
      { names: ['pod-2400'], more: true },
      { names: ['pod-1200'], more: true },
      { names: ['pod-100'], more: false },
    ]);
  });

  test('a filter that matches nothing answers an empty page with a cursor, not a scan of the whole table', async () => {
    await using h = await startPresenterHarness({ eventsScanWindowRows: windowRows });
    const token = await h.addUser('root', listEventsIn());
    await fillTable(h);
    const pages = await readAllPages(h, token, 'name=no-such-pod');
    expect(pages).toEqual([
      { names: [], more: true },
      { names: [], more: true },
      { names: [], more: false },
    ]);
  });

  test('a page that fills up inside its window ends at its last event, so the next page misses nothing of the window', async () => {
    await using h = await startPresenterHarness({ eventsScanWindowRows: windowRows });
    const token = await h.addUser('root', listEventsIn());
    await fillTable(h, (i) => (i % 100 === 0 ? { event_type: 'Warning' } : {}));
    const pages = await readAllPages(h, token, 'type=Warning&limit=4');
    const expected = Array.from({ length: 25 }, (_, k) => `pod-${2400 - k * 100}`);
    expect(pages.flatMap((p) => p.names)).toEqual(expected);
    // Each window starts after the previous page's last event: ten matches per window, four per page.
    expect(pages.map((p) => p.names.length)).toEqual([4, 4, 4, 4, 4, 4, 1]);
  });

  test('one indexed filter alone reads its window through its index: an old event of a namespace, a composition or an object is on the first page', async () => {
    await using h = await startPresenterHarness({ eventsScanWindowRows: windowRows });
    const token = await h.addUser('root', listEventsIn());
    const compositionId = '6f1c2e0a-7a51-4b39-9d3e-2a3b4c5d6e7f';
    await fillTable(h, (i) => (i === 7 ? { namespace: 'quiet', composition_id: compositionId, involved_object_uid: 'obj-7' } : {}));
    for (const query of ['namespace=quiet', `composition_id=${compositionId}`, 'involved_object_uid=obj-7']) {
      expect({ query, pages: await readAllPages(h, token, query) }).toEqual({ query, pages: [{ names: ['pod-7'], more: false }] });
    }
  });

  test('an indexed filter with another one reads its window through the index: the rows of that namespace, not of the table', async () => {
    await using h = await startPresenterHarness({ eventsScanWindowRows: windowRows });
    const token = await h.addUser('root', listEventsIn());
    await fillTable(h, teamAOldestOneMatch);
    expect(await readAllPages(h, token, 'namespace=team-a&reason=OOMKilled')).toEqual([
      { names: [], more: true },
      { names: ['pod-100'], more: false },
    ]);
  });

  test('several values of an indexed filter with another filter are checked on the rows of the table, so the planner cannot sort all their rows', async () => {
    await using h = await startPresenterHarness({ eventsScanWindowRows: windowRows });
    const token = await h.addUser('root', listEventsIn());
    await fillTable(h, teamAOldestOneMatch);
    expect(await readAllPages(h, token, 'namespace=team-a,team-c&reason=OOMKilled')).toEqual([
      { names: [], more: true },
      { names: [], more: true },
      { names: ['pod-100'], more: false },
    ]);
  });

  test('a namespace whose rows the user mostly may not see (another cluster) is read one window at a time, not to its end', async () => {
    await using h = await startPresenterHarness({ eventsScanWindowRows: windowRows });
    const token = await h.addUser('root', listEventsIn());
    // Every row is in namespace default; the newest 2000 belong to a cluster nobody is authorised for.
    await fillTable(h, (i) => ({ namespace: 'default', ...(i >= 500 ? { cluster_name: 'unmapped', global_uid: `unmapped:${i}` } : {}) }));
    const pages = await readAllPages(h, token, 'namespace=default&limit=500');
    expect(pages.map((p) => ({ count: p.names.length, first: p.names[0], more: p.more }))).toEqual([
      { count: 0, first: undefined, more: true },
      { count: 0, first: undefined, more: true },
      { count: 500, first: 'pod-499', more: false },
    ]);
  });

  test('a windowed page still shows only what the user may list', async () => {
    await using h = await startPresenterHarness({ eventsScanWindowRows: windowRows });
    const token = await h.addUser('team-a', listEventsIn(['team-a']));
    await fillTable(h, (i) => (rare.has(i) ? { reason: 'OOMKilled', namespace: i === 1200 ? 'team-a' : 'team-b' } : {}));
    expect(await readAllPages(h, token, 'reason=OOMKilled')).toEqual([
      { names: [], more: true },
      { names: ['pod-1200'], more: true },
      { names: [], more: false },
    ]);
  });
});
