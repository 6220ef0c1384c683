// Benchmark: history queries must never hurt live delivery. `--rows` (default 3,000,000) event
// versions over 10 daily partitions, written server-side with generate_series. `bun presenter.ts`
// as a subprocess; one SSE stream of a user allowed one namespace receives a row inserted every
// `--interval-ms` (25) into that namespace, and its delivery latency (insert → receipt) is measured
// twice in the same run: quiet (`--quiet` s in all, no history traffic) and under pressure (`--seconds` s,
// `--workers` concurrent loops of the most expensive `/events` filters: a name or a reason that
// matches nothing, which reads one scan window per page, and pages of 1000 events). `/readyz`
// is polled every 200 ms throughout and must never fail. The two kinds of window alternate in
// `--rounds` slices (default 4: 5 s quiet, 5 s pressure, four times). The figures: live p50/p99 in each
// window and their ratio (target: p99 under pressure within 2× the quiet p99), `/readyz` failures,
// and the history answers by status (200, 429 per-user cap, 503 by code: statement timeout, or
// refused by the history gate: queue full or waited too long).
// The workers run in their own process (bench/support/history-load.ts), as other users' browsers would.
// Each live latency is split in two: the write (stamp → the insert acknowledged, what the ingester
// would see) and the delivery (acknowledged → received, the presenter's part). The machine's busy CPU
// share is printed for each kind of window.
// Exploration: `--pace-ms N` makes each worker pause N ms after every answer (a per-user request
// rate); `--window N` sets EVENTS_SCAN_WINDOW_ROWS; `--burn busy,idle` is the control: the load
// process makes no request and burns CPU instead, `busy` ms on then `idle` ms off, so that the effect
// of any CPU activity on this machine can be told apart from the effect of history queries.
// `--pin` (Linux, taskset, diagnostic): the history backends and the load process on the last core,
// everything else (this process, the presenter, every other PostgreSQL process) on the others, as if
// the database had cores to spare for history: what is left is the presenter's own share.
// `--pin-load`: only the load process on the last core (the clients are not on the server in real life).
// Usage: bun bench/history-pressure.ts [--rows 3000000] [--workers 12] [--seconds 20] [--quiet 20]
//        [--interval-ms 25] [--history-users 12] [--warmup 5] [--rounds 4] [--pool N] [--query-timeout 10s]
//        [--pace-ms 0] [--window N] [--burn busy,idle] [--pin | --pin-load]
// (`--pool`/`--query-timeout`: the presenter's EVENTS_POOL_SIZE / EVENTS_QUERY_TIMEOUT, default theirs)
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { signDevToken } from '../dev/tokens.ts';
import { openBenchDatabase } from './support/pg.ts';
import { childPids, flag, log, machineBusySeconds, machineInfo, numberFlag, percentile, printResults, processRssBytes, type ResultRow } from './support/report.ts';
import { addListUsers, nowMs, spawnPresenter } from './support/sse-stack.ts';
import { startBenchSimulator } from './support/stack.ts';

const totalRows = numberFlag('rows', 3_000_000);
const workers = numberFlag('workers', 12);
const seconds = numberFlag('seconds', 20);
const quietSeconds = numberFlag('quiet', 20);
const intervalMs = numberFlag('interval-ms', 25);
// Distinct history users: the per-user cap (EVENTS_MAX_CONCURRENT_PER_USER) must not be what keeps
// the pressure off, so by default every worker is its own user.
const historyUsers = numberFlag('history-users', workers);
const rounds = numberFlag('rounds', 4);
const days = 10;
const namespaces = 20;
const dayMs = 86_400_000;
const jwtKey = `bench-${crypto.randomUUID()}-${crypto.randomUUID()}`;
const authnNs = 'krateo-system';
const liveNamespace = 'live-ns';

await using db = await openBenchDatabase();
const admin = postgres(db.url, { max: 1, onnotice: () => {} });

