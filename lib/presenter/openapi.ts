import { openapi } from '@elysiajs/openapi';
import { t, type TSchema } from 'elysia';
import type { OpenAPIV3 } from 'openapi-types';
import { equalityFilters, type FilterName } from './core/filters.ts';

// The route schemas below are what the routes declare (and Elysia checks loosely: every parameter is
// optional text, because the handlers parse repeatable, comma-separated values themselves and answer
// 400 `{code, message}`); the OpenAPI document is generated from them, so it cannot drift.

const filterDescriptions: Record<FilterName, string> = {
  cluster: 'Cluster name',
  namespace: 'Namespace',
  kind: 'Involved object kind as stored, e.g. `v1.Pod` or `apps/v1.Deployment`',
  name: 'Involved object name',
  type: 'Event type, e.g. `Warning`',
  reason: 'Event reason',
  composition_id: 'Krateo composition UID',
  involved_object_uid: 'Involved object UID',
};

const repeatable = (description: string) => t.Optional(t.Array(t.String(), { description: `${description} (repeatable or comma-separated)` }));
const text = (description: string) => t.Optional(t.String({ description }));

const filterProperties = Object.fromEntries(
  (Object.keys(equalityFilters) as FilterName[]).map((name) => [name, repeatable(filterDescriptions[name])]),
) as unknown as Record<FilterName, TSchema>;

const historyProperties = {
  ...filterProperties,
  labels: repeatable("`key=value` pairs, all must match the Event's own `metadata.labels` (not the involved object's; use `composition_id` for a composition's objects)"),
  since: text('RFC 3339 time, or a duration like `1h` (that long ago)'),
  until: text('RFC 3339 time or duration; exclusive'),
  q: text('Free-text search: case-insensitive substring of message, reason or object name. Scans at most 7 days: `since` defaults to 7 days before `until`; a longer window is a 400'),
  limit: text('Page size: an integer from 1 to EVENTS_MAX_LIMIT (default 1000); default 50'),
  cursor: text('The `cursor` of the previous page (opaque)'),
};

/** Query parameters of `GET /notifications`. */
export const notificationsQuery = t.Object({
  ...filterProperties,
  lastEventId: text('Resume after this event id (what `event-source-polyfill` sends on reconnect)'),
  last_event_id: text('Resume after this event id'),
  token: text('JWT for clients that cannot send headers (native EventSource); never logged'),
  access_token: text('Same as `token`'),
});

/** Request headers of `GET /notifications` besides `Authorization`. */
export const notificationsHeaders = t.Object({
  'last-event-id': text('Resume after this event id (sent by EventSource on reconnect)'),
});

/** Query parameters of `GET /events`, and the fields of the `POST /events` JSON body. */
export const eventsQuery = t.Object(historyProperties);

/** The `POST /events` body: the same names, as JSON (lists or single values). */
export const eventsBody = t.Object(
  Object.fromEntries(Object.entries(historyProperties).map(([k, v]) => [k, t.Optional(t.Union([t.String(), t.Number(), t.Array(t.Union([t.String(), t.Number()]))], { description: v.description }))])),
);

/** Every error answer. */
export const errorBody = t.Object({ code: t.String({ description: 'Stable machine-readable code' }), message: t.String() });

const nullable = (description?: string) => t.Union([t.String(), t.Null()], description ? { description } : {});
const payloadProperties = {
  event_id: t.String({ format: 'uuid' }),
  global_uid: t.String({ description: '`<cluster_name>:<uid>`' }),
  cluster_name: t.String(),
  namespace: t.String(),
  resource_kind: t.String({ description: '`apiVersion.Kind` of the involved object, e.g. `v1.Pod`' }),
  resource_name: t.String(),
  involved_object_uid: nullable(),
  event_type: t.String(),
  reason: nullable(),
  message: nullable(),
  composition_id: nullable('Krateo composition UID'),
  created_at: t.String({ format: 'date-time', description: 'Last-seen time, UTC RFC 3339 with the stored microseconds (trailing zeros dropped)' }),
};

/** The `data:` of an SSE `krateo` frame. */
export const eventPayload = t.Object(payloadProperties);

