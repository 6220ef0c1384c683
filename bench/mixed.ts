// Benchmark 8: mixed load. Open loop at `--rate` events/s through simulator → `bun ingester.ts` →
// PostgreSQL → `bun presenter.ts` → `--clients` SSE streams in one client process. `--users`
// distinct users (clients spread round-robin over them), `--namespaces` namespaces, each user allowed
// by RBAC to list events in `--ns-per-user` of them, each namespace given to the same number of users:
// every event is visible to clients × ns-per-user / namespaces clients (10 with the defaults).
// Measured over a steady window after `--warmup` s: CPU of the ingester and the presenter only
// (/proc/<pid>/stat; PostgreSQL, the simulator = this process, and the clients listed separately)
// and delivery latency (the simulator's write → receipt) p50/p99/p99.9.
// AUTHZ_CACHE_TTL is `--authz-ttl` (default 1h) so the window measures steady fan-out, not the
// re-asking of users × namespaces access reviews (the decisions are warmed during the warm-up).
// The presenter decides visibility per (user, namespace) with one SelfSubjectAccessReview each, so
// the warm-up needs users × namespaces reviews: the default 100 users × 1,000 namespaces (100k
// reviews; each user's namespace is seen by its 100 clients, 10 per event on average) is what a
// run can warm; 1,000 users × 1,000 namespaces (exactly 10 clients per event) needs 1M reviews.
// Usage: bun bench/mixed.ts [--rate 2000] [--clients 10000] [--users 100] [--namespaces 1000]
//        [--ns-per-user 1] [--warmup 60] [--seconds 20] [--authz-ttl 1h] [--keep-logs]
// `--keep-logs`: keep the presenter's log folder (printed) instead of removing it.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signDevToken } from '../dev/tokens.ts';
import { createEventGenerator } from './support/events.ts';
import { openBenchDatabase } from './support/pg.ts';
import { flag, log, machineBusySeconds, machineInfo, numberFlag, printResults, processCpuSeconds, processRssBytes, type ResultRow } from './support/report.ts';
import { addListUsers, nowMs, spawnClients, spawnPresenter, startOpenLoop, stopSseStack } from './support/sse-stack.ts';
import { postgresCpuSeconds, spawnIngester, startBenchSimulator } from './support/stack.ts';

const rate = numberFlag('rate', 2000);
const clientCount = numberFlag('clients', 10_000);
const userCount = numberFlag('users', 100);
const namespaceCount = numberFlag('namespaces', 1000);
const nsPerUser = numberFlag('ns-per-user', 1);
const warmupSeconds = numberFlag('warmup', 60);
const seconds = numberFlag('seconds', 20);
const authzTtl = flag('authz-ttl', '1h');
const jwtKey = 'bench-signing-key-0123456789abcdefghij';
const authnNs = 'krateo-system';
const visiblePerEvent = (clientCount * nsPerUser) / namespaceCount;

await using db = await openBenchDatabase();
const generator = createEventGenerator({ seed: 51, namespaces: namespaceCount, objects: Math.max(1000, namespaceCount) });
const bench = await startBenchSimulator({ tls: true, generator });
const sim = bench.sim;
const dir = mkdtempSync(join(tmpdir(), 'events-bench-mixed-'));
// User k lists events in namespaces (k + j·users) mod namespaces, j < ns-per-user: each namespace
// goes to users × ns-per-user / namespaces users.
const users = Array.from({ length: userCount }, (_, k) => ({
  username: `m${k}`,
  namespaces: Array.from({ length: nsPerUser }, (_, j) => generator.namespaces[(k + j * userCount) % namespaceCount]!),
}));
const setupStart = performance.now();
await addListUsers(sim, authnNs, users);
log(`${userCount} users with clientconfig secrets in ${Math.round(performance.now() - setupStart)} ms`);

const presenter = await spawnPresenter({ databaseUrl: db.url, kubeconfigPath: bench.kubeconfigPath, jwtKey, authnNs, dir, env: { AUTHZ_CACHE_TTL: authzTtl } });
const ingester = await spawnIngester({ databaseUrl: db.url, kubeconfigPath: bench.kubeconfigPath });
await ingester.ready();
const tokens = users.map((u) => signDevToken({ key: jwtKey, username: u.username }));
const clients = await spawnClients(dir, Array.from({ length: clientCount }, (_, i) => ({ url: `${presenter.url}/notifications?token=${tokens[i % userCount]}` })));
log(`${clients.opened}/${clientCount} clients open in ${clients.openMs} ms; presenter RSS ${Math.round(processRssBytes(presenter.child.pid) / 2 ** 20)} MB; ${rate} events/s, ~${visiblePerEvent} clients per event`);

