import type { Assignment, Subject } from '../engine';

/**
 * "An active owner": an organization-wide, unrestricted, non-expiring assignment of the owner role,
 * held by an unlocked, undeleted user. The same rule twice, side by side so they cannot drift: in SQL
 * for the invariant checked inside every write (`keepsAnOwner`) and for `transferOwnership`, and on a
 * subject for the administration rules ("owners cover everyone", "only an owner transfers").
 */
export const EFFECTIVE_OWNER_SQL = `a.role_key = $2 AND a.location_id IS NULL AND a.team_id IS NULL
  AND a.person_id IS NULL AND cardinality(a.group_ids) = 0 AND a.expires_at IS NULL
  AND NOT u.locked AND u.deleted_at IS NULL`;

/** Whether an assignment makes its (active) holder an owner; see EFFECTIVE_OWNER_SQL. */
export function isOwnerAssignment(a: Assignment, ownerRole: string): boolean {
  return (
    a.role === ownerRole &&
    !a.locationId &&
    !a.teamId &&
    a.personId == null &&
    !(a.groupIds?.length ?? 0) &&
    a.expiresAt == null
  );
}

/** Whether a subject is an active owner; see EFFECTIVE_OWNER_SQL. */
export function isActiveOwner(subject: Subject, ownerRole: string): boolean {
  return (
    !subject.locked && !subject.deleted && subject.assignments.some((a) => isOwnerAssignment(a, ownerRole))
  );
}