// --- data -----------------------------------------------------------------------------------------
const todayStart = Math.floor(Date.now() / dayMs) * dayMs;
const firstDay = todayStart - (days - 1) * dayMs;
const perDay = Math.ceil(totalRows / days);
const loadStart = performance.now();
for (let d = 0; d < days; d++) {
  const day = new Date(firstDay + d * dayMs);
  await admin`select ensure_k8s_events_partition(${day.toISOString().slice(0, 10)}::date)`;
  // Namespaces ns-0 … ns-19; about one row in four a later version (count bump) of an earlier one.
  await admin.unsafe(`
    insert into k8s_events (created_at, cluster_name, uid, global_uid, namespace, resource_kind, resource_name,
      involved_object_uid, event_type, reason, message, raw, resource_version, count)
    select ts, 'bench', u, 'bench/' || u, 'ns-' || (o % ${namespaces}), 'v1.Pod', 'pod-' || o, 'obj-' || o,
           case when i % 10 = 0 then 'Warning' else 'Normal' end, (array['Pulled','Created','Started','BackOff','Scheduled'])[1 + i % 5],
           'container event number ' || i || ' for pod-' || o, '{}', i::text, 1 + i % 4
    from (select i, ${firstDay + d * dayMs} + (i::bigint * ${dayMs}) / ${perDay} as ms, i / 4 + ${d * perDay} as o,
                 'd${d}-' || (i / 2) as u
          from generate_series(0, ${perDay - 1}) i) g,
         lateral (select to_timestamp(ms / 1000.0) as ts) t
    order by ts`);
  log(`day ${d + 1}/${days} loaded`);
}
await admin`vacuum analyze k8s_events`;
// Written pages flushed now, not during the quiet window (a checkpoint there inflates the baseline).
await admin`checkpoint`;
const [{ n: rowCount }] = (await admin<{ n: number }[]>`select count(*)::int as n from k8s_events`) as unknown as [{ n: number }];
log(`${rowCount} rows in ${Math.round((performance.now() - loadStart) / 1000)} s`);

// --- stack ----------------------------------------------------------------------------------------
const bench = await startBenchSimulator({ tls: true });
const dir = mkdtempSync(join(tmpdir(), 'events-bench-history-'));
const readers = Array.from({ length: historyUsers }, (_, k) => ({ username: `h${k}`, namespaces: [`ns-${k % namespaces}`] }));
await addListUsers(bench.sim, authnNs, [{ username: 'live', namespaces: [liveNamespace] }, ...readers]);
const presenterEnv: Record<string, string> = { AUTHZ_CACHE_TTL: '1h' };
if (flag('pool')) presenterEnv.EVENTS_POOL_SIZE = flag('pool')!;
if (flag('query-timeout')) presenterEnv.EVENTS_QUERY_TIMEOUT = flag('query-timeout')!;
if (flag('window')) presenterEnv.EVENTS_SCAN_WINDOW_ROWS = flag('window')!;
const paceMs = numberFlag('pace-ms', 0);
const burn = flag('burn')?.split(',').map(Number) as [number, number] | undefined;
const pin = flag('pin') !== undefined;
const pinLoad = flag('pin-load') !== undefined;
if (burn && !(burn.length === 2 && burn.every((n) => n >= 0))) throw new Error('--burn takes busy,idle milliseconds');
const presenter = await spawnPresenter({ databaseUrl: db.url, kubeconfigPath: bench.kubeconfigPath, jwtKey, authnNs, dir, env: presenterEnv });
const tokenOf = (username: string) => signDevToken({ key: jwtKey, username });

// --- --pin: history on the last core, the rest on the others --------------------------------------
const lastCpu = machineInfo().nproc - 1;
const otherCpus = lastCpu === 0 ? '0' : `0-${lastCpu - 1}`;
const setAffinity = (pid: number, cpus: string) => Bun.spawnSync(['taskset', '-a', '-p', '-c', cpus, String(pid)], { stdout: 'ignore' });
if (pin) {
  const [row] = await admin<{ pid: number }[]>`select pg_backend_pid() as pid`;
  const postmaster = Number((await Bun.file(`/proc/${row!.pid}/stat`).text()).split(') ')[1]!.split(' ')[1]);
  // New backends inherit the postmaster's affinity; the history ones are moved as they appear.
  for (const pid of [process.pid, presenter.child.pid, postmaster, ...childPids(postmaster)]) setAffinity(pid, otherCpus);
}
const pinned = new Set<number>();
async function pinHistoryBackends() {
  const rows = await admin<{ pid: number }[]>`select pid from pg_stat_activity where application_name = 'events-presenter-history'`;
  for (const { pid } of rows) if (!pinned.has(pid)) pinned.add(pid), setAffinity(pid, String(lastCpu));
}

