import { Elysia } from 'elysia';
import { AuthError, extractToken, type TokenIdentity, type TokenVerifier } from './access/auth-token.ts';
import type { Sql } from '../storage/db.ts';
import type { EventVisibility } from './access/event-visibility.ts';
import { parseEventsRequest, queryEvents } from './events-query.ts';
import { errorFields, type Logger } from '../runtime/log.ts';
import type { NamespaceCatalog } from './access/namespace-catalog.ts';
import { InputError, parseFilters, type FilterInput } from './core/filters.ts';
import { createPerKeyLimit, LimitError } from './core/limits.ts';
import type { HistoryGate } from './core/history-gate.ts';
import type { PresenterMetrics } from './core/metrics.ts';
import { readJsonBody } from './core/request-body.ts';
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
import { createConsoleRoutes } from './console-routes.ts';
import type { HTMLBundle } from 'bun';
import type { SseHub } from './sse/hub.ts';
import type { CredentialStore, UserCredentials } from './access/user-credentials.ts';

/** Everything the HTTP layer needs; tests pass real or fake collaborators. */
export interface PresenterAppDeps {
  tokens: TokenVerifier;
  corsOrigins: readonly string[];
  eventsMaxLimit: number;
  /** `/events` requests one user may have in flight. */
  eventsMaxConcurrentPerUser: number;
  /** Most rows one `/events` page reads (the scan window, lib/presenter/events-query.ts). */
  eventsScanWindowRows: number;
  /** Open streams in all, and of one user. */
  sseMaxStreams: number;
  sseMaxStreamsPerUser: number;
  /** The history pool (with its statement timeout): only `/events` queries run on it. */
  sql: Sql;
  /** Admission to the history pool: every query on `sql` runs through it. */
  historyGate: HistoryGate;
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
  /** The Events console page (Bun's HTML import), served at `/ui`. */
  consolePage?: HTMLBundle;
}

const json = (status: number, body: unknown, headers: Record<string, string>) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

/** Query parameters as lists (repeatable), the shape the parsers take. */
function queryInput(url: URL): FilterInput {
  const input: Record<string, string[]> = {};
  for (const [key, value] of url.searchParams) (input[key] ??= []).push(value);
  return input;
}

const seqPattern = /^\d{1,15}$/;

/** SQLSTATE query_canceled: the history pool's statement_timeout fired. */
const queryCanceled = '57014';

/** `Last-Event-ID` header, else the `lastEventId` / `last_event_id` query parameters. */
function resumePoint(request: Request, url: URL): number | undefined {
  const text =
    request.headers.get('last-event-id') ?? url.searchParams.get('lastEventId') ?? url.searchParams.get('last_event_id');
  if (text === null || text.trim() === '') return undefined;
  if (!seqPattern.test(text.trim())) throw new InputError('invalid_last_event_id', 'Last-Event-ID must be an event id from this stream');
  return Number(text.trim());
}

/**
 * The JSON error answer for `err`, counted in the error metrics. Attributes: ours (route, code) and
 * those Krateo's dashboards group by (method, stage, status_code).
 */
