import { getDirective, MapperKind, mapSchema } from '@graphql-tools/utils';
import {
  defaultFieldResolver,
  GraphQLError,
  type GraphQLFieldConfig,
  type GraphQLFieldResolver,
  type GraphQLSchema,
} from 'graphql';
import type { RolegateRequest } from './client';
import { RolegateError, RolegateForbiddenError, type Scope } from './errors';

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
      return mapSchema(schema, {
        [MapperKind.OBJECT_FIELD]: (field, fieldName, typeName) => {
          const found = getDirective(schema, field, directiveName)?.[0];
          if (!found) return field;
          const where = `${typeName}.${fieldName}`;
          const permission: unknown = found.permission;
          if (typeof permission !== 'string' || permission.trim() === '')
            throw new TypeError(`@${directiveName} on ${where}: permission must be a non-empty string`);
          return guarded(field, where, {
            permission,
            location: readerOf(field, where, found.location),
            team: readerOf(field, where, found.team),
            requestOf: requestOf as (ctx: unknown) => RolegateRequest | null | undefined,
          });
        },
      });
    },
  };
}

const standard = canDirective();
export const canDirectiveTypeDefs = standard.canDirectiveTypeDefs;
export const canDirectiveTransformer = standard.canDirectiveTransformer;

type Reader = (parent: unknown, args: Record<string, unknown>) => unknown[];

function guarded(
  field: GraphQLFieldConfig<unknown, unknown>,
  where: string,
  guard: {
    permission: string;
    location: Reader | null;
    team: Reader | null;
    requestOf: (ctx: unknown) => RolegateRequest | null | undefined;
  },
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
      const locations = guard.location ? ids(guard.location(parent, args)) : [];
      const teams = guard.team ? ids(guard.team(parent, args)) : [];
      const teamIds = teams.length ? teams : null;
      const scopes: Scope[] = (locations.length ? locations : [null]).map((locationId) => ({
        locationId,
        teamIds,
      }));
      // Answers the request already has (the 2nd to 1,000th booking at a location) cost no promise.
      let unknown = false;
      for (const scope of scopes) {
        const answer = request.peek(guard.permission, scope);
        if (answer === false)
          throw graphqlErrorOf(new RolegateForbiddenError(guard.permission, scope), guard.permission);
        if (answer === undefined) unknown = true;
      }
      if (!unknown) return resolve(parent, args, ctx, info);
      // Every can() is asked now, synchronously, so they batch with the rest of the tick.
      if (scopes.length === 1) {
        const scope = scopes[0]!;
        return request.can(guard.permission, scope).then(
          (allowed) => {
            if (!allowed)
              throw graphqlErrorOf(new RolegateForbiddenError(guard.permission, scope), guard.permission);
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
            (allowed) => (allowed ? null : new RolegateForbiddenError(guard.permission, scope)),
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

/**
 * A refusal as the GraphQL error at the field's path. A deny and any decision rolegate refused to make
 * are FORBIDDEN; a refused credential is UNAUTHENTICATED; rolegate unavailable is UNAVAILABLE. All carry
 * the permission.
 */
export function graphqlErrorOf(err: unknown, permission: string): GraphQLError {
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

/** Reads a path from the field's arguments or its parent (see the module comment); null without a path. */
function readerOf(field: GraphQLFieldConfig<unknown, unknown>, where: string, path: unknown): Reader | null {
  if (path == null) return null;
  if (typeof path !== 'string' || !/^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$/.test(path))
    throw new TypeError(`@can on ${where}: a path is names separated by dots, got ${JSON.stringify(path)}`);
  const [first, ...rest] = path.split('.') as [string, ...string[]];
  if (first === 'args' && rest.length) return (_p, args) => valuesAt(args, rest);
  if (first === 'parent' && rest.length) return (parent) => valuesAt(parent, rest);
  const segments = [first, ...rest];
  return field.args && first in field.args
    ? (_p, args) => valuesAt(args, segments)
    : (parent) => valuesAt(parent, segments);
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
