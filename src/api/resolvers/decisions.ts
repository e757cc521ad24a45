import { isVersion } from '../../consistency/versions';
import { decisionId, type Authz, type CheckInput } from '../../decisions/authz';
import type { Context } from '../context';
import type { Resolvers } from '../generated/graphql';
import { GraphQLError } from 'graphql';
import { permissionInfo } from '../../decisions/manifest';
import { operationEnum } from '../guards/directives';
import { badInput, ErrorCode } from '../errors';
import { connection, idCursor, pageSize } from './pagination';

/** At most this many inputs per `checks` call (not said to clients: errors never carry limits). */
const MAX_CHECKS = 1000;

export const decisionResolvers: Resolvers = {
  Query: {
    check: (_, { input }, ctx) => timed(ctx, async () => (await decider(ctx, [input])).decide(input)),
    checks: (_, { inputs }, ctx) => {
      if (inputs.length > MAX_CHECKS)
        throw badInput('too many inputs in one checks call: split them into several calls');
      return timed(ctx, async () => {
        const authz = await decider(ctx, inputs);
        return Promise.all(inputs.map((input) => authz.decide(input)));
      });
    },
    explain: (_, { input }, ctx) => ctx.authz.explain(input),
    // One match more than asked for tells whether a next page exists.
    whoCan: async (_, { permission, locationId, teamIds, first, after }, ctx) => {
      const n = pageSize(first);
      return connection(
        await ctx.scans.whoCan(permission, locationId, teamIds ?? [], {
          limit: n + 1,
          after: idCursor(after),
        }),
        n,
        (u) => u.id,
      );
    },
    whereCan: async (_, { userId, permission, first, after }, ctx) => {
      const n = pageSize(first);
      return connection(
        await ctx.scans.whereCan(userId, permission, {
          limit: n + 1,
          after: idCursor(after),
        }),
        n,
        (l) => l.id,
      );
    },
    capabilities: async (_, { userId, locationId, teamId, personId, groupIds, atLeastVersion }, ctx) => {
      const subject = userId ?? (ctx.viewer.kind === 'user' ? ctx.viewer.userId : null);
      if (!subject) throw badInput('name the userId: a service key has no capabilities of its own');
      const authz = await atLeast(ctx, atLeastVersion);
      return authz.capabilities(subject, { locationId, teamId, personId, groupIds });
    },
  },
  Capabilities: {
    permissionDetails: (c, _, ctx) =>
      c.permissions.map((key) => permissionInfo(ctx.authz.catalog.catalog.document, key)),
  },
  OperationCapability: {
    // The catalog's `viewUsers` is the schema's VIEW_USERS.
    operation: (o) => operationEnum(o.operation),
  },
  Decision: {
    // Hashing the question costs more than deciding it: only when the client asks for the id.
    id: (d) => decisionId(d.input),
    // Explaining costs more than deciding: only when the client asks for the reason.
    reason: async (d, _, ctx) => {
      if (d.error) return d.error.message;
      return d.request ? (await (d.decidedBy ?? ctx.authz).explainRequest(d.request)).summary : null;
    },
    error: (d) => d.error ?? null,
  },
  Explanation: {
    follows: (e) => e.follows ?? null,
    team: (e) => e.team ?? null,
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

/**
 * The decision service for a batch of inputs: the request's own, or, when an input asks for a later
 * version (`atLeastVersion`), one at that version or later once it is reached. Inputs whose version is
 * still not reached after the wait are answered VERSION_NOT_REACHED by `decide`, one by one.
 */
async function decider(ctx: Context, inputs: readonly Pick<CheckInput, 'atLeastVersion'>[]): Promise<Authz> {
  let wanted: bigint | null = null;
  for (const i of inputs) {
    if (i.atLeastVersion == null || !isVersion(i.atLeastVersion)) continue;
    const v = BigInt(i.atLeastVersion);
    if (wanted === null || v > wanted) wanted = v;
  }
  if (wanted === null || wanted <= BigInt(ctx.authz.version)) return ctx.authz;
  return (await ctx.atVersion(wanted)) ?? ctx.authz;
}

/**
 * The decision service for a field with its own `atLeastVersion` (not a check input's): the request's,
 * or one at that version or later; a token that is not a version is BAD_USER_INPUT, one not reached in
 * time VERSION_NOT_REACHED, as a check input's would be.
 */
async function atLeast(ctx: Context, token: string | null | undefined): Promise<Authz> {
  if (token == null) return ctx.authz;
  if (!isVersion(token)) throw badInput('atLeastVersion must be a version returned by a mutation (digits)');
  const authz = await decider(ctx, [{ atLeastVersion: token }]);
  if (BigInt(token) > BigInt(authz.version))
    throw new GraphQLError(`version ${token} is not reached (current: ${authz.version})`, {
      extensions: { code: ErrorCode.VERSION_NOT_REACHED },
    });
  return authz;
}

/** Times a check field for the decision latency histogram. */
async function timed<T>(ctx: Context, run: () => Promise<T>): Promise<T> {
  const stop = ctx.metrics?.decisionSeconds.startTimer();
  try {
    return await run();
  } finally {
    stop?.();
  }
}
