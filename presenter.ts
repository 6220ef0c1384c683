import { KubeConfig } from '@kubernetes/client-node';
import { ConfigError, loadPresenterConfig } from './lib/config.ts';
import { createSql, runMigrations, waitForDb } from './lib/db.ts';
import { createDiscoveryClient } from './lib/kube-discovery.ts';
import { createSecretReader } from './lib/kube-secrets.ts';
import { createLogger, errorFields } from './lib/log.ts';
import { startPresenter } from './lib/presenter-service.ts';
import { createTelemetry } from './lib/telemetry.ts';

const log = createLogger({ service: 'events-presenter' });
let config;
try {
  config = loadPresenterConfig(process.env);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  log.error('invalid configuration', { problems: err.problems });
  process.exit(2);
}
const runLog = config.debug ? createLogger({ service: 'events-presenter', level: 'debug' }) : log;

const kubeConfig = new KubeConfig();
if (config.kube.inCluster) kubeConfig.loadFromCluster();
else if (config.kube.kubeconfigPath) kubeConfig.loadFromFile(config.kube.kubeconfigPath);
else kubeConfig.loadFromDefault();

const probe = createSql(config.db.url, { max: 1, applicationName: 'events-presenter-probe', fetchTypes: false });
await waitForDb(probe, { timeoutMs: config.db.readyTimeoutMs, log: runLog });
await probe.end();
if (config.db.migrateOnStart) await runMigrations(config.db.url, { log: runLog });

const telemetry = createTelemetry({
  serviceName: 'events-presenter',
  enabled: config.otelEnabled,
  exportIntervalMs: config.otelExportIntervalMs,
  log: runLog,
});
const presenter = await startPresenter({
  settings: config,
  databaseUrl: config.db.url,
  readSecret: createSecretReader(kubeConfig),
  discovery: createDiscoveryClient(kubeConfig),
  log: runLog,
  meter: telemetry.meter,
  hostname: '0.0.0.0',
});

const shutdown = async (signal: string) => {
  runLog.info('shutting down', { signal });
  try {
    await presenter.stop();
    await telemetry.shutdown();
  } catch (err) {
    runLog.error('shutdown failed', errorFields(err));
    process.exit(1);
  }
  process.exit(0);
};
process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));
