import { ApisApi, CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';

/** One served resource of a group version, as API discovery lists it. */
export interface DiscoveredResource {
  /** Plural resource name (`pods`); subresources (`pods/log`) are never listed. */
  name: string;
  kind: string;
  namespaced: boolean;
}

/** A named API group with its served versions, preferred first. */
export interface DiscoveredGroup {
  name: string;
  versions: string[];
}

/** The parts of API discovery the presenter needs (`/apis`, `/api/v1`, `/apis/{group}/{version}`). */
export interface DiscoveryClient {
  /** Every named group (`/apis`); the core group is not among them. */
  groups(): Promise<DiscoveredGroup[]>;
  /** The resources of a group version (`''` for core); undefined when that version is not served. */
  resources(group: string, version: string): Promise<DiscoveredResource[] | undefined>;
}

const notFound = (err: unknown) => (err as { code?: unknown }).code === 404;

/**
 * API discovery with the presenter's own identity. Discovery is open to every authenticated
 * identity (the `system:discovery` role), so no RBAC beyond the presenter's existing one is needed.
 * A 404 resolves undefined; every other failure is thrown (callers fail closed).
 */
export function createDiscoveryClient(kubeConfig: KubeConfig): DiscoveryClient {
  const apis = kubeConfig.makeApiClient(ApisApi);
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  return {
    async groups() {
      const list = await apis.getAPIVersions();
      return list.groups.map((g) => {
        const versions = g.versions.map((v) => v.version);
        const preferred = g.preferredVersion?.version;
        return { name: g.name, versions: preferred ? [preferred, ...versions.filter((v) => v !== preferred)] : versions };
      });
    },
    async resources(group, version) {
      try {
        const list = group === '' && version === 'v1' ? await core.getAPIResources() : await custom.getAPIResources({ group, version });
        return list.resources
          .filter((r) => !r.name.includes('/'))
          .map((r) => ({ name: r.name, kind: r.kind, namespaced: r.namespaced }));
      } catch (err) {
        if (notFound(err)) return undefined;
        throw err;
      }
    },
  };
}
