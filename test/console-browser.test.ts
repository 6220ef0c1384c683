// The Events console in a real headless Chromium, against the real presenter, ingester, embedded
// PostgreSQL and simulator. Screenshots of each main view land in .artifacts/console/.
import { describe, expect, test } from 'bun:test';
import type { Page } from 'playwright-core';
import { launchBrowser, openConsole, saveScreenshot } from './support/browser.ts';
import { startConsoleStack, type ConsoleStack } from './support/console-stack.ts';
import { waitFor } from './support/wait.ts';

// Functions passed to the page run there; the test program has no DOM types, so they see elements
// through this shape and the page's globals through string expressions.
type ElementLike = { dataset: Record<string, string | undefined>; textContent: string | null };

/** The rows the list shows now (it is virtualised: only rows in view exist), top first. */
async function shownRows(page: Page): Promise<{ uid: string; namespace: string; text: string }[]> {
  return await page.$$eval('#list .row', (elements) =>
    (elements as unknown as ElementLike[])
      .toSorted((a, b) => Number(a.dataset.index) - Number(b.dataset.index))
      .map((row) => ({ uid: row.dataset.uid!, namespace: row.dataset.namespace!, text: row.textContent ?? '' })),
  );
}

const footNumber = (page: Page, key: 'rows' | 'received') => page.$eval('#list-foot', (el, k) => Number((el as unknown as ElementLike).dataset[k] ?? 0), key);
const chartTotal = (page: Page) => page.$eval('#chart-total', (el) => Number((el as unknown as ElementLike).dataset.total));

type PageGlobals = { document: { querySelector(selector: string): ElementLike | null; querySelectorAll(selector: string): { length: number } } };

/**
 * Waits until a number on the page compares to `value`: `data-<key>` of `selector`, or with key
 * `count` the number of elements matching `selector`. (A function, not a string: the page's CSP
 * forbids eval.)
 */
async function waitForNumber(page: Page, selector: string, key: string, op: '===' | '<' | '>=', value: number, timeoutMs = 30_000): Promise<void> {
  await page.waitForFunction(
    ([s, k, o, v]) => {
      const { document } = globalThis as unknown as PageGlobals;
      const n = k === 'count' ? document.querySelectorAll(s).length : Number(document.querySelector(s)?.dataset[k]);
      return o === '===' ? n === v : o === '<' ? n < v : n >= v;
    },
    [selector, key, op, value] as const,
    { timeout: timeoutMs },
  );
}

