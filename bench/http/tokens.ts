import { SignJWT, type CryptoKey } from 'jose';

/**
 * A benchmark's token for a user, as a production identity provider would sign it for the gateway
 * (issuer and audience `rolegate`, the organization in `org`, two hours), with the benchmark's own key.
 */
export function signToken(
  key: CryptoKey | Uint8Array,
  orgId: string,
  userId: string,
  alg: 'ES256' | 'HS256' = 'ES256',
): Promise<string> {
  return new SignJWT({ org: orgId })
    .setProtectedHeader({ alg })
    .setSubject(userId)
    .setIssuer('rolegate')
    .setAudience('rolegate')
    .setIssuedAt()
    .setExpirationTime('2h')
    .sign(key);
}