function failureResponse(
  { log, metrics }: Pick<PresenterAppDeps, 'log' | 'metrics'>,
  err: unknown,
  route: string,
  method: string,
  cors: Record<string, string>,
): Response {
  const counted = (status: number, stage: string, code: string) => {
    metrics.httpErrors.add(1, { route, code, method, stage, status_code: status });
    return status;
  };
  if (err instanceof AuthError) {
    metrics.authFailures.add(1, { reason: err.code });
    return json(counted(401, 'authenticate', err.code), { code: err.code, message: err.message }, { ...cors, 'www-authenticate': 'Bearer' });
  }
  if ((err as { code?: unknown }).code === queryCanceled) {
    err = new LimitError('query_timeout', 'the history query took too long; narrow the filters (namespace, since) or retry later', 503, 5);
  }
  if (err instanceof LimitError) {
    const headers = { ...cors, 'retry-after': String(err.retryAfterSeconds) };
    return json(counted(err.status, err.code === 'query_timeout' ? 'query' : 'admit', err.code), { code: err.code, message: err.message }, headers);
  }
  if ((err as { code?: unknown }).code === 'request_aborted') {
    // The client left while waiting for a history connection: nobody reads this answer.
    return json(counted(499, 'admit', 'request_aborted'), { code: 'request_aborted', message: 'the request was aborted' }, cors);
  }
  if (err instanceof InputError) {
    return json(counted(err.code === 'body_too_large' ? 413 : 400, 'validate', err.code), { code: err.code, message: err.message }, cors);
  }
  log.error('request failed', { route, ...errorFields(err) });
  return json(counted(500, 'query', 'internal'), { code: 'internal', message: 'internal error' }, cors);
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
    const identity = await deps.tokens.verify(token);
    return { identity, creds: await deps.credentials.get(identity.username) };
  };

  const fail = (err: unknown, route: string, method: string, cors: Record<string, string>) => failureResponse(deps, err, route, method, cors);

  const observe = (route: string, method: string, started: number, status: number) => {
    metrics.httpRequests.add(1, { route, status, method, status_code: status });
    metrics.httpDuration.record((performance.now() - started) / 1000, { route, method, status_code: status });
  };

  const inFlight = createPerKeyLimit(deps.eventsMaxConcurrentPerUser);
  const admit = (username: string) => {
    const release = inFlight.tryAcquire(username);
    if (!release) throw new LimitError('too_many_requests', 'too many /events requests in flight for this user', 429, 1);
    return release;
  };
  const runHistory = <T>(request: Request, work: () => Promise<T>) => deps.historyGate.run(work, request.signal);
  // Only namespaces that hold events can match: any other filter value costs no review.
  const candidateNamespaces = async (wanted: readonly string[] | undefined) => {
    const stored = await deps.catalog.list();
    return wanted ? wanted.filter(Set.prototype.has, new Set(stored)) : stored;
  };
  const events = async (request: Request, input: () => Promise<FilterInput>) => {
    const started = performance.now();
    const cors = corsHeaders(deps.corsOrigins, request);
    let response: Response;
    let release: (() => void) | undefined;
    try {
      const { identity } = await authenticate(request, false);
      const parsed = parseEventsRequest(await input(), { maxLimit: deps.eventsMaxLimit });
      // Only a request that will query takes a slot (a malformed one is answered at once).
      release = admit(identity.username);
      const candidates = await candidateNamespaces(parsed.filters.equal.namespace);
      const scope = await deps.visibility.scope(identity.username, candidates, { clusters: parsed.filters.equal.cluster, kinds: parsed.filters.equal.kind });
      const page = await runHistory(request, () => queryEvents(deps.sql, parsed, scope, { scanWindowRows: deps.eventsScanWindowRows }));
      metrics.httpResourcesReturned.add(page.resources.length, { method: request.method });
      response = json(200, page, cors);
    } catch (err) {
      response = fail(err, '/events', request.method, cors);
    } finally {
      release?.();
    }
    observe('/events', request.method, started, response.status);
    return response;
  };

  const openStreamAllowed = (username: string) => {
    if (deps.hub.clientCount >= deps.sseMaxStreams) throw new LimitError('server_busy', 'the server has too many open streams', 429, 5);
    if (deps.hub.streamsOf(username) >= deps.sseMaxStreamsPerUser) throw new LimitError('too_many_streams', 'this user has too many open streams', 429, 5);
  };

  // 429: too many requests in flight for the user; 503: the query timed out or no history
  // connection was free (413: a body over 1 MiB).
  const errors = { 400: errorBody, 401: errorBody, 429: errorBody, 503: errorBody };
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
        openStreamAllowed(identity.username);
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
          expiresAtMs: identity.expiresAtMs,
        });
        log.info('stream opened', { user: identity.username, stream: stream.id, resume: resumeAfterSeq !== undefined });
        observe('/notifications', request.method, started, 200);
        return stream.response;
      } catch (err) {
        const response = fail(err, '/notifications', request.method, cors);
        observe('/notifications', request.method, started, response.status);
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
    .post('/events', ({ request }) => events(request, () => readJsonBody(request)), {
      parse: 'none',
      response: { 200: eventsPage, ...errors, 413: errorBody },
      detail: { summary: 'History, parameters as a JSON body (same names)', requestBody: eventsRequestBody },
    })
    .use(createConsoleRoutes({ ...deps, authenticate: (request) => authenticate(request, false), admit, runHistory, candidateNamespaces, fail, observe }))
    .onError(({ code, request, error }) => {
      const cors = corsHeaders(deps.corsOrigins, request);
      if (code === 'NOT_FOUND') return json(404, { code: 'not_found', message: 'no such endpoint' }, cors);
      if (code === 'VALIDATION') return json(400, { code: 'invalid_parameter', message: 'a parameter has the wrong shape' }, cors);
      log.error('unhandled request error', { path: new URL(request.url).pathname, ...errorFields(error) });
      return json(500, { code: 'internal', message: 'internal error' }, cors);
    });
}
