import { getDirective, MapperKind, mapSchema } from '@graphql-tools/utils';
import {
  defaultFieldResolver,
  getNamedType,
  GraphQLError,
  isObjectType,
  Kind,
  responsePathAsArray,
  type GraphQLFieldConfig,
  type GraphQLFieldResolver,
  type GraphQLResolveInfo,
  type GraphQLSchema,
  type SelectionSetNode,
} from 'graphql';
import type { RolegateRequest } from './client';
import { describeScope, RolegateError, RolegateForbiddenError, type Scope } from './errors';

/**
 * `@can(permission: "booking:manage", location: "locationId", team: "teamIds")` on a field: the viewer
 * must hold the permission there, or the field is null with a FORBIDDEN error at its path.
 *
 * Paths (`location`, `team`): dot-separated, like rolegate's own `@requires`. The first segment names
 * an argument of the field when the field declares one by that name, otherwise a property of the parent
 * object; `args.` or `parent.` in front says which explicitly. A list on the way gives one value per item.
 * - `location`: the permission is needed at EVERY location found; none (no path, or null) asks at the
 *   organization root.
 * - `team`: the resource's teams, allowed if allowed in one of them (rolegate's rule 3).
 *
 * The check runs before the field's resolver (a denied mutation never runs). All the checks of one
 * request go through its `RolegateRequest`, so a list of 1,000 objects costs one `checks` call, and an
 * answer the request already has is used at once (no promise).
 */

export interface CanDirectiveOptions<TContext> {
  /** The request's decisions, made once per request with `client.forRequest(…)`. Default: `context.rolegate`. */
  rolegate?: (context: TContext) => RolegateRequest | null | undefined;
}

export interface CanDirective {
  /** The directive's definition, to add to the subgraph's type definitions. */
  canDirectiveTypeDefs: string;
  /** Wraps the resolver of every field carrying the directive; other fields are left as they are. */
  canDirectiveTransformer<TContext = unknown>(
    schema: GraphQLSchema,
    options?: CanDirectiveOptions<TContext>,
  ): GraphQLSchema;
}

/** The directive under another name when `@can` is taken: `canDirective('rolegateCan')`. */
export function canDirective(directiveName = 'can'): CanDirective {
  return {
    canDirectiveTypeDefs: `directive @${directiveName}(permission: String!, location: String, team: String) on FIELD_DEFINITION`,
    canDirectiveTransformer: (schema, options = {}) => {
      const requestOf =
        options.rolegate ?? ((ctx: unknown) => (ctx as { rolegate?: RolegateRequest } | null)?.rolegate);
      const read = (field: GraphQLFieldConfig<unknown, unknown>, where: string) => {
        const found = getDirective(schema, field, directiveName)?.[0];
        if (!found) return null;
        const permission: unknown = found.permission;
        if (typeof permission !== 'string' || permission.trim() === '')
          throw new TypeError(`@${directiveName} on ${where}: permission must be a non-empty string`);
        return {
          permission,
          location: readerOf(field, where, found.location),
          team: readerOf(field, where, found.team),
          requestOf: requestOf as (ctx: unknown) => RolegateRequest | null | undefined,
        };
      };
      // Per object type, its guards that read only the parent object: those can be asked for a whole
      // list as soon as the list is resolved (see `prefetching`).
      const byType = new Map<string, Map<string, Guard>>();
      for (const type of Object.values(schema.getTypeMap())) {
        if (!isObjectType(type) || type.name.startsWith('__')) continue;
        for (const [name, field] of Object.entries(type.toConfig().fields)) {
          const guard = read(field, `${type.name}.${name}`);
          if (!guard || guard.location?.fromArgs || guard.team?.fromArgs) continue;
          if (!byType.has(type.name)) byType.set(type.name, new Map());
          byType.get(type.name)!.set(name, guard);
        }
      }
      return mapSchema(schema, {
        [MapperKind.OBJECT_FIELD]: (field, fieldName, typeName) => {
          const guard = read(field, `${typeName}.${fieldName}`);
          const own = guard ? guarded(field, `${typeName}.${fieldName}`, guard) : field;
          const itemGuards = byType.get(getNamedType(field.type).name);
          return itemGuards ? prefetching(own, itemGuards, guard?.requestOf ?? (requestOf as never)) : own;
        },
      });
    },
  };
}

const standard = canDirective();
export const canDirectiveTypeDefs = standard.canDirectiveTypeDefs;
export const canDirectiveTransformer = standard.canDirectiveTransformer;

/** Reads a path's values; `fromArgs` when they come from the field's arguments. */
type Reader = ((parent: unknown, args: Record<string, unknown>) => unknown[]) & { fromArgs?: boolean };

interface Guard {
  permission: string;
  location: Reader | null;
  team: Reader | null;
  requestOf: (ctx: unknown) => RolegateRequest | null | undefined;
}

