import type { Resolvers } from '../generated/graphql';
import { badInput } from '../errors';
import { connection, pageSize } from './pagination';

/** At most this many inputs per `checks` call (not said to clients: errors never carry limits). */
const MAX_CHECKS = 1000;

export const decisionResolvers: Resolvers = {
  Query: {
    check: (_, { input }, ctx) => ctx.authz.decide(input),
    checks: (_, { inputs }, ctx) => {
      if (inputs.length > MAX_CHECKS)
        throw badInput('too many inputs in one checks call: split them into several calls');
      return Promise.all(inputs.map((input) => ctx.authz.decide(input)));
    },
    explain: (_, { input }, ctx) => ctx.authz.explain(input),
    // One match more than asked for tells whether a next page exists.
    whoCan: async (_, { permission, locationId, first, after }, ctx) => {
      const n = pageSize(first);
      return connection(
        await ctx.authz.whoCan(ctx.store, permission, locationId, { limit: n + 1, after }),
        n,
        (u) => u.id,
      );
    },
    whereCan: async (_, { userId, permission, first, after }, ctx) => {
      const n = pageSize(first);
      return connection(
        await ctx.authz.whereCan(ctx.store, userId, permission, { limit: n + 1, after }),
        n,
        (l) => l.id,
      );
    },
    capabilities: (_, { userId, locationId, teamId }, ctx) => {
      const subject = userId ?? (ctx.viewer.kind === 'user' ? ctx.viewer.userId : null);
      if (!subject) throw badInput('name the userId: a service key has no capabilities of its own');
      return ctx.authz.capabilities(subject, locationId, teamId);
    },
  },
  Decision: {
    // Explaining costs more than deciding: only when the client asks for the reason.
    reason: async (d, _, ctx) => {
      if (d.error) return d.error.message;
      return d.request ? (await ctx.authz.explainRequest(d.request)).summary : null;
    },
    error: (d) => d.error ?? null,
  },
  Explanation: {
    follows: (e) => e.follows ?? null,
    tool: (e) =>
      e.tool
        ? { ...e.tool, policy: e.tool.policy as 'auto', policySource: e.tool.policySource.toUpperCase() }
        : null,
  },
  PermissionExplanation: {
    requiresFlag: (p) => p.requiresFlag ?? null,
    grantedByFlag: (p) => p.grantedByFlag ?? null,
  },
  Grant: {
    why: (g) => ('why' in g ? g.why : null),
    scope: (g) => g.scope ?? null,
    restriction: (g) => g.restriction ?? null,
  },
  GrantScope: {
    locationId: (s) => (s.type === 'location' ? s.locationId : null),
    teamId: (s) => (s.type === 'team' ? s.teamId : null),
    cascaded: (s) => (s.type === 'location' ? s.cascaded : null),
  },
};
