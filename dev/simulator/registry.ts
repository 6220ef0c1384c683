/** One API resource the simulator serves, as discovery describes it. */
export interface ResourceInfo {
  group: string;
  version: string;
  /** Plural resource name used in URLs and RBAC rules, e.g. `events`. */
  plural: string;
  singular: string;
  kind: string;
  namespaced: boolean;
  verbs: string[];
  shortNames: string[];
}

/** Maps kinds to resources and back; new kinds can be registered at any time. */
export interface Registry {
  /** The resource served at `{group}/{version}/{plural}`, if any. */
  byPlural(group: string, version: string, plural: string): ResourceInfo | undefined;
  /** The resource for `apiVersion` + `kind`, if registered. */
  byKind(apiVersion: string, kind: string): ResourceInfo | undefined;
  /** The resource for `apiVersion` + `kind`, registering it (plural = lowercase kind + "s") if new. */
  ensureKind(apiVersion: string, kind: string, namespaced: boolean): ResourceInfo;
  /** Every registered resource, in registration order. */
  all(): ResourceInfo[];
}

const crud = ['create', 'delete', 'get', 'list', 'update', 'watch'];

type Seed = [groupVersion: string, plural: string, kind: string, namespaced: boolean, shortNames?: string[]];

const builtins: Seed[] = [
  ['v1', 'events', 'Event', true, ['ev']],
  ['v1', 'pods', 'Pod', true, ['po']],
  ['v1', 'secrets', 'Secret', true],
  ['v1', 'configmaps', 'ConfigMap', true, ['cm']],
  ['v1', 'services', 'Service', true, ['svc']],
  ['v1', 'serviceaccounts', 'ServiceAccount', true, ['sa']],
  ['v1', 'namespaces', 'Namespace', false, ['ns']],
  ['v1', 'nodes', 'Node', false, ['no']],
  ['apps/v1', 'deployments', 'Deployment', true, ['deploy']],
  ['apps/v1', 'replicasets', 'ReplicaSet', true, ['rs']],
  ['apps/v1', 'statefulsets', 'StatefulSet', true, ['sts']],
  ['apps/v1', 'daemonsets', 'DaemonSet', true, ['ds']],
  ['batch/v1', 'jobs', 'Job', true],
  ['batch/v1', 'cronjobs', 'CronJob', true, ['cj']],
  ['coordination.k8s.io/v1', 'leases', 'Lease', true],
];

/** Review APIs answered by the router rather than stored. */
export const reviews = [
  ['authorization.k8s.io', 'selfsubjectaccessreviews', 'SelfSubjectAccessReview'],
  ['authorization.k8s.io', 'selfsubjectrulesreviews', 'SelfSubjectRulesReview'],
  ['authentication.k8s.io', 'selfsubjectreviews', 'SelfSubjectReview'],
] as const;

/** Splits an apiVersion (`v1`, `apps/v1`) into group and version. */
export function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.indexOf('/');
  return slash < 0
    ? { group: '', version: apiVersion }
    : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

/** Joins group and version back into an apiVersion. */
export function joinApiVersion(group: string, version: string): string {
  return group ? `${group}/${version}` : version;
}

/** Creates a registry holding the built-in kinds the stack touches plus the authorization reviews. */
export function createRegistry(): Registry {
  const resources: ResourceInfo[] = [];
  const byPath = new Map<string, ResourceInfo>();
  const byKindKey = new Map<string, ResourceInfo>();

  const add = (info: ResourceInfo): ResourceInfo => {
    resources.push(info);
    byPath.set(`${info.group}/${info.version}/${info.plural}`, info);
    byKindKey.set(`${joinApiVersion(info.group, info.version)}|${info.kind}`, info);
    return info;
  };

  for (const [gv, plural, kind, namespaced, shortNames] of builtins) {
    const { group, version } = splitApiVersion(gv);
    const singular = kind.toLowerCase();
    add({ group, version, plural, singular, kind, namespaced, verbs: crud, shortNames: shortNames ?? [] });
  }
  for (const [group, plural, kind] of reviews) {
    const singular = kind.toLowerCase();
    add({ group, version: 'v1', plural, singular, kind, namespaced: false, verbs: ['create'], shortNames: [] });
  }

  return {
    byPlural: (group, version, plural) => byPath.get(`${group}/${version}/${plural}`),
    byKind: (apiVersion, kind) => byKindKey.get(`${apiVersion}|${kind}`),
    ensureKind(apiVersion, kind, namespaced) {
      const known = byKindKey.get(`${apiVersion}|${kind}`);
      if (known) return known;
      const { group, version } = splitApiVersion(apiVersion);
      const singular = kind.toLowerCase();
      return add({ group, version, plural: `${singular}s`, singular, kind, namespaced, verbs: crud, shortNames: [] });
    },
    all: () => [...resources],
  };
}