// --- live stream: receipt time per stamped row ------------------------------------------------------
const stampOf = new Map<string, number>();
// `writeMs`: stamp → insert acknowledged; `deliveryMs`: acknowledged → received (negative when the
// frame arrived before the acknowledgement did).
const latencies: { at: number; ms: number; writeMs: number; deliveryMs: number }[] = [];
const acknowledgedOf = new Map<string, number>();
const stream = await fetch(`${presenter.url}/notifications`, { headers: { authorization: `Bearer ${tokenOf('live')}` } });
if (stream.status !== 200 || !stream.body) throw new Error(`live stream answered ${stream.status}`);
const streamDone = (async () => {
  const decoder = new TextDecoder();
  let pending = '';
  for await (const chunk of stream.body!) {
    pending += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = pending.indexOf('\n\n')) >= 0) {
      const frame = pending.slice(0, end);
      pending = pending.slice(end + 2);
      const data = frame.split('\n').find((l) => l.startsWith('data: '));
      if (!data || !frame.includes('event: krateo')) continue;
      const name = (JSON.parse(data.slice(6)) as { resource_name: string }).resource_name;
      const sent = stampOf.get(name);
      if (sent === undefined) continue;
      const receivedAt = nowMs();
      const acknowledgedAt = acknowledgedOf.get(name) ?? receivedAt;
      latencies.push({ at: sent, ms: receivedAt - sent, writeMs: acknowledgedAt - sent, deliveryMs: receivedAt - acknowledgedAt });
    }
  }
})().catch(() => {});

let produced = 0;
let producing = true;
const producer = (async () => {
  const writer = postgres(db.url, { max: 1, onnotice: () => {} });
  while (producing) {
    const name = `live-${produced++}`;
    stampOf.set(name, nowMs());
    await writer`
      insert into k8s_events (created_at, cluster_name, uid, global_uid, namespace, resource_kind, resource_name, event_type, raw, resource_version)
      values (now(), 'bench', ${name}, ${`bench/${name}`}, ${liveNamespace}, 'v1.Pod', ${name}, 'Normal', '{}', '1')`;
    acknowledgedOf.set(name, nowMs());
    await Bun.sleep(intervalMs);
  }
  await writer.end();
})();

// --- readiness ------------------------------------------------------------------------------------
const readiness = { ok: 0, failed: 0, slowestMs: 0 };
let probing = true;
const prober = (async () => {
  while (probing) {
    const t = performance.now();
    const ok = await fetch(`${presenter.url}/readyz`, { signal: AbortSignal.timeout(1000) }).then((r) => r.ok, () => false);
    readiness.slowestMs = Math.max(readiness.slowestMs, performance.now() - t);
    if (ok) readiness.ok++;
    else readiness.failed++;
    await Bun.sleep(200);
  }
})();

