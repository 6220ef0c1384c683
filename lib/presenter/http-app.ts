import { Elysia } from 'elysia';
import { AuthError, extractToken, verifyToken, type TokenIdentity } from './access/auth-token.ts';
import type { Sql } from '../storage/db.ts';
import type { EventVisibility } from './access/event-visibility.ts';
import { parseEventsRequest, queryEvents } from './events-query.ts';
import { errorFields, type Logger } from '../runtime/log.ts';
import type { NamespaceCatalog } from './access/namespace-catalog.ts';
import { InputError, parseFilters, type FilterInput } from './core/filters.ts';
import type { PresenterMetrics } from './core/metrics.ts';
import {
  createOpenApiPlugin,
  errorBody,
  eventsPage,
  eventsQuery,
  eventsRequestBody,
  notificationsHeaders,
  notificationsQuery,
  notificationsResponses,
  probeBody,
} from './openapi.ts';
import { corsHeaders, preflightResponse } from './cors.ts';
import type { SseHub } from './sse/hub.ts';
import type { CredentialStore, UserCredentials } from './access/user-credentials.ts';

/** Everything the HTTP layer needs; tests pass real or fake collaborators. */
export interface PresenterAppDeps {
  jwtSignKey: string;
  corsOrigins: readonly string[];
  eventsMaxLimit: number;
  sql: Sql;
  hub: SseHub;
  visibility: EventVisibility;
  credentials: CredentialStore;
  catalog: NamespaceCatalog;
  log: Logger;
  metrics: PresenterMetrics;
  /** Database reachable, LISTEN active and not shutting down. */
  isReady: () => Promise<boolean>;
  /** Shown in the OpenAPI document. */
  version?: string;
}

const json = (status: number, body: unknown, headers: Record<string, string>) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

/** Query parameters as lists (repeatable), the shape the parsers take. */
function queryInput(url: URL): FilterInput {
  const input: Record<string, string[]> = {};
  for (const [key, value] of url.searchParams) (input[key] ??= []).push(value);
  return input;
}

/** Largest `POST /events` body accepted (1 MiB; filters are a few hundred bytes). */
const maxBodyBytes = 1_048_576;

const seqPattern = /^\d{1,15}$/;

/** `Last-Event-ID` header, else the `lastEventId` / `last_event_id` query parameters. */
function resumePoint(request: Request, url: URL): number | undefined {
  const text =
    request.headers.get('last-event-id') ?? url.searchParams.get('lastEventId') ?? url.searchParams.get('last_event_id');
  if (text === null || text.trim() === '') return undefined;
  if (!seqPattern.test(text.trim())) throw new InputError('invalid_last_event_id', 'Last-Event-ID must be an event id from this stream');
  return Number(text.trim());
}

/**
 * Creates the presenter's HTTP app: `/notifications` (SSE), `GET|POST /events`, `/livez`, `/readyz`,
 * `/openapi.json` (generated from the route schemas) and `/openapi` (a browsable reference). Guarantees: every error is JSON `{code, message}` without database text; tokens
 * are accepted from the query only on `/notifications` and URLs are logged without their query;
 * CORS preflights need no token.
 */
