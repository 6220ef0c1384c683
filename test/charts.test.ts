import { describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { referencePath, renderValuesReference } from '../scripts/chart-values-reference.ts';
import { ingesterSettings, presenterSettings, type Setting } from '../lib/runtime/config.ts';
import { parseDurationMs } from '../lib/runtime/duration.ts';
import { lintChart, renderChart, runHelm, type ChartRender } from './support/helm.ts';
import { renderKustomization, type K8sObject } from './support/kustomize.ts';
import {
  environmentOf,
  findObject,
  flattenRules,
  grantsOf,
  podSpecOf,
  probePort,
  secretRefsOf,
  wildcardsIn,
  type Container,
  type Rule,
} from './support/manifests.ts';

const root = join(import.meta.dir, '..');
const fixture = (name: string) => join(root, 'test', 'fixtures', 'krateo', name);
const namespace = 'krateo-system';

const charts = {
  'events-ingester': { settings: ingesterSettings, command: 'ingester' },
  'events-presenter': { settings: presenterSettings, command: 'presenter' },
} as const;
type ChartName = keyof typeof charts;

/** A rendering to check: the chart, the values Krateo (or a user) passes, and what they ask for. */
interface Case {
  title: string;
  chart: ChartName;
  valuesFiles: string[];
  serviceType?: 'ClusterIP' | 'NodePort' | 'LoadBalancer';
  nodePort?: number;
  ingressHost?: string;
  monitoring?: boolean;
}

const cases: Case[] = [
  { title: 'defaults', chart: 'events-ingester', valuesFiles: [] },
  { title: "Krateo installer's values", chart: 'events-ingester', valuesFiles: [fixture('ingester.yaml')] },
  { title: "Krateo installer's values with the monitoring override", chart: 'events-ingester', valuesFiles: [fixture('ingester.yaml'), fixture('monitoring.yaml')], monitoring: true },
  { title: 'defaults', chart: 'events-presenter', valuesFiles: [], serviceType: 'ClusterIP' },
  { title: "Krateo installer's NodePort profile", chart: 'events-presenter', valuesFiles: [fixture('presenter-nodeport.yaml')], serviceType: 'NodePort', nodePort: 30083 },
  { title: "Krateo installer's LoadBalancer profile", chart: 'events-presenter', valuesFiles: [fixture('presenter-loadbalancer.yaml')], serviceType: 'LoadBalancer', nodePort: 30083 },
  { title: "Krateo installer's ingress profile", chart: 'events-presenter', valuesFiles: [fixture('presenter-ingress.yaml')], serviceType: 'ClusterIP', ingressHost: 'events.krateo.example.com' },
  { title: 'an older installer profile (secret.name)', chart: 'events-presenter', valuesFiles: [fixture('presenter-older-chart.yaml')], serviceType: 'NodePort', nodePort: 30083 },
  { title: "Krateo's NodePort profile with the monitoring override", chart: 'events-presenter', valuesFiles: [fixture('presenter-nodeport.yaml'), fixture('monitoring.yaml')], serviceType: 'NodePort', nodePort: 30083, monitoring: true },
];

/** Standard OpenTelemetry variables the exporter reads itself (not in the config module). */
const standardOtelVariable = /^OTEL_EXPORTER_OTLP_[A-Z_]+$/;
const secretNames = (settings: Setting[]) => settings.filter((s) => s.secret).map((s) => s.name);
const defaultOf = (settings: Setting[], name: string) => settings.find((s) => s.name === name)!.default;

const ingesterEventRules: Rule[] = [{ apiGroups: [''], resources: ['events'], verbs: ['get', 'list', 'watch'] }];
const ingesterLookupRules: Rule[] = [
  { apiGroups: [''], resources: ['pods', 'services', 'persistentvolumeclaims'], verbs: ['get'] },
  { apiGroups: ['apps'], resources: ['deployments', 'replicasets', 'statefulsets', 'daemonsets'], verbs: ['get'] },
  { apiGroups: ['batch'], resources: ['jobs', 'cronjobs'], verbs: ['get'] },
  { apiGroups: ['networking.k8s.io'], resources: ['ingresses'], verbs: ['get'] },
];
const sorted = (grants: string[]) => [...new Set(grants)].sort();

const renderOf = (c: Pick<Case, 'chart' | 'valuesFiles'>, set?: Record<string, string>): ChartRender => ({
  chart: join(root, 'charts', c.chart),
  release: c.chart,
  namespace,
  valuesFiles: c.valuesFiles,
  set,
});

function onlyDeployment(objects: K8sObject[]): { deployment: K8sObject; container: Container } {
  const deployments = objects.filter((o) => o.kind === 'Deployment');
  expect(deployments).toHaveLength(1);
  const containers = podSpecOf(deployments[0]!).containers;
  expect(containers).toHaveLength(1);
  return { deployment: deployments[0]!, container: containers[0]! };
}

describe.each(cases)('helm template $chart with $title', (c) => {
  const { settings, command } = charts[c.chart];
  const rendered = renderChart(renderOf(c));

  test('passes helm lint --strict', async () => {
    expect(await lintChart(renderOf(c))).toContain('1 chart(s) linted, 0 chart(s) failed');
  });

  test('runs the one executable with the service as its argument, as a non-root read-only container', async () => {
    const { deployment, container } = onlyDeployment(await rendered);
    expect({ command: container.command, args: container.args }).toEqual({ command: undefined, args: [command] });
    const spec = podSpecOf(deployment);
    expect(spec.securityContext).toEqual({ runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } });
    expect(container.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 65532,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(container.resources?.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
    expect(container.resources?.limits).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
    expect(container.volumeMounts).toEqual([{ name: 'tmp', mountPath: '/tmp' }]);
  });

  test('every environment variable is a setting of the service in the config module, and secrets come only from Secrets', async () => {
    const objects = await rendered;
    const { container } = onlyDeployment(objects);
    const env = environmentOf(objects, container);
    const known = new Set(settings.map((s) => s.name));
    expect([...env.keys()].filter((name) => !known.has(name) && !standardOtelVariable.test(name))).toEqual([]);
    expect(secretNames(settings).filter((name) => env.get(name) !== undefined)).toEqual([]);
    expect(container.envFrom).toBeUndefined();
  });

  test('the container port, the probes and the Service follow config.PORT', async () => {
    const objects = await rendered;
    const { container } = onlyDeployment(objects);
    const port = Number(environmentOf(objects, container).get('PORT') ?? defaultOf(settings, 'PORT'));
    expect(container.ports).toEqual([{ name: 'http', containerPort: port, protocol: 'TCP' }]);
    expect({
      startup: [container.startupProbe?.httpGet?.path, probePort(container, container.startupProbe)],
      liveness: [container.livenessProbe?.httpGet?.path, probePort(container, container.livenessProbe)],
      readiness: [container.readinessProbe?.httpGet?.path, probePort(container, container.readinessProbe)],
    }).toEqual({ startup: ['/livez', port], liveness: ['/livez', port], readiness: ['/readyz', port] });
    const service = findObject(objects, 'Service', c.chart)!;
    expect((service.spec as { ports: { name: string; port: number; targetPort: string }[] }).ports[0]).toMatchObject({ name: 'http', port, targetPort: 'http' });
  });

  test('the startup probe outlasts DB_READY_TIMEOUT, and the grace period outlasts SHUTDOWN_TIMEOUT plus the metrics flush', async () => {
    const objects = await rendered;
    const { deployment, container } = onlyDeployment(objects);
    const env = environmentOf(objects, container);
    const readyMs = parseDurationMs(env.get('DB_READY_TIMEOUT') ?? defaultOf(settings, 'DB_READY_TIMEOUT'))!;
    const startup = container.startupProbe!;
    expect(startup.periodSeconds! * startup.failureThreshold! * 1000).toBeGreaterThanOrEqual(readyMs + 60_000);
    const shutdownMs = parseDurationMs(env.get('SHUTDOWN_TIMEOUT') ?? defaultOf(settings, 'SHUTDOWN_TIMEOUT'))!;
    expect(podSpecOf(deployment).terminationGracePeriodSeconds! * 1000).toBeGreaterThan(shutdownMs + 3000);
  });

  test('no Role or ClusterRole holds a wildcard', async () => {
    expect(wildcardsIn(await rendered)).toEqual([]);
  });

  if (c.monitoring) {
    test("Krateo's monitoring override reaches the environment", async () => {
      const objects = await rendered;
      const env = environmentOf(objects, onlyDeployment(objects).container);
      expect([env.get('OTEL_ENABLED'), env.get('OTEL_EXPORT_INTERVAL'), env.get('OTEL_EXPORTER_OTLP_ENDPOINT')]).toEqual([
        'true',
        '30s',
        'http://opentelemetry-collector.krateo-system.svc:4318',
      ]);
    });
  }

  if (c.chart === 'events-ingester') {
    test('the ingester gets the database credentials from krateo-db, renders no Secret and may read events and get the documented kinds', async () => {
      const objects = await rendered;
      const { container, deployment } = onlyDeployment(objects);
      expect(secretRefsOf(container)).toEqual(['DB_PASS ← krateo-db/DB_PASS', 'DB_USER ← krateo-db/DB_USER']);
      expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
      const serviceAccount = podSpecOf(deployment).serviceAccountName!;
      expect(grantsOf(objects, serviceAccount, namespace)).toEqual(sorted(flattenRules([...ingesterEventRules, ...ingesterLookupRules], '*')));
    });
  }

  if (c.chart === 'events-presenter') {
    test("Krateo's contract: Service events-presenter, first port http on 8083, the node port when asked", async () => {
      const service = findObject(await rendered, 'Service', 'events-presenter')!;
      const spec = service.spec as { type: string; ports: Record<string, unknown>[] };
      expect({ namespace: service.metadata.namespace, type: spec.type, first: spec.ports[0] }).toEqual({
        namespace,
        type: c.serviceType!,
        first: { name: 'http', port: 8083, targetPort: 'http', protocol: 'TCP', ...(c.nodePort ? { nodePort: c.nodePort } : {}) },
      });
    });

    test("Krateo's contract: the endpoint Secret events-presenter-endpoint points at the Service", async () => {
      const secret = findObject(await rendered, 'Secret', 'events-presenter-endpoint')!;
      expect({ namespace: secret.metadata.namespace, stringData: secret.stringData }).toEqual({
        namespace,
        stringData: { 'server-url': 'http://events-presenter.krateo-system.svc:8083', insecure: 'true' },
      });
    });

    test('the presenter reads krateo-db and jwt-sign-key, and may only get Secrets in AUTHN_NS (the release namespace)', async () => {
      const objects = await rendered;
      const { container, deployment } = onlyDeployment(objects);
      expect(secretRefsOf(container)).toEqual(['DB_PASS ← krateo-db/DB_PASS', 'DB_USER ← krateo-db/DB_USER', 'JWT_SIGN_KEY ← jwt-sign-key/JWT_SIGN_KEY']);
      expect(environmentOf(objects, container).get('AUTHN_NS')).toBe(namespace);
      const serviceAccount = podSpecOf(deployment).serviceAccountName!;
      expect(grantsOf(objects, serviceAccount, namespace)).toEqual([`${namespace}||secrets|get`]);
      expect(objects.filter((o) => o.kind === 'Secret').map((o) => o.metadata.name)).toEqual(['events-presenter-endpoint']);
    });

    test('an Ingress exists exactly when asked, routing to the http port', async () => {
      const ingresses = (await rendered).filter((o) => o.kind === 'Ingress');
      if (!c.ingressHost) {
        expect(ingresses).toEqual([]);
        return;
      }
      expect(ingresses.map((i) => i.spec)).toEqual([
        {
          ingressClassName: 'nginx',
          rules: [{ host: c.ingressHost, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'events-presenter', port: { name: 'http' } } } }] } }],
        },
      ]);
    });
  }
});

