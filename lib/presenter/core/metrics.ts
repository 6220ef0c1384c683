import { createNoopMeter, type Counter, type Histogram, type Meter, type UpDownCounter } from '@opentelemetry/api';

/**
 * Every presenter instrument (docs/metrics-presenter.md). Names, and the attributes Krateo's
 * dashboards group by, are those of Krateo's Go events-presenter where the concept is the same;
 * the others are this service's own.
 */
export interface PresenterMetrics {
  startupSuccess: Counter;
  startupFailure: Counter;
  dbConnectDuration: Histogram;
  sseClientsActive: UpDownCounter;
  sseClientsConnected: Counter;
  sseClientsDisconnected: Counter;
  sseEventsBroadcast: Counter;
  sseEventsDropped: Counter;
  sseEventsReplayed: Counter;
  sseDeliveryDelay: Histogram;
  httpRequests: Counter;
  httpDuration: Histogram;
  httpResourcesReturned: Counter;
  httpErrors: Counter;
  historyWaitDuration: Histogram;
  listenerNotifications: Counter;
  listenerJobsEnqueued: Counter;
  listenerLoadLatestDuration: Histogram;
  listenerLoadLatestFailure: Counter;
  listenerConnectFailure: Counter;
  listenerDisconnects: Counter;
  authFailures: Counter;
  authzCacheHits: Counter;
  authzCacheMisses: Counter;
  authzDenials: Counter;
}

const secondsBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const waitBuckets = [0.01, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/** Creates the presenter's instruments on `meter` (the no-op meter when omitted: tests, benchmarks). */
export function createPresenterMetrics(meter: Meter = createNoopMeter()): PresenterMetrics {
  const p = 'events_presenter';
  const seconds = (name: string, description: string, buckets = secondsBuckets) =>
    meter.createHistogram(name, { description, unit: 's', advice: { explicitBucketBoundaries: buckets } });
  const counter = (name: string, unit: string, description: string) => meter.createCounter(`${p}.${name}`, { description, unit });
  return {
    startupSuccess: counter('startup.success', '{start}', 'Starts that completed (database ready, listening)'),
    startupFailure: counter('startup.failure', '{start}', 'Starts that failed'),
    dbConnectDuration: seconds(`${p}.db.connect.duration_seconds`, 'Time spent waiting for PostgreSQL to answer at start', waitBuckets),
    sseClientsActive: meter.createUpDownCounter(`${p}.sse.clients.active`, { description: 'Open SSE streams', unit: '{client}' }),
    sseClientsConnected: counter('sse.clients.connected', '{client}', 'SSE streams opened'),
    sseClientsDisconnected: counter('sse.clients.disconnected', '{client}', 'SSE streams closed, by reason'),
    sseEventsBroadcast: counter('sse.events.broadcast', '{event}', 'Event frames written to SSE streams (one per client)'),
    sseEventsDropped: counter('sse.events.dropped', '{event}', 'Event frames not written because a stream overflowed (the client was told to resume)'),
    sseEventsReplayed: counter('sse.events.replayed', '{event}', 'Event frames replayed after Last-Event-ID'),
    sseDeliveryDelay: seconds(`${p}.sse.delivery.delay_seconds`, 'Time from row insert to the SSE write'),
    httpRequests: counter('http.events.requests', '{request}', 'Requests to /events and /notifications, by route, method and status'),
    httpDuration: seconds(`${p}.http.events.duration_seconds`, 'Request duration, by route, method and status (until headers for SSE)'),
    httpResourcesReturned: counter('http.events.resources_returned', '{resource}', 'Events returned by /events, by method'),
    httpErrors: counter('http.events.errors', '{request}', 'Error answers, by route, method, stage, status and code'),
    historyWaitDuration: seconds(`${p}.history.wait.duration_seconds`, 'Time a history request waited for a history connection, by outcome (only requests that waited)'),
    listenerNotifications: counter('listener.notifications.received', '{notification}', 'NOTIFY messages received'),
    listenerJobsEnqueued: counter('listener.jobs.enqueued', '{job}', 'Reads of new rows started after notifications (coalesced)'),
    listenerLoadLatestDuration: seconds(`${p}.listener.load_latest.duration_seconds`, 'Duration of one read of new rows after a notification'),
    listenerLoadLatestFailure: counter('listener.load_latest.failure', '{failure}', 'Failed reads of new rows (retried)'),
    listenerConnectFailure: counter('listener.connect.failure', '{failure}', 'Failures to start the LISTEN subscription'),
    listenerDisconnects: counter('listener.disconnects', '{disconnect}', 'LISTEN connections lost (counted when re-subscribed)'),
    authFailures: counter('auth.failures', '{request}', 'Refused authentications, by reason'),
    authzCacheHits: counter('authz.cache.hits', '{decision}', 'Authorisation decisions served from cache'),
    authzCacheMisses: counter('authz.cache.misses', '{decision}', 'Authorisation decisions asked of the API server'),
    authzDenials: counter('authz.denials', '{decision}', 'Authorisation decisions that denied (incl. failures, fail-closed)'),
  };
}
