import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { parse, type DocumentNode, type GraphQLSchema } from 'graphql';
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

/** The executable schema without guards (for tests and the guards-off benchmark). */
export function buildUnguardedSchema(): GraphQLSchema {
  return makeExecutableSchema({
    typeDefs: servedTypeDefs(),
    resolvers: [
      { DateTime, JSON: JSONScalar },
      enumValues,
      decisionResolvers,
      directoryResolvers,
      mutationResolvers,
      approvalResolvers,
      catalogResolvers,
      rulesResolvers,
      liveResolvers,
    ] as never,
  });
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
