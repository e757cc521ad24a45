import type { RoleKind } from '../catalog';
import { fitsScope, type Assignment, type CompiledCatalog } from '../engine';
import { InvalidInputError } from '../decisions/errors';
import type { AssignInput } from '../store';

/** What each role kind's assignments must name, for refusals. */
export const SCOPE_RULE: Record<RoleKind, string> = {
  org: 'is an organization-wide role: give neither a location nor a team',
  location: 'is a location role: give a location (or none for the whole organization), not a team',
  team: 'is a team role: give the team, and no location',
};

/** An assignment as the API takes it (`assignRole`, `createUser.assignments`, an imported row's roles). */
export interface AssignmentRequest {
  role: string;
  locationId?: string | null;
  teamId?: string | null;
  personId?: string | null;
  groupIds?: readonly string[] | null;
  expiresAt?: Date | null;
}

/**
 * An assignment request checked against the catalog: the role exists, suits its scope, and lasts.
 * `where` prefixes a refusal (`roles[2]: `).
 */
export function checkAssignment(
  catalog: CompiledCatalog,
  input: AssignmentRequest,
  where?: string,
): Omit<AssignInput, 'userId'> {
  const at = where ? `${where}: ` : '';
  const role = catalog.roles.get(input.role);
  if (!role) throw new InvalidInputError(`${at}unknown role "${input.role.slice(0, 100)}"`);
  // The engine's rule: an assignment that does not fit its role counts for nothing, so refuse it here.
  if (!fitsScope(role, input)) throw new InvalidInputError(`${at}"${role.key}" ${SCOPE_RULE[role.kind]}`);
  if (input.expiresAt && input.expiresAt.getTime() <= Date.now())
    throw new InvalidInputError(`${at}expiresAt is in the past`);
  return {
    roleKey: role.key,
    locationId: input.locationId ?? null,
    teamId: input.teamId ?? null,
    personId: input.personId ?? null,
    groupIds: input.groupIds ?? [],
    expiresAt: input.expiresAt ?? null,
  };
}

/** The engine's view of an assignment not written yet. */
export function engineAssignment(a: Omit<AssignInput, 'userId'>, id: string): Assignment {
  return {
    id,
    role: a.roleKey,
    locationId: a.locationId ?? null,
    teamId: a.teamId ?? null,
    personId: a.personId ?? null,
    groupIds: a.groupIds ?? [],
    expiresAt: a.expiresAt ? a.expiresAt.getTime() : null,
  };
}
