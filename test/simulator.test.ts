import { describe, expect, test } from 'bun:test';
import * as k8s from '@kubernetes/client-node';
import { startSimulator } from '../dev/simulator/index.ts';
import type { KubeObject, Simulator } from '../dev/simulator/index.ts';

// Every test here talks HTTPS with CA verification and client-certificate auth through the
// pinned @kubernetes/client-node 1.4.0, the way the ingester and presenter do.

function configFrom(kubeconfig: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromString(kubeconfig);
  return kc;
}

async function clientFor(sim: Simulator, username: string, groups: string[] = []) {
  const kc = configFrom(await sim.kubeconfigFor(username, groups));
  return { kc, core: kc.makeApiClient(k8s.CoreV1Api), authz: kc.makeApiClient(k8s.AuthorizationV1Api) };
}

function podEvent(namespace: string, name: string, extra: Record<string, unknown> = {}): KubeObject {
  return {
    metadata: { namespace, name },
    involvedObject: { apiVersion: 'v1', kind: 'Pod', namespace, name: name.split('.')[0] },
    reason: 'Scheduled',
    message: `event ${name}`,
    type: 'Normal',
    count: 1,
    source: { component: 'default-scheduler' },
    lastTimestamp: '2025-03-01T10:00:00Z',
    ...extra,
  };
}

interface Seen {
  type: string;
  object: Record<string, any>;
}

/** Opens a k8s.Watch and records what it sees; disposing it aborts the request. */
async function openWatch(kc: k8s.KubeConfig, path: string, params: Record<string, string | number | boolean | undefined>) {
  const seen: Seen[] = [];
  const waiters: Array<() => void> = [];
  let settle!: (error: unknown) => void;
  const done = new Promise<unknown>((resolve) => (settle = resolve));
  const notify = () => waiters.splice(0).forEach((wake) => wake());
  const controller = await new k8s.Watch(kc).watch(
    path,
    params,
    (type, object) => {
      seen.push({ type, object });
      notify();
    },
    (error) => {
      settle(error ?? null);
      notify();
    },
  );
  const until = async (predicate: (seen: Seen[]) => boolean, what: string, timeoutMs = 5000) => {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(seen)) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`timed out waiting for ${what}; saw ${JSON.stringify(seen.map((s) => s.type))}`);
      await new Promise<void>((wake) => {
        waiters.push(wake);
        setTimeout(wake, remaining);
      });
    }
    return seen;
  };
  return { seen, until, done, [Symbol.asyncDispose]: async () => controller.abort() };
}