const producer = startOpenLoop(sim, generator, rate);
for (let s = 0; s < warmupSeconds; s += 5) {
  await Bun.sleep(5000);
  const r = await clients.report(nowMs() - 5000);
  log(`warm-up +${s + 5}s: ${r.frames} frames in 5 s (expected ≈ ${Math.round(rate * 5 * visiblePerEvent)}), ${r.samples} of events written in those 5 s: p50 ${r.p50?.toFixed(1)} p99 ${r.p99?.toFixed(1)} ms`);
}
await clients.report(); // discard warm-up
const windowStart = nowMs();
const cpu = () => ({
  presenter: processCpuSeconds(presenter.child.pid),
  ingester: ingester.cpuSeconds(),
  postgres: postgresCpuSeconds(db.embedded?.pid),
  clients: processCpuSeconds(clients.pid),
  simulator: processCpuSeconds(process.pid),
  machine: machineBusySeconds(),
});
const cpu0 = cpu();
const created0 = producer.created;
const byNamespace0 = producer.createdByNamespace();
const t0 = performance.now();
await Bun.sleep(seconds * 1000);
const cpu1 = cpu();
const wall = (performance.now() - t0) / 1000;
await producer.stop();
const createdInWindow = producer.created - created0; // every event stamped after the window start
// Exact, not the average: the window's events per namespace × the clients entitled to that namespace.
const clientsOfNamespace = new Map<string, number>();
for (let i = 0; i < clientCount; i++) {
  for (const ns of users[i % userCount]!.namespaces) clientsOfNamespace.set(ns, (clientsOfNamespace.get(ns) ?? 0) + 1);
}
let expected = 0;
for (const [ns, n] of producer.createdByNamespace()) expected += (n - (byNamespace0.get(ns) ?? 0)) * (clientsOfNamespace.get(ns) ?? 0);
await Bun.sleep(3000); // let the window's last events arrive
const raw = await clients.report(windowStart);
// No sample in the window (still draining older events): JSON turned NaN into null.
const report = { ...raw, p50: raw.p50 ?? Number.NaN, p99: raw.p99 ?? Number.NaN, p999: raw.p999 ?? Number.NaN };
const used = Object.fromEntries(Object.entries(cpu1).map(([k, v]) => [k, +((v - cpu0[k as keyof typeof cpu0]) / wall).toFixed(3)])) as Record<keyof typeof cpu0, number>;
const stackCores = used.presenter + used.ingester;
const cpuNote = `cores over the ${wall.toFixed(1)} s window: presenter ${used.presenter}, ingester ${used.ingester}; excluded: PostgreSQL ${used.postgres}, clients ${used.clients}, simulator ${used.simulator}; machine busy ${used.machine} of 2`;
log(`${JSON.stringify(report)}; ${cpuNote}`);
const presenterRss = processRssBytes(presenter.child.pid);

await stopSseStack({ clients, ingester, presenter, bench, dir });

const scale = `${rate}/s × ${clientCount} clients (${userCount} users, ${namespaceCount} ns, ~${visiblePerEvent}/event)`;
const rows: ResultRow[] = [
  { bench: 'mixed', metric: `${scale}: ingester + presenter CPU`, value: stackCores, unit: 'cores', target: '≤ 0.5 core', met: stackCores <= 0.5, note: cpuNote },
  { bench: 'mixed', metric: `${scale}: latency p50`, value: report.p50, unit: 'ms', target: '≤ 10 ms', met: report.p50 <= 10, note: `${report.samples} frames received for the window's ${createdInWindow} events vs ${Math.round(expected)} expected; ${clients.opened} streams open; presenter RSS ${Math.round(presenterRss / 2 ** 20)} MB` },
  { bench: 'mixed', metric: `${scale}: latency p99`, value: report.p99, unit: 'ms', target: '≤ 30 ms', met: report.p99 <= 30 },
  { bench: 'mixed', metric: `${scale}: latency p99.9`, value: report.p999, unit: 'ms', target: '≤ 100 ms', met: report.p999 <= 100 },
  { bench: 'mixed', metric: `${scale}: frames delivered / expected`, value: report.samples, unit: 'frames', baseline: expected, baselineName: 'expected', ratio: report.samples / expected, target: 'equal', met: report.samples === expected },
];
printResults(rows, { machine: machineInfo(), postgres: db.version, rate, clients: clientCount, users: userCount, namespaces: namespaceCount, nsPerUser, cores: used });
