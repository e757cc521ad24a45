import type { Explanation, GrantSource, IgnoredGrant } from '../engine';
import type { CustomRole } from '../store';

/**
 * What resolvers hand to GraphQL for types that have no store or engine object of their own.
 */

/** A role as the API shows it: built into the catalog, or custom (the same fields as a custom role's). */
export type RoleModel = Pick<CustomRole, 'key' | 'name' | 'description' | 'kind' | 'inherits' | 'grants'> & {
  /** Everything it grants, inheritance included. */
  permissions: string[];
  builtIn: boolean;
  deleted: boolean;
};

/** The API's view of a custom role, with everything it grants (`permissions`, inheritance included). */
export function customRoleModel(r: CustomRole, permissions: string[]): RoleModel {
  return {
    key: r.key,
    name: r.name,
    description: r.description,
    kind: r.kind,
    inherits: r.inherits,
    grants: r.grants,
    permissions,
    builtIn: false,
    deleted: r.deletedAt !== null,
  };
}

/** An explanation with the version it was made at. */
export type ExplanationModel = Explanation & { version: string };

/** A grant that counted, or one that did not (with `why`). */
export type GrantModel = GrantSource | IgnoredGrant;
