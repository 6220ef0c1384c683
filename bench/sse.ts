// Benchmark 5: the presenter's SSE path, `bun presenter.ts` as a real subprocess.
//   latency   simulator write → ingester → PostgreSQL → presenter → SSE client receipt, open loop at
//             `--rate` events/s, `--latency-clients` clients (10 users, each allowed by RBAC to list
//             events in 5 of the 50 namespaces, so each client is entitled to ~10 % of events).
//   capacity  `--clients` idle authorised streams on one presenter: RSS per client; then fan-out:
//             `--fanout-events` rows inserted straight into the table, every client entitled to
//             every event: presenter CPU per frame delivered.
// Baseline in the same run: a minimal raw Bun.serve SSE broadcaster (bench/support/raw-sse.ts)
// with the same number of clients and frames. Clients run in one separate process
// (bench/support/sse-clients.ts); their CPU competes with the server's on this 2-core machine.
// Usage: bun bench/sse.ts [--mode latency,capacity] [--rate 1000] [--seconds 20] [--warmup 10] [--entitle all]
//        [--latency-clients 1000] [--clients 19000] [--fanout-events 50] [--profile-presenter <dir>]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signDevToken } from '../dev/tokens.ts';
import { createSql } from '../lib/storage/db.ts';
import { insertEventRows } from '../lib/storage/event-store.ts';
import { createEventGenerator, generateStoredEvents, toRecords } from './support/events.ts';
import { openBenchDatabase } from './support/pg.ts';
import { flag, log, machineInfo, numberFlag, printResults, processCpuSeconds, processRssBytes, type ResultRow } from './support/report.ts';
import { addListUsers, nowMs, spawnClients as spawnClientProcess, spawnPresenter as spawnPresenterProcess, startOpenLoop } from './support/sse-stack.ts';
import { spawnIngester, startBenchSimulator } from './support/stack.ts';

const modes = (flag('mode') ?? 'latency,capacity').split(',');
const rate = numberFlag('rate', 1000);
const seconds = numberFlag('seconds', 20);
const latencyClients = numberFlag('latency-clients', 1000);
const capacityClients = numberFlag('clients', 19_000);
const fanoutEvents = numberFlag('fanout-events', 50);
const warmupSeconds = numberFlag('warmup', 10);
// `--entitle all`: every latency client may see every event (the 10,000 clients × 10 ev/s case).
const entitleAll = flag('entitle') === 'all';
const jwtKey = 'bench-signing-key-0123456789abcdefghij';
const authnNs = 'krateo-system';

await using db = await openBenchDatabase();
// 1,000 involved objects: the ingester's composition-lookup cache is warm after the warm-up, as in a
// long-running deployment (a first-seen object costs one lookup before its events are written).
const generator = createEventGenerator({ seed: 31, objects: 1000 });
const bench = await startBenchSimulator({ tls: true, generator });
const sim = bench.sim;
const dir = mkdtempSync(join(tmpdir(), 'events-bench-sse-'));

// Users: u0..u9 each list events in the 5 namespaces with index % 10 == k; `all` everywhere.
const users = Array.from({ length: 10 }, (_, k) => ({ username: `u${k}`, namespaces: generator.namespaces.filter((_, i) => i % 10 === k) }));
await addListUsers(sim, authnNs, [...users, { username: 'all' }]);
const token = (username: string) => signDevToken({ key: jwtKey, username });

// `--profile-presenter <dir>`: a CPU profile (markdown) of each presenter, written when it exits.
const profileDir = flag('profile-presenter');
const spawnPresenter = () => spawnPresenterProcess({ databaseUrl: db.url, kubeconfigPath: bench.kubeconfigPath, jwtKey, authnNs, dir, profileDir });
const spawnClients = (clients: { url: string }[]) => spawnClientProcess(dir, clients);

const rows: ResultRow[] = [];

