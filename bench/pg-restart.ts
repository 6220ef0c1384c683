// Benchmark 7: PostgreSQL restart under load. Simulator → `bun ingester.ts` → PostgreSQL →
// `bun presenter.ts` → `--clients` SSE clients (10 users, each allowed by RBAC to list events in 5
// of the 50 namespaces: ~10 % of events each), open loop at `--rate` events/s. After a warm-up and
// a baseline window with no fault, the embedded server is stopped (`pg_ctl stop -m fast`), kept
// down `--down` seconds and started again while events keep flowing.
// Reported: rows lost/duplicated in the table (vs the simulator's history); frames lost/duplicated/
// out of order on every stream (received ids vs the rows its user may see, in seq order); streams
// that ended and reconnects (the clients reconnect with Last-Event-ID, as EventSource does); the time
// from PostgreSQL accepting connections to the first frame of a row committed after the restart, and
// to the delivery of every event written before it; latency after the restart vs the baseline window.
// Usage: bun bench/pg-restart.ts [--rate 2000] [--clients 300] [--warmup 5] [--baseline 10] [--down 3] [--after 10] [--keep-logs]
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { signDevToken } from '../dev/tokens.ts';
import { createEventGenerator } from './support/events.ts';
import { openBenchDatabase } from './support/pg.ts';
import { log, machineInfo, numberFlag, printResults, processCpuSeconds, type ResultRow } from './support/report.ts';
import { addListUsers, nowMs, spawnClients, spawnPresenter, startOpenLoop, stopSseStack } from './support/sse-stack.ts';
import { spawnIngester, startBenchSimulator } from './support/stack.ts';

const rate = numberFlag('rate', 2000);
const clientCount = numberFlag('clients', 300);
const warmupSeconds = numberFlag('warmup', 5);
const baselineSeconds = numberFlag('baseline', 10);
const downSeconds = numberFlag('down', 3);
const afterSeconds = numberFlag('after', 10);
const jwtKey = 'bench-signing-key-0123456789abcdefghij';
const authnNs = 'krateo-system';

await using db = await openBenchDatabase();
const pg = db.embedded;
if (!pg) throw new Error('pg-restart stops and starts the embedded server: run it without DATABASE_URL');
const generator = createEventGenerator({ seed: 41, objects: 1000 });
const bench = await startBenchSimulator({ tls: true, generator });
const sim = bench.sim;
const dir = mkdtempSync(join(tmpdir(), 'events-bench-pgrestart-'));
const users = Array.from({ length: 10 }, (_, k) => ({ username: `u${k}`, namespaces: generator.namespaces.filter((_, i) => i % 10 === k) }));
await addListUsers(sim, authnNs, users);

const presenter = await spawnPresenter({ databaseUrl: db.url, kubeconfigPath: bench.kubeconfigPath, jwtKey, authnNs, dir });
const ingester = await spawnIngester({ databaseUrl: db.url, kubeconfigPath: bench.kubeconfigPath });
await ingester.ready();
const clientUser = (i: number) => users[i % users.length]!;
const clients = await spawnClients(
  dir,
  Array.from({ length: clientCount }, (_, i) => ({ url: `${presenter.url}/notifications?token=${signDevToken({ key: jwtKey, username: clientUser(i).username })}` })),
  { recordIds: true, reconnect: true },
);
log(`${clients.opened}/${clientCount} clients open in ${clients.openMs} ms; ${rate} events/s`);
const producer = startOpenLoop(sim, generator, rate);

// --- baseline window: no fault ---------------------------------------------------------------------
await Bun.sleep(warmupSeconds * 1000);
await clients.report(); // discard warm-up
const baselineStart = nowMs();
await Bun.sleep(baselineSeconds * 1000);
const baseline = await clients.report(baselineStart);
log(`baseline ${JSON.stringify(baseline)}`);

