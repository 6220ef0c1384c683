import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { SecretReader } from './user-credentials.ts';

/**
 * Reads Secrets with the presenter's own Kubernetes identity. A missing Secret (404) resolves
 * undefined; every other failure is thrown (callers fail closed).
 */
export function createSecretReader(kubeConfig: KubeConfig): SecretReader {
  const api = kubeConfig.makeApiClient(CoreV1Api);
  return async (namespace, name) => {
    try {
      const secret = await api.readNamespacedSecret({ name, namespace });
      return secret.data ?? {};
    } catch (err) {
      if ((err as { code?: unknown }).code === 404) return undefined;
      throw err;
    }
  };
}
