import type { RemoteCluster } from '../../runtime/cluster-settings.ts';
import type { CredentialsForCluster } from './access-review.ts';
import { AuthError } from './auth-token.ts';
import type { CredentialStore, UserCredentials } from './user-credentials.ts';

/** The API server a cluster's reviews go to, and where a user's credentials for it are read. */
export interface ClusterRoute {
  /** The server to ask; undefined: the Secret's `server-url` (the presenter's own cluster, in-cluster override off). */
  serverUrl?: string;
  /** CA of that server; undefined: the Secret's. */
  caPem?: string;
  /** `secret`: the Secret's `proxy-url`; a URL: that proxy; `none`: straight to the server. */
  proxy: 'secret' | 'none' | { url: string };
  /** The Secret in `AUTHN_NS` holding the user's credentials for this cluster. */
  secretName(username: string): string;
}

/** Which clusters the presenter can authorise rows of, and how. */
export interface ClusterDirectory {
  /** The presenter's own cluster (`CLUSTER_NAME`); its Secret is the user's main clientconfig. */
  readonly ownCluster: string;
  /** Every mapped cluster, the own one first. */
  readonly clusters: readonly string[];
  /** The route of a mapped cluster; undefined for a cluster with no mapping (its rows stay hidden). */
  route(cluster: string): ClusterRoute | undefined;
  /** The user's Secrets other than the main clientconfig that some clusters' credentials come from, each with those clusters. */
  clusterSecrets(username: string): { secretName: string; clusters: string[] }[];
}

const mainSecret = (username: string) => `${username}-clientconfig`;

/**
 * Maps clusters to API servers (docs/decisions/010). The own cluster: the in-cluster API server when
 * `inClusterApi` is given (no proxy), else the clientconfig's `server-url` through its `proxy-url`.
 * Remote clusters: their configured server, CA and proxy only; a Secret never chooses them.
 */
export function createClusterDirectory(options: {
  ownCluster: string;
  inClusterApi?: { url: string; caPem?: string };
  remoteClusters: readonly RemoteCluster[];
}): ClusterDirectory {
  const routes = new Map<string, ClusterRoute>();
  const { inClusterApi } = options;
  routes.set(
    options.ownCluster,
    inClusterApi
      ? { serverUrl: inClusterApi.url, caPem: inClusterApi.caPem, proxy: 'none', secretName: mainSecret }
      : { proxy: 'secret', secretName: mainSecret },
  );
  for (const remote of options.remoteClusters) {
    if (routes.has(remote.name)) throw new Error(`cluster ${remote.name} is mapped twice`);
    routes.set(remote.name, {
      serverUrl: remote.serverUrl,
      caPem: remote.caPem,
      proxy: remote.proxyUrl ? { url: remote.proxyUrl } : 'none',
      secretName: (username) => remote.secretNameTemplate.replaceAll('{username}', username),
    });
  }
  const clusterSecrets = (username: string) => {
    const byName = new Map<string, string[]>();
    for (const [cluster, route] of routes) {
      const secretName = route.secretName(username);
      if (secretName !== mainSecret(username)) byName.set(secretName, [...(byName.get(secretName) ?? []), cluster]);
    }
    return [...byName].map(([secretName, clusters]) => ({ secretName, clusters }));
  };
  return { ownCluster: options.ownCluster, clusters: [...routes.keys()], route: (cluster) => routes.get(cluster), clusterSecrets };
}

/**
 * A user's credentials for a cluster: those in the route's Secret, aimed at the route's server with
 * its CA and proxy. Throws AuthError `no_credentials` for an unmapped cluster, a missing Secret, or
 * no server.
 */
export function createClusterCredentials(directory: ClusterDirectory, store: CredentialStore): CredentialsForCluster {
  return async (username, cluster): Promise<UserCredentials> => {
    const route = directory.route(cluster);
    if (!route) throw new AuthError('no_credentials', 'no Kubernetes credentials for this cluster');
    const creds = await store.get(username, route.secretName(username));
    const serverUrl = route.serverUrl ?? creds.serverUrl;
    if (!serverUrl) throw new AuthError('no_credentials', 'no Kubernetes API server for this cluster');
    return {
      ...creds,
      serverUrl,
      caPem: route.caPem ?? creds.caPem,
      proxyUrl: route.proxy === 'secret' ? creds.proxyUrl : route.proxy === 'none' ? undefined : route.proxy.url,
    };
  };
}
