import { createHmac } from 'node:crypto';
import { createRemoteJWKSet, errors, importSPKI, jwtVerify, type CryptoKey, type FlattenedJWSInput, type JWTHeaderParameters } from 'jose';

/** Why a request was refused authentication; stable codes for JSON bodies and metrics. */
export type AuthFailureReason =
  | 'missing_token'
  | 'malformed_token'
  | 'bad_algorithm'
  | 'bad_signature'
  | 'unknown_key'
  | 'keys_unavailable'
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
  /** The token's `exp`, in epoch ms: a stream opened with it is closed then. */
  expiresAtMs: number;
}

/** Where the keys of accepted tokens come from; at least one must be given. */
export interface TokenKeys {
  /** HS256 tokens: the HMAC key Krateo's authn signs with. */
  signKey?: string;
  /** RS256 tokens: a PEM public key (SPKI, `-----BEGIN PUBLIC KEY-----`). */
  publicKeyPem?: string;
  /** RS256 tokens: a JSON Web Key Set URL; a token's `kid` picks the key. */
  jwksUrl?: string;
  /** How long a fetched key set is used before it is fetched again (default 10 min). */
  jwksCacheTtlMs?: number;
  /** An unknown `kid` fetches the set again at most this often (default 30 s). */
  jwksRefreshMinIntervalMs?: number;
}

/** Verifies bearer tokens. */
export interface TokenVerifier {
  /** The algorithms accepted, from the keys configured (`HS256`, `RS256`). */
  readonly algorithms: readonly string[];
  /** The token's identity; throws AuthError with a stable code otherwise. */
  verify(token: string): Promise<TokenIdentity>;
}

const base64UrlPattern = /^[A-Za-z0-9_-]*$/;
const malformed = () => new AuthError('malformed_token', 'token is not a JWT');

function decodeHeader(part: string): Record<string, unknown> {
  if (!base64UrlPattern.test(part)) throw malformed();
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    throw malformed();
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw malformed();
  return value as Record<string, unknown>;
}

/** jose's error codes → ours (branching on codes, never on messages). */
function toAuthError(err: unknown): unknown {
  if (!(err instanceof errors.JOSEError)) {
    // A key set that cannot be fetched (network error, timeout) fails closed.
    return err instanceof TypeError || (err as { name?: string }).name === 'TimeoutError'
      ? new AuthError('keys_unavailable', 'token keys could not be fetched')
      : err;
  }
  switch (err.code) {
    case errors.JWTExpired.code:
      return new AuthError('expired', 'token has expired');
    case errors.JWTClaimValidationFailed.code: {
      const claim = (err as errors.JWTClaimValidationFailed).claim;
      if (claim === 'exp') return new AuthError('missing_exp', 'token has no expiry');
      if (claim === 'nbf') return new AuthError('not_yet_valid', 'token is not valid yet');
      return malformed();
    }
    case errors.JOSEAlgNotAllowed.code:
      return new AuthError('bad_algorithm', 'token algorithm is not accepted');
    case errors.JWSSignatureVerificationFailed.code:
      return new AuthError('bad_signature', 'token signature is invalid');
    case errors.JWKSNoMatchingKey.code:
    case errors.JWKSMultipleMatchingKeys.code:
      return new AuthError('unknown_key', 'token key id is not known');
    case errors.JWKSTimeout.code:
    case errors.JWKSInvalid.code:
    case errors.JOSEError.code:
      return new AuthError('keys_unavailable', 'token keys could not be fetched');
    default:
      return malformed();
  }
}

/**
 * Creates the verifier (with `jose`). Guarantees: the algorithm is pinned per key — HS256 only with
 * `signKey`, RS256 only with a public key or a key set; `none`, HS384/HS512, RS384, ES*, PS* and an
 * algorithm whose key is not configured are refused before any key is used; `exp` is required and
 * must be in the future, `nbf` is honoured, `username` must be a non-empty string. An RS256 token
 * with a `kid` is checked against the key set when one is configured (else the PEM key); the set
 * is cached for `jwksCacheTtlMs`, and a `kid` it does not hold fetches it again at most every
 * `jwksRefreshMinIntervalMs` (so a rotated key is found, and unknown ids cannot make it hammer
 * authn). Throws at creation when no key is configured or the PEM key is unusable.
 */
export async function createTokenVerifier(keys: TokenKeys, options: { now?: () => number } = {}): Promise<TokenVerifier> {
  const now = options.now ?? Date.now;
  const hmac = keys.signKey
    ? await crypto.subtle.importKey('raw', new TextEncoder().encode(keys.signKey), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify'])
    : undefined;
  const pem = keys.publicKeyPem ? await importSPKI(keys.publicKeyPem, 'RS256') : undefined;
  const jwks = keys.jwksUrl
    ? createRemoteJWKSet(new URL(keys.jwksUrl), {
        cacheMaxAge: keys.jwksCacheTtlMs ?? 600_000,
        cooldownDuration: keys.jwksRefreshMinIntervalMs ?? 30_000,
        timeoutDuration: 5000,
      })
    : undefined;
  const algorithms = [...(hmac ? ['HS256'] : []), ...(pem || jwks ? ['RS256'] : [])];
  if (algorithms.length === 0) throw new Error('no token key configured');

  const keyFor = async (header: JWTHeaderParameters, token: FlattenedJWSInput): Promise<CryptoKey> => {
    if (header.alg === 'HS256' && hmac) return hmac;
    if (jwks && (header.kid !== undefined || !pem)) return await jwks(header, token);
    if (pem) return pem;
    throw new errors.JOSEAlgNotAllowed('algorithm not accepted');
  };

  return {
    algorithms,
    async verify(token) {
      const parts = token.split('.');
      if (parts.length !== 3 || !parts.every((p) => base64UrlPattern.test(p))) throw malformed();
      const alg = decodeHeader(parts[0]!).alg;
      if (typeof alg !== 'string' || !algorithms.includes(alg)) throw new AuthError('bad_algorithm', `token algorithm must be ${algorithms.join(' or ')}`);
      let claims: Record<string, unknown>;
      try {
        ({ payload: claims } = await jwtVerify(token, keyFor, { algorithms, requiredClaims: ['exp'], currentDate: new Date(now()) }));
      } catch (err) {
        throw toAuthError(err);
      }
      if (typeof claims.username !== 'string' || claims.username === '') throw new AuthError('missing_username', 'token has no username');
      const groups = Array.isArray(claims.groups) ? claims.groups.filter((g): g is string => typeof g === 'string') : [];
      return { username: claims.username, groups, expiresAtMs: (claims.exp as number) * 1000 };
    },
  };
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

/** Signs claims as an HMAC JWT (tests and local tooling; `alg` may be a wrong one on purpose). */
export function signToken(claims: Record<string, unknown>, signKey: string, alg = 'HS256'): string {
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const head = `${encode({ alg, typ: 'JWT' })}.${encode(claims)}`;
  const hash = alg === 'HS512' ? 'sha512' : alg === 'HS384' ? 'sha384' : 'sha256';
  const signature = alg === 'none' ? '' : createHmac(hash, signKey).update(head).digest('base64url');
  return `${head}.${signature}`;
}
