export interface KubeconfigInput {
  server: string;
  /** Omitted for plain-HTTP servers. */
  caPem?: string;
  username: string;
  certPem?: string;
  keyPem?: string;
  token?: string;
  /** Cluster name in the file; the context is `<username>@<clusterName>`. */
  clusterName?: string;
}

const b64 = (text: string) => Buffer.from(text).toString('base64');

// JSON strings are valid YAML double-quoted scalars, so quoting through JSON.stringify is safe
// for any username or URL.
const q = (text: string) => JSON.stringify(text);

/** Renders a single-context kubeconfig (YAML) that kubectl and client-node both load. */
export function renderKubeconfig(input: KubeconfigInput): string {
  const cluster = input.clusterName ?? 'sim';
  const context = `${input.username}@${cluster}`;
  const user: string[] = [];
  if (input.certPem) user.push(`    client-certificate-data: ${b64(input.certPem)}`);
  if (input.keyPem) user.push(`    client-key-data: ${b64(input.keyPem)}`);
  if (input.token) user.push(`    token: ${q(input.token)}`);
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: ${q(cluster)}`,
    '  cluster:',
    `    server: ${q(input.server)}`,
    // client-node refuses http:// servers unless TLS verification is marked as skipped.
    ...(input.caPem ? [`    certificate-authority-data: ${b64(input.caPem)}`] : ['    insecure-skip-tls-verify: true']),
    'users:',
    `- name: ${q(input.username)}`,
    ...(user.length ? ['  user:', ...user] : ['  user: {}']),
    'contexts:',
    `- name: ${q(context)}`,
    '  context:',
    `    cluster: ${q(cluster)}`,
    `    user: ${q(input.username)}`,
    `current-context: ${q(context)}`,
    '',
  ].join('\n');
}