// --- windows --------------------------------------------------------------------------------------
// Filters that match nothing (each page reads one scan window, decision 014), the same through the
// user's own namespace index, and the largest page of matches.
const expensive = (ns: string) => [
  'name=no-such-pod',
  'reason=NoSuchReason',
  'name=no-such-pod&type=Warning&kind=v1.Pod',
  'limit=1000&reason=NoSuchReason',
  `namespace=${ns}&name=no-such-pod`,
  'limit=1000',
];
// Keyed by status, and by code for 503s (`503 query_timeout`, `503 history_busy`, …).
const statuses = new Map<string, number>();
const historyMs: number[] = [];
/** One pressure slice: the load process runs until `untilMs`; its counts are added to the totals. */
async function runHistoryLoad(untilMs: number) {
  const configPath = join(dir, `history-load-${Math.round(untilMs)}.json`);
  const loadWorkers = Array.from({ length: workers }, (_, k) => {
    const reader = readers[k % readers.length]!;
    return { token: tokenOf(reader.username), queries: expensive(reader.namespaces[0]!) };
  });
  writeFileSync(configPath, JSON.stringify({ url: presenter.url, untilMs, paceMs, burn, workers: loadWorkers }));
  const child = Bun.spawn([...(pin || pinLoad ? ['taskset', '-c', String(lastCpu)] : []), 'bun', join(import.meta.dir, 'support', 'history-load.ts'), configPath], { stdout: 'pipe', stderr: 'inherit' });
  let pinning = pin;
  const pinner = (async () => {
    for (; pinning; await Bun.sleep(100)) await pinHistoryBackends();
  })();
  const output = await new Response(child.stdout).text();
  pinning = false;
  await pinner;
  if ((await child.exited) !== 0) throw new Error('the history load process failed');
  const result = JSON.parse(output) as { statuses: Record<string, number>; durationsMs: number[] };
  for (const [key, n] of Object.entries(result.statuses)) statuses.set(key, (statuses.get(key) ?? 0) + n);
  historyMs.push(...result.durationsMs);
}

type Span = [from: number, to: number];
const inSpans = (at: number, spans: Span[]) => spans.some(([from, to]) => at >= from && at < to);
const window = (spans: Span[], part: 'ms' | 'writeMs' | 'deliveryMs' = 'ms') =>
  latencies.filter((l) => inSpans(l.at, spans)).map((l) => l[part]).sort((a, b) => a - b);
// The machine's busy CPU seconds (both cores) and wall seconds, per kind of window.
const busy = { quiet: { cpu: 0, wall: 0 }, pressure: { cpu: 0, wall: 0 } };
const measureBusy = async (kind: keyof typeof busy, run: () => Promise<unknown>) => {
  const [cpu, wall] = [machineBusySeconds(), performance.now()];
  await run();
  busy[kind].cpu += machineBusySeconds() - cpu;
  busy[kind].wall += (performance.now() - wall) / 1000;
};
const producedIn = (spans: Span[]) => [...stampOf.values()].filter((at) => inSpans(at, spans)).length;
await Bun.sleep(numberFlag('warmup', 5) * 1000); // decisions warmed, first rows delivered, caches settled
// Quiet and pressure alternate in `rounds` slices, so a stall of the machine (a checkpoint, another
// process) lands in either kind of window with the same odds instead of deciding the baseline.
const quietSpans: Span[] = [];
const loadSpans: Span[] = [];
for (let round = 0; round < rounds; round++) {
  const quietFrom = nowMs();
  await measureBusy('quiet', () => Bun.sleep((quietSeconds * 1000) / rounds));
  quietSpans.push([quietFrom, nowMs()]);
  const loadFrom = nowMs();
  const loadUntil = loadFrom + (seconds * 1000) / rounds;
  await measureBusy('pressure', () => runHistoryLoad(loadUntil));
  // In-flight queries ran past `loadUntil`: the window lasts until the last one answered.
  loadSpans.push([loadFrom, nowMs()]);
  log(`round ${round + 1}/${rounds}: ${window(quietSpans.slice(-1)).length} quiet and ${window(loadSpans.slice(-1)).length} pressure samples`);
}
await Bun.sleep(1000); // the last rows of the window arrive
producing = false;
probing = false;
await Promise.all([producer, prober]);
const rss = processRssBytes(presenter.child.pid);

