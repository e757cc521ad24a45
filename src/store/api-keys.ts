import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Db } from './db';
import { notFound, StoreError } from './errors';
import { isUuid, newId } from './ids';
import type { Write, WriteContext, Written } from './write';

/** A service principal of one organization. The secret is shown once, at creation; only its hash is kept. */
export interface ApiKey {
  id: string;
  orgId: string;
  name: string;
  scopes: string[];
  createdAt: Date;
  revokedAt: Date | null;
}

interface Row {
  org_id: string;
  id: string;
  name: string;
  secret_sha256: string;
  scopes: string[];
  created_at: Date;
  revoked_at: Date | null;
}

/**
 * What an API key may be allowed (each guard's `serviceScope` is one of these): deciding for others,
 * reading the directory, opening approval requests on a user's behalf (an agent).
 */
export const SERVICE_SCOPES = ['decisions:check', 'directory:read', 'approvals:request'] as const;

const PREFIX = 'rgk_';
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const fromRow = (r: Row): ApiKey => ({
  id: r.id,
  orgId: r.org_id,
  name: r.name,
  scopes: r.scopes,
  createdAt: r.created_at,
  revokedAt: r.revoked_at,
});

export class ApiKeys {
  constructor(
    private readonly db: Db,
    private readonly write: Write,
  ) {}

  /** Creates a key; `token` (`rgk_<id>_<secret>`) is what the service sends as its bearer token. */
  create(
    ctx: WriteContext,
    input: { name: string; scopes: string[] },
  ): Promise<Written<{ key: ApiKey; token: string }>> {
    const unknown = input.scopes.filter((s) => !(SERVICE_SCOPES as readonly string[]).includes(s));
    if (unknown.length)
      throw new StoreError(
        'INVALID',
        `unknown scope ${JSON.stringify(unknown[0]!.slice(0, 100))}; expected one of: ${SERVICE_SCOPES.join(', ')}`,
      );
    return this.write(ctx, 'createApiKey', async (tx) => {
      const id = newId();
      const secret = randomBytes(32).toString('base64url');
      const [row] = await tx.query<Row>(
        `INSERT INTO api_keys (org_id, id, name, secret_sha256, scopes) VALUES ($1, $2, $3, $4, $5::text[]) RETURNING *`,
        [ctx.orgId, id, input.name, sha256(secret), [...new Set(input.scopes)].sort()],
      );
      const key = fromRow(row!);
      return { target: `apikey:${id}`, after: key, result: { key, token: `${PREFIX}${id}_${secret}` } };
    });
  }

  /** Revokes a key: from now on its token authenticates nothing (open connections are closed). */
  revoke(ctx: WriteContext, keyId: string): Promise<Written<ApiKey>> {
    return this.write(ctx, 'revokeApiKey', async (tx) => {
      if (!isUuid(keyId)) throw notFound('API key', keyId);
      const [row] = await tx.query<Row>(
        'UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE org_id = $1 AND id = $2 RETURNING *',
        [ctx.orgId, keyId],
      );
      if (!row) throw notFound('API key', keyId);
      const key = fromRow(row);
      return { target: `apikey:${keyId}`, after: key, result: key };
    });
  }

  /** The live key a token names, when its secret matches; null otherwise (whatever the reason). */
  async verify(token: string): Promise<ApiKey | null> {
    if (!token.startsWith(PREFIX)) return null;
    const id = token.slice(PREFIX.length, PREFIX.length + 36);
    const secret = token.slice(PREFIX.length + 37);
    if (!isUuid(id) || token[PREFIX.length + 36] !== '_' || !secret) return null;
    const [row] = await this.db.query<Row>('SELECT * FROM api_keys WHERE id = $1 AND revoked_at IS NULL', [
      id,
    ]);
    if (!row) return null;
    const given = Buffer.from(sha256(secret), 'hex');
    const kept = Buffer.from(row.secret_sha256, 'hex');
    return given.length === kept.length && timingSafeEqual(given, kept) ? fromRow(row) : null;
  }

  static looksLikeKey(token: string): boolean {
    return token.startsWith(PREFIX);
  }
}

/** The gateway's own shared secrets (every replica reads the same). */
export async function gatewaySecret(db: Db, name: string, create: () => string): Promise<string> {
  await db.query('INSERT INTO gateway_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [
    name,
    create(),
  ]);
  const [row] = await db.query<{ value: string }>('SELECT value FROM gateway_secrets WHERE name = $1', [
    name,
  ]);
  return row!.value;
}
