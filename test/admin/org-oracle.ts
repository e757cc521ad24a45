import type { CatalogDocument, RoleSpec } from '../../src/catalog';
import type { Subject } from '../../src/engine';
import { roleSpec, type Store } from '../../src/store';
import { referenceDecide } from '../engine/reference-evaluator';

/**
 * The no-escalation oracle's view of an organization: everything read straight from the store (never
 * through the API under test), and what every user holds at every scope, computed by the naive
 * reference evaluator from the catalog document. Nothing here knows the administration rules.
 */

/** A place where permissions are held: the root, a location (with its ancestors), or one team. */
export interface Scope {
  key: string;
  /** The location, then its ancestors, nearest first (the engine's `locationPath`). */
  locationPath: string[];
  teamIds: string[];
  /** For a location: its parent's scope key (the root's for a top-level location). */
  parentKey?: string;
}

export const ROOT: Scope = { key: 'root', locationPath: [], teamIds: [] };

export interface OrgUser {
  subject: Subject;
  email: string;
  name: string | null;
}

export interface OrgState {
  version: string;
  /** When the permission sets were computed (expiring assignments count until then). */
  now: number;
  /** Every user, locked and deleted ones included, in creation order. */
  users: Map<string, OrgUser>;
  scopes: Map<string, Scope>;
  locations: { id: string; parentId: string | null }[];
  teams: { id: string; deleted: boolean }[];
  /** Live custom roles, as the engine sees them. */
  customRoles: Record<string, RoleSpec>;
  deletedRoles: string[];
  /** user id → scope key → the catalog permissions (module:action) the user holds there. */
  held: Map<string, Map<string, Set<string>>>;
}

/** Every `module:action` permission of a catalog. */
export function permissionsOf(doc: CatalogDocument): string[] {
  return Object.entries(doc.permissions).flatMap(([m, actions]) =>
    Object.keys(actions).map((a) => `${m}:${a}`),
  );
}

/** The permissions a flag alone grants (`grantedByFlag`), by flag. */
export function flagGranted(doc: CatalogDocument, permission: string): string | undefined {
  const [m, a] = permission.split(':') as [string, string];
  return doc.permissions[m]?.[a]?.grantedByFlag;
}

/** What a subject holds at a scope, no resource named: restricted assignments do not count. */
export function holdsAt(
  doc: CatalogDocument,
  customRoles: Record<string, RoleSpec>,
  subject: Subject,
  scope: Scope,
  now: number,
): Set<string> {
  const request = { locationPath: scope.locationPath, teamIds: scope.teamIds };
  return new Set(
    permissionsOf(doc).filter(
      (permission) => referenceDecide(doc, customRoles, subject, { ...request, permission }, now) === 'ALLOW',
    ),
  );
}

/** Reads the whole organization from the store and computes every user's permissions at every scope. */
export async function readOrg(store: Store, orgId: string, doc: CatalogDocument): Promise<OrgState> {
  const [[version], userRows, locationRows, roles, teams] = await Promise.all([
    store.organizations.versions([orgId]),
    store.users.list(orgId, { first: 1000 }),
    store.locations.list(orgId, { first: 1000 }),
    store.roles.list(orgId, { includeDeleted: true }),
    store.db.query<{ id: string; deleted: boolean }>(
      'SELECT id, deleted_at IS NOT NULL AS deleted FROM teams WHERE org_id = $1 ORDER BY created_at, id',
      [orgId],
    ),
  ]);
  // In creation order, not id order: a world replayed from its seed picks the same users and places.
  const byCreation = (a: { createdAt: Date }, b: { createdAt: Date }) =>
    a.createdAt.getTime() - b.createdAt.getTime();
  const rows = userRows.sort(byCreation);
  const locations = locationRows.sort(byCreation);
  const subjects = await store.subjects(
    orgId,
    rows.map((u) => u.id),
  );
  const users = new Map(
    rows.map((u, i) => [u.id, { subject: subjects[i]!, email: u.email, name: u.name }] as const),
  );

  const scopes = new Map<string, Scope>([[ROOT.key, ROOT]]);
  for (const l of locations) {
    scopes.set(`location:${l.id}`, {
      key: `location:${l.id}`,
      locationPath: [...l.path].reverse(),
      teamIds: [],
      parentKey: l.parentId ? `location:${l.parentId}` : ROOT.key,
    });
  }
  for (const t of teams)
    scopes.set(`team:${t.id}`, { key: `team:${t.id}`, locationPath: [], teamIds: [t.id] });

  const customRoles = Object.fromEntries(roles.filter((r) => !r.deletedAt).map((r) => [r.key, roleSpec(r)]));
  const now = Date.now();
  const held = new Map(
    [...users].map(([id, u]) => [
      id,
      new Map([...scopes.values()].map((s) => [s.key, holdsAt(doc, customRoles, u.subject, s, now)])),
    ]),
  );
  return {
    version: version!,
    now,
    users,
    scopes,
    locations: locations.map((l) => ({ id: l.id, parentId: l.parentId })),
    teams,
    customRoles,
    deletedRoles: roles.filter((r) => r.deletedAt).map((r) => r.key),
    held,
  };
}

/** What a user holds at a scope in this state (nothing for a user or a scope it does not have). */
export function held(state: OrgState, userId: string, scopeKey: string): Set<string> {
  return state.held.get(userId)?.get(scopeKey) ?? new Set();
}

/** An effective owner: an unlocked, undeleted user with an org-wide, unrestricted, non-expiring owner role. */
export function isEffectiveOwner(doc: CatalogDocument, user: OrgUser | undefined): boolean {
  if (!user || user.subject.locked || user.subject.deleted) return false;
  return user.subject.assignments.some(
    (a) =>
      a.role === doc.owner.role &&
      !a.locationId &&
      !a.teamId &&
      a.personId == null &&
      !a.groupIds?.length &&
      a.expiresAt == null,
  );
}

/** Users (not deleted) without a non-expiring, organization-wide assignment of a live org role. */
export function usersWithoutOrgRole(doc: CatalogDocument, state: OrgState): string[] {
  const isOrgRole = (key: string) =>
    (Object.prototype.hasOwnProperty.call(doc.roles, key) ? doc.roles[key] : state.customRoles[key])?.kind ===
    'org';
  return [...state.users]
    .filter(([, u]) => !u.subject.deleted)
    .filter(
      ([, u]) =>
        !u.subject.assignments.some(
          (a) => isOrgRole(a.role) && !a.locationId && !a.teamId && a.expiresAt == null,
        ),
    )
    .map(([id]) => id);
}

/**
 * What a user could hold at a scope if they were active and their restricted assignments applied
 * (what acting on them puts at stake), leaving out what flags alone grant.
 */
export function potentialAt(
  doc: CatalogDocument,
  state: OrgState,
  userId: string,
  scope: Scope,
): Set<string> {
  const subject = state.users.get(userId)!.subject;
  const unrestricted: Subject = {
    ...subject,
    locked: false,
    deleted: false,
    assignments: subject.assignments.map((a) => ({ ...a, personId: null, groupIds: [] })),
  };
  const set = holdsAt(doc, state.customRoles, unrestricted, scope, state.now);
  for (const p of set) if (flagGranted(doc, p)) set.delete(p);
  return set;
}
