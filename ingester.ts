// Entry file: wiring only (config → logger → telemetry → database ready and migrated → service → signals).
import { startIngester } from './lib/ingest/ingester.ts';
import { createKubeHttp, loadKubeConfig } from './lib/kube/client.ts';
import { loadIngesterConfig } from './lib/runtime/config.ts';
import { createLogger } from './lib/runtime/log.ts';
import { loadConfigOrExit, startOrExit, stopOnSignals } from './lib/runtime/service-process.ts';
import { createTelemetry } from './lib/runtime/telemetry.ts';
import { prepareDatabase } from './lib/storage/db.ts';

const service = 'events-ingester';
const config = loadConfigOrExit(service, () => loadIngesterConfig(process.env));
const log = createLogger({ service, level: config.debug ? 'debug' : 'info' });
const telemetry = createTelemetry({ serviceName: service, enabled: config.otelEnabled, exportIntervalMs: config.otelExportIntervalMs, prometheusPort: config.prometheusPort, log });

const ingester = await startOrExit(log, telemetry, async () => {
  await prepareDatabase(config.db, { log, applicationName: `${service}-probe` });
  const http = createKubeHttp(loadKubeConfig(config.kube));
  return startIngester({ config, http, log, meter: telemetry.meter });
});

stopOnSignals(log, telemetry, async () => {
  const { lostRows } = await ingester.stop();
  return lostRows > 0 ? 1 : 0;
});
