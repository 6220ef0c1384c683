import { ConfigError, loadIngesterConfig } from './lib/config.ts';
import { startIngester } from './lib/ingester-app.ts';
import { createKubeHttp, loadKubeConfig } from './lib/kube-client.ts';
import { createLogger, errorFields } from './lib/log.ts';
import { createTelemetry } from './lib/telemetry.ts';

// Entry file: wiring only (config → logger → telemetry → ingester → signals).
let config;
try {
  config = loadIngesterConfig(process.env);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`${JSON.stringify({ level: 'error', msg: 'invalid configuration', service: 'events-ingester', problems: err.problems })}\n`);
  process.exit(2);
}
const log = createLogger({ service: 'events-ingester', level: config.debug ? 'debug' : 'info' });
const telemetry = createTelemetry({
  serviceName: 'events-ingester',
  enabled: config.otelEnabled,
  exportIntervalMs: config.otelExportIntervalMs,
  log,
});

try {
  const http = createKubeHttp(loadKubeConfig(config.kube));
  const ingester = await startIngester({ config, http, log, meter: telemetry.meter });
  let signalled = false;
  const shutdown = async (signal: string) => {
    if (signalled) return;
    signalled = true;
    log.info('shutdown requested', { signal, timeout_ms: config.shutdownTimeoutMs });
    const { lostRows } = await ingester.stop();
    await telemetry.shutdown(3000);
    process.exit(lostRows > 0 ? 1 : 0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
} catch (err) {
  log.error('ingester failed to start', errorFields(err));
  await telemetry.shutdown(1000);
  process.exit(1);
}
