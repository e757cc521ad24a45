import { createHash } from 'node:crypto';
import { mapSchema, MapperKind, printSchemaWithDirectives } from '@graphql-tools/utils';
import { isObjectType, type GraphQLSchema } from 'graphql';
import { LRUCache } from 'lru-cache';
import type { Catalog, CatalogDocument } from '../../catalog';
import type { Guard } from '../guards/directives';
import { describeRequirement } from './requirements';

/** How many catalogs' described schemas a gateway keeps (organizations sharing a catalog share one). */
const MAX_CATALOGS = 64;

/**
 * The schema as an API explorer sees it: the same types, fields, resolvers and guards, each guarded
 * field's description ending with what it needs in `catalog`'s words (generic wording for null). Only
 * introspection and `rolegate schema print` read it; requests execute on the schema it was made from.
 */
export function describeSchema(
  schema: GraphQLSchema,
  guards: readonly Guard[],
  catalog: CatalogDocument | null,
): GraphQLSchema {
  const byField = new Map<string, Guard[]>();
  for (const g of guards) {
    const key = `${g.type}.${g.field}`;
    byField.set(key, [...(byField.get(key) ?? []), g]);
  }
  return mapSchema(schema, {
    [MapperKind.OBJECT_FIELD]: (config, fieldName, typeName) => {
      const fieldGuards = byField.get(`${typeName}.${fieldName}`);
      const type = schema.getType(typeName);
      const field = isObjectType(type) ? type.getFields()[fieldName] : undefined;
      if (!fieldGuards || !field) return config;
      const requirements = fieldGuards.map((g) => describeRequirement(g, field, catalog));
      return {
        ...config,
        description: [config.description?.trim(), ...requirements].filter(Boolean).join('\n\n'),
      };
    },
  });
}

/** The SDL of a described schema, with every applied directive (`@requires`, `@authenticated`). */
export function printDescribedSchema(schema: GraphQLSchema): string {
  // Block strings' blank lines are printed indented: no trailing spaces.
  return `${printSchemaWithDirectives(schema).replace(/^[ \t]+$/gm, '')}\n`;
}

/**
 * Described schemas, one per catalog, made on first use and kept (never per request): the generic one
 * at once, each catalog's when one of its organization's viewers first introspects. Keyed by the
 * catalog's text, so organizations created from the same preset share one.
 */
export class DescribedSchemas {
  readonly generic: GraphQLSchema;
  private readonly byText = new LRUCache<string, GraphQLSchema>({ max: MAX_CATALOGS });
  private readonly digests = new WeakMap<Catalog, string>();

  constructor(
    private readonly schema: GraphQLSchema,
    private readonly guards: readonly Guard[],
  ) {
    this.generic = describeSchema(schema, guards, null);
  }

  /** The schema described in `catalog`'s words; the generic one for null. */
  for(catalog: Catalog | null): GraphQLSchema {
    if (!catalog) return this.generic;
    let digest = this.digests.get(catalog);
    if (!digest) {
      digest = createHash('sha256').update(catalog.text).digest('base64url');
      this.digests.set(catalog, digest);
    }
    let described = this.byText.get(digest);
    if (!described) {
      described = describeSchema(this.schema, this.guards, catalog.document);
      this.byText.set(digest, described);
    }
    return described;
  }
}