/**
 * A field returning objects (a list of 1,000 bookings) whose own fields carry `@can` on parent paths:
 * once its value is resolved, every selected guarded field's question for every object is asked at
 * once, and the value is returned when the answers are in. The guarded fields then find their answers
 * known (`peek`) and resolve without a promise each. Asking decides nothing: each field still decides.
 */
function prefetching(
  field: GraphQLFieldConfig<unknown, unknown>,
  guards: Map<string, Guard>,
  requestOf: (ctx: unknown) => RolegateRequest | null | undefined,
): GraphQLFieldConfig<unknown, unknown> {
  const resolve: GraphQLFieldResolver<unknown, unknown> = field.resolve ?? defaultFieldResolver;
  return {
    ...field,
    resolve: (parent, args, ctx, info) => {
      const value = resolve(parent, args, ctx, info);
      const request = requestOf(ctx);
      if (!request) return value;
      const selected = selectedGuards(info, guards);
      if (selected.length === 0) return value;
      return isPromiseLike(value)
        ? Promise.resolve(value).then((v) => warm(v, selected, request))
        : warm(value, selected, request);
    },
  };
}

function warm(value: unknown, guards: Guard[], request: RolegateRequest): unknown {
  const pending = new Set<Promise<boolean>>();
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) for (const item of v) visit(item);
    else if (v !== null && typeof v === 'object' && !isPromiseLike(v))
      for (const g of guards)
        for (const scope of scopesOf(g, v, {}))
          if (request.peek(g.permission, scope) === undefined) pending.add(request.can(g.permission, scope));
  };
  visit(value);
  // A failed question fails its fields, each at its own path: here it only stops the wait.
  return pending.size ? Promise.allSettled(pending).then(() => value) : value;
}

/** The guards among `guards` whose fields the query selects below this field (fragments included). */
function selectedGuards(info: GraphQLResolveInfo, guards: Map<string, Guard>): Guard[] {
  const names = new Set<string>();
  const seenFragments = new Set<string>();
  const collect = (set: SelectionSetNode | undefined): void => {
    for (const sel of set?.selections ?? []) {
      if (sel.kind === Kind.FIELD) names.add(sel.name.value);
      else if (sel.kind === Kind.INLINE_FRAGMENT) collect(sel.selectionSet);
      else if (!seenFragments.has(sel.name.value)) {
        seenFragments.add(sel.name.value);
        collect(info.fragments[sel.name.value]?.selectionSet);
      }
    }
  };
  for (const node of info.fieldNodes) collect(node.selectionSet);
  return [...guards].filter(([name]) => names.has(name)).map(([, g]) => g);
}

function isPromiseLike(v: unknown): v is PromiseLike<unknown> {
  return v !== null && typeof v === 'object' && typeof (v as { then?: unknown }).then === 'function';
}

function guarded(
  field: GraphQLFieldConfig<unknown, unknown>,
  where: string,
  guard: Guard,
): GraphQLFieldConfig<unknown, unknown> {
  const resolve: GraphQLFieldResolver<unknown, unknown> = field.resolve ?? defaultFieldResolver;
  return {
    ...field,
    resolve: (parent, args, ctx, info) => {
      const request = guard.requestOf(ctx);
      if (!request)
        throw new Error(
          `@can on ${where}: no rolegate request in the context (make one per request with forRequest)`,
        );
      const scopes = scopesOf(guard, parent, args);
      // Answers the request already has (the 2nd to 1,000th booking at a location) cost no promise.
      let unknown = false;
      for (const scope of scopes) {
        const answer = request.peek(guard.permission, scope);
        if (answer === false) throw forbidden(guard.permission, scope, info);
        if (answer === undefined) unknown = true;
      }
      if (!unknown) return resolve(parent, args, ctx, info);
      // Every can() is asked now, synchronously, so they batch with the rest of the tick.
      if (scopes.length === 1) {
        const scope = scopes[0]!;
        return request.can(guard.permission, scope).then(
          (allowed) => {
            if (!allowed) throw forbidden(guard.permission, scope, info);
            return resolve(parent, args, ctx, info);
          },
          (err: unknown) => {
            throw graphqlErrorOf(err, guard.permission);
          },
        );
      }
      return Promise.all(
        scopes.map((scope) =>
          request.can(guard.permission, scope).then(
            (allowed) => (allowed ? null : forbidden(guard.permission, scope, info)),
            (err: unknown) => err,
          ),
        ),
      ).then((answers) => {
        const refusal = answers.find((a) => a !== null);
        if (refusal !== undefined) throw graphqlErrorOf(refusal, guard.permission);
        return resolve(parent, args, ctx, info);
      });
    },
  };
}

