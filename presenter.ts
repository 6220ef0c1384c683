// Entry file: wiring only (config → logger → telemetry → database ready and migrated → service → signals).
import consolePage from './console/index.html';
import { existsSync, readFileSync } from 'node:fs';
import { createDiscoveryClient } from './lib/kube/discovery.ts';
import { loadKubeConfig } from './lib/kube/client.ts';
import { createSecretReader } from './lib/presenter/access/secret-reader.ts';
import { startPresenter } from './lib/presenter/presenter.ts';
import { startPresenterProcess } from './lib/presenter/startup.ts';
import { loadPresenterConfig } from './lib/runtime/config.ts';
import { createLogger } from './lib/runtime/log.ts';
import { loadConfigOrExit, startOrExit, stopOnSignals } from './lib/runtime/service-process.ts';
import { createTelemetry } from './lib/runtime/telemetry.ts';
import { prepareDatabase } from './lib/storage/db.ts';

const service = 'events-presenter';
const config = loadConfigOrExit(service, () => loadPresenterConfig(process.env));
const log = createLogger({ service, level: config.debug ? 'debug' : 'info' });
const telemetry = createTelemetry({ serviceName: service, enabled: config.otelEnabled, exportIntervalMs: config.otelExportIntervalMs, prometheusPort: config.prometheusPort, log });

const presenter = await startOrExit(log, telemetry, () =>
  startPresenterProcess(telemetry.meter, {
    prepareDatabase: (onReady) => prepareDatabase(config.db, { log, applicationName: `${service}-probe`, onReady }),
    start: (metrics) => {
      const kubeConfig = loadKubeConfig(config.kube);
      // CLUSTER_NAME is required in a pod (config); elsewhere the kubeconfig names the cluster.
      const clusterName = config.clusterName ?? kubeConfig.getCurrentCluster()?.name;
      if (!clusterName) throw new Error('CLUSTER_NAME is not set and the kubeconfig names no cluster');
      const { inClusterApi } = config;
      return startPresenter({
        settings: { ...config, clusterName },
        inClusterApi: inClusterApi && { url: inClusterApi.url, caPem: existsSync(inClusterApi.caFile) ? readFileSync(inClusterApi.caFile, 'utf8') : undefined },
        databaseUrl: config.db.url,
        databaseSchema: config.db.schema,
        readSecret: createSecretReader(kubeConfig),
        discovery: createDiscoveryClient(kubeConfig),
        log,
        metrics,
        hostname: config.host,
        consolePage,
      });
    },
  }),
);

stopOnSignals(log, telemetry, async () => {
  await presenter.stop();
  return 0;
});