/** Counts what `/events` lists for `query`, following cursors. */
async function countEvents(stack: ConsoleStack, token: string, query: string): Promise<number> {
  let count = 0;
  let cursor: string | undefined;
  do {
    const response = await fetch(`${stack.url}/events?${query}&limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { headers: { authorization: `Bearer ${token}` } });
    const page = (await response.json()) as { resources: unknown[]; cursor?: string };
    count += page.resources.length;
    cursor = page.cursor;
  } while (cursor);
  return count;
}

describe('the Events console in a browser', () => {
  test('signs in with a pasted token, shows an event created in the cluster at the top of the live tail, and signs out', async () => {
    await using stack = await startConsoleStack();
    await using browser = await launchBrowser();
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    await page.goto(`${stack.url}/ui`);
    await page.fill('#token-input', 'not-a-token');
    await page.click('#signin-form button[type=submit]');
    await page.locator('#signin-error').filter({ hasText: 'refused' }).waitFor();
    await saveScreenshot(page, 'sign-in');
    await page.fill('#token-input', stack.tokenFor('admin'));
    await page.click('#signin-form button[type=submit]');
    await page.locator('#conn[data-state="live"]').waitFor();

    const created = stack.createEvent('team-a', { reason: 'Scheduled', message: 'live tail check' });
    // How fast is a benchmark's question (bench/console.ts: commit → on screen), not a bound here.
    await page.locator(`#list .row[data-uid="${stack.globalUid(created)}"][data-index="0"]`).waitFor({ timeout: 10_000 });
    const signedIn = { user: await page.textContent('#user'), stored: await page.evaluate('sessionStorage.length') };
    await saveScreenshot(page, 'live-tail');

    await page.click('#signout');
    expect({ ...signedIn, signInShown: await page.isVisible('#signin'), stored: await page.evaluate('sessionStorage.length'), signedIn: signedIn.stored }).toEqual({
      user: 'admin',
      signInShown: true,
      stored: 0,
      signedIn: 1,
    });
  }, 90_000);

  test('pause holds new events back (counted, connection kept) and resume shows them at the top', async () => {
    await using stack = await startConsoleStack();
    await using browser = await launchBrowser();
    const page = await openConsole(browser, stack.url, stack.tokenFor('admin'));
    await page.locator('#conn[data-state="live"]').waitFor();
    await page.click('#pause');
    const held = stack.createEvent('team-a', { message: 'held while paused' });
    await page.locator('#pending').filter({ hasText: '1 new' }).waitFor();
    const whilePaused = { rows: await footNumber(page, 'rows'), state: await page.getAttribute('#conn', 'data-state'), button: await page.textContent('#pause') };
    await page.click('#pause');
    await page.locator(`#list .row[data-uid="${stack.globalUid(held)}"][data-index="0"]`).waitFor();
    expect({ whilePaused, after: { rows: await footNumber(page, 'rows'), state: await page.getAttribute('#conn', 'data-state'), pending: await page.textContent('#pending') } }).toEqual({
      whilePaused: { rows: 0, state: 'paused', button: 'Resume' },
      after: { rows: 1, state: 'live', pending: '' },
    });
  }, 90_000);

  test('a filter narrows both the list and the chart, is reflected in the URL, and the chart total equals /events for the same filters', async () => {
    await using stack = await startConsoleStack();
    for (let i = 0; i < 12; i++) stack.createEvent(i % 2 === 0 ? 'team-a' : 'team-b', i % 3 === 0 ? { type: 'Warning', reason: 'BackOff', message: `Back-off restarting ${i}` } : {});
    await stack.waitForStored(12);
    await using browser = await launchBrowser();
    const admin = stack.tokenFor('admin');
    const page = await openConsole(browser, stack.url, admin);
    await waitForNumber(page, '#chart-total', 'total', '===', 12);
    const before = { rows: await footNumber(page, 'rows'), chart: await chartTotal(page), api: await countEvents(stack, admin, 'since=1h') };
    await saveScreenshot(page, 'overview');

    await page.selectOption('#filters [name="type"]', 'Warning');
    await page.fill('#filters [name="namespace"]', 'team-a');
    await page.click('#filters button[type=submit]');
    await waitForNumber(page, '#chart-total', 'total', '<', 12);
    await page.locator('#list-foot').filter({ hasText: 'end of history' }).waitFor();
    const rows = await shownRows(page);
    const after = {
      rows: await footNumber(page, 'rows'),
      chart: await chartTotal(page),
      api: await countEvents(stack, admin, 'since=1h&type=Warning&namespace=team-a'),
      url: new URL(page.url()).search,
      allMatch: rows.every((r) => r.namespace === 'team-a' && r.text.includes('Warning')),
    };
    expect({ before, after }).toEqual({
      before: { rows: 12, chart: 12, api: 12 },
      after: { rows: 2, chart: 2, api: 2, url: '?namespace=team-a&type=Warning&since=1h', allMatch: true },
    });
  }, 90_000);

  test('page 2 of history loads when the list is scrolled to its end', async () => {
    await using stack = await startConsoleStack();
    for (let i = 0; i < 260; i++) stack.createEvent('team-a');
    await stack.waitForStored(260);
    await using browser = await launchBrowser();
    const page = await openConsole(browser, stack.url, stack.tokenFor('admin'));
    await waitForNumber(page, '#list-foot', 'rows', '===', 200);
    const firstPage = await footNumber(page, 'rows');
    // Scrolled to the end until page 2 is in: the list's height is set on the next frame, so a
    // scroll right after the first page arrived may find nothing to scroll yet.
    await waitFor(
      async () => {
        await page.$eval('#list', (list) => list.scrollTo({ top: list.scrollHeight }));
        return (await footNumber(page, 'rows')) === 260;
      },
      { timeoutMs: 30_000, what: 'page 2 after scrolling to the end' },
    );
    expect({ firstPage, afterScroll: await footNumber(page, 'rows'), foot: (await page.textContent('#list-foot'))?.includes('end of history') }).toEqual({
      firstPage: 200,
      afterScroll: 260,
      foot: true,
    });
  }, 90_000);

  test('a user allowed team-a and team-b never sees another namespace anywhere on the page: list, live tail, chart, facets or detail', async () => {
    await using stack = await startConsoleStack();
    for (const namespace of ['team-a', 'team-b', 'platform', 'platform']) stack.createEvent(namespace, namespace === 'platform' ? { message: 'platform-only secret rotation', reason: 'PlatformOnly' } : {});
    await stack.waitForStored(4);
    await using browser = await launchBrowser();
    const alice = stack.tokenFor('alice');
    const page = await openConsole(browser, stack.url, alice);
    await page.locator('#conn[data-state="live"]').waitFor();
    // Live: one allowed and one forbidden event after the page is open; the allowed one arriving
    // after the forbidden one shows the stream has moved past it.
    stack.createEvent('platform', { message: 'platform-only live event', reason: 'PlatformOnly' });
    const mine = stack.createEvent('team-b', { message: 'team-b live event' });
    await page.locator(`#list .row[data-uid="${stack.globalUid(mine)}"]`).waitFor();
    await waitForNumber(page, '#chart-total', 'total', '===', 3);
    await page.click(`#list .row[data-uid="${stack.globalUid(mine)}"]`);
    await page.locator('#detail-timeline li').first().waitFor();
    await saveScreenshot(page, 'detail');
    const html = await page.content();
    const facetNamespaces = await page.$$eval('[data-facet="namespace"] li span:first-child', (spans) => spans.map((s) => s.textContent));
    expect({
      namespaces: [...new Set((await shownRows(page)).map((r) => r.namespace))].toSorted(),
      facetNamespaces: facetNamespaces.toSorted(),
      chart: await chartTotal(page),
      api: await countEvents(stack, alice, 'since=1h'),
      mentionsPlatform: /platform/i.test(html),
    }).toEqual({ namespaces: ['team-a', 'team-b'], facetNamespaces: ['team-a', 'team-b'], chart: 3, api: 3, mentionsPlatform: false });
  }, 90_000);

  test('a dropped connection resumes by last id: events created meanwhile arrive, none twice', async () => {
    await using stack = await startConsoleStack();
    await using browser = await launchBrowser();
    const page = await openConsole(browser, stack.url, stack.tokenFor('admin'));
    await page.locator('#conn[data-state="live"]').waitFor();
    const created = [stack.createEvent('team-a'), stack.createEvent('team-a')];
    await waitForNumber(page, '#list-foot', 'received', '===', 2);
    const states: string[] = [];
    await stack.restartPresenter(async () => {
      await page.locator('#conn:not([data-state="live"])').waitFor();
      states.push((await page.getAttribute('#conn', 'data-state'))!);
      for (let i = 0; i < 5; i++) created.push(stack.createEvent('team-b'));
    });
    created.push(stack.createEvent('team-a'));
    await waitForNumber(page, '#list-foot', 'received', '>=', 8, 20_000);
    await page.locator('#conn[data-state="live"]').waitFor();
    const uids = (await shownRows(page)).map((r) => r.uid);
    expect({ states, received: await footNumber(page, 'received'), uids: uids.toSorted() }).toEqual({
      states: ['reconnecting'],
      received: 8,
      uids: created.map((e) => stack.globalUid(e)).toSorted(),
    });
  }, 90_000);

  test('search finds an event by a word of its message, and the query is kept in the URL', async () => {
    await using stack = await startConsoleStack();
    stack.createEvent('team-a', { message: 'Readiness probe failed: connection refused' });
    const target = stack.createEvent('team-b', { message: 'Pulling image "registry.example/zebrafish:1.2"' });
    stack.createEvent('team-a', { message: 'Created container app' });
    await stack.waitForStored(3);
    await using browser = await launchBrowser();
    const page = await openConsole(browser, stack.url, stack.tokenFor('admin'));
    await page.keyboard.press('/');
    await page.keyboard.type('zebrafish');
    await page.keyboard.press('Enter');
    await waitForNumber(page, '#chart-total', 'total', '===', 1);
    await waitForNumber(page, '#list .row', 'count', '===', 1);
    await saveScreenshot(page, 'search');
    expect({ uids: (await shownRows(page)).map((r) => r.uid), url: new URL(page.url()).searchParams.get('q') }).toEqual({
      uids: [stack.globalUid(target)],
      url: 'zebrafish',
    });
  }, 90_000);

  test('a search whose only match is older than one scan window is still found: the list follows the cursors of empty pages', async () => {
    await using stack = await startConsoleStack({ presenterEnv: { EVENTS_SCAN_WINDOW_ROWS: '1000' } });
    const admin = stack.tokenFor('admin');
    const target = stack.createEvent('team-a', { message: 'Back-off pulling image "registry.example/narwhal:9"' });
    for (let i = 0; i < 1100; i++) stack.createEvent('team-b');
    await waitFor(async () => (await countEvents(stack, admin, 'namespace=team-b')) === 1100 || undefined, { timeoutMs: 30_000, what: '1100 newer events stored' });
    // The premise: the newest 1000 rows hold no match, so the first page is empty and has a cursor.
    const first = (await (await fetch(`${stack.url}/events?q=narwhal`, { headers: { authorization: `Bearer ${admin}` } })).json()) as { resources: unknown[]; cursor?: string };
    expect({ resources: first.resources, hasCursor: first.cursor !== undefined }).toEqual({ resources: [], hasCursor: true });
    await using browser = await launchBrowser();
    const page = await openConsole(browser, stack.url, admin);
    await page.keyboard.press('/');
    await page.keyboard.type('narwhal');
    await page.keyboard.press('Enter');
    await waitForNumber(page, '#list .row', 'count', '===', 1);
    await page.waitForFunction(() => (globalThis as unknown as PageGlobals).document.querySelector('#list-foot')?.textContent?.includes('end of history') === true, undefined, { timeout: 30_000 });
    expect((await shownRows(page)).map((r) => r.uid)).toEqual([stack.globalUid(target)]);
  }, 120_000);

  test('works by keyboard on a narrow screen in dark mode: arrows select, Enter opens the detail with the raw event, Escape closes it', async () => {
    await using stack = await startConsoleStack();
    stack.createEvent('team-a', { message: 'first' });
    const second = stack.createEvent('team-a', { message: 'second', reason: 'Killing' });
    await stack.waitForStored(2);
    await using browser = await launchBrowser();
    const page = await openConsole(browser, stack.url, stack.tokenFor('admin'), { width: 390, dark: true });
    await waitForNumber(page, '#list .row', 'count', '===', 2);
    // Newest first: the row ArrowDown selects is `second`.
    expect((await shownRows(page)).map((r) => r.uid)).toEqual([stack.globalUid(second), expect.any(String)]);
    await page.focus('#list');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    await page.locator('#detail-timeline li').first().waitFor();
    await page.locator('#detail-raw').filter({ hasText: '"involvedObject"' }).waitFor();
    await saveScreenshot(page, 'narrow-dark-detail');
    const raw = JSON.parse((await page.textContent('#detail-raw'))!) as { message: string };
    const background = await page.evaluate('getComputedStyle(document.body).backgroundColor');
    await page.keyboard.press('Escape');
    expect({ message: raw.message, title: (await page.textContent('#detail-title'))?.startsWith('Killing'), dark: background, closed: await page.isHidden('#detail'), fits: await page.evaluate('document.documentElement.scrollWidth <= innerWidth') }).toEqual({
      message: String(second.message),
      title: true,
      dark: 'rgb(15, 18, 22)',
      closed: true,
      fits: true,
    });
  }, 90_000);
});
