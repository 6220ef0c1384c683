import { KubeConfig } from '@kubernetes/client-node';
import { MeterProvider, MetricReader, type DataPoint } from '@opentelemetry/sdk-metrics';
import { expect } from 'bun:test';
import type postgres from 'postgres';
import type { Simulator, StoredObject } from '../../dev/simulator/index.ts';
import { createSecretReader } from '../../lib/presenter/access/secret-reader.ts';
import { silentLogger } from '../../lib/runtime/log.ts';
import { startPresenter, type PresenterSettings, type RunningPresenter } from '../../lib/presenter/presenter.ts';
import { buildKubeEvent, historyKeys, readVersionKeys, waitFor } from './ingester-fixtures.ts';
import { buildSettings, type PresenterHarness } from './presenter-harness.ts';

/** A metric reader that tests collect from on demand. */
export class TestMetricReader extends MetricReader {
  protected override async onShutdown() {}
  protected override async onForceFlush() {}
}

/** A meter provider with a reader the test collects from; `await using` shuts it down. */
export function createTestMeter() {
  const reader = new TestMetricReader();
  const provider = new MeterProvider({ readers: [reader] });
  return {
    meter: provider.getMeter('fault-test'),
    /** Every data point of the named metric as `{ attributesJson: value }` (histograms: their count). */
    async read(name: string): Promise<Record<string, number>> {
      const { resourceMetrics } = await reader.collect();
      const points: Record<string, number> = {};
      for (const scope of resourceMetrics.scopeMetrics) {
        for (const metric of scope.metrics) {
          if (metric.descriptor.name !== name) continue;
          for (const point of metric.dataPoints as DataPoint<unknown>[]) {
            const value = point.value as number | { count: number };
            points[JSON.stringify(point.attributes)] = typeof value === 'number' ? value : value.count;
          }
        }
      }
      return points;
    },
    [Symbol.asyncDispose]: () => provider.shutdown(),
  };
}

/** Samples `read` every `everyMs` until stopped and keeps the highest value seen. */
export function sampleMax(read: () => Promise<number> | number, everyMs = 10): AsyncDisposable & { readonly max: number; stop(): Promise<number> } {
  let max = Number.NEGATIVE_INFINITY;
  let running = true;
  const loop = (async () => {
    while (running) {
      max = Math.max(max, await read());
      await Bun.sleep(everyMs);
    }
  })();
  const stop = async () => {
    running = false;
    await loop;
    return max;
  };
  return {
    get max() {
      return max;
    },
    stop,
    [Symbol.asyncDispose]: async () => void (await stop()),
  };
}

/**
 * Creates `total` Events in the simulator, `perTick` at a time every `everyMs` (a steady stream
 * while a fault is injected), and resolves with them once all are created.
 */
export async function produceEvents(sim: Simulator, options: { total: number; perTick: number; everyMs: number }): Promise<StoredObject[]> {
  const created: StoredObject[] = [];
  while (created.length < options.total) {
    for (let i = 0; i < options.perTick && created.length < options.total; i++) created.push(sim.createEvent(buildKubeEvent()));
    await Bun.sleep(options.everyMs);
  }
  return created;
}

/**
 * Waits until the table holds exactly the versions of `sim.history()` (as `uid@resourceVersion`,
 * duplicates included, so equal lists mean no loss, no duplicate and row count = history length).
 */
export async function expectTableEqualsHistory(sql: postgres.Sql, sim: Simulator, timeoutMs = 20_000): Promise<void> {
  const expected = historyKeys(sim.history());
  // Polls the cheap row count (reading every key each poll would compete with the ingester).
  const countRows = async () => ((await sql`select count(*)::int as rows from k8s_events`) as unknown as [{ rows: number }])[0].rows;
  await waitFor(async () => (await countRows()) >= expected.length, { timeoutMs, what: `${expected.length} rows` }).catch(() => {});
  expect(await readVersionKeys(sql)).toEqual(expected);
  expect(await countRows()).toBe(expected.length);
}

/**
 * Starts a second presenter on the harness's database and simulator (its users and Secrets) with a
 * meter, so a test can read `events_presenter.sse.clients.active` (the hub's client count).
 */
export async function startMeteredPresenter(
  h: PresenterHarness,
  overrides: Partial<PresenterSettings> = {},
): Promise<{ presenter: RunningPresenter; url: string; read: (name: string) => Promise<Record<string, number>> } & AsyncDisposable> {
  const admin = new KubeConfig();
  admin.loadFromString(await h.sim.adminKubeconfig());
  const metrics = createTestMeter();
  const presenter = await startPresenter({
    settings: buildSettings(overrides),
    databaseUrl: h.db.url,
    readSecret: createSecretReader(admin),
    log: silentLogger,
    meter: metrics.meter,
    namespaceRefreshMs: 0,
  });
  return {
    presenter,
    url: presenter.url,
    read: metrics.read,
    async [Symbol.asyncDispose]() {
      await presenter.stop();
      await metrics[Symbol.asyncDispose]();
    },
  };
}

/** The value of an up-down counter or counter with no attributes (0 when never recorded). */
export async function readTotal(read: (name: string) => Promise<Record<string, number>>, name: string): Promise<number> {
  return Object.values(await read(name)).reduce((sum, value) => sum + value, 0);
}
