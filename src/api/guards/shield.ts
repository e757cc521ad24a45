import { GraphQLError, isObjectType, type GraphQLSchema } from 'graphql';
import { middleware, type IMiddleware, type IMiddlewareGenerator } from 'graphql-middleware';
import { deny, rule, shield } from 'graphql-shield';
import type { IRules } from 'graphql-shield/typings/types';
import { loadPreset, PRESETS } from '../../catalog';
import { ForbiddenError } from '../../authz/errors';
import type { Context } from '../context';
import { forbidden } from '../errors';
import { readGuards, valuesAt, type Guard } from './directives';

/**
 * The gateway's guards: a graphql-shield rule tree generated from the schema's directives, checked at
 * start-up. Deny by default: the fallback rule is `deny`, and a root field without a guard, or a guard
 * naming a permission no catalog defines, stops the server from starting.
 *
 * Fields of non-root types are covered by the guard of the field that returned their object and are
 * not wrapped (unless they carry a guard of their own): a list of 1,000 objects costs no per-field
 * rule calls.
 */
export function guardSchema(schema: GraphQLSchema): {
  middleware: IMiddlewareGenerator<unknown, Context, unknown>;
  guards: Guard[];
} {
  const guards = readGuards(schema);
  validateGuards(schema, guards);

  const tree: Record<string, Record<string, ReturnType<typeof ruleFor>>> = {};
  for (const g of guards) (tree[g.type] ??= {})[g.field] = ruleFor(g);
  const generated = shield(tree as IRules, {
    fallbackRule: deny,
    allowExternalErrors: true,
    fallbackError: () => new GraphQLError('forbidden', { extensions: { code: 'FORBIDDEN' } }),
  });

  const roots = new Set([
    schema.getQueryType()?.name,
    schema.getMutationType()?.name,
    schema.getSubscriptionType()?.name,
  ]);
  const pruned = middleware((s: GraphQLSchema) => {
    const all = generated.generate(s) as Record<string, Record<string, unknown>>;
    const kept: Record<string, Record<string, unknown>> = {};
    for (const [type, fields] of Object.entries(all)) {
      if (roots.has(type)) kept[type] = fields;
      else if (tree[type])
        kept[type] = Object.fromEntries(Object.keys(tree[type]).map((f) => [f, fields[f]]));
    }
    return kept as IMiddleware;
  });
  return { middleware: pruned as IMiddlewareGenerator<unknown, Context, unknown>, guards };
}

/** Start-up checks: every root field guarded; every named permission defined by some catalog. */
export function validateGuards(schema: GraphQLSchema, guards: Guard[]): void {
  const problems: string[] = [];
  const guarded = new Set(guards.map((g) => `${g.type}.${g.field}`));
  for (const root of [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()]) {
    for (const field of Object.keys(root?.getFields() ?? {})) {
      if (!guarded.has(`${root!.name}.${field}`))
        problems.push(`${root!.name}.${field} has no guard (@requires or @authenticated)`);
    }
  }
  const known = new Set(
    PRESETS.flatMap((p) =>
      Object.entries(loadPreset(p).document.permissions).flatMap(([m, a]) =>
        Object.keys(a).map((x) => `${m}:${x}`),
      ),
    ),
  );
  for (const g of guards) {
    if (g.kind === 'requires' && !g.operation && !g.permission)
      problems.push(`${g.type}.${g.field}: @requires needs an operation or a permission`);
    if (g.permission && !known.has(g.permission))
      problems.push(`${g.type}.${g.field}: @requires names ${g.permission}, which no catalog defines`);
    if (!isObjectType(schema.getType(g.type)))
      problems.push(`${g.type}.${g.field}: guards apply to object types only`);
  }
  if (problems.length)
    throw new Error(`refusing to start, the schema's guards are incomplete:\n  ${problems.join('\n  ')}`);
}

function ruleFor(g: Guard) {
  return rule(`${g.type}.${g.field}`, { cache: 'no_cache' })(
    async (parent: unknown, args: unknown, ctx: Context) => {
      if (g.kind === 'authenticated') return true;
      const viewer = ctx.viewer;
      // Asking about oneself (an absent user id means the viewer) needs nothing more.
      if (
        g.self &&
        viewer.kind === 'user' &&
        valuesAt(args, g.self).every((id) => id == null || id === viewer.userId)
      ) {
        return true;
      }
      const locationId = g.location
        ? (valuesAt(args, g.location)[0] as string | null | undefined)
        : undefined;
      try {
        if (g.operation) {
          await ctx.authz.requireOperation(g.operation, { locationId, serviceScope: g.serviceScope });
          return true;
        }
        if (viewer.kind === 'service' && g.serviceScope && viewer.scopes.includes(g.serviceScope))
          return true;
        if (await ctx.authz.viewerHolds(g.permission!, locationId)) return true;
        throw new ForbiddenError(g.permission!, locationId ? `location ${locationId}` : 'the organization');
      } catch (err) {
        if (err instanceof ForbiddenError) return forbidden(err);
        throw err;
      }
    },
  );
}
