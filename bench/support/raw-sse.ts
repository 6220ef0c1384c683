// Baseline for bench/sse.ts: a minimal raw Bun.serve SSE broadcaster (no auth, no filtering, no
// database). GET /sse opens a stream; POST /broadcast?n=N writes N frames (each `data:` carrying
// `t=<epoch ms>` and padding to ≈ the presenter's frame size) to every stream, one frame per 1 ms
// tick batch. Prints `PORT <port>` on start.
const encoder = new TextEncoder();
const clients = new Set<ReadableStreamDefaultController<Uint8Array>>();
const padding = 'x'.repeat(Number(process.argv[2] ?? 600));
const nowMs = () => performance.timeOrigin + performance.now();

const server = Bun.serve({
  port: 0,
  hostname: '127.0.0.1',
  idleTimeout: 0,
  fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === '/sse') {
      let self: ReadableStreamDefaultController<Uint8Array>;
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          self = controller;
          clients.add(controller);
          controller.enqueue(encoder.encode(': open\n\n'));
        },
        cancel() {
          clients.delete(self);
        },
      });
      return new Response(stream, { headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' } });
    }
    if (url.pathname === '/broadcast') {
      const n = Number(url.searchParams.get('n') ?? 1);
      for (let i = 0; i < n; i++) {
        const frame = encoder.encode(`id: ${i}\nevent: krateo\ndata: {"message":"t=${nowMs().toFixed(3)} ${padding}"}\n\n`);
        for (const c of clients) {
          try {
            c.enqueue(frame);
          } catch {
            clients.delete(c);
          }
        }
      }
      return new Response(String(clients.size));
    }
    return new Response('not found', { status: 404 });
  },
});
process.stdout.write(`PORT ${server.port}\n`);
export {};
