import { createHmac, timingSafeEqual } from 'node:crypto';

/** Why a request was refused authentication; stable codes for JSON bodies and metrics. */
export type AuthFailureReason =
  | 'missing_token'
  | 'malformed_token'
  | 'bad_algorithm'
  | 'bad_signature'
  | 'missing_exp'
  | 'expired'
  | 'not_yet_valid'
  | 'missing_username'
  | 'no_credentials';

/** Thrown when a request cannot be authenticated. `code` is stable; the message never holds the token. */
export class AuthError extends Error {
  constructor(
    readonly code: AuthFailureReason,
    message: string,
  ) {
    super(message);
    this.name = 'AuthError';
  }
}

/** The identity carried by a verified token. */
export interface TokenIdentity {
  username: string;
  groups: string[];
}

const base64UrlPattern = /^[A-Za-z0-9_-]*$/;

function decodeJsonPart(part: string): Record<string, unknown> {
  if (!base64UrlPattern.test(part)) throw new AuthError('malformed_token', 'token is not a JWT');
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    throw new AuthError('malformed_token', 'token is not a JWT');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new AuthError('malformed_token', 'token is not a JWT');
  }
  return value as Record<string, unknown>;
}

/**
 * Verifies a compact JWT signed with HMAC-SHA256 under `signKey` and returns its identity.
 * Guarantees: `alg` must be exactly `HS256` (`none`, HS512 and anything else are refused), the
 * signature is compared in constant time, `exp` is required and must be in the future, `nbf` is
 * honoured when present, and `username` must be a non-empty string. Throws AuthError otherwise.
 */
export function verifyToken(token: string, signKey: string, nowMs: number = Date.now()): TokenIdentity {
  const parts = token.split('.');
  if (parts.length !== 3) throw new AuthError('malformed_token', 'token is not a JWT');
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
  const header = decodeJsonPart(headerPart);
  if (header.alg !== 'HS256') throw new AuthError('bad_algorithm', 'token algorithm must be HS256');
  if (!base64UrlPattern.test(signaturePart)) throw new AuthError('malformed_token', 'token is not a JWT');
  // Bun's native HMAC leaves half the garbage of node:crypto's per call; every stream opens with one.
  const expected = new Bun.CryptoHasher('sha256', signKey).update(`${headerPart}.${payloadPart}`).digest();
  const actual = Buffer.from(signaturePart, 'base64url');
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) {
    throw new AuthError('bad_signature', 'token signature is invalid');
  }
  const claims = decodeJsonPart(payloadPart);
  const nowSec = nowMs / 1000;
  if (typeof claims.exp !== 'number' || !Number.isFinite(claims.exp)) {
    throw new AuthError('missing_exp', 'token has no expiry');
  }
  if (claims.exp <= nowSec) throw new AuthError('expired', 'token has expired');
  if (typeof claims.nbf === 'number' && claims.nbf > nowSec) {
    throw new AuthError('not_yet_valid', 'token is not valid yet');
  }
  if (typeof claims.username !== 'string' || claims.username === '') {
    throw new AuthError('missing_username', 'token has no username');
  }
  const groups = Array.isArray(claims.groups) ? claims.groups.filter((g): g is string => typeof g === 'string') : [];
  return { username: claims.username, groups };
}

/**
 * Finds the token of a request: the `Authorization` header with a case-insensitive `Bearer`
 * scheme, or, only when `allowQuery` (the SSE endpoint, for native EventSource), the `token` or
 * `access_token` query parameter (of `url` when given: the request's, already parsed). Returns
 * undefined when there is none.
 */
export function extractToken(request: Request, options: { allowQuery: boolean; url?: URL }): string | undefined {
  const header = request.headers.get('authorization');
  if (header !== null) {
    const match = /^bearer\s+(\S+)\s*$/i.exec(header);
    return match?.[1];
  }
  if (!options.allowQuery) return undefined;
  const params = (options.url ?? new URL(request.url)).searchParams;
  return params.get('token') ?? params.get('access_token') ?? undefined;
}

/** Signs claims as an HS256 JWT (tests and local tooling). */
export function signToken(claims: Record<string, unknown>, signKey: string, alg = 'HS256'): string {
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const head = `${encode({ alg, typ: 'JWT' })}.${encode(claims)}`;
  const hash = alg === 'HS512' ? 'sha512' : 'sha256';
  const signature = alg === 'none' ? '' : createHmac(hash, signKey).update(head).digest('base64url');
  return `${head}.${signature}`;
}