/** A `/events` page. */
export const eventsPage = t.Object({
  resources: t.Array(t.Object({ ...payloadProperties, raw: t.String({ description: 'The stored Kubernetes Event as JSON text' }) })),
  cursor: t.Optional(t.String({ description: 'Absent on the last page. A page may hold fewer than `limit` events, even none, and still carry one: a page reads at most EVENTS_SCAN_WINDOW_ROWS rows; follow cursors until none is returned' })),
});

const aggregateProperties = {
  ...filterProperties,
  labels: historyProperties.labels,
  since: text('Window start: RFC 3339 time or a duration like `1h` (that long ago); default 24 hours before `until`'),
  until: text('Window end (exclusive): RFC 3339 time or duration; default now. The window is at most 31 days'),
  q: historyProperties.q,
};

/** Query parameters of `GET /events/histogram`. */
export const histogramQuery = t.Object({
  ...aggregateProperties,
  bucket: text('Required. Bucket size: a duration of whole seconds, at least `1s` (e.g. `1m`, `1h`); at most 1500 buckets per window'),
});

/** Query parameters of `GET /events/facets`. */
export const facetsQuery = t.Object({ ...aggregateProperties, top: text('Values per facet, 1 to 50; default 10') });

const count = t.Integer({ minimum: 0 });

/** A `/events/histogram` answer. */
export const histogramBody = t.Object({
  bucket: t.String(),
  since: t.String({ format: 'date-time' }),
  until: t.String({ format: 'date-time' }),
  total: t.Integer({ minimum: 0, description: 'Sum of all buckets: the number of events `/events` lists for the same filters and window' }),
  buckets: t.Array(
    t.Object({ start: t.String({ format: 'date-time' }), normal: count, warning: count, other: count }),
    { description: 'Every bucket of the window, oldest first, aligned to multiples of the bucket size since the Unix epoch' },
  ),
});

const facetValues = t.Array(t.Object({ value: t.String(), count }), { description: 'Most frequent first' });

/** A `/events/facets` answer. */
export const facetsBody = t.Object({ reasons: facetValues, namespaces: facetValues, kinds: facetValues });

/** `/livez` and `/readyz` answers. */
export const probeBody = t.Object({ status: t.String() });

// A TypeBox schema is a JSON Schema object; the cast only bridges the two libraries' types.
const asSchema = (schema: TSchema) => schema as unknown as OpenAPIV3.SchemaObject;
const json = (schema: TSchema, description: string) => ({ description, content: { 'application/json': { schema: asSchema(schema) } } });

/** Responses of `/notifications` (a stream, so documented rather than declared as a response schema). */
export const notificationsResponses: OpenAPIV3.ResponsesObject = {
  200: {
    description:
      'An event stream. Frames: `event: krateo` with `id: <seq>` and `data:` an event payload; comment heartbeats; `event: resume` with `{"last_event_id","reason"}` before the server closes a stream that fell behind, hit the replay cap, outlived its token or its user\'s clientconfig Secret, or is shutting down.',
    content: { 'text/event-stream': { schema: { type: 'string' } as OpenAPIV3.SchemaObject, example: `id: 42\nevent: krateo\ndata: ${JSON.stringify({ global_uid: 'c:u' })}\n\n` } },
  },
  400: json(errorBody, 'Malformed parameter'),
  401: json(errorBody, 'Missing or invalid token, or no Kubernetes credentials for the user'),
  429: json(errorBody, 'Too many open streams for this user (`too_many_streams`) or in all (`server_busy`); see `Retry-After`'),
};

/** Documents `POST /events`' body from the same schema (the route reads the body itself). */
export const eventsRequestBody: OpenAPIV3.RequestBodyObject = { required: false, content: { 'application/json': { schema: asSchema(eventsBody) } } };

/**
 * The OpenAPI plugin: the document at `/openapi.json`, a browsable reference at `/openapi`, both
 * without a token. Routes declare `detail.summary` and their schemas; nothing else is hand-written.
 */
export function createOpenApiPlugin(version: string) {
  return openapi({
    path: '/openapi',
    specPath: '/openapi.json',
    documentation: {
      info: {
        title: 'Events Stack presenter',
        version,
        description: "Kubernetes events, live (SSE) and history, filtered by the caller's Kubernetes RBAC.",
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT (HS256, exp required)' } } },
      security: [{ bearer: [] }],
    },
  });
}