const quiet = window(quietSpans);
const loaded = window(loadSpans);
const cpuShare = (kind: keyof typeof busy) => (100 * busy[kind].cpu) / (busy[kind].wall * machineInfo().nproc);
const load = burn ? `CPU burner ${burn[0]} ms on / ${burn[1]} ms off (control)` : `${workers} history workers`;
const p = (xs: number[], q: number) => (xs.length ? percentile(xs, q) : Number.NaN);
const sortedHistory = historyMs.sort((a, b) => a - b);
const count = (key: string) => statuses.get(key) ?? 0;
const counted = ['200', '429', '503 query_timeout', '503 history_busy', '503 history_wait_timeout'];
const rows: ResultRow[] = [
  { bench: 'history-pressure', metric: `rows in the table`, value: rowCount, unit: 'rows' },
  { bench: 'history-pressure', metric: 'live latency p50, quiet', value: p(quiet, 50), unit: 'ms' },
  { bench: 'history-pressure', metric: 'live latency p99, quiet (baseline)', value: p(quiet, 99), unit: 'ms' },
  { bench: 'history-pressure', metric: `live latency p50, ${load}`, value: p(loaded, 50), unit: 'ms' },
  {
    bench: 'history-pressure', metric: `live latency p99, ${load}`, value: p(loaded, 99), unit: 'ms',
    baseline: p(quiet, 99), baselineName: 'quiet, same run', ratio: p(loaded, 99) / p(quiet, 99), target: '≤ 2×', met: p(loaded, 99) <= 2 * p(quiet, 99),
  },
  { bench: 'history-pressure', metric: `live latency max, ${load}`, value: loaded.at(-1) ?? Number.NaN, unit: 'ms' },
  { bench: 'history-pressure', metric: 'write part p99 (stamp → insert acknowledged), quiet', value: p(window(quietSpans, 'writeMs'), 99), unit: 'ms' },
  { bench: 'history-pressure', metric: `write part p99, ${load}`, value: p(window(loadSpans, 'writeMs'), 99), unit: 'ms' },
  { bench: 'history-pressure', metric: 'delivery part p99 (acknowledged → received), quiet', value: p(window(quietSpans, 'deliveryMs'), 99), unit: 'ms' },
  { bench: 'history-pressure', metric: `delivery part p99, ${load}`, value: p(window(loadSpans, 'deliveryMs'), 99), unit: 'ms' },
  { bench: 'history-pressure', metric: 'machine CPU busy, quiet windows', value: cpuShare('quiet'), unit: `% of ${machineInfo().nproc} cores` },
  { bench: 'history-pressure', metric: 'machine CPU busy, pressure windows', value: cpuShare('pressure'), unit: `% of ${machineInfo().nproc} cores` },
  { bench: 'history-pressure', metric: 'live rows received / written, pressure window', value: loaded.length, unit: `of ${producedIn(loadSpans)}` },
  {
    bench: 'history-pressure', metric: '/readyz failures, whole run', value: readiness.failed,
    unit: `of ${readiness.ok + readiness.failed}`, target: '0', met: readiness.failed === 0,
  },
  { bench: 'history-pressure', metric: '/readyz slowest answer', value: readiness.slowestMs, unit: 'ms' },
  { bench: 'history-pressure', metric: '/events answered 200', value: count('200'), unit: 'requests' },
  { bench: 'history-pressure', metric: '/events answered 200: p50 duration', value: p(sortedHistory, 50), unit: 'ms' },
  { bench: 'history-pressure', metric: '/events answered 429 (per-user cap)', value: count('429'), unit: 'requests' },
  { bench: 'history-pressure', metric: '/events answered 503 (statement timeout)', value: count('503 query_timeout'), unit: 'requests' },
  { bench: 'history-pressure', metric: '/events answered 503 (history queue full)', value: count('503 history_busy'), unit: 'requests' },
  { bench: 'history-pressure', metric: '/events answered 503 (waited too long for a connection)', value: count('503 history_wait_timeout'), unit: 'requests' },
  { bench: 'history-pressure', metric: '/events other answers', value: [...statuses].filter(([s]) => !counted.includes(s)).reduce((n, [, c]) => n + c, 0), unit: 'requests' },
  { bench: 'history-pressure', metric: 'presenter RSS at the end', value: Math.round(rss / 2 ** 20), unit: 'MB' },
];

presenter.child.kill('SIGTERM');
await presenter.child.exited;
await streamDone;
await admin.end();
await bench.dispose();
if (flag('keep-logs') === undefined) rmSync(dir, { recursive: true, force: true });
else log(`presenter logs kept in ${dir}`);
printResults(rows, { machine: machineInfo(), rows: rowCount, workers, seconds, quietSeconds, rounds, intervalMs, historyUsers, paceMs, burn, pin, presenterEnv });