export function createPresenterApp(deps: PresenterAppDeps) {
  const { log, metrics } = deps;

  const authenticate = async (request: Request, allowQuery: boolean, url?: URL): Promise<{ identity: TokenIdentity; creds: UserCredentials }> => {
    const token = extractToken(request, { allowQuery, url });
    if (token === undefined) throw new AuthError('missing_token', 'a Bearer token is required');
    const identity = verifyToken(token, deps.jwtSignKey);
    return { identity, creds: await deps.credentials.get(identity.username) };
  };

  const fail = (err: unknown, route: string, cors: Record<string, string>): Response => {
    if (err instanceof AuthError) {
      metrics.authFailures.add(1, { reason: err.code });
      metrics.httpErrors.add(1, { route, code: err.code });
      return json(401, { code: err.code, message: err.message }, { ...cors, 'www-authenticate': 'Bearer' });
    }
    if (err instanceof InputError) {
      metrics.httpErrors.add(1, { route, code: err.code });
      return json(err.code === 'body_too_large' ? 413 : 400, { code: err.code, message: err.message }, cors);
    }
    log.error('request failed', { route, ...errorFields(err) });
    metrics.httpErrors.add(1, { route, code: 'internal' });
    return json(500, { code: 'internal', message: 'internal error' }, cors);
  };

  const observe = (route: string, started: number, status: number) => {
    metrics.httpRequests.add(1, { route, status });
    metrics.httpDuration.record((performance.now() - started) / 1000, { route });
  };

  const events = async (request: Request, input: () => Promise<FilterInput>) => {
    const started = performance.now();
    const cors = corsHeaders(deps.corsOrigins, request);
    let response: Response;
    try {
      const { identity, creds } = await authenticate(request, false);
      const parsed = parseEventsRequest(await input(), { maxLimit: deps.eventsMaxLimit });
      const candidates = parsed.filters.equal.namespace ?? (await deps.catalog.list());
      const scope = await deps.visibility.scope(identity.username, creds, candidates, parsed.filters.equal.kind);
      response = json(200, await queryEvents(deps.sql, parsed, scope), cors);
    } catch (err) {
      response = fail(err, '/events', cors);
    }
    observe('/events', started, response.status);
    return response;
  };

  const readBody = async (request: Request): Promise<FilterInput> => {
    // The body holds filters only: a bigger one is refused, unread when its length is declared.
    const tooLarge = () => new InputError('body_too_large', `body must be at most ${maxBodyBytes} bytes`);
    if (Number(request.headers.get('content-length') ?? 0) > maxBodyBytes) throw tooLarge();
    const text = await request.text();
    if (Buffer.byteLength(text) > maxBodyBytes) throw tooLarge();
    if (text.trim() === '') return {};
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new InputError('invalid_body', 'body must be a JSON object');
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new InputError('invalid_body', 'body must be a JSON object');
    return body as FilterInput;
  };

  const errors = { 400: errorBody, 401: errorBody };
  const probe = (summary: string) => ({ response: { 200: probeBody, 503: probeBody }, detail: { summary, security: [] } });

  return new Elysia()
    .onRequest(({ request }) => {
      if (request.method === 'OPTIONS') return preflightResponse(deps.corsOrigins, request);
    })
    .use(createOpenApiPlugin(deps.version ?? '0.1.0'))
    .get('/livez', ({ request }) => json(200, { status: 'ok' }, corsHeaders(deps.corsOrigins, request)), probe('Liveness'))
    .get(
      '/readyz',
      async ({ request }) => {
        const ready = await deps.isReady().catch(() => false);
        return json(ready ? 200 : 503, { status: ready ? 'ready' : 'not_ready' }, corsHeaders(deps.corsOrigins, request));
      },
      probe('Readiness: database reachable, LISTEN active, not shutting down'),
    )
    .get('/notifications', async ({ request, server }) => {
      const started = performance.now();
      const cors = corsHeaders(deps.corsOrigins, request);
      try {
        const url = new URL(request.url);
        const { identity, creds } = await authenticate(request, true, url);
        const filters = parseFilters(queryInput(url), { history: false });
        const resumeAfterSeq = resumePoint(request, url);
        // Bun closes idle connections after its idleTimeout; a quiet stream must stay open.
        server?.timeout(request, 0);
        const stream = deps.hub.connect({
          signal: request.signal,
          username: identity.username,
          creds,
          filters,
          resumeAfterSeq,
          headers: cors,
        });
        log.info('stream opened', { user: identity.username, stream: stream.id, resume: resumeAfterSeq !== undefined });
        observe('/notifications', started, 200);
        return stream.response;
      } catch (err) {
        const response = fail(err, '/notifications', cors);
        observe('/notifications', started, response.status);
        return response;
      }
    }, {
      query: notificationsQuery,
      headers: notificationsHeaders,
      detail: { summary: 'Live events (Server-Sent Events), resumable', responses: notificationsResponses },
    })
    .get('/events', ({ request }) => events(request, async () => queryInput(new URL(request.url))), {
      query: eventsQuery,
      response: { 200: eventsPage, ...errors },
      detail: { summary: 'History: the latest version of each event, newest first' },
    })
    .post('/events', ({ request }) => events(request, () => readBody(request)), {
      parse: 'none',
      response: { 200: eventsPage, ...errors },
      detail: { summary: 'History, parameters as a JSON body (same names)', requestBody: eventsRequestBody },
    })
    .onError(({ code, request, error }) => {
      const cors = corsHeaders(deps.corsOrigins, request);
      if (code === 'NOT_FOUND') return json(404, { code: 'not_found', message: 'no such endpoint' }, cors);
      if (code === 'VALIDATION') return json(400, { code: 'invalid_parameter', message: 'a parameter has the wrong shape' }, cors);
      log.error('unhandled request error', { path: new URL(request.url).pathname, ...errorFields(error) });
      return json(500, { code: 'internal', message: 'internal error' }, cors);
    });
}
