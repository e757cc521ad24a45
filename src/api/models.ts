import type { RoleKind } from '../catalog';
import type { Explanation, GrantSource, IgnoredGrant } from '../engine';

/**
 * What resolvers hand to GraphQL for types that have no store or engine object of their own.
 */

/** A role as the API shows it: built into the catalog, or custom. */
export interface RoleModel {
  key: string;
  name: string;
  description: string | null;
  kind: RoleKind;
  inherits: string[];
  grants: string[];
  permissions: string[];
  builtIn: boolean;
  deleted: boolean;
}

/** An explanation with the version it was made at. */
export type ExplanationModel = Explanation & { version: string };

/** A grant that counted, or one that did not (with `why`). */
export type GrantModel = GrantSource | IgnoredGrant;
