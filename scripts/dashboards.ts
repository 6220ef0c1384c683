import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** The repository root (this file lives in scripts/). */
const projectRoot = resolve(dirname(import.meta.path), '..');

/** One query of a panel: PromQL and its legend. */
interface Query {
  expr: string;
  legend: string;
}

/** One panel: a title, a Grafana unit and its queries (`stat` for a single number). */
interface Panel {
  title: string;
  unit: string;
  queries: Query[];
  kind?: 'timeseries' | 'stat';
}

const rate = (metric: string, by = '') => `sum${by ? ` by (${by})` : ''} (rate(${metric}[5m]))`;
const increase = (metric: string, by = '') => `sum${by ? ` by (${by})` : ''} (increase(${metric}[1h]))`;
const quantile = (q: number, metric: string, by = '', filter = '') =>
  `histogram_quantile(${q}, sum by (le${by ? `, ${by}` : ''}) (rate(${metric}_bucket${filter}[5m])))`;
const percentiles = (metric: string, filter = ''): Query[] => [
  { expr: quantile(0.5, metric, '', filter), legend: 'p50' },
  { expr: quantile(0.95, metric, '', filter), legend: 'p95' },
];

const ingesterPanels: Panel[] = [
  { title: 'Events received / s', unit: 'ops', queries: [{ expr: rate('events_ingester_events_received_total', 'source'), legend: '{{source}}' }] },
  { title: 'Events dispatched to the record builder / s', unit: 'ops', queries: [{ expr: rate('events_ingester_events_dispatched_total'), legend: 'dispatched' }] },
  {
    title: 'Events dropped and record build failures (last 1h)',
    unit: 'none',
    queries: [
      { expr: increase('events_ingester_events_dropped_total', 'reason'), legend: 'dropped {{reason}}' },
      { expr: increase('events_ingester_records_build_failure_total', 'reason'), legend: 'build failure {{reason}}' },
    ],
  },
  {
    title: 'Rows inserted / s',
    unit: 'ops',
    queries: [
      { expr: rate('events_ingester_db_insert_rows_total'), legend: 'inserted' },
      { expr: rate('events_ingester_db_insert_duplicates_total'), legend: 'already stored' },
    ],
  },
  { title: 'Insert failures (last 1h)', unit: 'none', queries: [{ expr: increase('events_ingester_db_insert_failure_total', 'error_code'), legend: '{{error_code}}' }] },
  { title: 'Batch flush duration', unit: 's', queries: percentiles('events_ingester_batch_flush_duration_seconds') },
  { title: 'Batch flush size (rows)', unit: 'none', queries: percentiles('events_ingester_batch_flush_size') },
  {
    title: 'Buffered rows',
    unit: 'none',
    queries: [
      { expr: 'max(events_ingester_queue_depth)', legend: 'queue (not yet committed)' },
      { expr: 'max(events_ingester_record_channel_depth)', legend: 'waiting for a composition lookup' },
    ],
  },
  { title: 'Event lag (last seen → committed)', unit: 's', queries: percentiles('events_ingester_event_lag_seconds') },
  {
    title: 'Composition lookup duration (p95 by result)',
    unit: 's',
    queries: [{ expr: quantile(0.95, 'events_ingester_composition_lookup_duration_seconds', 'result'), legend: '{{result}}' }],
  },
  {
    title: 'Composition ids decided / s',
    unit: 'ops',
    queries: [{ expr: rate('events_ingester_composition_resolutions_total', 'source'), legend: '{{source}}' }],
  },
  {
    title: 'Watch relists and reconnects (last 1h)',
    unit: 'none',
    queries: [
      { expr: increase('events_ingester_watch_relists_total', 'reason'), legend: 'relist {{reason}}' },
      { expr: increase('events_ingester_watch_reconnects_total'), legend: 'reconnects' },
      { expr: increase('events_ingester_db_retries_total'), legend: 'write retries' },
    ],
  },
];

