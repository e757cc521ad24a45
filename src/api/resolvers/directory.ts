import type { Resolvers } from '../generated/graphql';
import { customRoleModel, type RoleModel } from '../models';
import { connection, idCursor, pageSize, seqCursor } from './pagination';
import type { Context } from '../context';
import { notFound, type Assignment, type Location, type Team, type User } from '../../store';

/** Reads of the organization's directory: users, locations, teams, roles, the organization itself. */
export const directoryResolvers: Resolvers = {
  Query: {
    viewer: (_, __, ctx) => (ctx.viewer.kind === 'user' ? ctx.loaders.users.load(ctx.viewer.userId) : null),
    user: (_, { id }, ctx) => ctx.loaders.users.load(id),
    users: async (_, { locationId, first, after }, ctx) => {
      const n = pageSize(first);
      if (locationId != null && !(await ctx.loaders.locations.load(locationId)))
        throw notFound('location', locationId);
      const users = await ctx.store.users.list(ctx.viewer.orgId, {
        first: n + 1,
        after: idCursor(after),
        locationId,
      });
      return connection(users, n, (u) => u.id);
    },
    location: (_, { id }, ctx) => ctx.loaders.locations.load(id),
    locations: (_, { parentId }, ctx) => ctx.store.locations.children(ctx.viewer.orgId, parentId ?? null),
    team: (_, { id }, ctx) => ctx.loaders.teams.load(id),
    teams: async (_, { first, after, includeDeleted }, ctx) => {
      const n = pageSize(first);
      const teams = await ctx.store.teams.list(ctx.viewer.orgId, {
        first: n + 1,
        after: idCursor(after),
        includeDeleted: !!includeDeleted,
      });
      return connection(teams, n, (t) => t.id);
    },
    roles: async (_, { includeDeleted }, ctx) => {
      const builtIn = Object.entries(ctx.authz.catalog.catalog.document.roles).map(([key]) =>
        roleModel(ctx, key, false),
      );
      const custom = await ctx.store.roles.list(ctx.viewer.orgId, { includeDeleted: !!includeDeleted });
      return [...builtIn, ...custom.map((r) => customRoleModel(r, permissionsOf(ctx, r.key)))];
    },
    organization: (_, __, ctx) => ctx.authz.state.org,
    auditLog: async (_, { first, after }, ctx) => {
      const n = pageSize(first);
      const entries = await ctx.store.auditLog(ctx.viewer.orgId, {
        first: n + 1,
        afterSeq: seqCursor(after),
      });
      return connection(entries, n, (e) => String(e.seq));
    },
  },
  User: {
    deleted: (u) => u.deletedAt !== null,
    assignments: (u, _, ctx) => ctx.loaders.assignmentsOf.load(u.id),
    teams: async (u, _, ctx) =>
      (await ctx.loaders.teams.loadMany(await ctx.loaders.teamsOf.load(u.id))).filter(
        (t): t is Team => !!t && !(t instanceof Error),
      ),
    scopes: (u, _, ctx) => scopesOf(ctx, u),
  },
  Role: {
    id: (r) => r.key,
  },
  Location: {
    parent: (l, _, ctx) => (l.parentId ? ctx.loaders.locations.load(l.parentId) : null),
    path: async (l, _, ctx) =>
      (await ctx.loaders.locations.loadMany(l.path)).filter(
        (x): x is Location => !!x && !(x instanceof Error),
      ),
    children: (l, _, ctx) => ctx.loaders.children.load(l.id),
  },
  Team: {
    deleted: (t) => t.deletedAt !== null,
    // One match more than asked for tells whether a next page exists.
    members: async (t, { first, after }, ctx) => {
      const n = pageSize(first);
      const members = await ctx.loaders.members.load({ teamId: t.id, after: idCursor(after), first: n + 1 });
      return connection(members, n, (u) => u.id);
    },
  },
  Assignment: {
    user: async (a, _, ctx) => (await ctx.loaders.users.load(a.userId))!,
    role: (a) => a.roleKey,
    location: (a, _, ctx) => (a.locationId ? ctx.loaders.locations.load(a.locationId) : null),
    team: (a, _, ctx) => (a.teamId ? ctx.loaders.teams.load(a.teamId) : null),
  },
  Organization: {
    catalog: (o) => o.catalogName,
    warnings: (_, __, ctx) => ctx.admin.warnings(),
    toolPolicies: (_, __, ctx) =>
      [...ctx.authz.catalog.tools.values()].map((t) => ({
        tool: t.name,
        ...ctx.authz.catalog.toolMode(t, ctx.authz.state.policies),
      })),
  },
  AuditEntry: {
    requestId: (e) => e.requestId,
  },
};

/** A role as the API shows it, from the compiled catalog (custom roles deleted are not compiled). */
function roleModel(ctx: Context, key: string, deleted: boolean): RoleModel {
  const compiled = ctx.authz.catalog.roles.get(key);
  const spec = compiled?.spec;
  return {
    key,
    name: spec?.name ?? key,
    description: spec?.description ?? null,
    kind: compiled?.kind ?? 'org',
    inherits: spec?.inherits ?? [],
    grants: spec?.grants ?? [],
    permissions: permissionsOf(ctx, key),
    builtIn: !compiled?.custom && !deleted,
    deleted,
  };
}

/** Everything a role grants, from the compiled catalog ([] for a deleted custom role: not compiled). */
function permissionsOf(ctx: Context, key: string): string[] {
  const compiled = ctx.authz.catalog.roles.get(key);
  return compiled ? [...compiled.permissions] : [];
}

/** Where a user holds anything (`User.scopes`): the organization, locations, teams, in that order. */
async function scopesOf(ctx: Context, u: User) {
  if (u.locked || u.deletedAt) return [];
  const [assignments, memberOf] = await Promise.all([
    ctx.loaders.assignmentsOf.load(u.id),
    ctx.loaders.teamsOf.load(u.id),
  ]);
  const now = ctx.authz.now;
  const live = assignments.filter((a) => !a.expiresAt || a.expiresAt.getTime() > now);
  const held = (where: (a: Assignment) => boolean) => {
    const mine = live.filter(where);
    return {
      roles: [...new Set(mine.map((a) => a.roleKey))],
      restrictedRoles: [
        ...new Set(mine.filter((a) => a.personId || a.groupIds.length).map((a) => a.roleKey)),
      ],
    };
  };
  const org = ctx.authz.state.org;
  const atRoot = held((a) => !a.locationId && !a.teamId);
  const locationIds = [...new Set(live.flatMap((a) => (a.locationId ? [a.locationId] : [])))];
  const [locations, teams] = await Promise.all([
    ctx.loaders.locations.loadMany(locationIds),
    ctx.loaders.teams.loadMany(memberOf),
  ]);
  return [
    ...(atRoot.roles.length
      ? [{ id: `ORG:${org.id}`, type: 'org' as const, name: org.name, location: null, team: null, ...atRoot }]
      : []),
    ...locations
      .filter((l): l is Location => !!l && !(l instanceof Error))
      .map((l) => ({
        id: `LOCATION:${l.id}`,
        type: 'location' as const,
        name: l.name,
        location: l,
        team: null,
        ...held((a) => a.locationId === l.id),
      })),
    ...teams
      .filter((t): t is Team => !!t && !(t instanceof Error) && !t.deletedAt)
      .map((t) => ({
        id: `TEAM:${t.id}`,
        type: 'team' as const,
        name: t.name,
        location: null,
        team: t,
        ...held((a) => a.teamId === t.id),
      })),
  ];
}