/** The scopes a field's guard asks about: one per location found (none: the root), with the teams. */
function scopesOf(
  guard: { location: Reader | null; team: Reader | null },
  parent: unknown,
  args: Record<string, unknown>,
): Scope[] {
  const found = guard.location ? guard.location(parent, args) : [];
  // The common case, one location and no teams, without the general path's sets and arrays.
  if (!guard.team && found.length === 1 && typeof found[0] === 'string' && found[0] !== '')
    return [{ locationId: found[0] }];
  const locations = ids(found);
  const teams = guard.team ? ids(guard.team(parent, args)) : [];
  const teamIds = teams.length ? teams : null;
  return (locations.length ? locations : [null]).map((locationId) => ({ locationId, teamIds }));
}

/**
 * A refusal as the GraphQL error at the field's path. A deny and any decision rolegate refused to make
 * are FORBIDDEN; a refused credential is UNAUTHENTICATED; rolegate unavailable is UNAVAILABLE. All carry
 * the permission.
 */
export function graphqlErrorOf(err: unknown, permission: string): GraphQLError {
  if (err instanceof GraphQLError) return err;
  if (!(err instanceof RolegateError))
    return new GraphQLError('Unexpected error.', {
      extensions: { code: 'UNAVAILABLE', permission },
      originalError: err as Error,
    });
  const extensions: Record<string, unknown> = { permission };
  if (err instanceof RolegateForbiddenError) {
    extensions.code = 'FORBIDDEN';
    if (err.scope.locationId) extensions.locationId = err.scope.locationId;
    if (err.scope.teamIds) extensions.teamIds = err.scope.teamIds;
  } else if (err.code === 'UNAUTHENTICATED') extensions.code = 'UNAUTHENTICATED';
  else if (err.code === 'UNAVAILABLE') extensions.code = 'UNAVAILABLE';
  else {
    extensions.code = 'FORBIDDEN';
    extensions.rolegateCode = (err as { rolegateCode?: string }).rolegateCode;
  }
  return new GraphQLError(err.message, { extensions, originalError: err });
}

/**
 * A deny: FORBIDDEN with the permission and the scope. It is an expected answer, not a fault, so it
 * carries no stack trace: formatting one (graphql-js copies it into the located error) cost more than
 * the rest of a denied field, and a list of 1,000 denied bookings is 1,000 of them.
 */
function forbidden(permission: string, scope: Scope, info: GraphQLResolveInfo): GraphQLError {
  const extensions: Record<string, unknown> = { code: 'FORBIDDEN', permission };
  if (scope.locationId) extensions.locationId = scope.locationId;
  if (scope.teamIds) extensions.teamIds = scope.teamIds;
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    // Located here (nodes and path), so graphql-js uses it as it is instead of wrapping it in another.
    return new GraphQLError(`forbidden: ${permission} is not allowed${describeScope(scope)}`, {
      nodes: info.fieldNodes,
      path: responsePathAsArray(info.path),
      extensions,
    });
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** Reads a path from the field's arguments or its parent (see the module comment); null without a path. */
function readerOf(field: GraphQLFieldConfig<unknown, unknown>, where: string, path: unknown): Reader | null {
  if (path == null) return null;
  if (typeof path !== 'string' || !/^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$/.test(path))
    throw new TypeError(`@can on ${where}: a path is names separated by dots, got ${JSON.stringify(path)}`);
  const [first, ...rest] = path.split('.') as [string, ...string[]];
  const fromArgs = (read: Reader): Reader => Object.assign(read, { fromArgs: true });
  if (first === 'args' && rest.length) return fromArgs((_p, args) => valuesAt(args, rest));
  if (first === 'parent' && rest.length) return (parent) => valuesAt(parent, rest);
  const segments = [first, ...rest];
  if (field.args && first in field.args) return fromArgs((_p, args) => valuesAt(args, segments));
  // `locationId` on the parent, the usual path: one property read.
  if (rest.length === 0)
    return (parent) => {
      const value = parent == null ? undefined : (parent as Record<string, unknown>)[first];
      return Array.isArray(value) ? value : [value];
    };
  return (parent) => valuesAt(parent, segments);
}

function valuesAt(root: unknown, segments: readonly string[]): unknown[] {
  let values: unknown[] = [root];
  for (const part of segments)
    values = values.flatMap((v) => {
      const next = v == null ? undefined : (v as Record<string, unknown>)[part];
      return Array.isArray(next) ? next : [next];
    });
  return values;
}

/** The ids among values (strings, or numbers as strings); null and undefined are no id. */
function ids(values: unknown[]): string[] {
  const out = new Set<string>();
  for (const v of values)
    if (typeof v === 'string' && v !== '') out.add(v);
    else if (typeof v === 'number' || typeof v === 'bigint') out.add(String(v));
  return [...out];
}
