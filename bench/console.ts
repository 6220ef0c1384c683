// The Events console in headless Chromium against `bun run dev` (dev/stack.ts as a subprocess: the
// ingester, the presenter and the demo simulator with its workload; the database is prefilled so
// the list can hold 10,000 events). Measures: first render of a signed-in page (baseline: the same
// page unsigned, i.e. the bundle alone), and with 100 events/s arriving (rows committed to the
// table at that rate, so the presenter streams exactly that, plus the demo workload) and 10,000
// events in the list, the frame time while the list sits at the top and while it scrolls, and the
// JS heap; and, before that load, how long one committed event takes to show at the top of the
// live tail (the ms from the commit until the page's list holds its row).
// Usage: bun bench/console.ts [--rows 10000] [--rate 100] [--seconds 20] [--loads 5] [--tail-samples 30] [--screenshot docs/console.png]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { insertEventRows } from '../lib/storage/event-store.ts';
import { launchBrowser } from '../test/support/browser.ts';
import { generateStoredEvents, toRecords } from './support/events.ts';
import { createSql, openBenchDatabase } from './support/pg.ts';
import { flag, log, machineInfo, numberFlag, percentile, printResults, summarize, type ResultRow } from './support/report.ts';
import { freePort } from './support/stack.ts';

const rows = numberFlag('rows', 10_000);
const rate = numberFlag('rate', 100);
const seconds = numberFlag('seconds', 20);
const loads = numberFlag('loads', 5);
const tailSamples = numberFlag('tail-samples', 30);
const screenshot = flag('screenshot');
const root = join(import.meta.dir, '..');
// The dev stack's cluster (dev/stack.ts): the presenter hides rows of any cluster it has no route to.
const devClusterName = 'demo';

/** Stores `count` generated events, each a distinct Event (one list row), spread over the last 50 minutes (inside the page's default 1 h window). */
async function prefill(url: string, count: number): Promise<void> {
  const sql = createSql(url, { max: 1 });
  const nowMs = Date.now();
  const records = toRecords(generateStoredEvents(count), devClusterName).map((r, i) => ({
    ...r,
    uid: `prefill-${i}`,
    global_uid: `${r.cluster_name}:prefill-${i}`,
    created_at: new Date(nowMs - 3_000_000 + (i * 3_000_000) / count).toISOString(),
  }));
  for (let i = 0; i < records.length; i += 1000) await insertEventRows(sql, records.slice(i, i + 1000));
  await sql.end();
}

/** Commits `perSecond` new events every second (in tenths) until stopped; returns the count written. */
function startArrivals(url: string, perSecond: number) {
  const sql = createSql(url, { max: 1 });
  const pool = toRecords(generateStoredEvents(Math.max(1000, perSecond * 200), { seed: 7 }), devClusterName);
  let written = 0;
  let running = true;
  const loop = (async () => {
    let next = performance.now();
    while (running) {
      const batch = Array.from({ length: Math.round(perSecond / 10) }, () => ({ ...pool[written++ % pool.length]!, created_at: new Date().toISOString() }));
      await insertEventRows(sql, batch);
      next += 100;
      await Bun.sleep(Math.max(0, next - performance.now()));
    }
  })();
  return {
    get written() {
      return written;
    },
    async stop() {
      running = false;
      await loop;
      await sql.end();
    },
  };
}

