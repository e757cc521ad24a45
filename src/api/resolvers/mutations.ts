import type { Assignment, CustomRole, User } from '../../store';
import type { Context } from '../context';
import type { Resolvers } from '../generated/graphql';
import { customRoleModel } from '../models';
import { connection, idCursor, pageSize } from './pagination';

/** Writes: each maps its input to the administration service and returns the object and the new version. */
export const mutationResolvers: Resolvers = {
  Mutation: {
    createLocation: async (_, { input }, { admin }) =>
      payload(admin, 'location', await admin.createLocation(input)),
    moveLocation: async (_, { input }, { admin }) =>
      payload(admin, 'location', await admin.moveLocation(input)),
    deleteLocation: async (_, { input }, { admin }) =>
      payload(admin, 'location', await admin.deleteLocation(input.id)),

    createUser: async (_, { input }, { admin }) => payload(admin, 'user', await admin.createUser(input)),
    updateUser: async (_, { input }, { admin }) => payload(admin, 'user', await admin.updateUser(input)),
    deleteUser: async (_, { input }, { admin }) => payload(admin, 'user', await admin.deleteUser(input.id)),
    undeleteUser: async (_, { input }, { admin }) =>
      payload(admin, 'user', await admin.undeleteUser(input.id)),
    lockUser: async (_, { input }, { admin }) => payload(admin, 'user', await admin.lockUser(input.id)),
    unlockUser: async (_, { input }, { admin }) => payload(admin, 'user', await admin.unlockUser(input.id)),
    setUserFlags: async (_, { input }, { admin }) =>
      payload(admin, 'user', await admin.setUserFlags(input.userId, input.flags)),
    importUsers: (_, { input }, { admin }) =>
      admin.importUsers({
        format: input.format,
        content: input.content,
        dryRun: input.dryRun ?? false,
        onExisting: input.onExisting ?? 'fail',
      }),

    createTeam: async (_, { input }, { admin }) => payload(admin, 'team', await admin.createTeam(input.name)),
    updateTeam: async (_, { input }, { admin }) =>
      payload(admin, 'team', await admin.updateTeam(input.id, input.name)),
    deleteTeam: async (_, { input }, { admin }) => payload(admin, 'team', await admin.deleteTeam(input.id)),
    undeleteTeam: async (_, { input }, { admin }) =>
      payload(admin, 'team', await admin.undeleteTeam(input.id)),
    addTeamMember: async (_, { input }, ctx) =>
      membership(ctx, await ctx.admin.addTeamMember(input.teamId, input.userId)),
    removeTeamMember: async (_, { input }, ctx) =>
      membership(ctx, await ctx.admin.removeTeamMember(input.teamId, input.userId)),

    createRole: async (_, { input }, ctx) => rolePayload(ctx, await ctx.admin.createRole(input)),
    updateRole: async (_, { input }, ctx) => rolePayload(ctx, await ctx.admin.updateRole(input)),
    cloneRole: async (_, { input }, ctx) => rolePayload(ctx, await ctx.admin.cloneRole(input)),
    deleteRole: async (_, { input }, ctx) => rolePayload(ctx, await ctx.admin.deleteRole(input.key)),
    undeleteRole: async (_, { input }, ctx) => rolePayload(ctx, await ctx.admin.undeleteRole(input.key)),

    assignRole: async (_, { input }, { admin }) =>
      payload(admin, 'assignment', await admin.assignRole(input)),
    revokeAssignment: async (_, { input }, { admin }) =>
      payload(admin, 'assignment', await admin.revokeAssignment(input.id)),

    transferOwnership: async (_, { input }, ctx) => {
      const { result, version } = await ctx.admin.transferOwnership(input.toUserId);
      const [owner, previousOwner] = await ctx.store.users.getMany(ctx.viewer.orgId, [
        result.toUserId,
        result.fromUserId,
      ]);
      return { owner: owner!, previousOwner: previousOwner!, version, warnings: await ctx.admin.warnings() };
    },
    setToolPolicy: async (_, { input }, { admin }) => {
      const { result, version } = await admin.setToolPolicy(input.tool, input.mode);
      return { toolPolicy: { ...result, overridden: true }, version, warnings: await admin.warnings() };
    },
  },
  ImportUsersPayload: {
    // The users the import created and changed, in id order, a page at a time.
    users: async (report, { first, after }, ctx) => {
      const n = pageSize(first);
      const from = idCursor(after);
      const start = from === null ? 0 : report.userIds.findIndex((id) => id > from);
      const ids = start < 0 ? [] : report.userIds.slice(start, start + n + 1);
      const users = (await ctx.loaders.users.loadMany(ids)).filter(
        (u): u is User => !!u && !(u instanceof Error),
      );
      return connection(users, n, (u) => u.id);
    },
  },
};

/** A mutation's answer: the changed object, the new version, and what to look at now (`warnings`). */
async function payload<K extends string, T>(
  admin: Context['admin'],
  key: K,
  written: { result: T; version: string },
): Promise<{ [P in K]: T } & { version: string; warnings: string[] }> {
  return { [key]: written.result, version: written.version, warnings: await admin.warnings() } as {
    [P in K]: T;
  } & { version: string; warnings: string[] };
}

async function membership(
  ctx: Context,
  written: { result: { teamId: string; userId: string; revoked?: Assignment[] }; version: string },
) {
  const [team] = await ctx.store.teams.getMany(ctx.viewer.orgId, [written.result.teamId]);
  const [user] = await ctx.store.users.getMany(ctx.viewer.orgId, [written.result.userId]);
  return {
    team: team!,
    user: user!,
    revoked: written.result.revoked ?? [],
    version: written.version,
    warnings: await ctx.admin.warnings(),
  };
}

async function rolePayload(ctx: Context, written: { result: CustomRole; version: string }) {
  return {
    role: customRoleModel(written.result, ctx.admin.permissionsOf(written.result)),
    version: written.version,
    warnings: await ctx.admin.warnings(),
  };
}
