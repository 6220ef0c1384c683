// Which API server a user's review goes to (docs/decisions/010-clusters-and-api-servers.md): the
// in-cluster one when the presenter runs in a pod, else the clientconfig's `server-url`, through
// its `proxy-url` when one is given.
import { describe, expect, test } from 'bun:test';
import { createCertificateAuthority } from '../dev/simulator/ca.ts';
import type { EventsPage } from '../lib/presenter/core/wire.ts';
import { buildRecord } from './support/builders.ts';
import { startConnectProxy } from './support/connect-proxy.ts';
import { authnNamespace, listEventsIn, startPresenterHarness, type PresenterHarness } from './support/presenter-harness.ts';

const b64 = (text: string) => Buffer.from(text).toString('base64');

/** A port nothing listens on: bound once, then closed. */
async function closedPort(): Promise<number> {
  const server = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } });
  const { port } = server;
  server.stop(true);
  return port;
}

/** Adds alice (list events in team-a) with her clientconfig's `server-url`, `proxy-url` and CA as given. */
async function addAlice(h: PresenterHarness, serverUrl: string, proxyUrl?: string, caPem = h.sim.caPem): Promise<string> {
  const token = await h.addUser('alice', listEventsIn(['team-a']));
  const { certPem, keyPem } = await h.sim.issueClientCert('alice');
  h.sim.setSecret(authnNamespace, 'alice-clientconfig', {
    'server-url': serverUrl,
    'certificate-authority-data': b64(caPem),
    'client-certificate-data': b64(certPem),
    'client-key-data': b64(keyPem),
    ...(proxyUrl ? { 'proxy-url': proxyUrl } : {}),
  });
  return token;
}

const visibleNames = async (h: PresenterHarness, token: string) => {
  const response = await fetch(`${h.url}/events`, { headers: { authorization: `Bearer ${token}` } });
  return { status: response.status, names: ((await response.json()) as EventsPage).resources.map((r) => r.resource_name) };
};

describe('the API server a review goes to', () => {
  test('in a cluster, reviews go to the in-cluster API server, verified with the pod\'s CA, whatever server-url and its CA say', async () => {
    const unreachable = `https://127.0.0.1:${await closedPort()}`;
    const externalCa = await createCertificateAuthority();
    await using h = await startPresenterHarness({}, { ownApiServer: async (sim) => ({ url: sim.url, caPem: sim.caPem }) });
    const token = await addAlice(h, unreachable, undefined, externalCa.caPem);
    await h.insert(buildRecord({ namespace: 'team-a', resource_name: 'mine' }), buildRecord({ namespace: 'team-b', resource_name: 'other' }));
    expect(await visibleNames(h, token)).toEqual({ status: 200, names: ['mine'] });
  });

  test('with the in-cluster override off, server-url is used: an unreachable one shows nothing (fails closed)', async () => {
    const unreachable = `https://127.0.0.1:${await closedPort()}`;
    await using h = await startPresenterHarness();
    const token = await addAlice(h, unreachable);
    await h.insert(buildRecord({ namespace: 'team-a', resource_name: 'mine' }));
    expect(await visibleNames(h, token)).toEqual({ status: 200, names: [] });
  });

  test('a clientconfig proxy-url carries the review through that HTTP CONNECT proxy', async () => {
    await using proxy = await startConnectProxy();
    await using h = await startPresenterHarness();
    const token = await addAlice(h, h.sim.url, proxy.url);
    await h.insert(buildRecord({ namespace: 'team-a', resource_name: 'mine' }), buildRecord({ namespace: 'team-b', resource_name: 'other' }));
    expect(await visibleNames(h, token)).toEqual({ status: 200, names: ['mine'] });
    const simHost = new URL(h.sim.url).host;
    expect(proxy.tunnels.length).toBeGreaterThan(0);
    expect(proxy.tunnels.filter((t) => t !== simHost)).toEqual([]);
  });

  test('a proxy-url that does not answer shows nothing: the proxy is never bypassed', async () => {
    await using h = await startPresenterHarness();
    const token = await addAlice(h, h.sim.url, `http://127.0.0.1:${await closedPort()}`);
    await h.insert(buildRecord({ namespace: 'team-a', resource_name: 'mine' }));
    expect(await visibleNames(h, token)).toEqual({ status: 200, names: [] });
  });

  test('a remote cluster is reached through its configured proxyUrl, never through the clientconfig proxy-url', async () => {
    await using clusterProxy = await startConnectProxy();
    await using h = await startPresenterHarness({}, { sameSimClusters: [{ name: 'remote', proxyUrl: clusterProxy.url }] });
    // The clientconfig's proxy does not answer: the own cluster's reviews fail (its rows hidden),
    // the remote cluster's go through the remote cluster's proxy.
    const token = await addAlice(h, h.sim.url, `http://127.0.0.1:${await closedPort()}`);
    await h.insert(
      buildRecord({ namespace: 'team-a', resource_name: 'own-row' }),
      buildRecord({ cluster_name: 'remote', global_uid: `remote:${crypto.randomUUID()}`, namespace: 'team-a', resource_name: 'remote-row' }),
    );
    expect(await visibleNames(h, token)).toEqual({ status: 200, names: ['remote-row'] });
    expect(clusterProxy.tunnels.length).toBeGreaterThan(0);
  });

  test('the in-cluster API server is reached directly, not through the clientconfig proxy-url', async () => {
    await using proxy = await startConnectProxy();
    await using h = await startPresenterHarness({}, { ownApiServer: async (sim) => ({ url: sim.url, caPem: sim.caPem }) });
    const token = await addAlice(h, `https://127.0.0.1:${await closedPort()}`, proxy.url);
    await h.insert(buildRecord({ namespace: 'team-a', resource_name: 'mine' }));
    expect(await visibleNames(h, token)).toEqual({ status: 200, names: ['mine'] });
    expect(proxy.tunnels).toEqual([]);
  });
});
