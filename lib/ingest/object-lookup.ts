import type { LabelLookup, ObjectRef } from './composition.ts';
import { KubeHttpError, type KubeHttp } from '../kube/client.ts';

type Discovery = { resources?: { name: string; kind: string; namespaced: boolean }[] };
type Resource = { plural: string; namespaced: boolean };

const metadataAccept = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json';

/**
 * Creates a lookup of an involved object's labels: discovery maps the kind to its resource (cached
 * per group/version for `discoveryTtlMs`), then one GET asks for the object's metadata only (full
 * object from servers that cannot). 404 → not_found, 403/401 → forbidden, a kind no API serves →
 * unknown_kind; other failures throw (the caller stores NULL).
 */
export function createKubeLabelLookup(
  http: KubeHttp,
  options: { discoveryTtlMs?: number; timeoutMs?: number; now?: () => number } = {},
): (ref: ObjectRef) => Promise<LabelLookup> {
  const now = options.now ?? Date.now;
  const ttlMs = options.discoveryTtlMs ?? 300_000;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const discovery = new Map<string, { kinds: Map<string, Resource> | undefined; expiresAt: number }>();

  const discover = async (apiVersion: string): Promise<Map<string, Resource> | undefined> => {
    const cached = discovery.get(apiVersion);
    if (cached && cached.expiresAt > now()) return cached.kinds;
    const path = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    let kinds: Map<string, Resource> | undefined;
    try {
      const doc = await http.getJson<Discovery>(path, { timeoutMs });
      kinds = new Map();
      for (const r of doc.resources ?? []) {
        if (!r.name.includes('/')) kinds.set(r.kind, { plural: r.name, namespaced: r.namespaced });
      }
    } catch (err) {
      if (!(err instanceof KubeHttpError && err.status === 404)) throw err;
      kinds = undefined;
    }
    discovery.set(apiVersion, { kinds, expiresAt: now() + ttlMs });
    return kinds;
  };

  return async (ref) => {
    const apiVersion = ref.apiVersion || 'v1';
    const resource = (await discover(apiVersion))?.get(ref.kind ?? '');
    if (!resource) return { status: 'unknown_kind' };
    const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    const scope = resource.namespaced && ref.namespace ? `/namespaces/${encodeURIComponent(ref.namespace)}` : '';
    const path = `${base}${scope}/${resource.plural}/${encodeURIComponent(ref.name ?? '')}`;
    try {
      const object = await http.getJson<{ metadata?: { labels?: Record<string, string> } }>(path, {
        accept: metadataAccept,
        timeoutMs,
      });
      return { status: 'found', labels: object.metadata?.labels ?? {} };
    } catch (err) {
      if (err instanceof KubeHttpError && err.status === 404) return { status: 'not_found' };
      if (err instanceof KubeHttpError && (err.status === 403 || err.status === 401)) return { status: 'forbidden' };
      throw err;
    }
  };
}
