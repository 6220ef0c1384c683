import type { K8sObject } from './kustomize.ts';
import { helmBinary } from './layer-tools.ts';

/** How to render a chart: release name, namespace, values files and `--set` pairs. */
export interface ChartRender {
  chart: string;
  release: string;
  namespace: string;
  valuesFiles?: string[];
  set?: Record<string, string>;
}

function helmArgs(options: ChartRender): string[] {
  return [
    ...(options.valuesFiles ?? []).flatMap((file) => ['--values', file]),
    ...Object.entries(options.set ?? {}).flatMap(([key, value]) => ['--set', `${key}=${value}`]),
  ];
}

/** Runs the pinned Helm with `args`; resolves with exit code and output. Throws when Helm is not installed. */
export async function runHelm(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn([helmBinary(), ...args], { stdout: 'pipe', stderr: 'pipe', env: { ...process.env, HELM_CACHE_HOME: '/tmp/helm-cache', HELM_CONFIG_HOME: '/tmp/helm-config', HELM_DATA_HOME: '/tmp/helm-data' } });
  const [code, stdout, stderr] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  return { code, stdout, stderr };
}

/** `helm lint --strict` of the chart with the given values; throws with Helm's output on a failure. */
export async function lintChart(options: ChartRender): Promise<string> {
  const result = await runHelm(['lint', '--strict', options.chart, '--namespace', options.namespace, ...helmArgs(options)]);
  if (result.code !== 0) throw new Error(`helm lint ${options.chart} failed (exit ${result.code}):\n${result.stdout}${result.stderr}`);
  return result.stdout;
}

/** `helm template` of the chart (offline) into its objects; throws with Helm's message on a failure. */
export async function renderChart(options: ChartRender): Promise<K8sObject[]> {
  const result = await runHelm(['template', options.release, options.chart, '--namespace', options.namespace, ...helmArgs(options)]);
  if (result.code !== 0) throw new Error(`helm template ${options.chart} failed (exit ${result.code}): ${result.stderr}`);
  const docs = Bun.YAML.parse(result.stdout) as unknown;
  return (Array.isArray(docs) ? docs : [docs]).filter((doc): doc is K8sObject => doc !== null && typeof doc === 'object' && 'kind' in doc);
}
