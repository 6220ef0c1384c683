import { describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { ingesterSettings, presenterSettings, type Setting } from '../lib/runtime/config.ts';
import { parseDurationMs } from '../lib/runtime/duration.ts';
import { renderKustomization, type K8sObject } from './support/kustomize.ts';
import { environmentOf as readEnvironment, flattenRules, grantsOf, type Rule } from './support/manifests.ts';

const root = new URL('..', import.meta.url).pathname;

/** The renderings an operator applies, and how each one's ingester RBAC is scoped. */
const renderings = [
  { dir: 'deploy', lookup: true, namespaced: false },
  { dir: 'deploy/overlays/namespaced', lookup: true, namespaced: true },
  { dir: 'deploy/overlays/no-correlation', lookup: false, namespaced: false },
  { dir: 'deploy/overlays/otlp', lookup: true, namespaced: false },
] as const;


/** Documented in docs/deploy.md ("RBAC"): what the ingester may do. */
const ingesterEventRules: Rule[] = [{ apiGroups: [''], resources: ['events'], verbs: ['get', 'list', 'watch'] }];
const ingesterLookupRules: Rule[] = [
  { apiGroups: [''], resources: ['pods', 'services', 'persistentvolumeclaims'], verbs: ['get'] },
  { apiGroups: ['apps'], resources: ['deployments', 'replicasets', 'statefulsets', 'daemonsets'], verbs: ['get'] },
  { apiGroups: ['batch'], resources: ['jobs', 'cronjobs'], verbs: ['get'] },
  { apiGroups: ['networking.k8s.io'], resources: ['ingresses'], verbs: ['get'] },
];
const presenterRules: Rule[] = [{ apiGroups: [''], resources: ['secrets'], verbs: ['get'] }];

/** Standard OpenTelemetry variables the exporter reads itself (not in lib/runtime/config.ts). */
const standardOtelVariable = /^OTEL_EXPORTER_OTLP_[A-Z_]+$/;

const services = {
  'events-ingester': { settings: ingesterSettings, serviceAccount: 'events-ingester', command: 'ingester' },
  'events-presenter': { settings: presenterSettings, serviceAccount: 'events-presenter', command: 'presenter' },
} as const;
type ServiceName = keyof typeof services;

type Probe = { httpGet?: { path: string; port: number | string } };
type Container = {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string }; configMapKeyRef?: { name: string; key: string } } }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  startupProbe?: Probe;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: Record<string, unknown>;
};
type PodSpec = {
  serviceAccountName?: string;
  terminationGracePeriodSeconds?: number;
  securityContext?: Record<string, unknown>;
  containers: Container[];
  initContainers?: Container[];
};

const podSpec = (deployment: K8sObject) => (deployment.spec as { template: { spec: PodSpec } }).template.spec;
const find = (objects: K8sObject[], kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name);
const settingNames = (settings: Setting[]) => new Set(settings.map((s) => s.name));
const defaultOf = (settings: Setting[], name: string) => settings.find((s) => s.name === name)!.default;

function serviceOf(container: Container): ServiceName {
  const command = container.args?.[0] ?? 'presenter';
  const name = Object.entries(services).find(([, s]) => s.command === command)?.[0];
  if (!name) throw new Error(`container ${container.name} runs ${command}, not a known service`);
  return name as ServiceName;
}

function deploymentsByService(objects: K8sObject[]): Map<ServiceName, { deployment: K8sObject; container: Container }> {
  const result = new Map<ServiceName, { deployment: K8sObject; container: Container }>();
  for (const deployment of objects.filter((o) => o.kind === 'Deployment')) {
    const containers = podSpec(deployment).containers;
    expect(containers).toHaveLength(1);
    result.set(serviceOf(containers[0]!), { deployment, container: containers[0]! });
  }
  return result;
}

/**
 * Every variable a container gets (the shared reading of the manifests), after checking that each
 * Secret or ConfigMap key a variable names is rendered.
 */
