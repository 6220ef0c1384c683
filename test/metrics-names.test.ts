import { describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Meter } from '@opentelemetry/api';
import { createIngesterMetrics, type IngesterMetrics } from '../lib/ingest/metrics.ts';
import { createPresenterMetrics } from '../lib/presenter/core/metrics.ts';
import { dashboardPath, dashboards, renderDashboard } from '../scripts/dashboards.ts';
import { listSourceFiles } from './support/code-shape.ts';

const root = join(import.meta.dir, '..');

/** Krateo's documented metric names (its Go services' metrics references), which must all exist here. */
const krateoNames = {
  ingester: [
    'events.received', 'events.dispatched', 'events.dropped', 'composition.lookup.duration_seconds', 'records.build.failure',
    'batch.flush.duration_seconds', 'batch.flush.size', 'db.insert.rows', 'db.insert.failure', 'queue.depth', 'record_channel.depth',
  ].map((n) => `events_ingester.${n}`),
  presenter: [
    'startup.success', 'startup.failure', 'db.connect.duration_seconds', 'http.events.requests', 'http.events.duration_seconds',
    'http.events.resources_returned', 'http.events.errors', 'listener.notifications.received', 'listener.jobs.enqueued',
    'listener.load_latest.duration_seconds', 'listener.load_latest.failure', 'listener.connect.failure', 'listener.disconnects',
    'sse.clients.connected', 'sse.clients.disconnected', 'sse.clients.active', 'sse.events.broadcast', 'sse.events.dropped',
  ].map((n) => `events_presenter.${n}`),
};

/** The metric names in the first column of a docs/metrics-*.md table. */
function documentedNames(service: 'ingester' | 'presenter'): string[] {
  const text = readFileSync(join(root, 'docs', `metrics-${service}.md`), 'utf8');
  return text
    .split('\n')
    .filter((line) => line.startsWith('|'))
    .map((line) => /`(events_[a-z]+\.[a-z_.]+)`/.exec(line.split('|')[1] ?? '')?.[1])
    .filter((name): name is string => name !== undefined);
}

/** A meter that records which instruments are created and which receive a value. */
function createRecordingMeter() {
  const created: string[] = [];
  const recorded = new Set<string>();
  const callbacks: (() => void)[] = [];
  const instrument = (name: string) => {
    created.push(name);
    const note = () => void recorded.add(name);
    return {
      add: note,
      record: note,
      addCallback: (callback: (result: { observe: () => void }) => void) => callbacks.push(() => callback({ observe: note })),
    };
  };
  const meter = {
    createCounter: instrument,
    createUpDownCounter: instrument,
    createHistogram: instrument,
    createGauge: instrument,
    createObservableGauge: instrument,
    createObservableCounter: instrument,
    createObservableUpDownCounter: instrument,
  } as unknown as Meter;
  return { meter, created, recorded, collect: () => callbacks.forEach((run) => run()) };
}

/** The metric names a PromQL expression reads, as documented names (`_total`, `_bucket`, … removed). */
function queriedMetrics(expr: string, documented: Set<string>): string[] {
  return [...expr.matchAll(/\bevents_(?:ingester|presenter)_[a-z_]+/g)].map(([token]) => {
    const candidates = [token, token.replace(/_(total|bucket|sum|count)$/, '')];
    const match = candidates.map((c) => [...documented].find((d) => d.replaceAll('.', '_') === c)).find(Boolean);
    return match ?? token;
  });
}

/** Every lib/ source file except `except`, concatenated. */
function libSourceExcept(except: string): string {
  return listSourceFiles(root, 'lib')
    .filter((file) => file !== except)
    .map((file) => readFileSync(join(root, file), 'utf8'))
    .join('\n');
}

describe('metric names', () => {
  test.each(['ingester', 'presenter'] as const)("every metric Krateo documents for its Go %s is documented here under the same name", (service) => {
    const documented = new Set(documentedNames(service));
    expect(krateoNames[service].filter((name) => !documented.has(name))).toEqual([]);
  });

  test('the ingester creates exactly the documented instruments, and each receives values through the methods the ingester calls', () => {
    const { meter, created, recorded, collect } = createRecordingMeter();
    const metrics = createIngesterMetrics(meter, { queueDepth: () => 1, waitingRows: () => 1, pendingLookups: () => 1, isLeader: () => true });
    expect([...created].sort()).toEqual([...documentedNames('ingester')].sort());
    const calls: { [K in keyof IngesterMetrics]: () => void } = {
      received: () => metrics.received('watch'),
      dispatched: () => metrics.dispatched(),
      buildFailed: () => metrics.buildFailed('missing_uid'),
      dropped: () => metrics.dropped('missing_uid', 1),
      flushed: () => metrics.flushed({ rows: 2, inserted: 1, durationMs: 3, lagSeconds: [0.5] }),
      insertFailed: () => metrics.insertFailed('40001'),
      retried: () => metrics.retried(),
      relisted: () => metrics.relisted('*', 'start'),
      reconnected: () => metrics.reconnected('*'),
      compositionResolved: () => metrics.compositionResolved('lookup'),
      compositionLookup: () => metrics.compositionLookup('found', 4),
    };
    for (const call of Object.values(calls)) call();
    collect();
    expect(created.filter((name) => !recorded.has(name))).toEqual([]);
    // Each method is called by the ingester itself, not only here.
    const source = libSourceExcept('lib/ingest/metrics.ts');
    expect(Object.keys(calls).filter((method) => !new RegExp(`metrics\\.${method}\\b`).test(source))).toEqual([]);
  });

  test('the presenter creates exactly the documented instruments, and the presenter records on each of them', () => {
    const { meter, created } = createRecordingMeter();
    const metrics = createPresenterMetrics(meter);
    expect([...created].sort()).toEqual([...documentedNames('presenter')].sort());
    const source = libSourceExcept('lib/presenter/core/metrics.ts');
    const unrecorded = Object.keys(metrics).filter((key) => !new RegExp(`\\.${key}\\.(add|record)\\(`).test(source));
    expect(unrecorded).toEqual([]);
  });

  test.each(Object.keys(dashboards) as (keyof typeof dashboards)[])('dashboard %s queries only documented metrics of its service, and is the generated file', (uid) => {
    const service = uid.includes('ingester') ? 'ingester' : 'presenter';
    const documented = new Set(documentedNames(service));
    const text = readFileSync(dashboardPath(uid), 'utf8');
    expect(text).toBe(renderDashboard(uid));
    const dashboard = JSON.parse(text) as { uid: string; panels: { targets: { expr: string }[] }[] };
    expect(dashboard.uid).toBe(uid);
    const queried = dashboard.panels.flatMap((panel) => panel.targets.flatMap((target) => queriedMetrics(target.expr, documented)));
    expect(queried.length).toBeGreaterThan(10);
    expect([...new Set(queried.filter((name) => !documented.has(name)))]).toEqual([]);
  });

  test("the dashboards show every metric Krateo documents for its Go services", () => {
    const queried = (Object.keys(dashboards) as (keyof typeof dashboards)[]).flatMap((uid) => {
      const service = uid.includes('ingester') ? 'ingester' : 'presenter';
      const dashboard = JSON.parse(readFileSync(dashboardPath(uid), 'utf8')) as { panels: { targets: { expr: string }[] }[] };
      return dashboard.panels.flatMap((p) => p.targets.flatMap((t) => queriedMetrics(t.expr, new Set(documentedNames(service)))));
    });
    const missing = [...krateoNames.ingester, ...krateoNames.presenter].filter((name) => !queried.includes(name));
    expect(missing).toEqual([]);
  });
});
