import { metrics as otelMetrics, type Meter } from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader, TimeoutError, type IMetricReader } from '@opentelemetry/sdk-metrics';
import { errorFields, type Logger } from './log.ts';

/** A meter plus the means to flush and stop it. */
export interface Telemetry {
  meter: Meter;
  /** Flushes and stops the exporter; never takes longer than `timeoutMs` (a collector that is down must not hold up shutdown). */
  shutdown(timeoutMs?: number): Promise<void>;
}

/**
 * Creates the service's meter. When `enabled`, metrics are exported as OTLP/protobuf over HTTP every
 * `exportIntervalMs` (endpoint and headers from the standard `OTEL_EXPORTER_OTLP_*` variables, which
 * the exporter reads itself). With `prometheusPort`, the same metrics are also served for scraping
 * at `GET /metrics` on that port (a second reader; either works without the other). With neither,
 * the meter records nothing. `reader` replaces the OTLP exporter (tests pass an in-memory reader).
 */
export function createTelemetry(options: {
  serviceName: string;
  enabled: boolean;
  exportIntervalMs: number;
  log: Logger;
  reader?: IMetricReader;
  /** Full OTLP metrics URL (`…/v1/metrics`); by default the exporter reads `OTEL_EXPORTER_OTLP_*`. */
  url?: string;
  /** Serve `GET /metrics` (Prometheus text format) on this port, on every interface. */
  prometheusPort?: number;
}): Telemetry {
  const readers: IMetricReader[] = [];
  if (options.reader) readers.push(options.reader);
  else if (options.enabled) {
    readers.push(
      new PeriodicExportingMetricReader({
        exporter: new OTLPMetricExporter(options.url ? { url: options.url } : {}),
        exportIntervalMillis: options.exportIntervalMs,
        exportTimeoutMillis: Math.min(options.exportIntervalMs, 10_000),
      }),
    );
  }
  if (options.prometheusPort !== undefined) {
    readers.push(new PrometheusExporter({ host: '0.0.0.0', port: options.prometheusPort, endpoint: '/metrics', withoutScopeInfo: true }));
  }
  if (readers.length === 0) {
    return { meter: otelMetrics.getMeterProvider().getMeter(options.serviceName), shutdown: async () => {} };
  }
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ 'service.name': options.serviceName }),
    readers,
  });
  options.log.info('metrics enabled', {
    otlp: options.enabled || options.reader !== undefined,
    export_interval_ms: options.exportIntervalMs,
    prometheus_port: options.prometheusPort ?? null,
  });
  return {
    meter: provider.getMeter(options.serviceName),
    shutdown: async (timeoutMs = 3000) => {
      const timeout = Bun.sleep(timeoutMs).then(() => 'timeout' as const);
      try {
        const outcome = await Promise.race([provider.shutdown({ timeoutMillis: timeoutMs }).then(() => 'done' as const), timeout]);
        if (outcome === 'timeout') options.log.warn('metrics shutdown timed out', { timeout_ms: timeoutMs });
      } catch (err) {
        // The SDK's own timer, set a moment after ours, can still win the race under load.
        if (err instanceof TimeoutError) options.log.warn('metrics shutdown timed out', { timeout_ms: timeoutMs });
        else options.log.warn('metrics shutdown failed', errorFields(err));
      }
    },
  };
}