async function startDevStack(databaseUrl: string) {
  const dir = mkdtempSync(join(tmpdir(), 'events-console-bench-'));
  const presenterPort = await freePort();
  const proc = Bun.spawn(['bun', 'dev/stack.ts'], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: dir,
      DEV_DATA_DIR: dir,
      DATABASE_URL: databaseUrl,
      PRESENTER_PORT: String(presenterPort),
      INGESTER_PORT: String(await freePort()),
      DEV_EVENTS_PER_SECOND: '5',
    },
    stdout: 'pipe',
    stderr: 'pipe',
  });
  let output = '';
  void (async () => {
    for await (const chunk of proc.stdout) output += new TextDecoder().decode(chunk);
  })();
  void new Response(proc.stderr).text();
  const deadline = Date.now() + 120_000;
  while (!output.includes('Ctrl-C stops everything')) {
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`dev stack did not start:\n${output}`);
    await Bun.sleep(100);
  }
  const links = [...output.matchAll(/console: (\S+)/g)].map((m) => m[1]!);
  return {
    adminLink: links[1]!,
    pageUrl: links[1]!.split('#')[0]!,
    async stop() {
      proc.kill('SIGINT');
      await proc.exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const footNumber = (page: Page, key: string) => page.$eval('#list-foot', (el, k) => Number((el as unknown as { dataset: Record<string, string> }).dataset[k] ?? 0), key);

/** Opens `url` in a fresh context and returns the ms until `selector` is visible. */
async function timeLoad(browser: Awaited<ReturnType<typeof launchBrowser>>, url: string, selector: string): Promise<number> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const started = performance.now();
  await page.goto(url);
  await page.locator(selector).first().waitFor({ timeout: 30_000 });
  const ms = performance.now() - started;
  await context.close();
  return ms;
}

/** Records every animation frame's duration (ms) in the page for `ms`, meanwhile running `act`. */
async function recordFrames(page: Page, ms: number, act: () => Promise<void>): Promise<number[]> {
  await page.evaluate(`(() => {
    window.__frames = []; let last = performance.now();
    const tick = (now) => { window.__frames.push(now - last); last = now; if (window.__recording) requestAnimationFrame(tick); };
    window.__recording = true; requestAnimationFrame(tick);
  })()`);
  const until = Date.now() + ms;
  while (Date.now() < until) await act();
  return (await page.evaluate('(window.__recording = false, window.__frames)')) as number[];
}

function frameStats(frames: number[]) {
  const sorted = frames.toSorted((a, b) => a - b);
  return { n: sorted.length, p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99), max: sorted.at(-1) ?? Number.NaN };
}

/**
 * Commits one event at a time (the list at the top, nothing else written) and returns, for each,
 * the ms from just before its commit until its row is in the page's list, as seen by an observer
 * in the page. The part of "created in the cluster → on screen" after the ingester's commit; the
 * ingester's part is bench/ingest-latency.ts.
 */
async function timeLiveTail(page: Page, url: string, samples: number): Promise<number[]> {
  await page.$eval('#list', (list) => list.scrollTo({ top: 0 }));
  await page.evaluate(`(() => {
    window.__shown = {};
    new MutationObserver(() => {
      for (const row of document.querySelectorAll('#list .row[data-uid*=":tail-probe-"]')) window.__shown[row.dataset.uid] ??= Date.now();
    }).observe(document.querySelector('#list'), { childList: true, subtree: true, attributes: true });
  })()`);
  const sql = createSql(url, { max: 1 });
  const [template] = toRecords(generateStoredEvents(1, { seed: 11 }), devClusterName);
  const latencies: number[] = [];
  try {
    for (let i = 0; i < samples; i++) {
      const uid = `tail-probe-${i}`;
      const committedFrom = Date.now();
      await insertEventRows(sql, [{ ...template!, uid, global_uid: `${devClusterName}:${uid}`, created_at: new Date().toISOString() }]);
      const deadline = Date.now() + 30_000;
      let shownAt: number | undefined;
      while ((shownAt = (await page.evaluate(`window.__shown[${JSON.stringify(`${devClusterName}:${uid}`)}]`)) as number | undefined) === undefined) {
        if (Date.now() > deadline) throw new Error(`${uid} never reached the list`);
        await Bun.sleep(20);
      }
      latencies.push(shownAt - committedFrom);
      await Bun.sleep(200);
    }
  } finally {
    await sql.end();
  }
  return latencies;
}

async function heapBytes(page: Page): Promise<number> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('HeapProfiler.collectGarbage');
  const { usedSize } = await cdp.send('Runtime.getHeapUsage');
  await cdp.detach();
  return usedSize;
}