// --- latency: simulator → ingester → PostgreSQL → presenter → client ----------------------------
if (modes.includes('latency')) {
  const presenter = await spawnPresenter();
  const ingester = await spawnIngester({ databaseUrl: db.url, kubeconfigPath: bench.kubeconfigPath });
  await ingester.ready();
  const clients = await spawnClients(
    Array.from({ length: latencyClients }, (_, i) => ({ url: `${presenter.url}/notifications?token=${token(entitleAll ? 'all' : users[i % users.length]!.username)}` })),
  );
  log(`latency: ${clients.opened} clients open in ${clients.openMs} ms; ${rate} events/s for ${seconds} s (+${warmupSeconds} s warm-up)`);
  const producer = startOpenLoop(sim, generator, rate);
  await Bun.sleep(warmupSeconds * 1000);
  await clients.report(); // discard warm-up
  const windowStart = nowMs();
  const cpu0 = { presenter: processCpuSeconds(presenter.child.pid), ingester: ingester.cpuSeconds(), clients: processCpuSeconds(clients.pid), sim: processCpuSeconds(process.pid) };
  const created0 = producer.created;
  await Bun.sleep(seconds * 1000);
  await producer.stop(); // stop producing, then let the last events arrive
  const createdInWindow = producer.created - created0;
  await Bun.sleep(2000);
  const report = await clients.report(windowStart);
  const cpu1 = { presenter: processCpuSeconds(presenter.child.pid), ingester: ingester.cpuSeconds(), clients: processCpuSeconds(clients.pid), sim: processCpuSeconds(process.pid) };
  const cpuNote = `CPU over ${seconds} s: presenter ${(cpu1.presenter - cpu0.presenter).toFixed(1)} s, ingester ${(cpu1.ingester - cpu0.ingester).toFixed(1)} s, clients ${(cpu1.clients - cpu0.clients).toFixed(1)} s, simulator ${(cpu1.sim - cpu0.sim).toFixed(1)} s`;
  log(`latency ${JSON.stringify(report)}; ${cpuNote}`);
  const share = entitleAll ? 1 : 0.1;
  const expected = createdInWindow * latencyClients * share;
  const base = `e2e latency, ${rate}/s × ${latencyClients} clients @${share * 100}%`;
  rows.push(
    { bench: 'sse', metric: `${base} p50`, value: report.p50, unit: 'ms', target: '≤ 10 ms', met: report.p50 <= 10, note: `${report.samples} frames received for the window's events vs ≈ ${Math.round(expected)} expected (${share * 100} % × clients × ${createdInWindow} events); ${cpuNote}` },
    { bench: 'sse', metric: `${base} p99`, value: report.p99, unit: 'ms', target: entitleAll ? '≤ 150 ms' : '≤ 30 ms', met: report.p99 <= (entitleAll ? 150 : 30) },
    { bench: 'sse', metric: `${base} p99.9`, value: report.p999, unit: 'ms', target: '≤ 100 ms', met: report.p999 <= 100 },
  );
  await clients.exit();
  await ingester.stop();
  ingester.removeLogs();
  presenter.child.kill('SIGTERM');
  await presenter.child.exited;
}

