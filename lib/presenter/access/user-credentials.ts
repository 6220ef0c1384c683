import { AuthError } from './auth-token.ts';

/** A user's own Kubernetes credentials, decoded from Krateo's `<username>-clientconfig` Secret. Never log. */
export interface UserCredentials {
  serverUrl: string;
  caPem?: string;
  certPem?: string;
  keyPem?: string;
  token?: string;
}

/** Reads a Secret's `data` (base64 values); resolves undefined when the Secret does not exist. */
export type SecretReader = (namespace: string, name: string) => Promise<Record<string, string> | undefined>;

/** Resolves a username to its Kubernetes credentials. */
export interface CredentialStore {
  /** Throws AuthError `no_credentials` when the user has no usable clientconfig Secret. */
  get(username: string): Promise<UserCredentials>;
  /** The user's credentials (cached): undefined when the Secret is gone or unusable; throws when it cannot be read. */
  current(username: string): Promise<UserCredentials | undefined>;
  /** Drops entries older than the TTL: a user's private key leaves memory once unused. */
  prune(): void;
  /** Users whose credentials are held. */
  readonly size: number;
}

const decode = (value: string | undefined): string | undefined =>
  value === undefined || value === '' ? undefined : Buffer.from(value, 'base64').toString('utf8');

// Kubeconfig-style `*-data` fields are base64 PEM inside the (base64) Secret value; accept both.
const decodePem = (value: string | undefined): string | undefined => {
  const text = decode(value)?.trim();
  if (text === undefined || text.startsWith('-----BEGIN')) return text;
  const inner = Buffer.from(text, 'base64').toString('utf8');
  return inner.startsWith('-----BEGIN') ? inner : text;
};

/** Decodes Krateo's clientconfig Secret data; undefined when `server-url` or every credential is missing. */
export function parseClientConfig(data: Record<string, string>): UserCredentials | undefined {
  const serverUrl = decode(data['server-url']);
  if (!serverUrl) return undefined;
  const creds: UserCredentials = {
    serverUrl: serverUrl.trim(),
    caPem: decodePem(data['certificate-authority-data']),
    certPem: decodePem(data['client-certificate-data']),
    keyPem: decodePem(data['client-key-data']),
    token: decode(data.token)?.trim(),
  };
  const hasCert = creds.certPem !== undefined && creds.keyPem !== undefined;
  return hasCert || creds.token ? creds : undefined;
}

/**
 * Caches each user's credentials for `ttlMs`, so a changed or deleted Secret takes effect within
 * that time; concurrent lookups for one user share one read. Read errors are not cached; `get`
 * turns them into `no_credentials` (failing closed), a missing Secret too. Entries are written in
 * expiry order, so each lookup (and `prune`) drops the expired ones from the oldest end: nothing
 * outlives its TTL by more than the next lookup or prune.
 */
export function createCredentialStore(options: {
  readSecret: SecretReader;
  namespace: string;
  ttlMs: number;
  now?: () => number;
}): CredentialStore {
  const now = options.now ?? Date.now;
  const cache = new Map<string, { expiresAt: number; value: Promise<UserCredentials | undefined> }>();
  const prune = () => {
    const at = now();
    for (const [username, entry] of cache) {
      if (entry.expiresAt > at) break;
      cache.delete(username);
    }
  };
  const current = (username: string) => {
    prune();
    let entry = cache.get(username);
    if (!entry) {
      const value = options.readSecret(options.namespace, `${username}-clientconfig`).then((data) =>
        data === undefined ? undefined : parseClientConfig(data),
      );
      const created = (entry = { expiresAt: now() + options.ttlMs, value });
      cache.set(username, created);
      value.catch(() => cache.get(username) === created && cache.delete(username));
    }
    return entry.value;
  };
  return {
    current,
    prune,
    get size() {
      return cache.size;
    },
    async get(username) {
      let creds: UserCredentials | undefined;
      try {
        creds = await current(username);
      } catch {
        creds = undefined;
      }
      if (!creds) throw new AuthError('no_credentials', 'no Kubernetes credentials for this user');
      return creds;
    },
  };
}

/**
 * Calls the user's API server as the user (client certificate and/or bearer token, the Secret's CA)
 * and returns the parsed JSON body. Throws an Error with `code` = HTTP status on a non-2xx answer.
 */
export async function requestAsUser(
  creds: UserCredentials,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  signal?: AbortSignal,
): Promise<unknown> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (creds.token) headers.authorization = `Bearer ${creds.token}`;
  const response = await fetch(new URL(path, creds.serverUrl), {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: signal ?? AbortSignal.timeout(10_000),
    tls: { ca: creds.caPem, cert: creds.certPem, key: creds.keyPem },
  });
  if (!response.ok) {
    await response.body?.cancel();
    throw Object.assign(new Error(`kubernetes API answered ${response.status}`), { code: response.status });
  }
  return await response.json();
}