describe('chart options beyond the installer profiles', () => {
  const ingester = { chart: 'events-ingester' as const, valuesFiles: [fixture('ingester.yaml')] };

  test('the startup probe of the 5m DB_READY_TIMEOUT Krateo passes allows six minutes', async () => {
    const { container } = onlyDeployment(await renderChart(renderOf(ingester)));
    expect({ period: container.startupProbe?.periodSeconds, failures: container.startupProbe?.failureThreshold }).toEqual({ period: 5, failures: 72 });
  });

  test('rbac.compositionLookup.extraRules adds get on the custom kinds of compositions', async () => {
    const objects = await renderChart(renderOf(ingester, { 'rbac.compositionLookup.extraRules[0].apiGroups[0]': 'github.kog.krateo.io', 'rbac.compositionLookup.extraRules[0].resources[0]': 'repoes', 'rbac.compositionLookup.extraRules[0].verbs[0]': 'get' }));
    expect(grantsOf(objects, 'events-ingester', namespace)).toContain('*|github.kog.krateo.io|repoes|get');
    expect(wildcardsIn(objects)).toEqual([]);
  });

  test.each([
    ['a wildcard group', { 'rbac.compositionLookup.extraRules[0].apiGroups[0]': '*', 'rbac.compositionLookup.extraRules[0].resources[0]': 'repoes', 'rbac.compositionLookup.extraRules[0].verbs[0]': 'get' }, 'must not hold a wildcard'],
    ['a verb other than get', { 'rbac.compositionLookup.extraRules[0].apiGroups[0]': 'x.krateo.io', 'rbac.compositionLookup.extraRules[0].resources[0]': 'repoes', 'rbac.compositionLookup.extraRules[0].verbs[0]': 'list' }, 'verbs must be [get]'],
    ['secrets', { 'rbac.compositionLookup.extraRules[0].apiGroups[0]': '', 'rbac.compositionLookup.extraRules[0].resources[0]': 'secrets', 'rbac.compositionLookup.extraRules[0].verbs[0]': 'get' }, 'secrets and configmaps must not be granted'],
    ['a database password in config', { 'config.DB_PASS': 'hunter2' }, 'config.DB_PASS must not be set'],
  ])('the ingester chart refuses %s', async (_what, set, message) => {
    const result = await runHelm(['template', 'events-ingester', join(root, 'charts', 'events-ingester'), '--namespace', namespace, ...Object.entries(set).flatMap(([k, v]) => ['--set', `${k}=${v}`])]);
    expect({ code: result.code, refused: result.stderr.includes(message) }).toEqual({ code: 1, refused: true });
    expect(result.stderr).not.toContain('hunter2');
  });

  test('the presenter chart refuses a JWT key in config', async () => {
    const result = await runHelm(['template', 'events-presenter', join(root, 'charts', 'events-presenter'), '--namespace', namespace, '--set', 'config.JWT_SIGN_KEY=s3cret']);
    expect({ code: result.code, refused: result.stderr.includes('config.JWT_SIGN_KEY must not be set') }).toEqual({ code: 1, refused: true });
  });

  test('with config.NAMESPACES the ingester is granted access only in those namespaces', async () => {
    const objects = await renderChart(renderOf(ingester, { 'config.NAMESPACES': 'krateo-system\\,demo-system' }));
    expect(objects.filter((o) => o.kind === 'ClusterRoleBinding')).toEqual([]);
    const rules = [...ingesterEventRules, ...ingesterLookupRules];
    expect(grantsOf(objects, 'events-ingester', namespace)).toEqual(sorted([...flattenRules(rules, 'krateo-system'), ...flattenRules(rules, 'demo-system')]));
  });

  test('with COMPOSITION_LOOKUP=false the ingester may only read events', async () => {
    const objects = await renderChart(renderOf(ingester, { 'config.COMPOSITION_LOOKUP': 'false' }));
    expect(grantsOf(objects, 'events-ingester', namespace)).toEqual(sorted(flattenRules(ingesterEventRules, '*')));
  });

  test('the presenter Role follows config.AUTHN_NS when it is set', async () => {
    const objects = await renderChart(renderOf({ chart: 'events-presenter', valuesFiles: [] }, { 'config.AUTHN_NS': 'authn' }));
    expect(grantsOf(objects, 'events-presenter', namespace)).toEqual(['authn||secrets|get']);
  });

  test.each(Object.keys(charts) as ChartName[])('%s: with PROMETHEUS_PORT and serviceMonitor.enabled, a ServiceMonitor scrapes the metrics port of the Service', async (chart) => {
    const objects = await renderChart(renderOf({ chart, valuesFiles: [] }, { 'config.PROMETHEUS_PORT': '9464', 'serviceMonitor.enabled': 'true' }));
    const { container } = onlyDeployment(objects);
    expect(container.ports?.find((p) => p.name === 'metrics')).toEqual({ name: 'metrics', containerPort: 9464, protocol: 'TCP' });
    const service = findObject(objects, 'Service', chart)!;
    expect((service.spec as { ports: unknown[] }).ports[1]).toEqual({ name: 'metrics', port: 9464, targetPort: 'metrics', protocol: 'TCP' });
    const monitor = findObject(objects, 'ServiceMonitor', chart)!;
    expect(monitor.spec).toEqual({
      selector: { matchLabels: (service.spec as { selector: Record<string, string> }).selector },
      namespaceSelector: { matchNames: [namespace] },
      endpoints: [{ port: 'metrics', path: '/metrics', interval: '30s' }],
    });
  });

  test('serviceMonitor.enabled without PROMETHEUS_PORT is refused', async () => {
    const result = await runHelm(['template', 'events-presenter', join(root, 'charts', 'events-presenter'), '--namespace', namespace, '--set', 'serviceMonitor.enabled=true']);
    expect({ code: result.code, refused: result.stderr.includes('serviceMonitor.enabled needs config.PROMETHEUS_PORT') }).toEqual({ code: 1, refused: true });
  });

  test.each(Object.keys(charts) as ChartName[])('%s: grafanaDashboard.enabled ships the overview dashboard in a ConfigMap for Grafana\'s sidecar', async (chart) => {
    const objects = await renderChart(renderOf({ chart, valuesFiles: [] }, { 'grafanaDashboard.enabled': 'true' }));
    const configMap = findObject(objects, 'ConfigMap', `${chart}-dashboard`)!;
    expect(configMap.metadata.labels?.grafana_dashboard).toBe('1');
    const file = `${chart}-overview.json`;
    expect(JSON.parse((configMap.data as Record<string, string>)[file]!)).toEqual(JSON.parse(readFileSync(join(root, 'charts', chart, 'dashboards', file), 'utf8')));
  });

  test('retention defaults keep the stored events inside a 1 GiB share: 7 days and a size cap below 1 GiB', async () => {
    const objects = await renderChart(renderOf({ chart: 'events-ingester', valuesFiles: [] }));
    const env = environmentOf(objects, onlyDeployment(objects).container);
    expect(parseDurationMs(env.get('RETENTION')!)).toBe(7 * 86_400_000);
    const cap = Number(env.get('RETENTION_MAX_BYTES'));
    expect(cap > 0 && cap <= 0.75 * 1024 ** 3).toBe(true);
  });
});

