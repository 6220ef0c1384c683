import { createNoopMeter, type Counter, type Histogram, type Meter, type UpDownCounter } from '@opentelemetry/api';

/** Every presenter instrument (names documented in docs/metrics-presenter.md). */
export interface PresenterMetrics {
  sseClientsActive: UpDownCounter;
  sseClientsConnected: Counter;
  sseClientsDisconnected: Counter;
  sseEventsBroadcast: Counter;
  sseEventsDropped: Counter;
  sseEventsReplayed: Counter;
  sseDeliveryDelay: Histogram;
  httpRequests: Counter;
  httpDuration: Histogram;
  httpErrors: Counter;
  listenerNotifications: Counter;
  listenerReconnects: Counter;
  authFailures: Counter;
  authzCacheHits: Counter;
  authzCacheMisses: Counter;
  authzDenials: Counter;
}

const secondsBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Creates the presenter's instruments on `meter` (the no-op meter when omitted: tests, benchmarks). */
export function createPresenterMetrics(meter: Meter = createNoopMeter()): PresenterMetrics {
  const p = 'events_presenter';
  const seconds = (name: string, description: string) =>
    meter.createHistogram(name, { description, unit: 's', advice: { explicitBucketBoundaries: secondsBuckets } });
  return {
    sseClientsActive: meter.createUpDownCounter(`${p}.sse.clients.active`, { description: 'Open SSE streams', unit: '{client}' }),
    sseClientsConnected: meter.createCounter(`${p}.sse.clients.connected`, { description: 'SSE streams opened', unit: '{client}' }),
    sseClientsDisconnected: meter.createCounter(`${p}.sse.clients.disconnected`, { description: 'SSE streams closed, by reason', unit: '{client}' }),
    sseEventsBroadcast: meter.createCounter(`${p}.sse.events.broadcast`, { description: 'Event frames written to SSE streams (one per client)', unit: '{event}' }),
    sseEventsDropped: meter.createCounter(`${p}.sse.events.dropped`, { description: 'Event frames not written because a stream overflowed (the client was told to resume)', unit: '{event}' }),
    sseEventsReplayed: meter.createCounter(`${p}.sse.events.replayed`, { description: 'Event frames replayed after Last-Event-ID', unit: '{event}' }),
    sseDeliveryDelay: seconds(`${p}.sse.delivery.delay_seconds`, 'Time from row insert to the SSE write'),
    httpRequests: meter.createCounter(`${p}.http.events.requests`, { description: 'HTTP requests, by route and status', unit: '{request}' }),
    httpDuration: seconds(`${p}.http.request.duration_seconds`, 'HTTP request duration (until headers for SSE)'),
    httpErrors: meter.createCounter(`${p}.http.errors`, { description: 'HTTP error answers, by code', unit: '{request}' }),
    listenerNotifications: meter.createCounter(`${p}.listener.notifications`, { description: 'NOTIFY messages received', unit: '{notification}' }),
    listenerReconnects: meter.createCounter(`${p}.listener.reconnects`, { description: 'LISTEN (re)subscriptions after the first', unit: '{reconnect}' }),
    authFailures: meter.createCounter(`${p}.auth.failures`, { description: 'Refused authentications, by reason', unit: '{request}' }),
    authzCacheHits: meter.createCounter(`${p}.authz.cache.hits`, { description: 'Authorisation decisions served from cache', unit: '{decision}' }),
    authzCacheMisses: meter.createCounter(`${p}.authz.cache.misses`, { description: 'Authorisation decisions asked of the API server', unit: '{decision}' }),
    authzDenials: meter.createCounter(`${p}.authz.denials`, { description: 'Authorisation decisions that denied (incl. failures, fail-closed)', unit: '{decision}' }),
  };
}
