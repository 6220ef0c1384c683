import { describe, expect, test } from 'bun:test';
import { createLogger } from '../lib/runtime/log.ts';
import { createTelemetry } from '../lib/runtime/telemetry.ts';
import { waitFor } from './support/wait.ts';

describe('telemetry', () => {
  test('metrics are exported as OTLP protobuf, and a collector that never answers holds shutdown for at most its timeout', async () => {
    const posts: { path: string; type: string | null; bytes: number }[] = [];
    let answer = true;
    const held: (() => void)[] = [];
    using collector = Bun.serve({
      port: 0,
      hostname: '127.0.0.1',
      async fetch(request) {
        const body = await request.arrayBuffer();
        posts.push({ path: new URL(request.url).pathname, type: request.headers.get('content-type'), bytes: body.byteLength });
        if (answer) return new Response(new Uint8Array(0), { headers: { 'content-type': 'application/x-protobuf' } });
        // A collector that hangs (until the test lets go, so no request outlives the test).
        return await new Promise<Response>((resolve) => held.push(() => resolve(new Response(null, { status: 503 }))));
      },
    });
    const lines: string[] = [];
    const log = createLogger({ service: 'test', write: (line) => lines.push(line) });
    const url = `http://127.0.0.1:${collector.port}/v1/metrics`;

    const first = createTelemetry({ serviceName: 'events-test', enabled: true, exportIntervalMs: 60_000, log, url });
    first.meter.createCounter('events_test.things').add(3);
    await first.shutdown(2000);
    expect(posts).toEqual([{ path: '/v1/metrics', type: 'application/x-protobuf', bytes: expect.any(Number) }]);
    expect(posts[0]!.bytes).toBeGreaterThan(0);

    answer = false;
    const second = createTelemetry({ serviceName: 'events-test', enabled: true, exportIntervalMs: 60_000, log, url });
    second.meter.createCounter('events_test.things').add(1);
    const stopping = second.shutdown(300);
    await waitFor(() => held.length === 1, { what: 'the export the collector holds' });
    // The collector never answers while shutdown is awaited: it returns without the answer.
    await stopping;
    expect({ held: held.length, answered: posts.length }).toEqual({ held: 1, answered: 2 });
    expect(lines.some((l) => JSON.parse(l).msg === 'metrics shutdown timed out')).toBe(true);
    for (const release of held) release();
  });
});