// --- restart --------------------------------------------------------------------------------------
const cpu0 = { presenter: processCpuSeconds(presenter.child.pid), ingester: ingester.cpuSeconds() };
const stopAt = nowMs();
await pg.stop();
const stoppedAt = nowMs();
log(`PostgreSQL stopped in ${Math.round(stoppedAt - stopAt)} ms; down for ${downSeconds} s`);
await Bun.sleep(downSeconds * 1000);
await pg.start();
const upAt = nowMs(); // pg_ctl start -w returns once the server accepts connections
const probe = postgres(db.url, { max: 1, onnotice: () => {} });
const [{ max: maxSeqAtUp } = { max: 0 }] = await probe<{ max: number }[]>`select coalesce(max(seq), 0)::bigint::float8 as max from k8s_events`;
// First commit after the restart, seen by polling (± 20 ms).
let firstCommitAt = Number.NaN;
for (const deadline = nowMs() + 30_000; nowMs() < deadline; ) {
  const [row] = await probe<{ max: number }[]>`select coalesce(max(seq), 0)::bigint::float8 as max from k8s_events`;
  if ((row?.max ?? 0) > maxSeqAtUp) {
    firstCommitAt = nowMs();
    break;
  }
  await Bun.sleep(20);
}
log(`up ${Math.round(upAt - stoppedAt)} ms after stop; max seq then ${maxSeqAtUp}; first commit after +${Math.round(firstCommitAt - upAt)} ms`);
await Bun.sleep(Math.max(0, afterSeconds * 1000 - (nowMs() - upAt)));
await producer.stop();
const versions = sim.history().length;
// Drain: every version committed, then the streams quiet.
for (const deadline = nowMs() + 60_000; nowMs() < deadline; ) {
  const [row] = await probe<{ n: number }[]>`select count(*)::int as n from k8s_events`;
  if ((row?.n ?? 0) >= versions) break;
  await Bun.sleep(200);
}
await Bun.sleep(2000);
const cpu1 = { presenter: processCpuSeconds(presenter.child.pid), ingester: ingester.cpuSeconds() };
const after = await clients.report(stopAt); // events written from the stop on
const { ids, reconnects, seen } = await clients.ids();

// --- table vs simulator history ---------------------------------------------------------------------
const stored = await probe<{ k: string; seq: number; namespace: string }[]>`
  select uid || '/' || resource_version as k, seq::float8 as seq, namespace from k8s_events order by seq`;
const storedKeys = new Set(stored.map((r) => r.k));
const history = sim.history();
const tableLost = history.filter((e) => !storedKeys.has(`${e.metadata.uid}/${e.metadata.resourceVersion}`)).length;
const tableDup = stored.length - storedKeys.size;

// --- every stream vs the rows its user may see ---------------------------------------------------
let streamLost = 0;
let streamDup = 0;
let outOfOrder = 0;
let entitledTotal = 0;
let receivedTotal = 0;
const worst: string[] = [];
for (let i = 0; i < ids.length; i++) {
  const allowed = new Set(clientUser(i).namespaces);
  const entitled = stored.filter((r) => allowed.has(r.namespace)).map((r) => r.seq);
  const got = ids[i]!;
  const gotSet = new Set(got);
  const lost = entitled.filter((s) => !gotSet.has(s)).length;
  const dup = got.length - gotSet.size;
  let disorder = 0;
  for (let j = 1; j < got.length; j++) if (got[j]! <= got[j - 1]!) disorder++;
  streamLost += lost;
  streamDup += dup;
  outOfOrder += disorder;
  entitledTotal += entitled.length;
  receivedTotal += got.length;
  if ((lost || dup || disorder) && worst.length < 5) worst.push(`client ${i}: lost ${lost}, dup ${dup}, out of order ${disorder}, reconnects ${reconnects[i]}`);
}
if (worst.length) log(`stream problems: ${worst.join('; ')}`);

