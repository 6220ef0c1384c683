import type { K8sObject } from './kustomize.ts';

/** An RBAC rule as rendered. */
export type Rule = { apiGroups: string[]; resources: string[]; verbs: string[]; nonResourceURLs?: string[] };

export type Probe = { httpGet?: { path: string; port: number | string }; periodSeconds?: number; failureThreshold?: number; timeoutSeconds?: number };
export type EnvEntry = { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string }; configMapKeyRef?: { name: string; key: string } } };
export type Container = {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  ports?: { name?: string; containerPort: number; protocol?: string }[];
  env?: EnvEntry[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  startupProbe?: Probe;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: Record<string, unknown>;
  volumeMounts?: { name: string; mountPath: string }[];
};
export type PodSpec = {
  serviceAccountName?: string;
  terminationGracePeriodSeconds?: number;
  securityContext?: Record<string, unknown>;
  containers: Container[];
  initContainers?: Container[];
  volumes?: Record<string, unknown>[];
};

/** The pod template of a Deployment. */
export const podSpecOf = (deployment: K8sObject) => (deployment.spec as { template: { spec: PodSpec } }).template.spec;

/** The object of that kind and name (any namespace), or undefined. */
export const findObject = (objects: K8sObject[], kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name);

/** Every variable a container gets, with its value when the manifests know it (ConfigMaps, literals); undefined for Secret values. */
export function environmentOf(objects: K8sObject[], container: Container): Map<string, string | undefined> {
  const env = new Map<string, string | undefined>();
  for (const source of container.envFrom ?? []) {
    const ref = source.configMapRef ?? source.secretRef;
    const kind = source.configMapRef ? 'ConfigMap' : 'Secret';
    const object = findObject(objects, kind, ref!.name);
    if (!object) throw new Error(`${container.name} reads ${kind} ${ref!.name}, which is not rendered`);
    const data = { ...(object.data as Record<string, string> | undefined), ...(object.stringData as Record<string, string> | undefined) };
    for (const [key, value] of Object.entries(data)) env.set(key, kind === 'ConfigMap' ? value : undefined);
  }
  for (const entry of container.env ?? []) env.set(entry.name, entry.value);
  return env;
}

/** The Secret references of a container's env, as `VARIABLE ← secret/key`. */
export function secretRefsOf(container: Container): string[] {
  const fromEnv = (container.env ?? []).flatMap((e) => (e.valueFrom?.secretKeyRef ? [`${e.name} ← ${e.valueFrom.secretKeyRef.name}/${e.valueFrom.secretKeyRef.key}`] : []));
  const fromEnvFrom = (container.envFrom ?? []).flatMap((e) => (e.secretRef ? [`* ← ${e.secretRef.name}`] : []));
  return [...fromEnv, ...fromEnvFrom].sort();
}

/** Rules flattened to `scope|group|resource|verb` (scope `*` = cluster-wide). */
export function flattenRules(rules: Rule[], scope: string): string[] {
  return rules.flatMap((rule) =>
    rule.apiGroups.flatMap((group) => rule.resources.flatMap((resource) => rule.verbs.map((verb) => `${scope}|${group}|${resource}|${verb}`))),
  );
}

/** What a ServiceAccount may do through the rendered bindings, flattened and sorted. */
export function grantsOf(objects: K8sObject[], serviceAccount: string, namespace: string): string[] {
  const grants = new Set<string>();
  for (const binding of objects.filter((o) => o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding')) {
    const subjects = (binding.subjects ?? []) as { kind: string; name: string; namespace?: string }[];
    if (!subjects.some((s) => s.kind === 'ServiceAccount' && s.name === serviceAccount && s.namespace === namespace)) continue;
    const roleRef = binding.roleRef as { kind: string; name: string };
    const role =
      roleRef.kind === 'ClusterRole'
        ? findObject(objects, 'ClusterRole', roleRef.name)
        : objects.find((o) => o.kind === 'Role' && o.metadata.name === roleRef.name && o.metadata.namespace === binding.metadata.namespace);
    if (!role) throw new Error(`${binding.kind} ${binding.metadata.name} refers to a missing ${roleRef.kind} ${roleRef.name}`);
    const scope = binding.kind === 'ClusterRoleBinding' ? '*' : binding.metadata.namespace!;
    for (const grant of flattenRules(role.rules as Rule[], scope)) grants.add(grant);
  }
  return [...grants].sort();
}

/** Every `*` in any Role or ClusterRole rule, as `role: value` (empty when none). */
export function wildcardsIn(objects: K8sObject[]): string[] {
  return objects
    .filter((o) => o.kind === 'Role' || o.kind === 'ClusterRole')
    .flatMap((role) => {
      const values = ((role.rules ?? []) as Rule[]).flatMap((r) => [...r.apiGroups, ...r.resources, ...r.verbs, ...(r.nonResourceURLs ?? [])]);
      const aggregated = role.aggregationRule ? ['aggregationRule'] : [];
      return [...values.filter((v) => v.includes('*')), ...aggregated].map((v) => `${role.metadata.name}: ${v}`);
    });
}

/** The container port a probe targets (resolving a port name). */
export function probePort(container: Container, probe: Probe | undefined): number | undefined {
  const port = probe?.httpGet?.port;
  return typeof port === 'number' ? port : container.ports?.find((p) => p.name === port)?.containerPort;
}
