// Client process for bench/sse.ts: many EventSource-like fetch readers in one process.
// Config (a JSON file named by argv[2]): { clients: { url: string, headers?: Record<string,string> }[], openBatch?: number }
// Protocol on stdout: `OPEN <n> <ms>` once every stream answered 200 and sent its first bytes;
// on stdin line `REPORT [sinceEpochMs]`, prints `REPORT <json>` with latency (from `t=<epoch ms>` in each frame's
// data, written by the producer) and frame counts, then keeps reading; `EXIT` closes everything.
import { readFileSync } from 'node:fs';

interface Config {
  clients: { url: string; headers?: Record<string, string> }[];
  openBatch?: number;
}
const config = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as Config;
const nowMs = () => performance.timeOrigin + performance.now();

let latencies: number[] = [];
let sentAt: number[] = [];
const frames = new Uint32Array(config.clients.length);
let failures = 0;
const aborts: AbortController[] = [];
const marker = /t=(\d+\.\d+)/g;

async function open(index: number): Promise<void> {
  const { url, headers } = config.clients[index]!;
  const abort = new AbortController();
  aborts.push(abort);
  const response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal });
  if (response.status !== 200 || !response.body) {
    failures++;
    return;
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  const first = await reader.read();
  if (first.done) {
    failures++;
    return;
  }
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const text = decoder.decode(value, { stream: true });
        const received = nowMs();
        let match: RegExpExecArray | null;
        marker.lastIndex = 0;
        while ((match = marker.exec(text)) !== null) {
          const t = Number(match[1]);
          latencies.push(received - t);
          sentAt.push(t);
          frames[index]!++;
        }
      }
    } catch {
      // aborted
    }
  })();
}

const started = performance.now();
const batch = config.openBatch ?? 250;
for (let i = 0; i < config.clients.length; i += batch) {
  const end = Math.min(config.clients.length, i + batch);
  await Promise.all(Array.from({ length: end - i }, (_, k) => open(i + k).catch(() => void failures++)));
}
process.stdout.write(`OPEN ${config.clients.length - failures} ${Math.round(performance.now() - started)}\n`);

const decoder = new TextDecoder();
let pending = '';
for await (const chunk of Bun.stdin.stream()) {
  pending += decoder.decode(chunk, { stream: true });
  let nl: number;
  while ((nl = pending.indexOf('\n')) >= 0) {
    const command = pending.slice(0, nl).trim();
    pending = pending.slice(nl + 1);
    if (command.startsWith('REPORT')) {
      // `REPORT <since>`: only frames whose event was written at or after `since` (epoch ms).
      const since = Number(command.split(' ')[1] ?? 0);
      const sorted = latencies.filter((_, i) => sentAt[i]! >= since).sort((a, b) => a - b);
      const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
      let total = 0;
      let min = Infinity;
      let max = 0;
      for (const n of frames) {
        total += n;
        if (n < min) min = n;
        if (n > max) max = n;
      }
      process.stdout.write(
        `REPORT ${JSON.stringify({ samples: sorted.length, p50: at(50), p99: at(99), p999: at(99.9), max: sorted.at(-1) ?? Number.NaN, frames: total, min_per_client: min, max_per_client: max, failures })}\n`,
      );
      latencies = [];
      sentAt = [];
      frames.fill(0);
    } else if (command === 'EXIT') {
      for (const a of aborts) a.abort();
      process.exit(0);
    }
  }
}
