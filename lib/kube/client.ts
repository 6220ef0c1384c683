import { KubeConfig } from '@kubernetes/client-node';
import type { KubeSource } from '../runtime/config.ts';

/** Thrown for a non-2xx answer of the API server; `status` is the HTTP status code. */
export class KubeHttpError extends Error {
  constructor(
    readonly status: number,
    readonly path: string,
  ) {
    super(`kubernetes API answered ${status} for ${path}`);
    this.name = 'KubeHttpError';
  }
}

/** A minimal authenticated HTTP client for one Kubernetes API server. */
export interface KubeHttp {
  /** The API server base URL. */
  readonly server: string;
  /** The kubeconfig's cluster name, or undefined (in-cluster). */
  readonly clusterName: string | undefined;
  /** Sends a request; the response is returned as is (callers check `status`). */
  request(path: string, init?: { signal?: AbortSignal; accept?: string; timeoutMs?: number }): Promise<Response>;
  /** GETs JSON; throws KubeHttpError for a non-2xx status. */
  getJson<T>(path: string, init?: { signal?: AbortSignal; accept?: string; timeoutMs?: number }): Promise<T>;
}

/** Loads the kubeconfig named by `source` (file, in-cluster, or client-node's default search). */
export function loadKubeConfig(source: KubeSource): KubeConfig {
  const kc = new KubeConfig();
  if (source.kubeconfigPath !== undefined) kc.loadFromFile(source.kubeconfigPath);
  else if (source.inCluster) kc.loadFromCluster();
  else kc.loadFromDefault();
  return kc;
}

type HttpsOptions = {
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  rejectUnauthorized?: boolean;
  headers?: Record<string, unknown>;
  auth?: string;
};

function pem(value: string | Buffer | undefined): string | undefined {
  return value === undefined ? undefined : value.toString();
}

/**
 * Creates a client that takes TLS material and credentials from client-node's KubeConfig
 * (files, inline data, tokens, exec plugins, in-cluster token refresh) and sends requests with
 * Bun's own `fetch`. Why not client-node's transport: its Watch gives no back-pressure (it pushes
 * lines as fast as they arrive), while reading a fetch body only on demand lets TCP flow control
 * pause the API server when the pipeline is full.
 */
export function createKubeHttp(kc: KubeConfig): KubeHttp {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  const server = cluster.server.replace(/\/+$/, '');
  const request: KubeHttp['request'] = async (path, init = {}) => {
    const opts: HttpsOptions = {};
    // Resolved per request so that rotated tokens (in-cluster, exec plugins) are picked up.
    await kc.applyToHTTPSOptions(opts as never);
    const headers = new Headers({ accept: init.accept ?? 'application/json' });
    for (const [key, value] of Object.entries(opts.headers ?? {})) {
      if (typeof value === 'string' || typeof value === 'number') headers.set(key, String(value));
    }
    if (opts.auth) headers.set('authorization', `Basic ${Buffer.from(opts.auth).toString('base64')}`);
    const signals = [init.signal, init.timeoutMs === undefined ? undefined : AbortSignal.timeout(init.timeoutMs)].filter(
      (s): s is AbortSignal => s !== undefined,
    );
    return await fetch(`${server}${path}`, {
      headers,
      signal: signals.length > 0 ? AbortSignal.any(signals) : undefined,
      tls: {
        ca: pem(opts.ca),
        cert: pem(opts.cert),
        key: pem(opts.key),
        rejectUnauthorized: cluster.skipTLSVerify ? false : opts.rejectUnauthorized,
        serverName: cluster.tlsServerName,
      },
    });
  };
  return {
    server,
    clusterName: cluster.name === 'inCluster' ? undefined : cluster.name,
    request,
    async getJson<T>(path: string, init?: { signal?: AbortSignal; accept?: string; timeoutMs?: number }): Promise<T> {
      const response = await request(path, init);
      if (!response.ok) {
        await response.body?.cancel().catch(() => {});
        throw new KubeHttpError(response.status, path);
      }
      return (await response.json()) as T;
    },
  };
}
