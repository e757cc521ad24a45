import type { Context } from '../context';
import { badInput } from '../errors';
import type { Resolvers } from '../generated/graphql';
import { decidedAt } from '../live/event';

/**
 * Live changes of the viewer's own capabilities (schema/live.graphql). `Capabilities.grantsVersion`
 * comes with the capabilities themselves (Authz.capabilities), computed once per version and user.
 */
export const liveResolvers: Resolvers = {
  Subscription: {
    capabilitiesChanged: {
      // Each event is resolved in the context it was decided in (a fresh one, at that moment's state),
      // as approvals' are. No `resolve`: graphql-middleware then guards `subscribe` at the start.
      subscribe: async (_, { locationId, teamId, personId, groupIds }, ctx) => {
        const { viewer, grantsWatch } = ctx;
        if (viewer.kind !== 'user')
          throw badInput('capabilitiesChanged follows a user: a service key has no capabilities of its own');
        if (!grantsWatch) throw new Error('capabilitiesChanged needs the gateway’s grants watch');
        const where = { locationId, teamId, personId, groupIds };
        // Answer the arguments now: a location that does not exist is refused at the start.
        const initial = ctx.authz.capabilities(viewer.userId, where);
        const first = initial.then((c) => c.grantsVersion);
        first.catch(() => {}); // its failure is thrown below, from `initial`
        const stream = grantsWatch.changes(
          viewer.orgId,
          viewer.userId,
          first,
          async () => {
            const context = await ctx.fresh();
            return { context, grantsVersion: await context.authz.grantsVersion(viewer.userId) };
          },
          async (context: Context) =>
            decidedAt(
              { capabilitiesChanged: await context.authz.capabilities(viewer.userId, where) },
              context,
            ),
        );
        try {
          await initial;
        } catch (err) {
          await stream.return?.();
          throw err;
        }
        return stream;
      },
    },
  },
};
