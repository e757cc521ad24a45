import type { Resolvers } from '../generated/graphql';
import { notFound, type NotificationSettings } from '../../store';
import type { Context } from '../context';
import { decidedAt } from '../live/event';
import { connection, idCursor, pageSize } from './pagination';

/** Approval requests: thin maps to the approval service (src/approvals/); the guards are the schema's. */
export const approvalResolvers: Resolvers = {
  Query: {
    approvalRequest: (_, { id }, ctx) => ctx.approvals.get(id),
    approvalRequests: async (_, { status, kind, first, after }, ctx) => {
      const n = pageSize(first);
      const requests = await ctx.approvals.list({ status, kind, first: n, after: idCursor(after) });
      return connection(requests, n, (r) => r.id);
    },
    notificationSettings: async (_, __, ctx) =>
      shownSettings(await ctx.store.notifications.settings(ctx.viewer.orgId)),
  },
  Mutation: {
    requestApproval: (_, { input }, ctx) => ctx.approvals.request(input),
    approveRequest: async (_, { input }, ctx) =>
      payload(ctx, await ctx.approvals.decide(input.id, 'APPROVED', input.note)),
    dismissRequest: async (_, { input }, ctx) =>
      payload(ctx, await ctx.approvals.decide(input.id, 'DISMISSED', input.note)),
    cancelRequest: async (_, { input }, ctx) =>
      payload(ctx, await ctx.approvals.cancel(input.id, input.note)),
    executeApproved: async (_, { input }, ctx) =>
      payload(ctx, await ctx.approvals.execute(input.id, input.argumentsHash)),
    setNotificationSettings: async (_, { input }, ctx) => ({
      settings: shownSettings(
        await ctx.store.notifications.setSettings(
          { orgId: ctx.viewer.orgId, actor: ctx.access.actor, requestId: ctx.requestId },
          input,
        ),
      ),
    }),
    setNotificationAddresses: async (_, { input }, ctx) => {
      const { userId, ...addresses } = input;
      await ctx.store.notifications.setAddresses(
        { orgId: ctx.viewer.orgId, actor: ctx.access.actor, requestId: ctx.requestId },
        userId,
        addresses,
      );
      ctx.loaders.addresses.clear(userId);
      return { user: (await ctx.loaders.users.load(userId))!, version: ctx.authz.version, warnings: [] };
    },
  },
  Subscription: {
    approvalRequestChanged: {
      // Each event is resolved in the context it was decided in (at that moment's state), not the
      // subscription's (src/api/live/event.ts). No `resolve`: graphql-middleware then guards
      // `subscribe`, so the field's guard runs when the subscription starts.
      subscribe: async (_, { id }, ctx) => {
        // Listening before the check: nothing between the two is missed.
        const stream = ctx.approvals.changes(
          id,
          () => ctx.fresh(),
          (request, context) => decidedAt({ approvalRequestChanged: request }, context),
        );
        // One the viewer may not see is refused like one that is not there; a failed check stops it too.
        try {
          if (id && !(await ctx.approvals.get(id))) throw notFound('approval request', id);
        } catch (err) {
          await stream.return?.();
          throw err;
        }
        return stream;
      },
    },
  },
  ApprovalRequest: {
    subject: async (r, _, ctx) => (await ctx.loaders.users.load(r.subjectId))!,
    decidedBy: (r, _, ctx) => (r.decidedBy ? ctx.loaders.users.load(r.decidedBy) : null),
    approvers: async (r, { first, after }, ctx) => {
      const n = pageSize(first);
      return connection(await ctx.approvals.approvers(r, n, idCursor(after)), n, (u) => u.id);
    },
    notifications: (r, _, ctx) => ctx.loaders.notificationsOf.load(r.id),
  },
  Notification: {
    recipient: async (n, _, ctx) => (await ctx.loaders.users.load(n.recipientId))!,
  },
  User: {
    slackMemberId: async (u, _, ctx) => (await ctx.loaders.addresses.load(u.id))?.slackMemberId ?? null,
    teamsAddress: async (u, _, ctx) => (await ctx.loaders.addresses.load(u.id))?.teamsAddress ?? null,
  },
};

function payload(ctx: Context, request: Awaited<ReturnType<Context['approvals']['get']>>) {
  return { request: request!, version: ctx.authz.version };
}

/** What the API shows of the settings: whether each is set, and the webhook's host (never its URL). */
function shownSettings(s: NotificationSettings) {
  return {
    slackBotTokenSet: s.slackBotTokenSet,
    teamsWebhookSet: s.teamsWebhookUrl !== null,
    teamsWebhookHost: s.teamsWebhookUrl ? new URL(s.teamsWebhookUrl).host : null,
  };
}
