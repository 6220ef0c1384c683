import type { Logger } from './log.ts';

/** The readiness answer: `ready` decides the status code; the rest is reported as JSON. */
export interface Readiness {
  ready: boolean;
  [detail: string]: unknown;
}

/** A running probe server. */
export interface ProbeServer extends AsyncDisposable {
  /** The bound port (useful when asked for port 0). */
  readonly port: number;
  stop(): Promise<void>;
}

/**
 * Serves `/livez` (200 while the process runs) and `/readyz` (200 when `readiness()` says ready,
 * else 503, with its details as JSON) on 127.0.0.1-or-all `hostname`:`port`; port 0 picks a free
 * port, which is logged.
 */
export function startProbeServer(options: {
  port: number;
  hostname?: string;
  readiness: () => Promise<Readiness> | Readiness;
  log: Logger;
}): ProbeServer {
  const server = Bun.serve({
    port: options.port,
    hostname: options.hostname ?? '0.0.0.0',
    reusePort: false,
    async fetch(request) {
      const { pathname } = new URL(request.url);
      if (pathname === '/livez') return Response.json({ status: 'ok' });
      if (pathname === '/readyz') {
        const readiness = await options.readiness();
        return Response.json(readiness, { status: readiness.ready ? 200 : 503 });
      }
      return Response.json({ error: 'not_found' }, { status: 404 });
    },
  });
  const port = server.port ?? options.port;
  options.log.info('probe server listening', { port });
  const stop = async () => {
    await server.stop(true);
  };
  return { port, stop, [Symbol.asyncDispose]: stop };
}
