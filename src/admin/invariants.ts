import { EFFECTIVE_OWNER_SQL, StoreError, type Invariant } from '../store';

/**
 * Rules checked inside a write's transaction, after the change and before it commits: writes to one
 * organization run one at a time, so a rule that holds here holds.
 */

/** The organization keeps at least one active owner (see EFFECTIVE_OWNER_SQL: expiring ones do not count). */
export function keepsAnOwner(orgId: string, ownerRole: string): Invariant {
  return async (tx) => {
    const rows = await tx.query(
      `SELECT 1 FROM assignments a JOIN users u ON u.org_id = a.org_id AND u.id = a.user_id
        WHERE a.org_id = $1 AND ${EFFECTIVE_OWNER_SQL} LIMIT 1`,
      [orgId, ownerRole],
    );
    if (!rows.length)
      throw new StoreError(
        'CONFLICT',
        'the organization must keep at least one active owner (organization-wide, unrestricted, not expiring)',
      );
  };
}

/** What counts as holding an org role: a non-expiring assignment of one of `$2` (live org roles). */
const HOLDS_ORG_ROLE = `SELECT 1 FROM assignments a WHERE a.org_id = u.org_id AND a.user_id = u.id
  AND a.role_key = ANY($2::text[]) AND a.location_id IS NULL AND a.team_id IS NULL AND a.expires_at IS NULL`;

/**
 * A user keeps at least one organization-wide role (catalogs with `requireOrgRole`, e.g. Juno's
 * specific roles): a non-expiring assignment of a live org role.
 */
export function keepsAnOrgRole(
  orgId: string,
  userId: string,
  orgRoles: readonly string[],
  message = 'every user must keep at least one organization-wide role that does not expire, in this catalog',
): Invariant {
  return async (tx) => {
    const rows = await tx.query(
      `SELECT 1 FROM users u WHERE u.org_id = $1 AND u.id = $3 AND EXISTS (${HOLDS_ORG_ROLE})`,
      [orgId, orgRoles, userId],
    );
    if (!rows.length) throw new StoreError('CONFLICT', message);
  };
}

/** Deleting an org role leaves none of its holders without another (`orgRoles`: the live ones left). */
export function holdersKeepAnOrgRole(orgId: string, roleKey: string, orgRoles: readonly string[]): Invariant {
  return async (tx) => {
    const [row] = await tx.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM users u
        WHERE u.org_id = $1 AND u.deleted_at IS NULL
          AND EXISTS (SELECT 1 FROM assignments r WHERE r.org_id = u.org_id AND r.user_id = u.id AND r.role_key = $3)
          AND NOT EXISTS (${HOLDS_ORG_ROLE})`,
      [orgId, orgRoles, roleKey],
    );
    const n = Number(row?.n ?? 0);
    if (n > 0)
      throw new StoreError(
        'CONFLICT',
        `deleting role ${roleKey} would leave ${n} user${n === 1 ? '' : 's'} without an organization-wide role: give ${n === 1 ? 'them' : 'each'} another first`,
      );
  };
}

/** No live custom role inherits `roleKey` once it is deleted: it would leave that role undefined. */
export function noLiveHeirs(orgId: string, roleKey: string): Invariant {
  return async (tx) => {
    const rows = await tx.query<{ key: string }>(
      `SELECT key FROM roles WHERE org_id = $1 AND deleted_at IS NULL AND $2 = ANY(inherits) ORDER BY key LIMIT 5`,
      [orgId, roleKey],
    );
    if (rows.length)
      throw new StoreError(
        'CONFLICT',
        `role ${roleKey} is inherited by ${rows.map((r) => r.key).join(', ')}: change or delete ${rows.length === 1 ? 'it' : 'them'} first`,
      );
  };
}

/** Every custom role `roleKey` inherits is live (a concurrent delete cannot leave it undefined). */
export function inheritsLiveRoles(orgId: string, roleKey: string, builtIn: readonly string[]): Invariant {
  return async (tx) => {
    const rows = await tx.query<{ parent: string }>(
      `SELECT p.parent FROM roles r, unnest(r.inherits) AS p(parent)
        WHERE r.org_id = $1 AND r.key = $2 AND p.parent <> ALL($3::text[])
          AND NOT EXISTS (SELECT 1 FROM roles l WHERE l.org_id = r.org_id AND l.key = p.parent AND l.deleted_at IS NULL)`,
      [orgId, roleKey, builtIn],
    );
    if (rows.length)
      throw new StoreError('CONFLICT', `role ${roleKey} inherits ${rows[0]!.parent}, which is deleted`);
  };
}
