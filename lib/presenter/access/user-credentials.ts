import { AuthError } from './auth-token.ts';

/** A user's own Kubernetes credentials, decoded from Krateo's `<username>-clientconfig` Secret. Never log. */
export interface UserCredentials {
  serverUrl: string;
  caPem?: string;
  certPem?: string;
  keyPem?: string;
  token?: string;
  /** HTTP CONNECT proxy to the API server (clientconfig `proxy-url`, or the cluster's configured one). */
  proxyUrl?: string;
}

/** Reads a Secret's `data` (base64 values); resolves undefined when the Secret does not exist. */
export type SecretReader = (namespace: string, name: string) => Promise<Record<string, string> | undefined>;

/** Resolves a username to its Kubernetes credentials. */
export interface CredentialStore {
  /**
   * The credentials in Secret `secretName` (default `<username>-clientconfig`, the user's main one).
   * Throws AuthError `no_credentials` when the Secret is missing or unusable.
   */
  get(username: string, secretName?: string): Promise<UserCredentials>;
  /** The same, cached: undefined when the Secret is missing or unusable; throws when it cannot be read. */
  current(username: string, secretName?: string): Promise<UserCredentials | undefined>;
  /**
   * Reads the Secret now, whatever is cached, and caches what was read for the TTL (a rotated Secret's
   * credentials, or its absence, are then used by every later lookup); undefined when missing or
   * unusable. Throws when it cannot be read, and then keeps what was cached.
   */
  refresh(username: string, secretName?: string): Promise<UserCredentials | undefined>;
  /** Drops entries older than the TTL: a user's private key leaves memory once unused. */
  prune(): void;
  /** Secrets whose credentials are held. */
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

/**
 * Decodes Krateo's clientconfig Secret data (plus an optional `proxy-url`); undefined when every
 * credential is missing. `serverUrl` is '' when `server-url` is missing (usable only where the
 * cluster's server is configured, not read from the Secret).
 */
export function parseClientConfig(data: Record<string, string>): UserCredentials | undefined {
  const creds: UserCredentials = {
    serverUrl: decode(data['server-url'])?.trim() ?? '',
    caPem: decodePem(data['certificate-authority-data']),
    certPem: decodePem(data['client-certificate-data']),
    keyPem: decodePem(data['client-key-data']),
    token: decode(data.token)?.trim(),
    proxyUrl: decode(data['proxy-url'])?.trim(),
  };
  const hasCert = creds.certPem !== undefined && creds.keyPem !== undefined;
  return hasCert || creds.token ? creds : undefined;
}

/** A missing or unusable Secret is remembered this long at most (a recreated one is seen after it). */
export const missingSecretTtlMs = 5000;

/**
 * Caches each Secret's credentials for `ttlMs`, so a changed or deleted Secret takes effect within
 * that time; concurrent lookups for one user share one read. A Secret found missing or unusable is
 * remembered for at most `missingSecretTtlMs`, so one deleted and created again (a rotation) locks
 * its user out for no longer than that. Read errors are not cached; `get` turns them into
 * `no_credentials` (failing closed), a missing Secret too. A lookup never uses an expired entry;
 * `prune` drops expired ones from the oldest end.
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
    for (const [secretName, entry] of cache) {
      if (entry.expiresAt > at) break;
      cache.delete(secretName);
    }
  };
  const read = (secretName: string) =>
    options.readSecret(options.namespace, secretName).then((data) => (data === undefined ? undefined : parseClientConfig(data)));
  // Only ever made earlier, so the oldest-first sweep of `prune` still finds every expired entry
  // within one TTL, and a lookup checks the entry's own time as well.
  const expireSoonIfMissing = (entry: { expiresAt: number }, creds: UserCredentials | undefined) => {
    if (creds === undefined) entry.expiresAt = Math.min(entry.expiresAt, now() + Math.min(options.ttlMs, missingSecretTtlMs));
  };
  const current = (username: string, secretName = `${username}-clientconfig`) => {
    prune();
    let entry = cache.get(secretName);
    if (entry && entry.expiresAt <= now()) {
      cache.delete(secretName);
      entry = undefined;
    }
    if (!entry) {
      const value = read(secretName);
      const created = (entry = { expiresAt: now() + options.ttlMs, value });
      cache.set(secretName, created);
      value.then(
        (creds) => expireSoonIfMissing(created, creds),
        () => cache.get(secretName) === created && cache.delete(secretName),
      );
    }
    return entry.value;
  };
  return {
    current,
    prune,
    async refresh(username, secretName = `${username}-clientconfig`) {
      const creds = await read(secretName);
      // Deleted first: written again it is the newest entry, at the young end of the sweep.
      cache.delete(secretName);
      const entry = { expiresAt: now() + options.ttlMs, value: Promise.resolve(creds) };
      expireSoonIfMissing(entry, creds);
      cache.set(secretName, entry);
      return creds;
    },
    get size() {
      return cache.size;
    },
    async get(username, secretName) {
      let creds: UserCredentials | undefined;
      try {
        creds = await current(username, secretName);
      } catch {
        creds = undefined;
      }
      if (!creds) throw new AuthError('no_credentials', 'no Kubernetes credentials for this user');
      return creds;
    },
  };
}

/**
 * Calls the user's API server as the user (client certificate and/or bearer token, the given CA,
 * through `proxyUrl` when set: Bun's fetch tunnels with CONNECT) and returns the parsed JSON body.
 * Throws an Error with `code` = HTTP status on a non-2xx answer.
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
    ...(creds.proxyUrl ? { proxy: creds.proxyUrl } : {}),
  });
  if (!response.ok) {
    await response.body?.cancel();
    throw Object.assign(new Error(`kubernetes API answered ${response.status}`), { code: response.status });
  }
  return await response.json();
}
