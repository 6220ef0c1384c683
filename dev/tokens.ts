import { createHmac } from 'node:crypto';

/**
 * Signs an HS256 JWT with `username`, `groups` and an `exp` `ttlSeconds` from now, as Krateo's authn
 * service issues them. For local runs and tests only.
 */
export function signDevToken(options: { key: string; username: string; groups?: string[]; ttlSeconds?: number; nowMs?: number }): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const nowSeconds = Math.floor((options.nowMs ?? Date.now()) / 1000);
  const header = encode({ alg: 'HS256', typ: 'JWT' });
  const payload = encode({ username: options.username, groups: options.groups ?? [], iat: nowSeconds, exp: nowSeconds + (options.ttlSeconds ?? 86_400) });
  const signature = createHmac('sha256', options.key).update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${signature}`;
}
