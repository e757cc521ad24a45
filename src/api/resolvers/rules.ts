import { packRules, RulesExportLimitError } from '../../engine';
import { badInput } from '../errors';
import type { Resolvers } from '../generated/graphql';

/** The resource object a client builds for `ability.can`: what the exported conditions read. */
export const RESOURCE_FIELDS = [
  {
    name: 'locationPath',
    type: '[ID!]',
    description:
      "The resource's location and every one of its ancestors (the organization root's id may be there or not); missing or empty: the organization root.",
  },
  {
    name: 'teamIds',
    type: '[ID!]',
    description:
      'The teams of a team-based resource: allowed if allowed in one of them, with that team’s roles alone.',
  },
  { name: 'personId', type: 'ID', description: 'The staff person of the resource.' },
  { name: 'groupIds', type: '[ID!]', description: 'The staff groups of the resource.' },
];

export const rulesResolvers: Resolvers = {
  Query: {
    viewerRules: async (_, { format, userId }, ctx) => {
      const subject = userId ?? (ctx.viewer.kind === 'user' ? ctx.viewer.userId : null);
      if (!subject) throw badInput('name the userId: a service key has no rules of its own');
      try {
        const out = await ctx.authz.rules(subject);
        return {
          userId: out.userId,
          format,
          rules: packRules(out.rules),
          count: out.rules.length,
          subjectType: 'all',
          version: out.version,
          expiresAt: Number.isFinite(out.validUntil) ? new Date(out.validUntil) : null,
          resourceFields: RESOURCE_FIELDS,
        };
      } catch (err) {
        if (err instanceof RulesExportLimitError) throw badInput(err.message);
        throw err;
      }
    },
  },
};