// --- capacity and fan-out ----------------------------------------------------------------------
if (modes.includes('capacity')) {
  const sql = createSql(db.url, { max: 1 });
  const fanRecords = toRecords(generateStoredEvents(fanoutEvents, { seed: 77 }));
  // Presenter.
  const presenter = await spawnPresenter();
  const rss0 = processRssBytes(presenter.child.pid);
  const clients = await spawnClients(Array.from({ length: capacityClients }, () => ({ url: `${presenter.url}/notifications?token=${token('all')}` })));
  await Bun.sleep(2000);
  const rss1 = processRssBytes(presenter.child.pid);
  log(`presenter: ${clients.opened}/${capacityClients} clients open in ${clients.openMs} ms; RSS ${Math.round(rss0 / 2 ** 20)} → ${Math.round(rss1 / 2 ** 20)} MB`);
  await clients.report();
  let cpu0 = processCpuSeconds(presenter.child.pid);
  let t0 = performance.now();
  for (const record of fanRecords) {
    await insertEventRows(sql, [{ ...record, message: `t=${nowMs().toFixed(3)} ${record.message ?? ''}` }]);
    await Bun.sleep(20);
  }
  // Wait until every client got every frame (or 60 s).
  let report = await clients.report();
  let frames = report.frames;
  const fanDeadline = performance.now() + 60_000;
  while (frames < fanRecords.length * clients.opened && performance.now() < fanDeadline) {
    await Bun.sleep(500);
    report = await clients.report();
    frames += report.frames;
  }
  // Includes idle heartbeats and the NOTIFY/read path: all the presenter spends to deliver them.
  const presenterCpu = processCpuSeconds(presenter.child.pid) - cpu0;
  const presenterFanMs = performance.now() - t0;
  await clients.exit();
  presenter.child.kill('SIGTERM');
  await presenter.child.exited;
  await sql.end();

  // Raw baseline.
  const rawChild = Bun.spawn(['bun', join(import.meta.dir, 'support', 'raw-sse.ts'), '600'], { stdout: 'pipe', stderr: 'inherit' });
  const rawReader = rawChild.stdout.getReader();
  let rawOut = '';
  while (!rawOut.includes('\n')) rawOut += new TextDecoder().decode((await rawReader.read()).value);
  const rawPort = Number(/PORT (\d+)/.exec(rawOut)![1]);
  await Bun.sleep(200);
  const rawRss0 = processRssBytes(rawChild.pid);
  const rawClients = await spawnClients(Array.from({ length: capacityClients }, () => ({ url: `http://127.0.0.1:${rawPort}/sse` })));
  await Bun.sleep(2000);
  const rawRss1 = processRssBytes(rawChild.pid);
  await rawClients.report();
  cpu0 = processCpuSeconds(rawChild.pid);
  t0 = performance.now();
  for (let i = 0; i < fanoutEvents; i++) {
    await fetch(`http://127.0.0.1:${rawPort}/broadcast?n=1`);
    await Bun.sleep(20);
  }
  let rawFrames = 0;
  const rawDeadline = performance.now() + 60_000;
  while (rawFrames < fanoutEvents * rawClients.opened && performance.now() < rawDeadline) {
    await Bun.sleep(500);
    rawFrames += (await rawClients.report()).frames;
  }
  const rawCpu = processCpuSeconds(rawChild.pid) - cpu0;
  void t0;
  await rawClients.exit();
  rawChild.kill();

  const perClient = (rss1 - rss0) / Math.max(1, clients.opened);
  const rawPerClient = (rawRss1 - rawRss0) / Math.max(1, rawClients.opened);
  const cpuPerFrameUs = (presenterCpu / Math.max(1, frames)) * 1e6;
  const rawCpuPerFrameUs = (rawCpu / Math.max(1, rawFrames)) * 1e6;
  rows.push(
    { bench: 'sse', metric: 'concurrent authorised clients on one presenter', value: clients.opened, unit: 'clients', baseline: rawClients.opened, baselineName: 'raw Bun.serve', ratio: clients.opened / Math.max(1, rawClients.opened), target: '≥ 19,000', met: clients.opened >= 19_000, note: `connected in ${clients.openMs} ms` },
    { bench: 'sse', metric: 'RSS per idle client', value: perClient / 1024, unit: 'KB', baseline: rawPerClient / 1024, baselineName: 'raw Bun.serve', ratio: perClient / rawPerClient, target: '≤ 6 KB', met: perClient / 1024 <= 6, note: `presenter RSS ${Math.round(rss0 / 2 ** 20)} → ${Math.round(rss1 / 2 ** 20)} MB` },
    { bench: 'sse', metric: 'fan-out: frames/s per presenter core (1 / CPU per frame)', value: 1e6 / cpuPerFrameUs, unit: 'frames/s', baseline: 1e6 / rawCpuPerFrameUs, baselineName: 'raw Bun.serve', ratio: rawCpuPerFrameUs / cpuPerFrameUs, target: '≥ 150,000', met: 1e6 / cpuPerFrameUs >= 150_000, note: `presenter ${cpuPerFrameUs.toFixed(2)} µs CPU/frame (${frames} frames in ${(presenterFanMs / 1000).toFixed(1)} s) vs raw ${rawCpuPerFrameUs.toFixed(2)} µs (${rawFrames} frames); target ≤ 1.3× raw CPU/frame` },
  );
}

await bench.dispose();
rmSync(dir, { recursive: true, force: true });
printResults(rows, { machine: machineInfo(), postgres: db.version, rate, seconds, latencyClients, capacityClients });