describe('simulator with @kubernetes/client-node over HTTPS', () => {
  test('lists events in all namespaces and in one namespace with a verified client certificate', async () => {
    await using sim = await startSimulator();
    sim.createEvent(podEvent('team-a', 'web-1.aaa'));
    sim.createEvent(podEvent('team-b', 'db-1.bbb'));
    const { core } = await clientFor(sim, 'admin', ['system:masters']);

    const all = await core.listEventForAllNamespaces();
    expect(all.items.map((e) => `${e.metadata?.namespace}/${e.metadata?.name}`)).toEqual([
      'team-a/web-1.aaa',
      'team-b/db-1.bbb',
    ]);
    expect(Number(all.metadata?.resourceVersion)).toBe(Number(sim.resourceVersion()));
    expect(all.items[0]?.reason).toBe('Scheduled');
    expect(all.items[0]?.metadata?.uid).toBeString();

    const one = await core.listNamespacedEvent({ namespace: 'team-b' });
    expect(one.items.map((e) => e.metadata?.name)).toEqual(['db-1.bbb']);
  });

  test('pages a list with limit and continue at one consistent resourceVersion', async () => {
    await using sim = await startSimulator();
    for (const name of ['a.1', 'b.1', 'c.1', 'd.1', 'e.1']) sim.createEvent(podEvent('ns', name));
    const { core } = await clientFor(sim, 'admin', ['system:masters']);

    const first = await core.listEventForAllNamespaces({ limit: 2 });
    expect(first.items.map((e) => e.metadata?.name)).toEqual(['a.1', 'b.1']);
    expect(first.metadata?.remainingItemCount).toBe(3);
    sim.createEvent(podEvent('ns', 'bb.1')); // after the snapshot: must not appear in later pages
    const second = await core.listEventForAllNamespaces({ limit: 2, _continue: first.metadata!._continue! });
    const third = await core.listEventForAllNamespaces({ limit: 2, _continue: second.metadata!._continue! });
    expect([...second.items, ...third.items].map((e) => e.metadata?.name)).toEqual(['c.1', 'd.1', 'e.1']);
    expect(third.metadata?._continue).toBeUndefined();
    expect(second.metadata?.resourceVersion).toBe(first.metadata?.resourceVersion);
  });

  test('a watch sees created and updated events in resourceVersion order, deletions too', async () => {
    await using sim = await startSimulator();
    const { kc, core } = await clientFor(sim, 'admin', ['system:masters']);
    const listed = await core.listEventForAllNamespaces();
    await using watch = await openWatch(kc, '/api/v1/events', { resourceVersion: listed.metadata?.resourceVersion });

    const created = sim.createEvent(podEvent('team-a', 'web-1.aaa'));
    const bumped = sim.updateEvent({ ...podEvent('team-a', 'web-1.aaa'), count: 2, lastTimestamp: '2025-03-01T10:05:00Z' });
    sim.createEvent({
      metadata: { namespace: 'team-b', name: 'job.ccc' },
      eventTime: '2025-03-01T10:06:00.000000Z',
      reportingController: 'example.com/controller',
      reportingInstance: 'controller-0',
      action: 'Reconcile',
      regarding: { kind: 'Job', name: 'job' },
      reason: 'Synced',
      note: 'new-style event',
      type: 'Normal',
      series: { count: 3, lastObservedTime: '2025-03-01T10:07:00.000000Z' },
    });
    sim.deleteEvent('team-a', 'web-1.aaa');

    const seen = await watch.until((s) => s.length >= 4, 'four watch events');
    expect(seen.map((s) => s.type)).toEqual(['ADDED', 'MODIFIED', 'ADDED', 'DELETED']);
    const versions = seen.map((s) => Number(s.object.metadata.resourceVersion));
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
    expect(new Set(versions).size).toBe(4);
    expect(seen[0]?.object.metadata.resourceVersion).toBe(created.metadata.resourceVersion);
    expect(seen[1]?.object.count).toBe(2);
    expect(seen[1]?.object.metadata.uid).toBe(bumped.metadata.uid);
    expect(seen[2]?.object.series).toEqual({ count: 3, lastObservedTime: '2025-03-01T10:07:00.000000Z' });
    expect(seen[2]?.object.reportingController).toBe('example.com/controller');
  });

  test('a watch from a compacted resourceVersion gets an ERROR event with a 410 Status', async () => {
    await using sim = await startSimulator();
    const old = sim.createEvent(podEvent('ns', 'a.1')).metadata.resourceVersion;
    sim.createEvent(podEvent('ns', 'b.1'));
    sim.compact();
    const { kc } = await clientFor(sim, 'admin', ['system:masters']);

    await using watch = await openWatch(kc, '/api/v1/namespaces/ns/events', { resourceVersion: old });
    const [error] = await watch.until((s) => s.length >= 1, 'the ERROR event');
    expect(error?.type).toBe('ERROR');
    expect(error?.object).toMatchObject({ kind: 'Status', code: 410, reason: 'Expired' });
    expect(await watch.done).toBeNull();

    await using current = await openWatch(kc, '/api/v1/namespaces/ns/events', { resourceVersion: sim.resourceVersion() });
    sim.createEvent(podEvent('ns', 'c.1'));
    const [added] = await current.until((s) => s.length >= 1, 'an event after compaction');
    expect(added?.type).toBe('ADDED');
  });

  test('a paged list continued after compaction gets 410 Gone', async () => {
    await using sim = await startSimulator();
    for (const name of ['a.1', 'b.1', 'c.1']) sim.createEvent(podEvent('ns', name));
    const { core } = await clientFor(sim, 'admin', ['system:masters']);
    const first = await core.listEventForAllNamespaces({ limit: 1 });
    sim.createEvent(podEvent('ns', 'd.1'));
    sim.compact();
    const error = await core.listEventForAllNamespaces({ limit: 1, _continue: first.metadata!._continue! }).catch((e) => e);
    expect(error).toBeInstanceOf(k8s.ApiException);
    expect(error.code).toBe(410);
  });

  test('a watch without resourceVersion starts with the current events as ADDED', async () => {
    await using sim = await startSimulator();
    sim.createEvent(podEvent('ns', 'a.1'));
    const { kc } = await clientFor(sim, 'admin', ['system:masters']);
    await using watch = await openWatch(kc, '/api/v1/events', {});
    sim.createEvent(podEvent('ns', 'b.1'));
    const seen = await watch.until((s) => s.length >= 2, 'two events');
    expect(seen.map((s) => `${s.type} ${s.object.metadata.name}`)).toEqual(['ADDED a.1', 'ADDED b.1']);
  });

  test('a watch with allowWatchBookmarks receives BOOKMARKs carrying the current resourceVersion', async () => {
    await using sim = await startSimulator({ bookmarkEveryMs: 20 });
    const { kc } = await clientFor(sim, 'admin', ['system:masters']);
    await using watch = await openWatch(kc, '/api/v1/events', { resourceVersion: sim.resourceVersion(), allowWatchBookmarks: true });
    sim.setSecret('ns', 'unrelated', { key: 'value' }); // moves the cluster's version without an Event
    const seen = await watch.until(
      (s) => s.some((e) => e.type === 'BOOKMARK' && e.object.metadata.resourceVersion === sim.resourceVersion()),
      'a bookmark at the current version',
    );
    expect(seen.every((e) => e.type === 'BOOKMARK')).toBe(true);
    expect(seen[0]?.object).toMatchObject({ kind: 'Event', apiVersion: 'v1' });
  });

  test('a watch ends cleanly at the server default watch timeout, and open watches are counted', async () => {
    await using sim = await startSimulator({ watchTimeoutSeconds: 0.05 });
    const { kc } = await clientFor(sim, 'admin', ['system:masters']);
    await using watch = await openWatch(kc, '/api/v1/events', { resourceVersion: sim.resourceVersion() });
    expect(await watch.done).toBeNull();
    expect(sim.openWatches()).toBe(0);
  });

  test('gets a labelled pod, a composition and a cluster-scoped node as set on the simulator', async () => {
    await using sim = await startSimulator();
    sim.setObject({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { namespace: 'team-a', name: 'web-1', labels: { 'krateo.io/composition-id': '3a4e0d62-4cd3-4a1f-9d3b-6d2f1c7e8a90' } },
    });
    const composition = sim.setObject({
      apiVersion: 'composition.krateo.io/v1-2-0',
      kind: 'FireworksApp',
      metadata: { namespace: 'team-a', name: 'my-app' },
    });
    sim.setObject({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-1' } });
    const { kc, core } = await clientFor(sim, 'admin', ['system:masters']);

    const pod = await core.readNamespacedPod({ namespace: 'team-a', name: 'web-1' });
    expect(pod.metadata?.labels?.['krateo.io/composition-id']).toBe('3a4e0d62-4cd3-4a1f-9d3b-6d2f1c7e8a90');
    const custom = kc.makeApiClient(k8s.CustomObjectsApi);
    const app = await custom.getNamespacedCustomObject({
      group: 'composition.krateo.io',
      version: 'v1-2-0',
      namespace: 'team-a',
      plural: 'fireworksapps',
      name: 'my-app',
    });
    expect(app.metadata.uid).toBe(composition.metadata.uid);
    const node = await core.readNode({ name: 'node-1' });
    expect(node.metadata?.name).toBe('node-1');

    const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
    const read = await objects.read({
      apiVersion: 'composition.krateo.io/v1-2-0',
      kind: 'FireworksApp',
      metadata: { namespace: 'team-a', name: 'my-app' },
    });
    expect(read.metadata?.uid).toBe(composition.metadata.uid);
  });

  test('reading a missing object gives a 404 NotFound Status', async () => {
    await using sim = await startSimulator();
    const { core } = await clientFor(sim, 'admin', ['system:masters']);
    const error = await core.readNamespacedPod({ namespace: 'team-a', name: 'nope' }).catch((e) => e);
    expect(error).toBeInstanceOf(k8s.ApiException);
    expect(error.code).toBe(404);
    expect(JSON.parse(error.body)).toMatchObject({ kind: 'Status', reason: 'NotFound', message: 'pods "nope" not found' });
  });

  test('SelfSubjectAccessReview is allowed or denied per the RBAC table, for users and groups', async () => {
    await using sim = await startSimulator();
    sim.setRbac('alice', [{ verbs: ['list', 'watch'], resources: ['events'], apiGroups: [''], namespaces: ['team-a'] }]);
    sim.setGroupRbac('auditors', [{ verbs: ['list'], resources: ['events'] }]);
    const ask = async (username: string, groups: string[], namespace: string, verb = 'list') => {
      const { authz } = await clientFor(sim, username, groups);
      const review = await authz.createSelfSubjectAccessReview({
        body: { spec: { resourceAttributes: { namespace, verb, resource: 'events' } } },
      });
      return review.status?.allowed;
    };
    expect(await ask('alice', [], 'team-a')).toBe(true);
    expect(await ask('alice', [], 'team-a', 'delete')).toBe(false);
    expect(await ask('alice', [], 'team-b')).toBe(false);
    expect(await ask('alice', [], '')).toBe(false); // all namespaces needs a cluster-wide rule
    expect(await ask('bob', ['auditors'], 'team-b')).toBe(true);
    expect(await ask('bob', ['auditors'], '')).toBe(true);
    expect(await ask('bob', [], 'team-b')).toBe(false);
    expect(await ask('root', ['system:masters'], 'anything', 'delete')).toBe(true);

    sim.setRbac('alice', []); // revocation takes effect at once
    expect(await ask('alice', [], 'team-a')).toBe(false);
  });

  test('SelfSubjectRulesReview lists the rules that apply in the namespace', async () => {
    await using sim = await startSimulator();
    sim.setRbac('alice', [
      { verbs: ['list'], resources: ['events'], apiGroups: [''], namespaces: ['team-a'] },
      { verbs: ['get'], resources: ['pods'], apiGroups: [''] },
    ]);
    const { authz } = await clientFor(sim, 'alice');
    const inTeamA = await authz.createSelfSubjectRulesReview({ body: { spec: { namespace: 'team-a' } } });
    const inTeamB = await authz.createSelfSubjectRulesReview({ body: { spec: { namespace: 'team-b' } } });
    const resources = (review: k8s.V1SelfSubjectRulesReview) =>
      review.status?.resourceRules.flatMap((rule) => rule.resources ?? []).sort();
    expect(resources(inTeamA)).toEqual(['events', 'pods', 'selfsubjectaccessreviews', 'selfsubjectrulesreviews']);
    expect(resources(inTeamB)).toEqual(['pods', 'selfsubjectaccessreviews', 'selfsubjectrulesreviews']);
    expect(inTeamA.status?.incomplete).toBe(false);
  });

  test('a user without rights gets a 403 Forbidden Status on list and on watch', async () => {
    await using sim = await startSimulator();
    sim.setRbac('alice', [{ verbs: ['list'], resources: ['events'], namespaces: ['team-a'] }]);
    const { kc, core } = await clientFor(sim, 'alice');
    expect((await core.listNamespacedEvent({ namespace: 'team-a' })).items).toEqual([]);

    const error = await core.listNamespacedEvent({ namespace: 'team-b' }).catch((e) => e);
    expect(error.code).toBe(403);
    expect(JSON.parse(error.body)).toMatchObject({
      kind: 'Status',
      reason: 'Forbidden',
      message: 'events is forbidden: User "alice" cannot list resource "events" in API group "" in the namespace "team-b"',
    });
    const all = await core.listEventForAllNamespaces().catch((e) => e);
    expect(all.code).toBe(403);

    await using watch = await openWatch(kc, '/api/v1/namespaces/team-a/events', {});
    expect(await watch.done).toMatchObject({ statusCode: 403 });
  });

  test('a client without certificate or token gets 401, and so does a certificate from another CA', async () => {
    await using sim = await startSimulator();
    await using other = await startSimulator();
    const anonymous = new k8s.KubeConfig();
    anonymous.loadFromOptions({
      clusters: [{ name: 'sim', server: sim.url, caData: Buffer.from(sim.caPem).toString('base64') }],
      users: [{ name: 'nobody' }],
      contexts: [{ name: 'sim', cluster: 'sim', user: 'nobody' }],
      currentContext: 'sim',
    });
    const error = await anonymous.makeApiClient(k8s.CoreV1Api).listEventForAllNamespaces().catch((e) => e);
    expect(error.code).toBe(401); // client-node drops the Status body of a 401; test/simulator-http checks it

    const foreign = await other.issueClientCert('admin', ['system:masters']);
    const impostor = new k8s.KubeConfig();
    impostor.loadFromOptions({
      clusters: [{ name: 'sim', server: sim.url, caData: Buffer.from(sim.caPem).toString('base64') }],
      users: [
        {
          name: 'impostor',
          certData: Buffer.from(foreign.certPem).toString('base64'),
          keyData: Buffer.from(foreign.keyPem).toString('base64'),
        },
      ],
      contexts: [{ name: 'sim', cluster: 'sim', user: 'impostor' }],
      currentContext: 'sim',
    });
    const rejected = await impostor.makeApiClient(k8s.CoreV1Api).listEventForAllNamespaces().catch((e) => e);
    expect(rejected.code).toBe(401);
  });

  test('concurrent clients with different certificates in one process keep their own identities', async () => {
    await using sim = await startSimulator();
    const users = ['alice', 'bob', 'carol'];
    const apis = await Promise.all(
      users.map(async (user) => configFrom(await sim.kubeconfigFor(user)).makeApiClient(k8s.AuthenticationV1Api)),
    );
    for (let round = 0; round < 5; round++) {
      const answers = await Promise.all(apis.map((api) => api.createSelfSubjectReview({ body: {} })));
      expect(answers.map((a) => a.status?.userInfo?.username)).toEqual(users);
    }
  });

  test('over HTTPS a bearer token authenticates a client that has no certificate', async () => {
    await using sim = await startSimulator();
    sim.addToken('presenter-token', 'presenter', ['system:masters']);
    const kc = new k8s.KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'sim', server: sim.url, caData: Buffer.from(sim.caPem).toString('base64') }],
      users: [{ name: 'presenter', token: 'presenter-token' }],
      contexts: [{ name: 'sim', cluster: 'sim', user: 'presenter' }],
      currentContext: 'sim',
    });
    const review = await kc.makeApiClient(k8s.AuthenticationV1Api).createSelfSubjectReview({ body: {} });
    expect(review.status?.userInfo).toEqual({ username: 'presenter', groups: ['system:masters', 'system:authenticated'] });
  });

  test('the client certificate carries the username as CN and the groups as O', async () => {
    await using sim = await startSimulator();
    const { certPem } = await sim.issueClientCert('system:serviceaccount:krateo:ingester', ['team/a', 'ops']);
    const subject = new (await import('node:crypto')).X509Certificate(certPem).subject.split('\n');
    expect(subject).toEqual(['O=team/a', 'O=ops', 'CN=system:serviceaccount:krateo:ingester']);
    const { core } = await clientFor(sim, 'system:serviceaccount:krateo:ingester', ['team/a', 'ops']);
    sim.setGroupRbac('team/a', [{ verbs: ['get'], resources: ['secrets'], namespaces: ['krateo'] }]);
    sim.setSecret('krateo', 'alice-clientconfig', { 'server-url': sim.url });
    const secret = await core.readNamespacedSecret({ namespace: 'krateo', name: 'alice-clientconfig' });
    expect(Buffer.from(secret.data!['server-url']!, 'base64').toString()).toBe(sim.url);
  });
});