describe('deploy/ (kustomize) and the charts cannot drift apart', () => {
  const kustomized = renderKustomization(join(root, 'deploy'));

  /** What both renderings must agree on for one service: everything but names, namespaces, ports and Secret names. */
  async function essentials(objects: K8sObject[], args: string) {
    const deployment = objects.find((o) => o.kind === 'Deployment' && podSpecOf(o).containers[0]?.args?.[0] === args)!;
    const spec = podSpecOf(deployment);
    const container = spec.containers[0]!;
    const probe = (p: Container['startupProbe']) => ({ ...p, httpGet: { path: p?.httpGet?.path }, failureThreshold: p === container.startupProbe ? undefined : p?.failureThreshold });
    const serviceAccount = spec.serviceAccountName!;
    const grants = grantsOf(objects, serviceAccount, deployment.metadata.namespace!).map((g) => g.split('|').slice(1).join('|'));
    return {
      replicas: (deployment.spec as { replicas: number }).replicas,
      args: container.args,
      podSecurityContext: spec.securityContext,
      securityContext: container.securityContext,
      terminationGracePeriodSeconds: spec.terminationGracePeriodSeconds,
      resources: container.resources,
      volumeMounts: container.volumeMounts,
      volumes: spec.volumes,
      probes: [probe(container.startupProbe), probe(container.livenessProbe), probe(container.readinessProbe)],
      grants: [...new Set(grants)].sort(),
      secretVariables: [...new Set(secretRefsOf(container).map((ref) => ref.split(' ')[0]).filter((name) => name !== 'DB_USER'))].sort(),
    };
  }

  test.each([
    ['events-ingester', 'ingester'],
    ['events-presenter', 'presenter'],
  ] as const)('%s: same replicas, security contexts, resources, probes, volumes and RBAC rules', async (chart, args) => {
    const fromChart = await renderChart(renderOf({ chart, valuesFiles: [] }));
    expect(await essentials(fromChart, args)).toEqual(await essentials(await kustomized, args));
  });
});

