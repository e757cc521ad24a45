import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { isObjectType, parse, type DocumentNode, type GraphQLSchema } from 'graphql';
import { applyMiddleware } from 'graphql-middleware';
import { guardSchema } from './guards/shield';
import { describeInputLimits } from './limits/input-limits';
import { deadlineMiddleware } from './limits/use-deadline';
import { decisionResolvers } from './resolvers/decisions';
import { directoryResolvers } from './resolvers/directory';
import { mutationResolvers } from './resolvers/mutations';
import { approvalResolvers } from './resolvers/approvals';
import { catalogResolvers } from './resolvers/catalog';
import { rulesResolvers } from './resolvers/rules';
import { liveResolvers } from './resolvers/live';
import { entityResolvers } from './resolvers/entities';
import { DateTime, JSONScalar } from './resolvers/scalars';
import type { Guard } from './guards/directives';
import type { Context } from './context';

export const SCHEMA_DIR = path.resolve(__dirname, '..', '..', 'schema');

/** The SDL, one file per concept. */
export function loadTypeDefs(dir = SCHEMA_DIR): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.graphql'))
    .sort()
    .map((f) => readFileSync(path.join(dir, f), 'utf8'));
}

/** Enum values as the engine and the store spell them. */
const enumValues = {
  RoleKind: { ORG: 'org', LOCATION: 'location', TEAM: 'team' },
  ToolMode: { AUTO: 'auto', REQUIRE_APPROVAL: 'require_approval', DENY: 'deny' },
  GrantKind: { ASSIGNMENT: 'assignment', FLAG: 'flag' },
  ScopeType: { ORG: 'org', LOCATION: 'location', TEAM: 'team' },
  NotificationChannel: { SLACK: 'slack', TEAMS: 'teams' },
  ImportFormat: { CSV: 'csv', XLSX: 'xlsx' },
  ImportMode: { FAIL: 'fail', SKIP: 'skip', UPDATE: 'update' },
};

/** The SDL as served: each limited input's description states its limit (src/api/limits/input-limits.ts). */
export function servedTypeDefs(dir = SCHEMA_DIR): DocumentNode[] {
  return loadTypeDefs(dir).map((sdl) => describeInputLimits(parse(sdl)));
}

/**
 * The executable schema without guards (for tests and the guards-off benchmark): a Federation 2
 * subgraph (schema/federation.graphql), so it also serves `_service` and `_entities`.
 */
export function buildUnguardedSchema(): GraphQLSchema {
  const resolvers = mergeResolvers([
    { DateTime, JSON: JSONScalar },
    enumValues,
    decisionResolvers,
    directoryResolvers,
    mutationResolvers,
    approvalResolvers,
    catalogResolvers,
    rulesResolvers,
    liveResolvers,
    entityResolvers,
  ] as Record<string, object>[]);
  const schema = buildSubgraphSchema({ typeDefs: servedTypeDefs(), resolvers: resolvers as never });
  checkResolversNameFields(schema, resolvers);
  return schema;
}

/** One resolver map from several; a type's fields may come from several maps, a field from one only. */
function mergeResolvers(maps: Record<string, object>[]): Record<string, object> {
  const merged: Record<string, object> = {};
  for (const map of maps) {
    for (const [type, fields] of Object.entries(map)) {
      const into = merged[type];
      if (!into || !isPlainObject(into) || !isPlainObject(fields)) {
        if (into) throw new Error(`resolvers: ${type} is defined twice`);
        merged[type] = fields;
        continue;
      }
      for (const field of Object.keys(fields))
        if (field in into) throw new Error(`resolvers: ${type}.${field} is defined twice`);
      merged[type] = { ...into, ...fields };
    }
  }
  return merged;
}

const isPlainObject = (x: object) => Object.getPrototypeOf(x) === Object.prototype;

/**
 * buildSubgraphSchema skips a resolver whose field the SDL does not have, where makeExecutableSchema
 * refused it: refuse it here, so a renamed field cannot leave its resolver silently unused.
 */
function checkResolversNameFields(schema: GraphQLSchema, resolvers: Record<string, object>): void {
  const problems: string[] = [];
  for (const [typeName, fields] of Object.entries(resolvers)) {
    const type = schema.getType(typeName);
    if (!type) problems.push(`${typeName} is not a type of the schema`);
    else if (isObjectType(type))
      for (const field of Object.keys(fields))
        if (!field.startsWith('__') && !type.getFields()[field])
          problems.push(`${typeName}.${field} is not a field of the schema`);
  }
  if (problems.length) throw new Error(`resolvers without a field:\n  ${problems.join('\n  ')}`);
}

/**
 * The schema the gateway serves: every field guarded as its directives say (refuses to build
 * otherwise), and root fields answered at the request's deadline (guards included in its time).
 */
export function buildSchema(): { schema: GraphQLSchema; guards: Guard[] } {
  const schema = buildUnguardedSchema();
  const { middleware, guards } = guardSchema(schema);
  return { schema: applyMiddleware(schema, deadlineMiddleware<Context>(), middleware), guards };
}