// --- catch-up ---------------------------------------------------------------------------------------
let firstFrameAfter = Infinity;
let backlogDelivered = 0;
for (const [seq, receivedAt, stamp] of seen) {
  if (seq > maxSeqAtUp && receivedAt < firstFrameAfter) firstFrameAfter = receivedAt;
  if (stamp < upAt && receivedAt > backlogDelivered) backlogDelivered = receivedAt;
}
const catchUpS = (firstFrameAfter - upAt) / 1000;
const backlogS = (backlogDelivered - upAt) / 1000;
const commitS = (firstCommitAt - upAt) / 1000;
const endedStreams = after.ended;
const reconnectTotal = reconnects.reduce((a, b) => a + b, 0);
const cpuNote = `presenter ${(cpu1.presenter - cpu0.presenter).toFixed(1)} CPU-s, ingester ${(cpu1.ingester - cpu0.ingester).toFixed(1)} CPU-s from the stop to the end`;
log(`catch-up ${catchUpS.toFixed(3)} s (first commit ${commitS.toFixed(3)} s), backlog ${backlogS.toFixed(3)} s; ${JSON.stringify(after)}; ${cpuNote}`);

await probe.end();
await stopSseStack({ clients, ingester, presenter, bench, dir });

const b = 'pg-restart';
const rows: ResultRow[] = [
  { bench: b, metric: 'table: rows lost (simulator versions not stored)', value: tableLost, unit: 'rows', baseline: versions, baselineName: 'versions', target: '0', met: tableLost === 0, note: `${stored.length} rows stored for ${versions} versions; PostgreSQL down ${((upAt - stopAt) / 1000).toFixed(1)} s (stop took ${Math.round(stoppedAt - stopAt)} ms)` },
  { bench: b, metric: 'table: rows duplicated', value: tableDup, unit: 'rows', target: '0', met: tableDup === 0 },
  { bench: b, metric: `streams: frames lost (${ids.length} streams vs rows each may see)`, value: streamLost, unit: 'frames', baseline: entitledTotal, baselineName: 'entitled', target: '0', met: streamLost === 0, note: `${receivedTotal} frames received, ${entitledTotal} entitled` },
  { bench: b, metric: 'streams: frames duplicated / out of seq order', value: streamDup + outOfOrder, unit: 'frames', target: '0', met: streamDup + outOfOrder === 0, note: `duplicated ${streamDup}, out of order ${outOfOrder}` },
  { bench: b, metric: 'streams: ended / reconnects', value: reconnectTotal, unit: 'reconnects', target: '0 (stay open)', met: endedStreams === 0 && reconnectTotal === 0, note: `${endedStreams} streams ended, ${reconnectTotal} reconnects (Last-Event-ID)` },
  { bench: b, metric: 'catch-up: PostgreSQL up → first frame of a row committed after restart', value: catchUpS, unit: 's', target: '≤ 0.5 s', met: catchUpS <= 0.5, note: `first commit after restart +${commitS.toFixed(3)} s (ingester reconnect; polled ±20 ms), so the presenter's own part is ${(catchUpS - commitS).toFixed(3)} s; ${cpuNote}` },
  { bench: b, metric: 'catch-up: PostgreSQL up → every event written before it delivered', value: backlogS, unit: 's', note: `${Math.round(rate * (upAt - stopAt) / 1000)} events written while PostgreSQL was down or stopping` },
  { bench: b, metric: `latency p50, events written from the stop on (${afterSeconds} s)`, value: after.p50, unit: 'ms', baseline: baseline.p50, baselineName: 'no-fault window', ratio: after.p50 / baseline.p50, note: `baseline window ${baselineSeconds} s: p50 ${baseline.p50.toFixed(1)} / p99 ${baseline.p99.toFixed(1)} / p99.9 ${baseline.p999.toFixed(1)} ms, ${baseline.samples} frames` },
  { bench: b, metric: 'latency p99, events written from the stop on', value: after.p99, unit: 'ms', baseline: baseline.p99, baselineName: 'no-fault window', ratio: after.p99 / baseline.p99 },
];
printResults(rows, { machine: machineInfo(), postgres: db.version, rate, clients: clientCount, downSeconds });
