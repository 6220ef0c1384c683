import type { KubeHttp } from './client.ts';

/**
 * The cluster name stored with every row and prefixed to `global_uid`: `configured`
 * (CLUSTER_NAME) if set; else the kubeconfig's cluster name; else (in-cluster) `cluster-` plus the
 * first 8 characters of the `kube-system` namespace UID, which is stable for the cluster's
 * lifetime; else the API server's host name.
 */
export async function resolveClusterName(options: { configured: string | undefined; http: KubeHttp }): Promise<string> {
  if (options.configured) return options.configured;
  if (options.http.clusterName) return options.http.clusterName;
  try {
    const ns = await options.http.getJson<{ metadata?: { uid?: string } }>('/api/v1/namespaces/kube-system', { timeoutMs: 10_000 });
    if (ns.metadata?.uid) return `cluster-${ns.metadata.uid.slice(0, 8)}`;
  } catch {
    // No permission or no such namespace: fall through to the server's host name.
  }
  return new URL(options.http.server).hostname;
}
