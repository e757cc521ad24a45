import { createHash, randomBytes } from 'node:crypto';
import {
  createRemoteJWKSet,
  errors,
  importSPKI,
  jwtVerify,
  SignJWT,
  type CryptoKey,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import { LRUCache } from 'lru-cache';
import { parseDuration } from '../config';
import { isUuid, ApiKeys, gatewaySecret, type Store } from '../store';

/** Who is asking: a user of an organization, or a service key of one. */
export type Viewer =
  | { kind: 'user'; orgId: string; userId: string }
  | { kind: 'service'; orgId: string; keyId: string; scopes: readonly string[] };

/**
 * Why credentials were refused: none sent, an Authorization header that is not `Bearer <token>`, a
 * token or key that is not valid (bad signature, wrong issuer or audience, unknown key), or a genuine
 * token past its `exp` or ROLEGATE_JWT_MAX_AGE. A client refreshes on `expired` and signs the user out
 * on the others.
 */
export type AuthenticationFailure = 'missing' | 'malformed' | 'invalid' | 'expired';

/** Missing or bad credentials. The message says which, never why a signature failed in detail. */
export class AuthenticationError extends Error {
  override name = 'AuthenticationError';
  constructor(
    message: string,
    readonly reason: AuthenticationFailure = 'invalid',
  ) {
    super(message);
  }
}

/** The message of an expired token, as RFC 6750's example words it. */
export const TOKEN_EXPIRED_MESSAGE = 'The access token expired';

export interface AuthConfig {
  /** ROLEGATE_JWKS_URL — verify with the issuer's JSON Web Key Set (RS256/ES256/EdDSA). */
  jwksUrl?: string;
  /** ROLEGATE_JWT_PUBLIC_KEY — a PEM public key (SPKI); with ROLEGATE_JWT_ALGORITHM (default RS256). */
  publicKey?: string;
  algorithm?: string;
  /** ROLEGATE_JWT_SECRET — an HS256 secret, development only. Default: a key kept in the store. */
  secret?: string;
  /** ROLEGATE_JWT_ISSUER — default `rolegate`. */
  issuer: string;
  /** ROLEGATE_JWT_AUDIENCE — default `rolegate`. */
  audience: string;
  /**
   * ROLEGATE_JWT_MAX_AGE — refuse tokens issued longer ago than this many seconds (their `iat`), even
   * unexpired; a token then needs `iat`. Default unset: `exp` alone decides.
   */
  maxAgeSeconds?: number;
}

export function authConfigFromEnv(env: NodeJS.ProcessEnv = process.env): AuthConfig {
  return {
    jwksUrl: env.ROLEGATE_JWKS_URL || undefined,
    publicKey: env.ROLEGATE_JWT_PUBLIC_KEY || undefined,
    algorithm: env.ROLEGATE_JWT_ALGORITHM || undefined,
    secret: env.ROLEGATE_JWT_SECRET || undefined,
    issuer: env.ROLEGATE_JWT_ISSUER || 'rolegate',
    audience: env.ROLEGATE_JWT_AUDIENCE || 'rolegate',
    maxAgeSeconds: env.ROLEGATE_JWT_MAX_AGE
      ? parseDuration(env.ROLEGATE_JWT_MAX_AGE, 'ROLEGATE_JWT_MAX_AGE')
      : undefined,
  };
}

const DEV_ALGORITHM = 'HS256';
/** Clock skew allowed between the token's issuer and the gateway. */
const CLOCK_TOLERANCE_S = 5;
const DEV_SECRET_NAME = 'development_jwt_secret';
/** The longest a verified token is trusted without verifying it again. */
const TOKEN_CACHE_MAX_MS = 5 * 60_000;

/**
 * The development signing key: from configuration, or kept in the store so that every replica (and
 * the CLI) uses the same one.
 */
export async function developmentSecret(
  store: Store,
  config: Pick<AuthConfig, 'secret'>,
): Promise<Uint8Array> {
  const secret =
    config.secret ??
    (await gatewaySecret(store.db, DEV_SECRET_NAME, () => randomBytes(32).toString('base64url')));
  return new TextEncoder().encode(secret);
}

/** Signs a development token for a user (`rolegate token`, `rolegate init`, the first-start demo). */
export async function signDevelopmentToken(
  key: Uint8Array,
  claims: { orgId: string; userId: string },
  config: Pick<AuthConfig, 'issuer' | 'audience'>,
  ttl = '12h',
): Promise<string> {
  return new SignJWT({ org: claims.orgId })
    .setProtectedHeader({ alg: DEV_ALGORITHM })
    .setSubject(claims.userId)
    .setIssuer(config.issuer)
    .setAudience(config.audience)
    .setIssuedAt()
    .setExpirationTime(ttl)
    .sign(key);
}

/**
 * Turns an `Authorization` header into a viewer. JWTs are verified with the configured key, with the
 * algorithms, issuer and audience pinned; `rgk_…` bearer tokens are service API keys.
 */
/** The verified tokens a gateway keeps: `max` of them, each at most `ttlMs` (and never past its expiry). */
export function verifiedTokens(max = 10_000, ttlMs = 10 * 60_000): LRUCache<string, Viewer> {
  return new LRUCache({ max, ttl: ttlMs, updateAgeOnGet: false });
}

export class Authenticator {
  private constructor(
    private readonly store: Store,
    private readonly key: Uint8Array | CryptoKey | JWTVerifyGetKey,
    private readonly algorithms: string[],
    private readonly config: AuthConfig,
    /** Tokens already verified, each kept until its own expiry at the latest. */
    private readonly verified?: LRUCache<string, Viewer>,
  ) {}

  static async create(
    store: Store,
    config: AuthConfig,
    mode: 'development' | 'production',
    verified?: LRUCache<string, Viewer>,
  ): Promise<Authenticator> {
    if (config.jwksUrl) {
      return new Authenticator(
        store,
        createRemoteJWKSet(new URL(config.jwksUrl)),
        ['RS256', 'ES256', 'EdDSA'],
        config,
        verified,
      );
    }
    if (config.publicKey) {
      const alg = config.algorithm ?? 'RS256';
      return new Authenticator(store, await importSPKI(config.publicKey, alg), [alg], config, verified);
    }
    if (mode === 'production') {
      throw new Error(
        'production needs ROLEGATE_JWKS_URL or ROLEGATE_JWT_PUBLIC_KEY: development tokens are refused',
      );
    }
    return new Authenticator(
      store,
      await developmentSecret(store, config),
      [DEV_ALGORITHM],
      config,
      verified,
    );
  }

  async authenticate(authorization: string | undefined): Promise<Viewer> {
    if (!authorization)
      throw new AuthenticationError('missing credentials: send Authorization: Bearer <token>', 'missing');
    const match = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
    if (!match)
      throw new AuthenticationError('malformed Authorization header: expected "Bearer <token>"', 'malformed');
    const token = match[1]!;
    if (ApiKeys.looksLikeKey(token)) {
      const key = await this.store.apiKeys.verify(token);
      if (!key) throw new AuthenticationError('invalid API key');
      return { kind: 'service', orgId: key.orgId, keyId: key.id, scopes: key.scopes };
    }
    // Keyed by the token's digest: the cache holds no bearer token, and no key longer than 43 characters.
    const digest = createHash('sha256').update(token).digest('base64url');
    const known = this.verified?.get(digest);
    if (known) return known;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.key as Uint8Array, {
        algorithms: this.algorithms,
        issuer: this.config.issuer,
        audience: this.config.audience,
        clockTolerance: CLOCK_TOLERANCE_S,
        requiredClaims: ['sub', 'exp'],
        ...(this.config.maxAgeSeconds !== undefined ? { maxTokenAge: this.config.maxAgeSeconds } : {}),
      }));
    } catch (err) {
      // jose checks the signature, issuer and audience before the times: only a token that is genuine
      // in every other way is told apart as expired (past `exp`, or older than the maximum age).
      if (err instanceof errors.JWTExpired) throw new AuthenticationError(TOKEN_EXPIRED_MESSAGE, 'expired');
      throw new AuthenticationError('invalid token');
    }
    // Issued in the future (beyond the clock tolerance): jose checks it only with a maximum age.
    const nowS = Date.now() / 1000;
    if (payload.iat !== undefined && payload.iat > nowS + CLOCK_TOLERANCE_S)
      throw new AuthenticationError('invalid token');
    const orgId = payload.org;
    if (!isUuid(orgId) || !isUuid(payload.sub)) {
      throw new AuthenticationError('the token names no organization and user (claims "org" and "sub")');
    }
    const viewer: Viewer = { kind: 'user', orgId, userId: payload.sub };
    // A verified token stays valid until it expires or grows too old: keep it no longer than that.
    let until = payload.exp! * 1000;
    if (this.config.maxAgeSeconds !== undefined && payload.iat !== undefined)
      until = Math.min(until, (payload.iat + this.config.maxAgeSeconds) * 1000);
    const ttl = until - Date.now();
    if (ttl > 0) this.verified?.set(digest, viewer, { ttl: Math.min(ttl, TOKEN_CACHE_MAX_MS) });
    return viewer;
  }
}