await using db = await openBenchDatabase();
log(`prefilling ${rows} events`);
await prefill(db.url, rows);
log('starting the dev stack (demo workload 5 events/s)');
const stack = await startDevStack(db.url);
const results: ResultRow[] = [];
try {
  await using browser = await launchBrowser();
  // Warm-up load: the presenter bundles the page on first use.
  await timeLoad(browser, stack.pageUrl, '#signin-form');
  const bare: number[] = [];
  const signed: number[] = [];
  for (let i = 0; i < loads; i++) {
    bare.push(await timeLoad(browser, stack.pageUrl, '#signin-form'));
    signed.push(await timeLoad(browser, stack.adminLink, '#list .row'));
  }
  const first = summarize(signed);
  const baseline = summarize(bare);
  results.push({ bench: 'console', metric: `first render signed in, first rows shown (p50 of ${loads})`, value: first.p50, unit: 'ms', baseline: baseline.p50, baselineName: 'page without sign-in', ratio: first.p50 / baseline.p50, target: '< 1000 ms', met: first.max < 1000, note: `max ${Math.round(first.max)} ms` });

  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.goto(stack.adminLink);
  await page.locator('#list .row').first().waitFor();
  const heapFirstPage = await heapBytes(page);
  const rowsFirstPage = await footNumber(page, 'rows');
  const loadStarted = performance.now();
  while ((await footNumber(page, 'rows')) < rows) {
    await page.$eval('#list', (list) => list.scrollTo({ top: list.scrollHeight }));
    await Bun.sleep(50);
    if (performance.now() - loadStarted > 300_000) throw new Error('history did not reach the row count');
  }
  log(`${await footNumber(page, 'rows')} rows in the list after ${Math.round(performance.now() - loadStarted)} ms of scrolling`);
  await page.$eval('#list', (list) => list.scrollTo({ top: 0 }));
  const heapLoaded = await heapBytes(page);
  const tail = summarize(await timeLiveTail(page, db.url, tailSamples));
  const arrivals = startArrivals(db.url, rate);
  await Bun.sleep(2000);
  const receivedBefore = await footNumber(page, 'received');
  const rowsBefore = await footNumber(page, 'rows');
  const atTop = frameStats(await recordFrames(page, seconds * 1000, () => Bun.sleep(100)));
  const receivedAtTop = (await footNumber(page, 'received')) - receivedBefore;
  await page.hover('#list');
  const scrolling = frameStats(await recordFrames(page, seconds * 1000, async () => void (await page.mouse.wheel(0, 600), await Bun.sleep(16))));
  await arrivals.stop();
  const heapAfter = await heapBytes(page);
  const rowsAfter = await footNumber(page, 'rows');
  if (screenshot) {
    await page.$eval('#list', (list) => list.scrollTo({ top: 0 }));
    await Bun.sleep(300);
    await page.screenshot({ path: join(root, screenshot) });
  }
  results.push(
    { bench: 'console', metric: `live tail: event committed → its row on screen, ${rowsBefore} rows in the list (p50 of ${tailSamples})`, value: tail.p50, unit: 'ms', target: '< 1000 ms', met: tail.max < 1000, note: `p99 ${Math.round(tail.p99)}, max ${Math.round(tail.max)} ms` },
    { bench: 'console', metric: `frame time p95, list at top, ${rowsBefore} rows, live arriving`, value: atTop.p95, unit: 'ms', target: '< 50 ms', met: atTop.p95 < 50, note: `p50 ${atTop.p50.toFixed(1)}, p99 ${atTop.p99.toFixed(1)}, max ${atTop.max.toFixed(1)} ms; ${atTop.n} frames` },
    { bench: 'console', metric: 'frame time p95, scrolling the list, live arriving', value: scrolling.p95, unit: 'ms', target: '< 50 ms', met: scrolling.p95 < 50, note: `p50 ${scrolling.p50.toFixed(1)}, p99 ${scrolling.p99.toFixed(1)}, max ${scrolling.max.toFixed(1)} ms; ${scrolling.n} frames` },
    { bench: 'console', metric: 'live events received while at top', value: receivedAtTop / seconds, unit: 'events/s', target: `≈ ${rate}/s arriving` },
    { bench: 'console', metric: `JS heap after GC, ${rowsFirstPage} rows (first page)`, value: heapFirstPage / 2 ** 20, unit: 'MiB' },
    { bench: 'console', metric: `JS heap after GC, ${rowsBefore} rows`, value: heapLoaded / 2 ** 20, unit: 'MiB' },
    { bench: 'console', metric: `JS heap after GC, ${rowsAfter} rows (after ${2 * seconds} s live)`, value: heapAfter / 2 ** 20, unit: 'MiB' },
    { bench: 'console', metric: 'JS heap per row', value: (heapLoaded - heapFirstPage) / Math.max(1, rowsBefore - rowsFirstPage), unit: 'bytes', note: `the list keeps at most 50,000 rows: ≈ ${Math.round((heapFirstPage + ((heapLoaded - heapFirstPage) / Math.max(1, rowsBefore - rowsFirstPage)) * 50_000) / 2 ** 20)} MiB at the cap` },
  );
} finally {
  await stack.stop();
}
printResults(results, { machine: machineInfo(), postgres: db.version });
