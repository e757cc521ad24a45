import type { GraphQLResolveInfo } from 'graphql';
import type { Context } from '../context';
import { badInput } from '../errors';

/**
 * The Federation entities (`User`, `Location`, `Team`, keyed by `id`) and their `viewerCan`.
 *
 * `_entities` resolves each representation exactly as its root lookup (`user(id:)`, `location(id:)`,
 * `team(id:)`) does on the schema being executed: in the gateway's, that is the guarded field, so the
 * entities hold the same guards, deadline and tenancy as the root fields, one by one (a refusal nulls
 * that entity only, with its error at `_entities.<i>`). An id of another organization is missing, as it
 * is there. This replaces @apollo/subgraph's own `_entities`, which would hand a representation of any
 * other type back as it came and fail on it with an unexpected error.
 */
const ENTITY_LOOKUPS: Readonly<Record<string, string>> = { User: 'user', Location: 'location', Team: 'team' };

interface Representation {
  __typename?: unknown;
  id?: unknown;
}

function resolveEntity(reference: Representation, ctx: Context, info: GraphQLResolveInfo): unknown {
  const typename = String(reference.__typename).slice(0, 100);
  const lookup = ENTITY_LOOKUPS[typename];
  if (!lookup)
    return badInput(
      `_entities: ${typename} is not an entity here (${Object.keys(ENTITY_LOOKUPS).join(', ')})`,
    );
  if (typeof reference.id !== 'string' || !reference.id)
    return badInput(`_entities: a ${typename} representation needs its id, a string`);
  const field = info.schema.getQueryType()!.getFields()[lookup]!;
  return Promise.resolve(field.resolve!(undefined, { id: reference.id }, ctx, info)).then((found) =>
    found && typeof found === 'object' && !(found instanceof Error)
      ? { ...found, __typename: typename }
      : found,
  );
}

/** The viewer's decision: an unknown permission is an error, never a quiet false. */
function decide(ctx: Context, permission: string, answer: () => Promise<boolean>): Promise<boolean> {
  if (ctx.authz.catalog.bitOf(permission) === undefined)
    throw badInput(
      `viewerCan: "${permission.slice(0, 200)}" is not a permission of this organization's catalog`,
    );
  return answer();
}

type ViewerCanArgs = { permission: string };

export const entityResolvers = {
  Query: {
    _entities: (
      _: unknown,
      { representations }: { representations: Representation[] },
      ctx: Context,
      info: GraphQLResolveInfo,
    ) => representations.map((reference) => resolveEntity(reference, ctx, info)),
  },
  User: {
    viewerCan: (user: { id: string }, { permission }: ViewerCanArgs, ctx: Context) =>
      decide(ctx, permission, () => ctx.access.holdsOver(user.id, permission)),
  },
  Location: {
    viewerCan: (location: { id: string }, { permission }: ViewerCanArgs, ctx: Context) =>
      decide(ctx, permission, () => ctx.access.holds(permission, { type: 'location', id: location.id })),
  },
  Team: {
    viewerCan: (team: { id: string }, { permission }: ViewerCanArgs, ctx: Context) =>
      decide(ctx, permission, () => ctx.access.holds(permission, { type: 'team', id: team.id })),
  },
};
