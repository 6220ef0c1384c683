// Client process for the SSE benchmarks: many EventSource-like fetch readers in one process.
// Config (a JSON file named by argv[2]):
//   { clients: { url, headers? }[], openBatch?: number, recordIds?: boolean, reconnect?: boolean }
//   recordIds  parse frame by frame and keep every event frame's `id:` (seq) per client
//   reconnect  reopen an ended stream with `Last-Event-ID` (the last id seen), as EventSource does
// Protocol on stdout: `OPEN <n> <ms>` once every stream answered 200 and sent its first bytes;
// on stdin line `REPORT [sinceEpochMs]`, prints `REPORT <json>` with latency (from `t=<epoch ms>` in each frame's
// data, written by the producer) and frame counts, then keeps reading; `IDS <path>` writes the
// recorded ids to a file and prints `IDS <path>`; `EXIT` closes everything.
import { readFileSync, writeFileSync } from 'node:fs';

interface Config {
  clients: { url: string; headers?: Record<string, string> }[];
  openBatch?: number;
  recordIds?: boolean;
  reconnect?: boolean;
}
const config = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as Config;
const nowMs = () => performance.timeOrigin + performance.now();

let latencies: number[] = [];
let sentAt: number[] = [];
const frames = new Uint32Array(config.clients.length);
let failures = 0;
let ended = 0;
let reconnectsTotal = 0;
let exiting = false;
const aborts: AbortController[] = [];
const marker = /t=(\d+\.\d+)/g;
const idsOf: number[][] = config.clients.map(() => []);
const reconnects = new Uint32Array(config.clients.length);
const lastId: (string | undefined)[] = config.clients.map(() => undefined);
// seq → first receipt (epoch ms) and the producer's stamp, over all clients.
const seen = new Map<number, [number, number]>();

/** Fast path: only the `t=` stamps in whatever bytes arrived. */
function countStamps(index: number, text: string, received: number) {
  let match: RegExpExecArray | null;
  marker.lastIndex = 0;
  while ((match = marker.exec(text)) !== null) {
    const t = Number(match[1]);
    latencies.push(received - t);
    sentAt.push(t);
    frames[index]!++;
  }
}

/** Frame by frame (ids recorded): returns the unparsed tail. */
function parseFrames(index: number, text: string, received: number): string {
  let start = 0;
  for (;;) {
    const end = text.indexOf('\n\n', start);
    if (end < 0) return text.slice(start);
    const frame = text.slice(start, end);
    start = end + 2;
    const idMatch = /^id: (\d+)$/m.exec(frame);
    if (idMatch) lastId[index] = idMatch[1];
    if (!frame.includes('event: krateo') || !idMatch) continue;
    const seq = Number(idMatch[1]);
    idsOf[index]!.push(seq);
    const stamp = /t=(\d+\.\d+)/.exec(frame);
    const t = stamp ? Number(stamp[1]) : Number.NaN;
    if (!seen.has(seq)) seen.set(seq, [received, t]);
    if (stamp) {
      latencies.push(received - t);
      sentAt.push(t);
    }
    frames[index]!++;
  }
}

/** Opens stream `index`; resolves after its first bytes (or a failure). Reading continues in the background. */
async function open(index: number): Promise<boolean> {
  const { url, headers } = config.clients[index]!;
  const abort = new AbortController();
  aborts[index] = abort;
  const resume: Record<string, string> = lastId[index] === undefined ? {} : { 'last-event-id': lastId[index]! };
  const response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers, ...resume }, signal: abort.signal });
  if (response.status !== 200 || !response.body) return false;
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let tail = '';
  const consume = (value: Uint8Array) => {
    const text = decoder.decode(value, { stream: true });
    const received = nowMs();
    if (config.recordIds) tail = parseFrames(index, tail + text, received);
    else countStamps(index, text, received);
  };
  const first = await reader.read();
  if (first.done) return false;
  if (config.recordIds) consume(first.value);
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        consume(value);
      }
    } catch {
      // aborted or broken
    }
    if (exiting) return;
    ended++;
    if (!config.reconnect) return;
    // Reconnect like EventSource: a short pause, then resume after the last id seen.
    for (let attempt = 0; !exiting; attempt++) {
      await Bun.sleep(Math.min(1000, 100 * (attempt + 1)));
      reconnects[index]!++;
      reconnectsTotal++;
      if (await open(index).catch(() => false)) return;
    }
  })();
  return true;
}

const started = performance.now();
const batch = config.openBatch ?? 250;
for (let i = 0; i < config.clients.length; i += batch) {
  const end = Math.min(config.clients.length, i + batch);
  await Promise.all(Array.from({ length: end - i }, (_, k) => open(i + k).then((ok) => void (ok || failures++), () => void failures++)));
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
        `REPORT ${JSON.stringify({ samples: sorted.length, p50: at(50), p99: at(99), p999: at(99.9), max: sorted.at(-1) ?? Number.NaN, frames: total, min_per_client: min, max_per_client: max, failures, ended, reconnects: reconnectsTotal })}\n`,
      );
      latencies = [];
      sentAt = [];
      frames.fill(0);
    } else if (command.startsWith('IDS ')) {
      const path = command.slice(4).trim();
      writeFileSync(path, JSON.stringify({ ids: idsOf, reconnects: [...reconnects], seen: [...seen].map(([seq, [r, t]]) => [seq, r, t]) }));
      process.stdout.write(`IDS ${path}\n`);
    } else if (command === 'EXIT') {
      exiting = true;
      for (const a of aborts) a?.abort();
      process.exit(0);
    }
  }
}
