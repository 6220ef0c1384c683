import { describe, expect, test } from 'bun:test';
import { silentLogger } from '../lib/runtime/log.ts';
import { createPresenterApp, type PresenterAppDeps } from '../lib/presenter/http-app.ts';
import { equalityFilters } from '../lib/presenter/core/filters.ts';
import { createPresenterMetrics } from '../lib/presenter/core/metrics.ts';
import { startPresenterHarness } from './support/presenter-harness.ts';

/** App dependencies for routing-only tests: nothing that touches a database or a cluster is called. */
function buildAppDeps(overrides: Partial<PresenterAppDeps> = {}): PresenterAppDeps {
  const unused = new Proxy({}, { get: () => { throw new Error('not used by this test'); } }) as never;
  return {
    tokens: unused, corsOrigins: ['*'], eventsMaxLimit: 1000, eventsMaxConcurrentPerUser: 4, eventsScanWindowRows: 5000, sseMaxStreams: 100, sseMaxStreamsPerUser: 10,
    sql: unused, historyGate: unused, hub: unused, visibility: unused, credentials: unused, catalog: unused,
    log: silentLogger, metrics: createPresenterMetrics(), isReady: async () => true,
    ...overrides,
  };
}

interface Operation {
  summary?: string;
  parameters?: { name: string; in: string }[];
  responses?: Record<string, unknown>;
  requestBody?: { content: Record<string, { schema: { properties: Record<string, unknown> } }> };
}
type Document = { openapi: string; paths: Record<string, Record<string, Operation>> };

async function documentOf(app: ReturnType<typeof createPresenterApp>): Promise<Document> {
  return (await (await app.handle(new Request('http://localhost/openapi.json'))).json()) as Document;
}

const keysOf = (schema: unknown) => Object.keys((schema as { properties?: Record<string, unknown> } | undefined)?.properties ?? {});

describe('OpenAPI document', () => {
  test('documents every route of the app, with a summary, responses and exactly the parameters its schemas declare', async () => {
    const app = createPresenterApp(buildAppDeps());
    const doc = await documentOf(app);
    const routes = app.routes.filter((r) => !(r.hooks.detail as { hide?: boolean } | undefined)?.hide);
    expect(routes.map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /livez', 'GET /readyz', 'GET /notifications', 'GET /events', 'POST /events', 'GET /events/histogram', 'GET /events/facets',
    ]);
    for (const route of routes) {
      const operation = doc.paths[route.path]?.[route.method.toLowerCase()];
      const declared = [...keysOf(route.hooks.query).map((n) => `query ${n}`), ...keysOf(route.hooks.headers).map((n) => `header ${n}`)];
      expect({
        route: `${route.method} ${route.path}`,
        summary: typeof operation?.summary,
        has200: operation?.responses?.['200'] !== undefined,
        parameters: (operation?.parameters ?? []).map((p) => `${p.in} ${p.name}`),
      }).toEqual({ route: `${route.method} ${route.path}`, summary: 'string', has200: true, parameters: declared });
    }
  });

  test('every parameter the handlers parse is documented on the endpoints that accept it', async () => {
    const doc = await documentOf(createPresenterApp(buildAppDeps()));
    const names = (op: Operation | undefined) => (op?.parameters ?? []).map((p) => p.name).toSorted();
    const filters = Object.keys(equalityFilters);
    const history = [...filters, 'labels', 'since', 'until', 'q', 'limit', 'cursor'].toSorted();
    const aggregate = [...filters, 'labels', 'since', 'until', 'q'];
    expect(names(doc.paths['/events']?.get)).toEqual(history);
    expect(Object.keys(doc.paths['/events']?.post?.requestBody?.content['application/json']?.schema.properties ?? {}).toSorted()).toEqual(history);
    expect(names(doc.paths['/events/histogram']?.get)).toEqual([...aggregate, 'bucket'].toSorted());
    expect(names(doc.paths['/events/facets']?.get)).toEqual([...aggregate, 'top'].toSorted());
    expect(names(doc.paths['/notifications']?.get)).toEqual([...filters, 'lastEventId', 'last_event_id', 'token', 'access_token', 'last-event-id'].toSorted());
  });

  test('is served at /openapi.json and as a browsable reference at /openapi without a token', async () => {
    await using h = await startPresenterHarness();
    const spec = await fetch(`${h.url}/openapi.json`);
    const ui = await fetch(`${h.url}/openapi`);
    const doc = (await spec.json()) as Document;
    expect({ status: spec.status, openapi: doc.openapi.startsWith('3.1'), paths: Object.keys(doc.paths) }).toEqual({
      status: 200,
      openapi: true,
      paths: ['/livez', '/readyz', '/notifications', '/events', '/events/histogram', '/events/facets'],
    });
    expect({ status: ui.status, type: ui.headers.get('content-type') }).toEqual({ status: 200, type: 'text/html; charset=utf8' });
  });
});
