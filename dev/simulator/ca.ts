import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A PEM certificate and its unencrypted PKCS#8 private key. */
export interface CertificatePair {
  certPem: string;
  keyPem: string;
}

/** A throwaway certificate authority backed by the `openssl` CLI. */
export interface CertificateAuthority {
  readonly caPem: string;
  /** The serving certificate for 127.0.0.1 / localhost. */
  readonly server: CertificatePair;
  /** A client certificate with CN = username and one O per group; cached per (user, groups). */
  issueClientCert(username: string, groups?: string[]): Promise<CertificatePair>;
}

// Bun has no X.509 generator and node:crypto only parses certificates, so the simulator
// shells out to openssl (present on Debian) instead of adding a dependency.
const config = `
[req]
distinguished_name = dn
prompt = no
[dn]
CN = placeholder
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
authorityKeyIdentifier = keyid
[client_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
`;

const escapeRdn = (value: string) => value.replace(/[\\/+=]/g, (c) => `\\${c}`);

async function openssl(args: string[]): Promise<void> {
  // Certificates start at the real time even when this process runs under a shifted clock
  // (faketime, inherited through LD_PRELOAD): clients that read the real clock (kubectl, a Go
  // binary) would otherwise see them as not yet valid. Their long lifetime covers the shift.
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => key !== 'LD_PRELOAD' && !key.startsWith('FAKETIME')));
  const child = Bun.spawn(['openssl', ...args], { env, stdin: 'ignore', stdout: 'ignore', stderr: 'pipe' });
  const [code, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()]);
  if (code !== 0) throw new Error(`openssl ${args[0]} failed (exit ${code}): ${stderr.trim()}`);
}

/**
 * Generates one key and certificate, signed by `signer` or self-signed. The scratch directory
 * (config, CA key, outputs) exists only while openssl runs, so a process that dies without
 * disposing its simulator leaves no key material behind.
 */
async function generate(subject: string, extensions: string, days: number, signer?: CertificatePair) {
  const dir = await mkdtemp(join(tmpdir(), 'k8s-sim-ca-'));
  const path = (file: string) => join(dir, file);
  try {
    await writeFile(path('openssl.cnf'), config);
    if (signer) await Promise.all([writeFile(path('ca.crt'), signer.certPem), writeFile(path('ca.key'), signer.keyPem)]);
    await openssl([
      'req', '-config', path('openssl.cnf'), '-x509', '-new', '-utf8',
      '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-noenc',
      '-keyout', path('out.key'), '-out', path('out.crt'), '-days', String(days),
      '-subj', subject, '-extensions', extensions, '-set_serial', `0x${randomBytes(12).toString('hex')}`,
      ...(signer ? ['-CA', path('ca.crt'), '-CAkey', path('ca.key')] : []),
    ]);
    const [certPem, keyPem] = await Promise.all([readFile(path('out.crt'), 'utf8'), readFile(path('out.key'), 'utf8')]);
    return { certPem, keyPem };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Creates a fresh CA and a serving certificate for 127.0.0.1, both held in memory only. */
export async function createCertificateAuthority(): Promise<CertificateAuthority> {
  const ca = await generate('/CN=events-stack-simulator-ca', 'ca_ext', 3650);
  const server = await generate('/CN=kube-apiserver', 'server_ext', 3650, ca);
  const cache = new Map<string, Promise<CertificatePair>>();

  const issue = (username: string, groups: string[]) => {
    const subject = [...groups.map((g) => `/O=${escapeRdn(g)}`), `/CN=${escapeRdn(username)}`].join('');
    return generate(subject, 'client_ext', 3650, ca);
  };

  return {
    caPem: ca.certPem,
    server,
    issueClientCert(username, groups = []) {
      const key = JSON.stringify([username, groups]);
      let pair = cache.get(key);
      if (!pair) {
        pair = issue(username, groups);
        cache.set(key, pair);
        pair.catch(() => cache.delete(key));
      }
      return pair;
    },
  };
}
