import { OPERATIONS } from '../../catalog';
import { allPermissions, uiEntries } from '../../decisions/manifest';
import type { Resolvers } from '../generated/graphql';
import { operationEnum } from '../guards/directives';

/** The organization's catalog as a user interface shows it (`Query.catalog`): everything, named. */
export const catalogResolvers: Resolvers = {
  Query: {
    catalog: (_, __, ctx) => {
      const catalog = ctx.authz.catalog;
      const doc = catalog.catalog.document;
      return {
        name: doc.catalog,
        permissions: allPermissions(doc),
        ...uiEntries(doc),
        flags: Object.entries(doc.flags ?? {}).map(([key, f]) => ({
          key,
          name: f.name,
          description: f.description,
        })),
        tools: [...catalog.tools.values()].map((t) => ({
          name: t.name,
          displayName: doc.tools?.[t.name]?.name ?? null,
          description: doc.tools?.[t.name]?.description ?? t.name,
          permission: t.permission,
          mode: catalog.toolMode(t, ctx.authz.state.policies).mode,
        })),
        operations: OPERATIONS.map((op) => ({
          operation: operationEnum(op),
          permission: doc.operations?.[op] ?? null,
        })),
      };
    },
  },
};
