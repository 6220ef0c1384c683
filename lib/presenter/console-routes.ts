import { Elysia } from 'elysia';
import type { TokenIdentity } from './access/auth-token.ts';
import { consoleAssetsPath, loadConsoleBundle, serveConsoleFile, type ConsoleBundle } from './console-assets.ts';
import type { Sql } from '../storage/db.ts';
import type { EventVisibility, VisibleScope } from './access/event-visibility.ts';
import { parseAggregateRequest, parseFacetsTop, parseHistogramRequest, queryFacets, queryHistogram, type AggregateRequest } from './events-aggregates.ts';
import type { NamespaceCatalog } from './access/namespace-catalog.ts';
import type { FilterInput } from './core/filters.ts';
import { errorBody, facetsBody, facetsQuery, histogramBody, histogramQuery } from './openapi.ts';
import { corsHeaders } from './cors.ts';
import type { UserCredentials } from './access/user-credentials.ts';
import type { HTMLBundle } from 'bun';

/** What the console's routes take from the presenter app: its collaborators and its request helpers. */
export interface ConsoleRoutesDeps {
  sql: Sql;
  visibility: EventVisibility;
  catalog: NamespaceCatalog;
  corsOrigins: readonly string[];
  /** The console page (Bun's HTML import); `/ui` answers 404 without it. */
  consolePage?: HTMLBundle;
  authenticate: (request: Request) => Promise<{ identity: TokenIdentity; creds: UserCredentials }>;
  /** Takes one of the user's `/events` slots (shared with `/events`); throws LimitError when none is free. */
  admit: (username: string) => () => void;
  /** Runs a query on the history pool once the history gate admits it (throws LimitError when it does not). */
  runHistory: <T>(request: Request, work: () => Promise<T>) => Promise<T>;
  /** The namespaces worth asking about: `wanted` (a filter) cut to those holding events, else all of those. */
  candidateNamespaces: (wanted: readonly string[] | undefined) => Promise<string[]>;
  fail: (err: unknown, route: string, method: string, cors: Record<string, string>) => Response;
  observe: (route: string, method: string, started: number, status: number) => void;
}

/** Query parameters as lists (repeatable), the shape the parsers take. */
function queryInput(url: URL): FilterInput {
  const input: Record<string, string[]> = {};
  for (const [key, value] of url.searchParams) (input[key] ??= []).push(value);
  return input;
}

const json = (body: unknown, headers: Record<string, string>) =>
  new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json', ...headers } });

const notFound = () => new Response(JSON.stringify({ code: 'not_found', message: 'no such endpoint' }), { status: 404, headers: { 'content-type': 'application/json' } });

/**
 * The Events console's routes: `GET /events/histogram` and `GET /events/facets` (the `/events`
 * filters and the caller's RBAC, as one SQL predicate), the page at `/ui` and its hashed assets at
 * `/ui/assets/*` (no token: the page holds no data; it asks the API with the user's token).
 */
export function createConsoleRoutes(deps: ConsoleRoutesDeps) {
  let bundle: Promise<ConsoleBundle> | undefined;
  const loadBundle = () => (bundle ??= loadConsoleBundle(deps.consolePage!));

  const aggregate = async <T>(request: Request, route: string, run: (input: FilterInput, scope: (r: AggregateRequest) => Promise<VisibleScope>) => Promise<T>) => {
    const started = performance.now();
    const cors = corsHeaders(deps.corsOrigins, request);
    let response: Response;
    let release: (() => void) | undefined;
    try {
      const { identity } = await deps.authenticate(request);
      // Called once the parameters are valid: only a request that will query takes a slot.
      const scope = async (parsed: AggregateRequest) => {
        release ??= deps.admit(identity.username);
        return await deps.visibility.scope(identity.username, await deps.candidateNamespaces(parsed.filters.equal.namespace), {
          clusters: parsed.filters.equal.cluster,
          kinds: parsed.filters.equal.kind,
        });
      };
      response = json(await run(queryInput(new URL(request.url)), scope), cors);
    } catch (err) {
      response = deps.fail(err, route, request.method, cors);
    } finally {
      release?.();
    }
    deps.observe(route, request.method, started, response.status);
    return response;
  };

  const page = async (request: Request, name?: string) => {
    if (!deps.consolePage) return notFound();
    const loaded = await loadBundle();
    if (name === undefined) return serveConsoleFile(request, loaded.page, 'page');
    const file = loaded.assets.get(name);
    return file ? serveConsoleFile(request, file, 'asset') : notFound();
  };

  return new Elysia({ name: 'events-console' })
    // Parameters are parsed by the handlers; a shape Elysia rejects (a repeated single value) is a 400 like theirs.
    .onError(({ code, request }) => {
      if (code !== 'VALIDATION') return;
      return new Response(JSON.stringify({ code: 'invalid_parameter', message: 'a parameter has the wrong shape' }), {
        status: 400,
        headers: { 'content-type': 'application/json', ...corsHeaders(deps.corsOrigins, request) },
      });
    })
    .get(
      '/events/histogram',
      ({ request }) =>
        aggregate(request, '/events/histogram', async (input, scope) => {
          const parsed = parseHistogramRequest(input);
          const visible = await scope(parsed);
          return await deps.runHistory(request, () => queryHistogram(deps.sql, parsed, visible));
        }),
      {
        query: histogramQuery,
        response: { 200: histogramBody, 400: errorBody, 401: errorBody, 429: errorBody, 503: errorBody },
        detail: { summary: 'Events per time bucket and type (Normal, Warning, other), same filters and RBAC as /events' },
      },
    )
    .get(
      '/events/facets',
      ({ request }) =>
        aggregate(request, '/events/facets', async (input, scope) => {
          const parsed = parseAggregateRequest(input);
          const top = parseFacetsTop(input);
          const visible = await scope(parsed);
          return await deps.runHistory(request, () => queryFacets(deps.sql, parsed, visible, top));
        }),
      {
        query: facetsQuery,
        response: { 200: facetsBody, 400: errorBody, 401: errorBody, 429: errorBody, 503: errorBody },
        detail: { summary: 'Top reasons, namespaces and kinds with counts, same filters and RBAC as /events' },
      },
    )
    .get('/ui', ({ request }) => page(request), { detail: { hide: true } })
    .get(`${consoleAssetsPath}:name`, ({ request, params }) => page(request, params.name), { detail: { hide: true } });
}