describe('chart values', () => {
  const helmCreateKeys = [
    'replicaCount', 'image.repository', 'image.pullPolicy', 'image.tag', 'imagePullSecrets', 'nameOverride', 'fullnameOverride',
    'serviceAccount.create', 'serviceAccount.automount', 'serviceAccount.annotations', 'serviceAccount.name', 'podAnnotations', 'podLabels',
    'podSecurityContext', 'securityContext', 'service.type', 'resources', 'startupProbe', 'livenessProbe', 'readinessProbe',
    'autoscaling.enabled', 'autoscaling.minReplicas', 'autoscaling.maxReplicas', 'autoscaling.targetCPUUtilizationPercentage',
    'volumes', 'volumeMounts', 'nodeSelector', 'tolerations', 'affinity', 'config.PORT', 'config.DEBUG', 'config.DB_HOST', 'config.DB_NAME', 'config.DB_READY_TIMEOUT',
  ];
  const krateoKeys = {
    'events-ingester': ['secret.name'],
    'events-presenter': ['dbSecret.name', 'secret.name', 'service.nodePort', 'ingress.enabled', 'ingress.className', 'ingress.hosts', 'endpointSecret.create'],
  };
  const has = (values: unknown, key: string) =>
    key.split('.').reduce<{ ok: boolean; at: unknown }>((acc, part) => {
      const at = acc.at as Record<string, unknown> | undefined;
      return { ok: acc.ok && at !== null && typeof at === 'object' && part in at, at: at?.[part] };
    }, { ok: true, at: values }).ok;

  test.each(Object.keys(charts) as ChartName[])('%s takes the helm create layout and the values Krateo passes', (chart) => {
    const values = Bun.YAML.parse(readFileSync(join(root, 'charts', chart, 'values.yaml'), 'utf8'));
    expect([...helmCreateKeys, ...krateoKeys[chart]].filter((key) => !has(values, key))).toEqual([]);
  });

  test('docs/chart-values.md is generated from the values files (bun scripts/chart-values-reference.ts) and every value is described', () => {
    const generated = renderValuesReference();
    expect(readFileSync(referencePath, 'utf8')).toBe(generated);
    expect(generated.split('\n').filter((line) => line.endsWith('|  |'))).toEqual([]);
  });
});