const eventsRoute = '{route="/events"}';
const presenterPanels: Panel[] = [
  { title: 'Starts (last 1h)', unit: 'none', kind: 'stat', queries: [{ expr: increase('events_presenter_startup_success_total'), legend: 'success' }] },
  { title: 'Start failures (last 1h)', unit: 'none', kind: 'stat', queries: [{ expr: increase('events_presenter_startup_failure_total'), legend: 'failure' }] },
  { title: 'Database wait at start', unit: 's', queries: percentiles('events_presenter_db_connect_duration_seconds') },
  { title: '/events requests / s', unit: 'ops', queries: [{ expr: rate(`events_presenter_http_events_requests_total${eventsRoute}`, 'method'), legend: '{{method}}' }] },
  { title: 'Error answers / s by stage', unit: 'ops', queries: [{ expr: rate('events_presenter_http_events_errors_total', 'stage'), legend: '{{stage}}' }] },
  { title: '/events latency', unit: 's', queries: percentiles('events_presenter_http_events_duration_seconds', eventsRoute) },
  { title: 'Events returned by /events / s', unit: 'ops', queries: [{ expr: rate('events_presenter_http_events_resources_returned_total'), legend: 'resources' }] },
  {
    title: 'Notifications and reads of new rows / s',
    unit: 'ops',
    queries: [
      { expr: rate('events_presenter_listener_notifications_received_total'), legend: 'notifications' },
      { expr: rate('events_presenter_listener_jobs_enqueued_total'), legend: 'reads' },
    ],
  },
  { title: 'Read of new rows latency', unit: 's', queries: percentiles('events_presenter_listener_load_latest_duration_seconds') },
  {
    title: 'Listener failures (last 1h)',
    unit: 'none',
    queries: [
      { expr: increase('events_presenter_listener_load_latest_failure_total'), legend: 'read failures' },
      { expr: increase('events_presenter_listener_connect_failure_total'), legend: 'connect failures' },
      { expr: increase('events_presenter_listener_disconnects_total'), legend: 'disconnects' },
    ],
  },
  {
    title: 'SSE clients',
    unit: 'none',
    queries: [
      { expr: 'sum(events_presenter_sse_clients_active)', legend: 'open' },
      { expr: rate('events_presenter_sse_clients_connected_total'), legend: 'opened / s' },
      { expr: rate('events_presenter_sse_clients_disconnected_total', 'reason'), legend: 'closed / s {{reason}}' },
    ],
  },
  {
    title: 'SSE frames / s',
    unit: 'ops',
    queries: [
      { expr: rate('events_presenter_sse_events_broadcast_total'), legend: 'broadcast' },
      { expr: rate('events_presenter_sse_events_dropped_total'), legend: 'dropped (client told to resume)' },
      { expr: rate('events_presenter_sse_events_replayed_total'), legend: 'replayed' },
    ],
  },
  { title: 'SSE delivery delay (insert → write)', unit: 's', queries: percentiles('events_presenter_sse_delivery_delay_seconds') },
  {
    title: 'Authentication and authorisation / s',
    unit: 'ops',
    queries: [
      { expr: rate('events_presenter_auth_failures_total', 'reason'), legend: 'refused {{reason}}' },
      { expr: rate('events_presenter_authz_cache_hits_total'), legend: 'decisions from cache' },
      { expr: rate('events_presenter_authz_cache_misses_total'), legend: 'access reviews' },
      { expr: rate('events_presenter_authz_denials_total'), legend: 'denials' },
    ],
  },
];

/** The dashboards shipped, by file name (uid = name). */
export const dashboards = {
  'events-ingester-overview': { chart: 'events-ingester', title: 'Events Ingester Overview', tags: ['events-ingester', 'events-stack'], panels: ingesterPanels },
  'events-presenter-overview': { chart: 'events-presenter', title: 'Events Presenter Overview', tags: ['events-presenter', 'events-stack', 'sse'], panels: presenterPanels },
} as const;

/** Where a dashboard's JSON lives: in its chart, so the chart can ship it as a ConfigMap. */
export function dashboardPath(uid: keyof typeof dashboards): string {
  return join(projectRoot, 'charts', dashboards[uid].chart, 'dashboards', `${uid}.json`);
}

function renderPanel(panel: Panel, index: number, at: { x: number; y: number; h: number }): Record<string, unknown> {
  const stat = panel.kind === 'stat';
  const width = stat ? 6 : 12;
  const height = stat ? 5 : 8;
  // Left to right, then the next row.
  if (at.x + width > 24) Object.assign(at, { x: 0, y: at.y + at.h, h: 0 });
  const gridPos = { h: height, w: width, x: at.x, y: at.y };
  Object.assign(at, { x: at.x + width, h: Math.max(at.h, height) });
  return {
    id: index + 1,
    type: panel.kind ?? 'timeseries',
    title: panel.title,
    datasource: { type: 'prometheus', uid: '${datasource}' },
    gridPos,
    fieldConfig: { defaults: { unit: panel.unit }, overrides: [] },
    targets: panel.queries.map((q, i) => ({ refId: String.fromCharCode(65 + i), expr: q.expr, legendFormat: q.legend })),
  };
}

/** The Grafana dashboard JSON (schema 39, Prometheus data source chosen by a variable), as text. */
export function renderDashboard(uid: keyof typeof dashboards): string {
  const { title, tags, panels } = dashboards[uid];
  const at = { x: 0, y: 0, h: 0 };
  const dashboard = {
    uid,
    title,
    tags,
    editable: true,
    schemaVersion: 39,
    refresh: '30s',
    time: { from: 'now-6h', to: 'now' },
    templating: { list: [{ name: 'datasource', label: 'Data source', type: 'datasource', query: 'prometheus' }] },
    panels: panels.map((panel, index) => renderPanel(panel, index, at)),
  };
  return `${JSON.stringify(dashboard, null, 2)}\n`;
}

if (import.meta.main) {
  for (const uid of Object.keys(dashboards) as (keyof typeof dashboards)[]) {
    mkdirSync(dirname(dashboardPath(uid)), { recursive: true });
    writeFileSync(dashboardPath(uid), renderDashboard(uid));
    console.log(`wrote ${dashboardPath(uid)}`);
  }
}
