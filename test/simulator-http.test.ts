import { describe, expect, test } from 'bun:test';
import * as k8s from '@kubernetes/client-node';
import { ApiError, startSimulator } from '../dev/simulator/index.ts';
import type { Simulator } from '../dev/simulator/index.ts';

// Plain-HTTP mode with bearer tokens, spoken to with fetch so the wire format itself is checked.

async function plainSimulator(options: Parameters<typeof startSimulator>[0] = {}) {
  const sim = await startSimulator({ tls: false, ...options });
  sim.addToken('admin-token', 'admin', ['system:masters']);
  return sim;
}

function call(sim: Simulator, path: string, init: RequestInit & { token?: string } = {}) {
  const { token = 'admin-token', ...rest } = init;
  const headers = new Headers(rest.headers);
  if (token) headers.set('authorization', `Bearer ${token}`);
  if (rest.body) headers.set('content-type', 'application/json');
  return fetch(`${sim.url}${path}`, { ...rest, headers });
}

async function json(sim: Simulator, path: string, init: RequestInit & { token?: string } = {}) {
  const response = await call(sim, path, init);
  return { status: response.status, body: (await response.json()) as any };
}

/** Reads a watch response line by line. */
function lines(response: Response) {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  return async (): Promise<any | undefined> => {
    for (;;) {
      const newline = buffer.indexOf('\n');
      if (newline >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        return JSON.parse(line);
      }
      const { done, value } = await reader.read();
      if (done) return undefined;
      buffer += value;
    }
  };
}

