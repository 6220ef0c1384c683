// Load process for the history-pressure benchmark: `workers` loops of `/events` requests, each as
// its own user, until an epoch-ms deadline. It runs apart from the process that measures live
// delivery, as the other users' browsers would: a few hundred answers a second parsed on the
// measuring process's event loop would delay the very receipts it times.
// Config (a JSON file named by argv[2]):
//   { url, untilMs, paceMs?, burn?: [busyMs, idleMs], workers: { token, queries: string[] }[] }
//   paceMs  each worker pauses this long after every answer (a per-user request rate)
//   burn    the control: no request at all, the CPU kept busy `busyMs` then idle `idleMs` in turn
// Prints one line on stdout when the last request answered:
//   { statuses: { [status or "503 <code>"]: count }, durationsMs: number[] (200 answers) }
import { readFileSync } from 'node:fs';

interface Config {
  url: string;
  untilMs: number;
  paceMs?: number;
  burn?: [busyMs: number, idleMs: number];
  workers: { token: string; queries: string[] }[];
}
const config = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as Config;
const nowMs = () => performance.timeOrigin + performance.now();
const statuses: Record<string, number> = {};
const durationsMs: number[] = [];

async function runWorker(k: number, worker: Config['workers'][number]) {
  for (let i = 0; nowMs() < config.untilMs; i++) {
    const t = performance.now();
    const query = worker.queries[(k + i) % worker.queries.length];
    const response = await fetch(`${config.url}/events?${query}`, { headers: { authorization: `Bearer ${worker.token}` } }).catch(() => undefined);
    const body = await response?.text();
    const status = response?.status ?? 0;
    const key = status === 503 ? `503 ${(JSON.parse(body!) as { code: string }).code}` : String(status);
    statuses[key] = (statuses[key] ?? 0) + 1;
    if (status === 200) durationsMs.push(performance.now() - t);
    // A 429 or 503 says when to come back: honoured as a client would, briefly.
    if (status === 429 || status === 503) await Bun.sleep(Number(response!.headers.get('retry-after') ?? 1) * 100);
    if (config.paceMs) await Bun.sleep(config.paceMs);
  }
}

async function burnCpu([busyMs, idleMs]: [number, number]) {
  while (nowMs() < config.untilMs) {
    const started = performance.now();
    while (performance.now() - started < busyMs) {
      // spin: the point is to occupy a core
    }
    await Bun.sleep(idleMs);
  }
}

if (config.burn) await burnCpu(config.burn);
else await Promise.all(config.workers.map((worker, k) => runWorker(k, worker)));
process.stdout.write(`${JSON.stringify({ statuses, durationsMs })}\n`);
