import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { demoNamespaces, seedDemoCluster, startDemoWorkload } from './demo-workload.ts';
import { startSimulator, type Simulator } from './simulator/index.ts';

/** The simulator running the demo, with kubeconfig files for the two services. */
export interface DemoCluster extends AsyncDisposable {
  sim: Simulator;
  ingesterKubeconfigPath: string;
  presenterKubeconfigPath: string;
  authnNamespace: string;
  /** The demo users: `alice` may list events in team-a and team-b only; `admin` everywhere. */
  users: { username: string; groups: string[]; sees: string }[];
}

const authnNamespace = 'krateo-system';

/** Stores `<username>-clientconfig` in `namespace`, in the format Krateo's authn service writes (base64 PEM values). */
export async function storeClientConfig(sim: Simulator, namespace: string, username: string, groups: string[]): Promise<void> {
  const { certPem, keyPem } = await sim.issueClientCert(username, groups);
  const b64 = (text: string) => Buffer.from(text).toString('base64');
  sim.setSecret(namespace, `${username}-clientconfig`, {
    'server-url': sim.url,
    'certificate-authority-data': b64(sim.caPem),
    'client-certificate-data': b64(certPem),
    'client-key-data': b64(keyPem),
  });
}

/**
 * Starts the Kubernetes API simulator over HTTPS with a demo workload emitting `eventsPerSecond`,
 * least-privilege identities for the ingester and the presenter (kubeconfigs written under
 * `dir`), and two demo users with clientconfig secrets and different RBAC.
 */
export async function startDemoCluster(options: { dir: string; eventsPerSecond: number }): Promise<DemoCluster> {
  const sim = await startSimulator({ tls: true });
  const stop = new AbortController();
  sim.setRbac('events-ingester', [
    { verbs: ['get', 'list', 'watch'], resources: ['events'], apiGroups: [''] },
    { verbs: ['get'], resources: ['pods'], apiGroups: [''] },
    { verbs: ['get'], resources: ['*'], apiGroups: ['composition.krateo.io'] },
  ]);
  sim.setRbac('events-presenter', [{ verbs: ['get', 'list', 'watch'], resources: ['secrets'], apiGroups: [''], namespaces: [authnNamespace] }]);
  sim.setRbac('alice', [{ verbs: ['get', 'list', 'watch'], resources: ['events', 'pods'], apiGroups: [''], namespaces: ['team-a', 'team-b'] }]);
  sim.setRbac('admin', [{ verbs: ['*'], resources: ['*'] }]);
  const users = [
    { username: 'alice', groups: ['devs'], sees: 'team-a and team-b only' },
    { username: 'admin', groups: ['platform-admins'], sees: `every namespace (${demoNamespaces.join(', ')})` },
  ];
  for (const user of users) await storeClientConfig(sim, authnNamespace, user.username, user.groups);
  mkdirSync(options.dir, { recursive: true });
  const ingesterKubeconfigPath = join(options.dir, 'ingester.kubeconfig');
  const presenterKubeconfigPath = join(options.dir, 'presenter.kubeconfig');
  writeFileSync(ingesterKubeconfigPath, await sim.kubeconfigFor('events-ingester'), { mode: 0o600 });
  writeFileSync(presenterKubeconfigPath, await sim.kubeconfigFor('events-presenter'), { mode: 0o600 });
  const pods = seedDemoCluster(sim);
  startDemoWorkload({ sim, pods, eventsPerSecond: options.eventsPerSecond, signal: stop.signal });
  return {
    sim,
    ingesterKubeconfigPath,
    presenterKubeconfigPath,
    authnNamespace,
    users,
    async [Symbol.asyncDispose]() {
      stop.abort();
      await sim.close();
    },
  };
}