describe('simulator over plain HTTP', () => {
  test('serves client-node with bearer-token authentication from kubeconfigFor', async () => {
    await using sim = await plainSimulator();
    sim.setRbac('alice', [{ verbs: ['list'], resources: ['events'], namespaces: ['team-a'] }]);
    sim.createEvent({ metadata: { namespace: 'team-a', name: 'x.1' }, reason: 'Pulled', type: 'Normal' });
    const kubeconfig = await sim.kubeconfigFor('alice');
    expect(kubeconfig).toContain(`server: "${sim.url}"`);
    expect(kubeconfig).not.toContain('certificate-authority-data');
    const kc = new k8s.KubeConfig();
    kc.loadFromString(kubeconfig);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    expect((await core.listNamespacedEvent({ namespace: 'team-a' })).items.map((e) => e.reason)).toEqual(['Pulled']);
    expect(await core.listNamespacedEvent({ namespace: 'team-b' }).catch((e) => e.code)).toBe(403);
  });

  test('answers 401 with an Unauthorized Status without a token or with an unknown one', async () => {
    await using sim = await plainSimulator();
    for (const token of ['', 'wrong-token']) {
      const { status, body } = await json(sim, '/api/v1/events', { token });
      expect(status).toBe(401);
      expect(body).toEqual({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 });
    }
    const version = await json(sim, '/version', { token: '' });
    expect(version).toMatchObject({ status: 200, body: { major: '1', minor: '32' } });
    expect(await (await call(sim, '/readyz', { token: '' })).text()).toBe('ok');
  });

  test('discovery describes core resources and groups, including kinds first seen by setObject', async () => {
    await using sim = await plainSimulator();
    expect((await json(sim, '/api')).body).toMatchObject({ kind: 'APIVersions', versions: ['v1'] });
    const core = (await json(sim, '/api/v1')).body;
    const byName = Object.fromEntries(core.resources.map((r: any) => [r.name, r]));
    for (const [name, namespaced] of [['events', true], ['pods', true], ['secrets', true], ['namespaces', false], ['nodes', false]] as const) {
      expect(byName[name]).toMatchObject({ namespaced, verbs: expect.arrayContaining(['get', 'list', 'watch']) });
    }
    expect(byName.events.kind).toBe('Event');

    sim.setObject({ apiVersion: 'composition.krateo.io/v1-2-0', kind: 'FireworksApp', metadata: { namespace: 'a', name: 'app' } });
    const groups = (await json(sim, '/apis')).body.groups.map((g: any) => g.name);
    expect(groups).toEqual(expect.arrayContaining(['authorization.k8s.io', 'coordination.k8s.io', 'composition.krateo.io']));
    const krateo = (await json(sim, '/apis/composition.krateo.io/v1-2-0')).body;
    expect(krateo.resources).toEqual([expect.objectContaining({ name: 'fireworksapps', kind: 'FireworksApp', namespaced: true })]);
    const authz = (await json(sim, '/apis/authorization.k8s.io/v1')).body.resources.map((r: any) => r.name);
    expect(authz).toEqual(['selfsubjectaccessreviews', 'selfsubjectrulesreviews']);
    expect((await call(sim, '/openapi/v2')).status).toBe(404);
    expect((await json(sim, '/apis/nope.example.com/v1/things')).status).toBe(404);
  });

  test('pages one namespace without leaking neighbours whose names share its prefix', async () => {
    await using sim = await plainSimulator();
    for (const namespace of ['a-b', 'a', 'ab', 'a']) {
      sim.createEvent({ metadata: { namespace, generateName: 'e.' } });
    }
    const names: string[] = [];
    let next = '';
    do {
      const page = (await json(sim, `/api/v1/namespaces/a/events?limit=1${next && `&continue=${next}`}`)).body;
      names.push(...page.items.map((e: any) => e.metadata.namespace));
      next = page.metadata.continue ?? '';
    } while (next);
    expect(names).toEqual(['a', 'a']);
    const all = (await json(sim, '/api/v1/events?limit=3')).body;
    expect(all.items.map((e: any) => e.metadata.namespace)).toEqual(['a-b', 'a', 'a']); // etcd key order: '-' sorts before '/'
    expect(all.metadata.remainingItemCount).toBe(1);
  });

  test('a watch is chunked newline-delimited JSON that ends cleanly at the server default timeout', async () => {
    await using sim = await plainSimulator({ watchTimeoutSeconds: 0.1 });
    sim.createEvent({ metadata: { namespace: 'a', name: 'e.1' }, reason: 'One' });
    const response = await call(sim, '/api/v1/namespaces/a/events?watch=1');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(response.headers.get('transfer-encoding')).toBe('chunked');
    const next = lines(response);
    expect(await next()).toMatchObject({ type: 'ADDED', object: { kind: 'Event', apiVersion: 'v1', reason: 'One' } });
    expect(await next()).toBeUndefined();
  });

  test('sendInitialEvents streams the current state first, then a bookmark marking its end', async () => {
    await using sim = await plainSimulator();
    sim.createEvent({ metadata: { namespace: 'a', name: 'e.1' } });
    sim.createEvent({ metadata: { namespace: 'b', name: 'e.2' } });
    const query = 'watch=true&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&resourceVersion=';
    const next = lines(await call(sim, `/api/v1/namespaces/a/events?${query}`));
    expect(await next()).toMatchObject({ type: 'ADDED', object: { metadata: { name: 'e.1' } } });
    expect(await next()).toEqual({
      type: 'BOOKMARK',
      object: {
        kind: 'Event',
        apiVersion: 'v1',
        metadata: { resourceVersion: sim.resourceVersion(), annotations: { 'k8s.io/initial-events-end': 'true' } },
      },
    });
  });

  test('closeWatches drops open watch connections without a clean end', async () => {
    await using sim = await plainSimulator();
    const response = await call(sim, `/api/v1/events?watch=true&resourceVersion=${sim.resourceVersion()}`);
    const next = lines(response);
    sim.createEvent({ metadata: { namespace: 'a', name: 'e.1' } });
    expect((await next())?.type).toBe('ADDED');
    expect(sim.openWatches()).toBe(1);
    sim.closeWatches();
    expect(await next().then(() => 'clean end', () => 'dropped')).toBe('dropped');
    expect(sim.openWatches()).toBe(0);
  });

  test('failNext fails the next matching requests with the given status, then recovers', async () => {
    await using sim = await plainSimulator();
    sim.failNext(2, 500, '/events');
    expect((await json(sim, '/api/v1/pods')).status).toBe(200);
    const failed = await json(sim, '/api/v1/events');
    expect(failed).toMatchObject({ status: 500, body: { kind: 'Status', code: 500, reason: 'InternalError' } });
    expect((await json(sim, '/api/v1/namespaces/a/events')).status).toBe(500);
    expect((await json(sim, '/api/v1/events')).status).toBe(200);
    sim.failNext(1, 429);
    expect((await json(sim, '/version')).status).toBe(429);
  });

  test('setOutage answers 503 and drops open watches until it is turned off', async () => {
    await using sim = await plainSimulator();
    const next = lines(await call(sim, `/api/v1/events?watch=true&resourceVersion=${sim.resourceVersion()}`));
    sim.setOutage(true);
    expect(await next().then(() => 'clean end', () => 'dropped')).toBe('dropped');
    expect((await json(sim, '/api/v1/events')).body).toMatchObject({ code: 503, reason: 'ServiceUnavailable' });
    sim.setOutage(false);
    expect((await json(sim, '/api/v1/events')).status).toBe(200);
  });

  test('secrets are served base64, listed, and watched through changes and deletion', async () => {
    await using sim = await plainSimulator();
    sim.setSecret('krateo', 'alice-clientconfig', { 'server-url': 'https://k8s.example:6443', token: 't0' });
    const secret = (await json(sim, '/api/v1/namespaces/krateo/secrets/alice-clientconfig')).body;
    expect(secret).toMatchObject({ kind: 'Secret', type: 'Opaque' });
    expect(Buffer.from(secret.data.token, 'base64').toString()).toBe('t0');
    const list = (await json(sim, '/api/v1/namespaces/krateo/secrets')).body;
    expect(list.kind).toBe('SecretList');

    const next = lines(await call(sim, `/api/v1/namespaces/krateo/secrets?watch=true&resourceVersion=${list.metadata.resourceVersion}`));
    sim.setSecret('krateo', 'alice-clientconfig', { 'server-url': 'https://k8s.example:6443', token: 't1' });
    sim.deleteSecret('krateo', 'alice-clientconfig');
    const modified = await next();
    expect(modified.type).toBe('MODIFIED');
    expect(Buffer.from(modified.object.data.token, 'base64').toString()).toBe('t1');
    expect((await next()).type).toBe('DELETED');
    expect((await json(sim, '/api/v1/namespaces/krateo/secrets/alice-clientconfig')).status).toBe(404);
  });

  test('history keeps every created and updated Event version, in order, but no deletions', async () => {
    await using sim = await plainSimulator();
    const first = sim.createEvent({ metadata: { namespace: 'a', generateName: 'web-1.' }, count: 1, reason: 'BackOff' });
    expect(first.metadata.name).toStartWith('web-1.');
    expect(() => sim.createEvent(first)).toThrow(ApiError);
    sim.updateEvent({ ...first, count: 2 });
    sim.updateEvent({ ...first, count: 3 });
    sim.deleteEvent('a', first.metadata.name);
    expect(() => sim.updateEvent(first)).toThrow('not found');
    const history = sim.history();
    expect(history.map((e) => e.count)).toEqual([1, 2, 3]);
    expect(new Set(history.map((e) => e.metadata.uid))).toEqual(new Set([first.metadata.uid]));
    expect(history.map((e) => Number(e.metadata.resourceVersion))).toEqual([1001, 1002, 1003]);
  });

  test('leases support create and optimistic-concurrency updates for leader election', async () => {
    await using sim = await plainSimulator();
    const path = '/apis/coordination.k8s.io/v1/namespaces/krateo/leases';
    const lease = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'ingester' }, spec: { holderIdentity: 'a' } };
    const created = await json(sim, path, { method: 'POST', body: JSON.stringify(lease) });
    expect(created).toMatchObject({ status: 201, body: { metadata: { namespace: 'krateo' }, spec: { holderIdentity: 'a' } } });
    expect((await json(sim, path, { method: 'POST', body: JSON.stringify(lease) })).body.reason).toBe('AlreadyExists');

    const renewed = { ...created.body, spec: { holderIdentity: 'b' } };
    const updated = await json(sim, `${path}/ingester`, { method: 'PUT', body: JSON.stringify(renewed) });
    expect(updated.status).toBe(200);
    const stale = await json(sim, `${path}/ingester`, { method: 'PUT', body: JSON.stringify(renewed) });
    expect(stale).toMatchObject({ status: 409, body: { reason: 'Conflict' } });
    expect((await json(sim, `${path}/ingester`)).body.spec.holderIdentity).toBe('b');
  });

  test('records each request with method, path and the authenticated user', async () => {
    await using sim = await plainSimulator();
    await call(sim, '/api/v1/events?limit=5');
    await call(sim, '/api/v1/events', { token: '' });
    expect(sim.requests()).toEqual([
      { method: 'GET', path: '/api/v1/events', query: '?limit=5', username: 'admin' },
      { method: 'GET', path: '/api/v1/events', query: '', username: undefined },
    ]);
  });
});