function environmentOf(objects: K8sObject[], container: Container): Map<string, string | undefined> {
  for (const entry of container.env ?? []) {
    const ref = entry.valueFrom?.secretKeyRef ?? entry.valueFrom?.configMapKeyRef;
    if (!ref) continue;
    const kind = entry.valueFrom?.secretKeyRef ? 'Secret' : 'ConfigMap';
    const object = find(objects, kind, ref.name);
    expect({ variable: entry.name, kind, name: ref.name, found: object !== undefined }).toEqual({ variable: entry.name, kind, name: ref.name, found: true });
    expect(Object.keys((object!.data ?? object!.stringData) as Record<string, string>)).toContain(ref.key);
  }
  return readEnvironment(objects, container);
}

const expectedGrants = (rules: Rule[], scopes: string[]) => [...new Set(scopes.flatMap((scope) => flattenRules(rules, scope)))].sort();

describe('deploy/ manifests', () => {
  for (const rendering of renderings) {
    describe(`kubectl kustomize ${rendering.dir}`, () => {
      const rendered = renderKustomization(`${root}${rendering.dir}`);

      test("renders both Deployments from the same image, each naming its service as the executable's argument", async () => {
        const objects = await rendered;
        const byService = deploymentsByService(objects);
        expect([...byService.keys()].sort()).toEqual(['events-ingester', 'events-presenter']);
        const ingester = byService.get('events-ingester')!.container;
        const presenter = byService.get('events-presenter')!.container;
        expect([ingester.command, ingester.args]).toEqual([undefined, ['ingester']]);
        expect([presenter.command, presenter.args]).toEqual([undefined, ['presenter']]);
        expect(ingester.image).toBe(presenter.image);
        expect(ingester.image).toMatch(/^[^:]+:[\w.-]+$/);
      });

      test('runs two replicas of each service, each protected by a PodDisruptionBudget', async () => {
        const objects = await rendered;
        for (const [name, { deployment }] of deploymentsByService(objects)) {
          expect({ name, replicas: (deployment.spec as { replicas: number }).replicas }).toEqual({ name, replicas: 2 });
          const labels = (deployment.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels;
          const pdb = objects.find(
            (o) => o.kind === 'PodDisruptionBudget' && JSON.stringify((o.spec as { selector: { matchLabels: unknown } }).selector.matchLabels) === JSON.stringify(labels),
          );
          expect({ name, pdb: pdb?.metadata.namespace }).toEqual({ name, pdb: deployment.metadata.namespace });
          expect(pdb!.spec).toMatchObject({ maxUnavailable: 1 });
        }
      });

      test('probes ask /livez and /readyz on the port the service listens on by default', async () => {
        const objects = await rendered;
        for (const [name, { container }] of deploymentsByService(objects)) {
          const env = environmentOf(objects, container);
          const port = Number(env.get('PORT') ?? defaultOf(services[name].settings, 'PORT'));
          expect({ name, port }).toEqual({ name, port: Number(defaultOf(services[name].settings, 'PORT')) });
          const portNumber = (p: number | string) => (typeof p === 'number' ? p : container.ports?.find((cp) => cp.name === p)?.containerPort);
          const probe = (p: Probe | undefined) => p?.httpGet && { path: p.httpGet.path, port: portNumber(p.httpGet.port) };
          expect({
            name,
            startup: probe(container.startupProbe),
            liveness: probe(container.livenessProbe),
            readiness: probe(container.readinessProbe),
          }).toEqual({
            name,
            startup: { path: '/livez', port },
            liveness: { path: '/livez', port },
            readiness: { path: '/readyz', port },
          });
        }
      });

      test('every environment variable a container receives is a setting of its service in lib/runtime/config.ts', async () => {
        const objects = await rendered;
        for (const [name, { container }] of deploymentsByService(objects)) {
          const known = settingNames(services[name].settings);
          const unknown = [...environmentOf(objects, container).keys()].filter((v) => !known.has(v) && !standardOtelVariable.test(v));
          expect({ name, unknown }).toEqual({ name, unknown: [] });
        }
      });

      test('secrets reach the services only from Secrets, never from ConfigMaps or literals', async () => {
        const objects = await rendered;
        for (const [name, { container }] of deploymentsByService(objects)) {
          const secretNames = services[name].settings.filter((s) => s.secret).map((s) => s.name);
          const plain = [...environmentOf(objects, container).entries()].filter(([k, v]) => secretNames.includes(k) && v !== undefined).map(([k]) => k);
          expect({ name, plain }).toEqual({ name, plain: [] });
        }
        const presenter = deploymentsByService(objects).get('events-presenter')!.container;
        expect(presenter.env?.find((e) => e.name === 'JWT_SIGN_KEY')?.valueFrom?.secretKeyRef).toBeDefined();
      });

      test('every container has requests, limits and a non-root, read-only, no-escalation security context', async () => {
        const objects = await rendered;
        for (const deployment of objects.filter((o) => o.kind === 'Deployment')) {
          const spec = podSpec(deployment);
          expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } });
          for (const container of [...spec.containers, ...(spec.initContainers ?? [])]) {
            expect(container.resources?.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
            expect(container.resources?.limits).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
            expect(container.securityContext).toMatchObject({
              runAsNonRoot: true,
              runAsUser: 65532,
              allowPrivilegeEscalation: false,
              readOnlyRootFilesystem: true,
              capabilities: { drop: ['ALL'] },
              seccompProfile: { type: 'RuntimeDefault' },
            });
            expect((container.securityContext as { capabilities: { add?: string[] } }).capabilities.add).toBeUndefined();
            expect(container.securityContext?.privileged).not.toBe(true);
          }
        }
      });

      test('terminationGracePeriodSeconds outlasts SHUTDOWN_TIMEOUT plus the 3 s metrics flush', async () => {
        const objects = await rendered;
        for (const [name, { deployment, container }] of deploymentsByService(objects)) {
          const shutdown = environmentOf(objects, container).get('SHUTDOWN_TIMEOUT') ?? defaultOf(services[name].settings, 'SHUTDOWN_TIMEOUT');
          const neededSeconds = parseDurationMs(shutdown)! / 1000 + 3;
          const grace = podSpec(deployment).terminationGracePeriodSeconds ?? 30;
          expect({ name, longer: grace > neededSeconds }).toEqual({ name, longer: true });
        }
      });

      test('no Role or ClusterRole grants a wildcard, and the ingester can never read Secrets', async () => {
        const objects = await rendered;
        for (const role of objects.filter((o) => o.kind === 'Role' || o.kind === 'ClusterRole')) {
          expect(role.aggregationRule).toBeUndefined();
          for (const rule of (role.rules ?? []) as (Rule & Record<string, string[]>)[]) {
            const values = [...(rule.apiGroups ?? []), ...(rule.resources ?? []), ...(rule.verbs ?? []), ...(rule.nonResourceURLs ?? [])];
            expect({ role: role.metadata.name, wildcards: values.filter((v) => v.includes('*')) }).toEqual({ role: role.metadata.name, wildcards: [] });
          }
        }
        const ingesterNamespace = find(objects, 'ServiceAccount', 'events-ingester')!.metadata.namespace!;
        const secretGrants = grantsOf(objects, 'events-ingester', ingesterNamespace).filter((g) => g.split('|')[2] === 'secrets');
        expect(secretGrants).toEqual([]);
      });

      test('the ingester may read events and get exactly the documented kinds, where it watches', async () => {
        const objects = await rendered;
        const { container, deployment } = deploymentsByService(objects).get('events-ingester')!;
        const env = environmentOf(objects, container);
        const namespaces = (env.get('NAMESPACES') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
        expect(namespaces.length > 0).toBe(rendering.namespaced);
        expect(env.get('COMPOSITION_LOOKUP') ?? defaultOf(ingesterSettings, 'COMPOSITION_LOOKUP')).toBe(String(rendering.lookup));
        expect(podSpec(deployment).serviceAccountName).toBe('events-ingester');
        const scopes = rendering.namespaced ? namespaces : ['*'];
        const rules = rendering.lookup ? [...ingesterEventRules, ...ingesterLookupRules] : ingesterEventRules;
        expect(grantsOf(objects, 'events-ingester', deployment.metadata.namespace!)).toEqual(expectedGrants(rules, scopes));
      });

      test('the presenter may only get Secrets in AUTHN_NS', async () => {
        const objects = await rendered;
        const { container, deployment } = deploymentsByService(objects).get('events-presenter')!;
        const authnNamespace = environmentOf(objects, container).get('AUTHN_NS');
        expect(authnNamespace).toBeString();
        expect(podSpec(deployment).serviceAccountName).toBe('events-presenter');
        expect(grantsOf(objects, 'events-presenter', deployment.metadata.namespace!)).toEqual(expectedGrants(presenterRules, [authnNamespace!]));
      });

      test('the presenter Service exposes its HTTP port; service accounts and namespaces exist', async () => {
        const objects = await rendered;
        const service = find(objects, 'Service', 'events-presenter')!;
        expect((service.spec as { ports: unknown[] }).ports).toEqual([{ name: 'http', port: 8083, targetPort: 'http', protocol: 'TCP' }]);
        const namespaces = new Set(objects.filter((o) => o.kind === 'Namespace').map((o) => o.metadata.name));
        for (const { deployment } of deploymentsByService(objects).values()) {
          expect(namespaces.has(deployment.metadata.namespace!)).toBe(true);
          const sa = podSpec(deployment).serviceAccountName!;
          expect(objects.some((o) => o.kind === 'ServiceAccount' && o.metadata.name === sa && o.metadata.namespace === deployment.metadata.namespace)).toBe(true);
        }
      });
    });
  }
});

