import { describe, expect, test } from 'bun:test';
import type { EventsPage } from '../lib/presenter/core/wire.ts';
import { buildRecord } from './support/builders.ts';
import { listEventsIn, startPresenterHarness, type PresenterHarness } from './support/presenter-harness.ts';

const get = async (h: PresenterHarness, path: string, token?: string) => {
  const response = await fetch(`${h.url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

const minutesAgo = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString();

/** Rows in three namespaces, one Event in team-a stored in two versions (only the latest counts). */
async function insertMix(h: PresenterHarness) {
  const bumped = buildRecord({ namespace: 'team-a', uid: 'bumped', global_uid: 'test:bumped', reason: 'BackOff', event_type: 'Warning', created_at: minutesAgo(30) });
  await h.insert(
    bumped,
    buildRecord({ namespace: 'team-a', reason: 'Started', message: 'Started container zebra', created_at: minutesAgo(20) }),
    buildRecord({ namespace: 'team-b', reason: 'Pulled', resource_kind: 'apps/v1.Deployment', created_at: minutesAgo(20) }),
    buildRecord({ namespace: 'secret-ns', reason: 'Leaked', message: 'Started container secret', created_at: minutesAgo(10), event_type: 'Custom' }),
  );
  await h.insert({ ...bumped, resource_version: '99', count: 2, created_at: minutesAgo(5) });
}

describe('GET /events/histogram', () => {
  test('counts the latest version of each visible event per bucket and type, and its total equals /events for the same filters', async () => {
    await using h = await startPresenterHarness();
    const admin = await h.addUser('admin', listEventsIn());
    await insertMix(h);
    const histogram = await get(h, '/events/histogram?since=1h&bucket=15m', admin);
    const events = await get(h, '/events?since=1h&limit=100', admin);
    const buckets = histogram.body.buckets as { normal: number; warning: number; other: number }[];
    expect({
      status: histogram.status,
      total: histogram.body.total,
      summed: buckets.reduce((sum, b) => ({ normal: sum.normal + b.normal, warning: sum.warning + b.warning, other: sum.other + b.other }), { normal: 0, warning: 0, other: 0 }),
      buckets: buckets.length >= 4 && buckets.length <= 5,
    }).toEqual({ status: 200, total: (events.body.resources as unknown[]).length, summed: { normal: 2, warning: 1, other: 1 }, buckets: true });
  });

  test('a user allowed only team-a and team-b never counts another namespace, even when asking for it', async () => {
    await using h = await startPresenterHarness();
    const alice = await h.addUser('alice', listEventsIn(['team-a', 'team-b']));
    await insertMix(h);
    const all = await get(h, '/events/histogram?since=1h&bucket=1h', alice);
    const other = await get(h, '/events/histogram?since=1h&bucket=1h&namespace=secret-ns', alice);
    const sum = (body: Record<string, unknown>) => (body.buckets as { other: number }[]).reduce((n, b) => n + b.other, 0);
    expect([all.status, all.body.total, sum(all.body), other.status, other.body.total]).toEqual([200, 3, 0, 200, 0]);
  });

  test('refuses a missing token, a missing, bad or repeated bucket, a window of too many buckets or days, and a repeated since', async () => {
    await using h = await startPresenterHarness();
    const admin = await h.addUser('admin', listEventsIn());
    const answers = await Promise.all([
      get(h, '/events/histogram?bucket=1m'),
      get(h, '/events/histogram', admin),
      get(h, '/events/histogram?bucket=500ms', admin),
      get(h, '/events/histogram?bucket=1s&since=24h', admin),
      get(h, '/events/histogram?bucket=1h&since=60d', admin),
      get(h, '/events/histogram?bucket=1m&bucket=5m', admin),
      get(h, '/events/histogram?bucket=1m&since=1h&since=2h', admin),
    ]);
    expect(answers.map((a) => [a.status, a.body.code])).toEqual([
      [401, 'missing_token'],
      [400, 'invalid_parameter'],
      [400, 'invalid_parameter'],
      [400, 'invalid_parameter'],
      [400, 'invalid_parameter'],
      [400, 'invalid_parameter'],
      [400, 'invalid_parameter'],
    ]);
  });
});

describe('GET /events/facets', () => {
  test('lists the top reasons, namespaces and kinds of the visible events, most frequent first', async () => {
    await using h = await startPresenterHarness();
    const admin = await h.addUser('admin', listEventsIn());
    await insertMix(h);
    expect(await get(h, '/events/facets?since=1h', admin)).toEqual({
      status: 200,
      body: {
        reasons: [{ value: 'BackOff', count: 1 }, { value: 'Leaked', count: 1 }, { value: 'Pulled', count: 1 }, { value: 'Started', count: 1 }],
        namespaces: [{ value: 'team-a', count: 2 }, { value: 'secret-ns', count: 1 }, { value: 'team-b', count: 1 }],
        kinds: [{ value: 'v1.Pod', count: 3 }, { value: 'apps/v1.Deployment', count: 1 }],
      },
    });
  });

  test('a user allowed only team-a and team-b sees neither the other namespace nor its reasons or counts', async () => {
    await using h = await startPresenterHarness();
    const alice = await h.addUser('alice', listEventsIn(['team-a', 'team-b']));
    await insertMix(h);
    const asked = await get(h, '/events/facets?since=1h&namespace=secret-ns', alice);
    expect([await get(h, '/events/facets?since=1h&top=10', alice), asked]).toEqual([
      {
        status: 200,
        body: {
          reasons: [{ value: 'BackOff', count: 1 }, { value: 'Pulled', count: 1 }, { value: 'Started', count: 1 }],
          namespaces: [{ value: 'team-a', count: 2 }, { value: 'team-b', count: 1 }],
          kinds: [{ value: 'v1.Pod', count: 2 }, { value: 'apps/v1.Deployment', count: 1 }],
        },
      },
      { status: 200, body: { reasons: [], namespaces: [], kinds: [] } },
    ]);
  });

  test('refuses a missing token and a bad top', async () => {
    await using h = await startPresenterHarness();
    const admin = await h.addUser('admin', listEventsIn());
    const answers = [await get(h, '/events/facets'), await get(h, '/events/facets?top=0', admin), await get(h, '/events/facets?top=51', admin)];
    expect(answers.map((a) => [a.status, a.body.code])).toEqual([[401, 'missing_token'], [400, 'invalid_parameter'], [400, 'invalid_parameter']]);
  });
});

describe('free-text search: GET /events?q=', () => {
  test('finds events by a word of their message, reason or object name, case-insensitively, within the caller\'s RBAC', async () => {
    await using h = await startPresenterHarness();
    const alice = await h.addUser('alice', listEventsIn(['team-a', 'team-b']));
    await insertMix(h);
    await h.insert(buildRecord({ namespace: 'team-b', resource_name: 'checkout-api', message: 'Scaled', reason: 'ScalingReplicaSet' }));
    const names = async (q: string) => ((await get(h, `/events?q=${encodeURIComponent(q)}`, alice)).body as unknown as EventsPage).resources.map((r) => [r.namespace, r.reason]);
    expect({ message: await names('ZEBRA'), reason: await names('backoff'), name: await names('checkout'), none: await names('nothing-like-this') }).toEqual({
      message: [['team-a', 'Started']],
      reason: [['team-a', 'BackOff']],
      name: [['team-b', 'ScalingReplicaSet']],
      none: [],
    });
  });

  test('matches % and _ literally', async () => {
    await using h = await startPresenterHarness();
    const admin = await h.addUser('admin', listEventsIn());
    await h.insert(buildRecord({ message: 'disk 95% full' }), buildRecord({ message: 'disk 95 full' }), buildRecord({ message: 'a_b' }), buildRecord({ message: 'axb' }));
    const messages = async (q: string) => ((await get(h, `/events?q=${encodeURIComponent(q)}`, admin)).body as unknown as EventsPage).resources.map((r) => r.message);
    expect([await messages('95%'), await messages('a_b')]).toEqual([['disk 95% full'], ['a_b']]);
  });

  test('searches at most 7 days: older events are not scanned by default and a longer window is refused', async () => {
    await using h = await startPresenterHarness();
    const admin = await h.addUser('admin', listEventsIn());
    await h.insert(buildRecord({ message: 'needle recent', created_at: minutesAgo(60) }));
    const recent = await get(h, '/events?q=needle', admin);
    const tooLong = await get(h, '/events?q=needle&since=8d', admin);
    expect([(recent.body.resources as unknown[]).length, tooLong.status, tooLong.body.code]).toEqual([1, 400, 'invalid_parameter']);
  });
});

describe('the console page at /ui', () => {
  test('is served without a token, revalidated on each load, with immutable hashed assets, gzip and 304s', async () => {
    await using h = await startPresenterHarness();
    const page = await fetch(`${h.url}/ui`);
    const html = await page.text();
    const assets = [...html.matchAll(/(?:src|href)="(\/ui\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    const asset = await fetch(`${h.url}${assets[0]}`, { headers: { 'accept-encoding': 'gzip' } });
    const again = await fetch(`${h.url}/ui`, { headers: { 'if-none-match': page.headers.get('etag')! } });
    const missing = await fetch(`${h.url}/ui/assets/nothing.js`);
    expect({
      page: [page.status, page.headers.get('content-type'), page.headers.get('cache-control'), html.includes('<title>Events console</title>')],
      csp: page.headers.get('content-security-policy')?.includes("default-src 'self'"),
      assets: assets.length,
      asset: [asset.status, asset.headers.get('cache-control'), asset.headers.get('content-encoding')],
      again: again.status,
      missing: missing.status,
    }).toEqual({
      page: [200, 'text/html;charset=utf-8', 'no-cache', true],
      csp: true,
      assets: 2,
      asset: [200, 'public, max-age=31536000, immutable', 'gzip'],
      again: 304,
      missing: 404,
    });
  });

  test('the whole bundle (page, script and styles) is at most 150 KB gzipped', async () => {
    await using h = await startPresenterHarness();
    const html = await (await fetch(`${h.url}/ui`)).text();
    const paths = ['/ui', ...[...html.matchAll(/(?:src|href)="(\/ui\/assets\/[^"]+)"/g)].map((m) => m[1]!)];
    let gzipped = 0;
    for (const path of paths) gzipped += Bun.gzipSync(new Uint8Array(await (await fetch(`${h.url}${path}`)).arrayBuffer())).length;
    expect(gzipped).toBeLessThanOrEqual(150 * 1024);
    console.log(`console bundle: ${(gzipped / 1024).toFixed(1)} KB gzipped`);
  });
});
