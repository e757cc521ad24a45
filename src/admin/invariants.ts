import { StoreError, type Invariant } from '../store';

/** The organization keeps at least one active owner: an unrestricted, org-wide owner assignment of a live user. */
export function keepsAnOwner(orgId: string, ownerRole: string): Invariant {
  return async (tx) => {
    const rows = await tx.query(
      `SELECT 1 FROM assignments a JOIN users u ON u.org_id = a.org_id AND u.id = a.user_id
        WHERE a.org_id = $1 AND a.role_key = $2 AND a.location_id IS NULL AND a.team_id IS NULL
          AND a.person_id IS NULL AND cardinality(a.group_ids) = 0
          AND (a.expires_at IS NULL OR a.expires_at > now()) AND NOT u.locked AND u.deleted_at IS NULL
        LIMIT 1`,
      [orgId, ownerRole],
    );
    if (!rows.length)
      throw new StoreError('CONFLICT', 'the organization must keep at least one active owner');
  };
}

/** A user keeps at least one org role (catalogs with `requireOrgRole`, e.g. Juno's specific roles). */
export function keepsAnOrgRole(orgId: string, userId: string, orgRoles: readonly string[]): Invariant {
  return async (tx) => {
    const rows = await tx.query(
      `SELECT 1 FROM assignments WHERE org_id = $1 AND user_id = $2 AND role_key = ANY($3::text[])
          AND location_id IS NULL AND team_id IS NULL LIMIT 1`,
      [orgId, userId, orgRoles],
    );
    if (!rows.length)
      throw new StoreError(
        'CONFLICT',
        'every user must keep at least one organization-wide role in this catalog',
      );
  };
}
