import { asError, SERVICE_SCOPES } from '../../store';
import { isObjectType, type GraphQLSchema } from 'graphql';
import { middleware, type IMiddleware, type IMiddlewareGenerator } from 'graphql-middleware';
import { deny, rule, shield } from 'graphql-shield';
import type { IRules } from 'graphql-shield/typings/types';
import { loadPreset, PRESETS } from '../../catalog';
import { Access, describeScope, ROOT, scopeOf, type Scope } from '../../decisions/access';
import { ForbiddenError } from '../../decisions/errors';
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
  const guards = servedGuards(schema);
  validateGuards(schema, guards);

  const tree: Record<string, Record<string, ReturnType<typeof ruleFor>>> = {};
  for (const g of guards) (tree[g.type] ??= {})[g.field] = ruleFor(g);
  const generated = shield(tree as IRules, {
    fallbackRule: deny,
    allowExternalErrors: true,
    fallbackError: () => forbidden(Access.forbidden('a guard', ROOT, 'forbidden: this field has no guard')),
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

/** Every guard of the served schema: its directives', and those of the fields Federation adds. */
export function servedGuards(schema: GraphQLSchema): Guard[] {
  return [...readGuards(schema), ...federationGuards(schema)];
}

/**
 * The root fields Federation adds, which no SDL of ours declares: signed-in callers only (every request
 * is). `_service` is the SDL, which every caller may read through `schema` introspection in development
 * and gateways need to compose in production; `_entities` holds each entity's own guard, that of its
 * root lookup (src/api/resolvers/entities.ts), so a refused entity costs that entity, not the batch.
 */
function federationGuards(schema: GraphQLSchema): Guard[] {
  const fields = schema.getQueryType()?.getFields() ?? {};
  return ['_service', '_entities']
    .filter((field) => fields[field])
    .map((field) => ({ type: schema.getQueryType()!.name, field, kind: 'authenticated' as const }));
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
    if (g.kind === 'requires' && !g.operation && !g.permission && !g.approval && !(g.self && g.serviceScope))
      problems.push(
        `${g.type}.${g.field}: @requires needs an operation or a permission (or an approval, or self with serviceScope)`,
      );
    if (g.serviceScope && !(SERVICE_SCOPES as readonly string[]).includes(g.serviceScope))
      problems.push(
        `${g.type}.${g.field}: @requires names the service scope ${g.serviceScope}, which no API key can hold (SERVICE_SCOPES)`,
      );
    if (g.somewhere && (!g.operation || g.location || g.team || g.target || g.assignment))
      problems.push(
        `${g.type}.${g.field}: @requires(somewhere: true) names an operation and no scope, target or assignment`,
      );
    if (!!g.approval !== !!g.approvalRole)
      problems.push(`${g.type}.${g.field}: @requires gives approval and approvalRole together`);
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
      // Any viewer: the context is built only for valid credentials (reading it refuses otherwise).
      if (g.kind === 'authenticated') return ctx.viewer !== undefined;
      const viewer = ctx.viewer;
      // Asking about oneself (an absent user id means the viewer) needs nothing more.
      if (
        g.self &&
        viewer.kind === 'user' &&
        valuesAt(args, g.self).every((id) => id == null || id === viewer.userId)
      ) {
        return true;
      }
      try {
        await checkGuard(g, parent, args, ctx.access);
        return true;
      } catch (err) {
        // A rule that throws is a plain refusal in graphql-shield: return the error instead, so that a
        // missing location or user reads as NOT_FOUND and anything unexpected is masked and logged.
        return err instanceof ForbiddenError ? forbidden(err) : asError(err);
      }
    },
  );
}

/**
 * What a guard asks of the access module: the operation (or permission) at the scopes its arguments
 * name; covering (or, for VIEW_USERS, seeing) the user it names; an assignment's scope and user.
 */
async function checkGuard(g: Guard, parent: unknown, args: unknown, access: Access): Promise<void> {
  if (g.approval && g.approvalRole) {
    for (const id of valuesAt(args, g.approval).filter(isId))
      await access.requireOnRequest(id, g.approvalRole);
    return;
  }
  if (!g.operation && !g.permission) {
    // Only yourself (checked before), or a service key with the scope.
    const viewer = access.viewer;
    if (viewer.kind === 'service' && g.serviceScope && viewer.scopes.includes(g.serviceScope)) return;
    throw Access.forbidden(
      g.serviceScope ?? 'self',
      ROOT,
      viewer.kind === 'service'
        ? `forbidden: this API key lacks the scope ${g.serviceScope ?? 'for this field'}`
        : 'forbidden: only for yourself',
    );
  }
  // A member of the team named reads it without the permission (`member:`).
  if (g.member) {
    const teams = valuesAt(g.member.startsWith('parent.') ? { parent } : args, g.member).filter(isId);
    if (await access.isMemberOfAll(teams)) return;
  }
  if (g.somewhere && g.operation) return access.requireSomewhere(g.operation);
  const what = g.operation ? { operation: g.operation } : { permission: g.permission! };
  const targets = g.target
    ? valuesAt(g.target.startsWith('parent.') ? { parent } : args, g.target).filter(isId)
    : [];
  for (const id of targets) {
    if (g.operation === 'viewUsers') await access.requireView(id);
    else if (g.operation) await access.requireCovers(id, g.operation);
  }
  if (g.assignment && g.operation) {
    for (const id of valuesAt(args, g.assignment).filter(isId))
      await access.requireAssignment(id, g.operation);
  }
  // A guard naming only whom it acts on is decided there; otherwise at the scopes named (the root by default).
  if ((g.target || g.assignment) && !g.location && !g.team) return;
  // Reads name scopes as filters: one that does not exist is the resolver's NOT_FOUND (a check's own).
  await access.require(what, scopesOf(g, args, parent), g.serviceScope, {
    unknownScopeAtRoot: g.type === 'Query',
  });
}

/**
 * The scopes a guard's `location` and `team` paths name (a `parent.` path: the object's own field);
 * none given or all empty: the root.
 */
function scopesOf(g: Guard, args: unknown, parent?: unknown): Scope[] {
  const teams = g.team ? valuesAt(args, g.team) : [];
  const scopes: Scope[] = [];
  (g.location ?? []).forEach((path, i) =>
    valuesAt(path.startsWith('parent.') ? { parent } : args, path).forEach((location, j) =>
      scopes.push(
        scopeOf({
          locationId: isId(location) ? location : null,
          teamId: i === 0 && isId(teams[j]) ? teams[j] : null,
        }),
      ),
    ),
  );
  if (!g.location) for (const team of teams) scopes.push(scopeOf({ teamId: isId(team) ? team : null }));
  const unique = new Map(scopes.map((s) => [describeScope(s), s]));
  return unique.size ? [...unique.values()] : [ROOT];
}

const isId = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
