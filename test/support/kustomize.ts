import { kubectlBinary } from './layer-tools.ts';

/** A Kubernetes object as rendered by kustomize (only the fields the tests read are typed). */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

/**
 * Renders a kustomization directory with `kubectl kustomize` (offline) into its objects. kubectl is
 * the project's pinned one (see layer-tools.ts), so the rendering never depends on the machine.
 */
export async function renderKustomization(dir: string): Promise<K8sObject[]> {
  const proc = Bun.spawn([kubectlBinary(), 'kustomize', dir], { stdout: 'pipe', stderr: 'pipe' });
  const [code, stdout, stderr] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  if (code !== 0) throw new Error(`kubectl kustomize ${dir} failed (exit ${code}): ${stderr}`);
  const parsed: unknown = Bun.YAML.parse(stdout);
  const docs = Array.isArray(parsed) ? parsed : [parsed];
  return docs.filter((doc): doc is K8sObject => doc !== null && typeof doc === 'object' && 'kind' in doc);
}
