// Subprocess for bench/ingest.ts: the ingester's own list+watch code (lib/ingest/event-watch.ts over
// lib/kube/client.ts) with a sink that only counts, so the simulator→watch transport can be
// measured without the database. Prints `{"count":N,"ms":T}` when `target` versions were received.
// Usage: bun bench/support/watch-drain.ts <kubeconfig> <target>
import { runEventWatch } from '../../lib/ingest/event-watch.ts';
import { createKubeHttp, loadKubeConfig } from '../../lib/kube/client.ts';
import { silentLogger } from '../../lib/runtime/log.ts';

const [kubeconfigPath, targetText] = process.argv.slice(2);
const target = Number(targetText);
const http = createKubeHttp(loadKubeConfig({ kubeconfigPath, inCluster: false }));
const abort = new AbortController();
let count = 0;
let firstAt = 0;
void runEventWatch({
  http,
  signal: abort.signal,
  log: silentLogger,
  observer: { onEstablished: () => process.stdout.write('ESTABLISHED\n') },
  sink: () => {
    if (count++ === 0) firstAt = performance.now();
    if (count === target) {
      process.stdout.write(`${JSON.stringify({ count, ms: performance.now() - firstAt })}\n`);
      abort.abort();
      setTimeout(() => process.exit(0), 50);
    }
  },
});