describe('Containerfile', () => {
  const containerfile = readFileSync(`${root}Containerfile`, 'utf8');
  const instructions = containerfile
    .split('\n')
    .filter((line) => /^[A-Z]+\s/.test(line))
    .map((line) => line.trim());

  test('runs only commands the README gives (Bun installed globally in the throwaway build stage, the locked install CI runs, the build), then copies the build outputs into a non-root final stage', () => {
    const runs = instructions.filter((l) => l.startsWith('RUN ')).map((l) => l.slice(4));
    expect(runs).toEqual(['npm install -g bun@1.4.5', 'bun install --frozen-lockfile', 'bun run build']);
    const readme = readFileSync(`${root}README.md`, 'utf8');
    expect(readme).toContain('`npm install -g bun@1.4.5`');
    const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.test).toStartWith('bun install --frozen-lockfile && ');
    expect(pkg.scripts.build).toBe('bun scripts/build.ts');
    const finalStage = instructions.slice(instructions.findLastIndex((l) => l.startsWith('FROM ')));
    expect(finalStage[0]).toMatch(/^FROM gcr\.io\/distroless\/cc-debian12:nonroot$/);
    expect(finalStage.filter((l) => l.startsWith('COPY '))).toEqual([
      'COPY --from=build /src/dist/events-stack /app/',
      'COPY --from=build /src/dist/drizzle /app/drizzle',
    ]);
    expect(finalStage).toContain('USER 65532:65532');
    expect(finalStage.slice(-2)).toEqual(['ENTRYPOINT ["/app/events-stack"]', 'CMD ["presenter"]']);
  });

  test('docs/deploy.md names every resource kind the ingester may get', () => {
    const docs = readFileSync(`${root}docs/deploy.md`, 'utf8');
    for (const rule of ingesterLookupRules) for (const resource of rule.resources) expect(docs).toContain(`\`${resource}\``);
    expect(docs).toContain('COMPOSITION_LOOKUP=false');
  });
});
