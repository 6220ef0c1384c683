/**
 * Parsing of the presenter's cluster settings (REMOTE_CLUSTERS, USER_REVIEWS_IN_CLUSTER), part of
 * the runtime config module: `config.ts` calls these with its reader, nothing else does.
 */

/** The part of config.ts's EnvReader these settings need. */
interface SettingsReader {
  readonly env: Record<string, string | undefined>;
  readonly problems: string[];
  raw(name: string): string | undefined;
  boolean(name: string, fallback: boolean): boolean;
}

/** Another cluster whose rows the presenter authorises (REMOTE_CLUSTERS). */
export interface RemoteCluster {
  name: string;
  /** Its API server; reviews for its rows go only there. */
  serverUrl: string;
  caPem?: string;
  proxyUrl?: string;
  /** Name of the Secret in AUTHN_NS with a user's credentials for it; `{username}` is replaced. */
  secretNameTemplate: string;
}

/** Where the service-account CA of a pod is mounted. */
export const serviceAccountCaFile = '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt';

const isHttpUrl = (text: unknown): text is string => {
  if (typeof text !== 'string') return false;
  try {
    return ['http:', 'https:'].includes(new URL(text).protocol);
  } catch {
    return false;
  }
};

// `certificateAuthorityData` as in a kubeconfig (base64 PEM); a PEM as is is accepted too.
const decodeCa = (text: string): string | undefined => {
  if (text.trim().startsWith('-----BEGIN')) return text.trim();
  const pem = Buffer.from(text, 'base64').toString('utf8').trim();
  return pem.startsWith('-----BEGIN') ? pem : undefined;
};

function readRemoteCluster(r: SettingsReader, name: string, entry: unknown): RemoteCluster | undefined {
  const bad = (why: string) => void r.problems.push(`REMOTE_CLUSTERS.${name}: ${why}`);
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return bad('must be an object'), undefined;
  const { server, certificateAuthorityData, proxyUrl, secretName, ...rest } = entry as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) bad(`unknown fields ${unknown.join(', ')}`);
  if (!isHttpUrl(server)) bad('server must be an http(s) URL');
  if (proxyUrl !== undefined && !isHttpUrl(proxyUrl)) bad('proxyUrl must be an http(s) URL');
  if (secretName !== undefined && (typeof secretName !== 'string' || !secretName.includes('{username}'))) bad('secretName must contain {username}');
  const caPem = typeof certificateAuthorityData === 'string' ? decodeCa(certificateAuthorityData) : undefined;
  if (certificateAuthorityData !== undefined && caPem === undefined) bad('certificateAuthorityData must be a base64 PEM certificate');
  return {
    name,
    serverUrl: String(server),
    caPem,
    proxyUrl: typeof proxyUrl === 'string' ? proxyUrl : undefined,
    secretNameTemplate: typeof secretName === 'string' ? secretName : '{username}-clientconfig',
  };
}

/** REMOTE_CLUSTERS: a JSON object of cluster name → mapping; each problem is pushed to `r.problems`. */
export function readRemoteClusters(r: SettingsReader): RemoteCluster[] {
  const text = r.raw('REMOTE_CLUSTERS');
  if (text === undefined) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    r.problems.push('REMOTE_CLUSTERS must be a JSON object of cluster name → {server, …}');
    return [];
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    r.problems.push('REMOTE_CLUSTERS must be a JSON object of cluster name → {server, …}');
    return [];
  }
  return Object.entries(parsed).flatMap(([name, entry]) => readRemoteCluster(r, name, entry) ?? []);
}

/** The in-cluster API server (KUBERNETES_SERVICE_HOST/PORT), unless USER_REVIEWS_IN_CLUSTER is false or not in a pod. */
export function readInClusterApi(r: SettingsReader): { url: string; caFile: string } | undefined {
  const enabled = r.boolean('USER_REVIEWS_IN_CLUSTER', true);
  const host = r.env.KUBERNETES_SERVICE_HOST?.trim();
  if (!enabled || !host) return undefined;
  const port = r.env.KUBERNETES_SERVICE_PORT?.trim() || '443';
  return { url: `https://${host.includes(':') ? `[${host}]` : host}:${port}`, caFile: serviceAccountCaFile };
}
