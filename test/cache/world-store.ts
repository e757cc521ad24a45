import { randomUUID } from 'node:crypto';
import { stringify } from 'yaml';
import type { Catalog, CatalogDocument } from '../../src/catalog';
import { catalogSchema } from '../../src/catalog/schema';
import { validateCatalog } from '../../src/catalog/validate';
import type { CheckInput } from '../../src/decisions/authz';
import { compileCatalog, type CompiledCatalog } from '../../src/engine';
import type { Store } from '../../src/store';
import type { World, WorldCheck } from '../engine/world-arbitrary';

/**
 * The random worlds of the engine's property test (test/engine/world-arbitrary.ts), compiled as the
 * engine test does, or written into a real store as an organization.
 */

/** A world's catalog, checked the way the loader checks a file (form, then references). */
export function catalogOf(doc: CatalogDocument): Catalog {
  const form = catalogSchema.safeParse(doc);
  if (!form.success) throw new Error(`generator bug: catalog fails the schema: ${form.error.message}`);
  const problems = validateCatalog(form.data);
  if (problems.length) throw new Error(`generator bug: invalid catalog: ${JSON.stringify(problems)}`);
  return { source: '<property-world>', text: JSON.stringify(form.data), document: form.data };
}

/** The world's catalog with its custom roles, compiled (a fresh object on every call). */
export function compileWorld(world: World): CompiledCatalog {
  return compileCatalog(catalogOf(structuredClone(world.doc)), structuredClone(world.customRoles));
}

/** A world written into a store: its organization and how the world's ids map to the store's UUIDs. */
export interface StoredWorld {
  orgId: string;
  /** Store id of `world.users[i]`. */
  userIds: string[];
  /** Store ids of the world's locations and teams (ids the store does not hold map to fresh UUIDs). */
  location(worldId: string): string;
  team(worldId: string): string;
  /** A world check, as the API would receive it for this organization. */
  input(check: WorldCheck): CheckInput;
  /** Assignments left out: they name both a location and a team (see `writeWorld`). */
  skipped: number;
}

/**
 * Writes a world into `store` as a new organization, through the store's repositories: the catalog
 * (as YAML text), custom roles, the location tree, teams, users (flags, locked, deleted), assignments
 * (location, team, person, groups, expiry) and tool policies.
 *
 * Two deliberate differences, neither of which changes a decision:
 * - ids the world names without defining (`L_elsewhere`, `T_elsewhere` in assignments) become real
 *   rows, since the store's foreign keys demand them; no check names them, so they count nowhere;
 * - an assignment naming both a location and a team is refused by the store (a CHECK constraint) and
 *   counts for nothing in the engine (`fitsScope`), so it is left out.
 * And one the store's writes never make: memberships are written as the world draws them (`memberOf`),
 * so a team role's holder may be no member of its team (as before migration 005), by a raw delete.
 */
export async function writeWorld(store: Store, world: World, name: string): Promise<StoredWorld> {
  const { result: org } = await store.organizations.create(
    { name, catalogName: world.doc.catalog, catalogSource: stringify(world.doc) },
    'test',
  );
  const ctx = { orgId: org.id, actor: 'test', requestId: 'equivalence' };

  for (const [key, spec] of Object.entries(world.customRoles)) {
    await store.roles.create(ctx, {
      key,
      name: spec.name,
      description: spec.description ?? null,
      kind: spec.kind,
      inherits: [...(spec.inherits ?? [])],
      grants: [...(spec.grants ?? [])],
    });
  }

  const locations = new Map<string, string>();
  for (const l of world.locations) {
    const parentId = l.parent === null ? null : locations.get(l.parent)!;
    locations.set(l.id, (await store.locations.create(ctx, { name: l.id, parentId })).result.id);
  }
  const teams = new Map<string, string>();
  const assignments = world.users.flatMap((u) => u.assignments);
  for (const a of assignments) {
    if (a.locationId && a.teamId) continue;
    if (a.locationId && !locations.has(a.locationId))
      locations.set(a.locationId, (await store.locations.create(ctx, { name: a.locationId })).result.id);
    if (a.teamId && !teams.has(a.teamId))
      teams.set(a.teamId, (await store.teams.create(ctx, { name: a.teamId })).result.id);
  }
  for (const t of world.users.flatMap((u) => u.memberOf ?? []))
    if (!teams.has(t)) teams.set(t, (await store.teams.create(ctx, { name: t })).result.id);
  // Ids only checks name (T_other, a team nobody holds a role in): UUIDs the store does not hold.
  const unknown = new Map<string, string>();
  const ghost = (id: string) => {
    let uuid = unknown.get(id);
    if (!uuid) unknown.set(id, (uuid = randomUUID()));
    return uuid;
  };
  const location = (id: string) => locations.get(id) ?? ghost(`location:${id}`);
  const team = (id: string) => teams.get(id) ?? ghost(`team:${id}`);

  const userIds: string[] = [];
  let skipped = 0;
  for (const [i, u] of world.users.entries()) {
    const { result: user } = await store.users.create(ctx, {
      email: `u${i}@world.example`,
      name: u.userId,
      flags: [...(u.flags ?? [])],
    });
    userIds.push(user.id);
    for (const a of u.assignments) {
      if (a.locationId && a.teamId) {
        skipped++;
        continue;
      }
      await store.assignments.assign(ctx, {
        userId: user.id,
        roleKey: a.role,
        locationId: a.locationId ? location(a.locationId) : null,
        teamId: a.teamId ? team(a.teamId) : null,
        personId: a.personId ?? null,
        groupIds: a.groupIds ?? null,
        expiresAt: a.expiresAt == null ? null : new Date(a.expiresAt),
      });
    }
    // The world says who is a member of what, not its team roles.
    await store.db.query('DELETE FROM team_members WHERE org_id = $1 AND user_id = $2', [org.id, user.id]);
    for (const t of u.memberOf ?? []) await store.teams.addMember(ctx, team(t), user.id);
    if (u.locked) await store.users.lock(ctx, user.id);
    if (u.deleted) await store.users.delete(ctx, user.id);
  }

  for (const [tool, mode] of Object.entries(world.policies)) await store.toolPolicies.set(ctx, tool, mode);

  return {
    orgId: org.id,
    userIds,
    location,
    team,
    skipped,
    input: ({ user, request }) => {
      const here = request.locationPath?.[0];
      return {
        userId: userIds[user]!,
        permission: request.permission,
        locationId: here === undefined ? null : location(here),
        teamIds: (request.teamIds ?? []).map(team),
        personId: request.personId ?? null,
        groupIds: [...(request.groupIds ?? [])],
      };
    },
  };
}
