const str = { type: 'string' };
const nullableStr = { type: ['string', 'null'] };
const listParam = (name: string, description: string) => ({
  name,
  in: 'query',
  description: `${description} (repeatable or comma-separated)`,
  schema: { type: 'array', items: str },
  style: 'form',
  explode: true,
});
const filterParams = [
  listParam('cluster', 'Cluster name'),
  listParam('namespace', 'Namespace'),
  listParam('kind', 'Involved object kind as stored, e.g. `v1.Pod`'),
  listParam('name', 'Involved object name'),
  listParam('type', 'Event type, e.g. `Warning`'),
  listParam('reason', 'Event reason'),
  listParam('composition_id', 'Krateo composition UID'),
  listParam('involved_object_uid', 'Involved object UID'),
];
const payloadProperties = {
  event_id: str, global_uid: str, cluster_name: str, namespace: str, resource_kind: str, resource_name: str,
  involved_object_uid: nullableStr, event_type: str, reason: nullableStr, message: nullableStr,
  composition_id: nullableStr, created_at: { type: 'string', format: 'date-time' },
};
const error = { description: 'Error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
const eventsParams = [
  ...filterParams,
  { name: 'labels', in: 'query', description: 'Label selector `key=value,key2=value2` (all must match)', schema: str },
  { name: 'since', in: 'query', description: 'RFC 3339 time, or a duration like `1h` (that long ago)', schema: str },
  { name: 'until', in: 'query', description: 'RFC 3339 time or duration; exclusive', schema: str },
  { name: 'limit', in: 'query', description: 'Page size, default 50, capped by EVENTS_MAX_LIMIT', schema: { type: 'integer', minimum: 1 } },
  { name: 'cursor', in: 'query', description: 'Opaque `cursor` of the previous page', schema: str },
];
const eventsResponses = {
  200: { description: 'A page, newest first; `cursor` is absent on the last page', content: { 'application/json': { schema: { $ref: '#/components/schemas/EventsPage' } } } },
  400: error,
  401: error,
};

/** The OpenAPI 3.1 document served at `/openapi.json`. */
export const openApiDocument = {
  openapi: '3.1.0',
  info: { title: 'Events Stack presenter', version: '0.1.0', description: 'Kubernetes events, live (SSE) and history, filtered by the caller\'s RBAC.' },
  components: {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT (HS256, exp required)' } },
    schemas: {
      Error: { type: 'object', required: ['code', 'message'], properties: { code: str, message: str } },
      EventPayload: { type: 'object', properties: payloadProperties },
      EventResource: { type: 'object', properties: { ...payloadProperties, raw: { type: 'string', description: 'The stored Kubernetes Event as JSON text' } } },
      EventsPage: {
        type: 'object',
        required: ['resources'],
        properties: { resources: { type: 'array', items: { $ref: '#/components/schemas/EventResource' } }, cursor: str },
      },
    },
  },
  security: [{ bearer: [] }],
  paths: {
    '/notifications': {
      get: {
        summary: 'Live events (Server-Sent Events)',
        description:
          'Frames: `event: krateo` with `id: <seq>` and `data:` an EventPayload; comment heartbeats; `event: resume` with `{"last_event_id","reason"}` before the server closes a stream that fell behind. Resume with the `Last-Event-ID` header or `lastEventId` / `last_event_id`.',
        parameters: [
          ...filterParams,
          { name: 'Last-Event-ID', in: 'header', schema: str },
          { name: 'lastEventId', in: 'query', schema: str },
          { name: 'last_event_id', in: 'query', schema: str },
          { name: 'token', in: 'query', description: 'JWT for clients that cannot send headers (also `access_token`)', schema: str },
        ],
        responses: { 200: { description: 'An event stream', content: { 'text/event-stream': { schema: str } } }, 400: error, 401: error },
      },
    },
    '/events': {
      get: { summary: 'History: latest version of each event', parameters: eventsParams, responses: eventsResponses },
      post: {
        summary: 'History, parameters as a JSON body (same names)',
        requestBody: { content: { 'application/json': { schema: { type: 'object' } } } },
        responses: eventsResponses,
      },
    },
    '/livez': { get: { summary: 'Liveness', security: [], responses: { 200: { description: 'Alive' } } } },
    '/readyz': { get: { summary: 'Readiness: database and LISTEN', security: [], responses: { 200: { description: 'Ready' }, 503: { description: 'Not ready' } } } },
  },
} as const;
