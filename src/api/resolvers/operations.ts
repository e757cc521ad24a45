import type { Operation as CatalogOperation } from '../../catalog';
import type { Operation } from '../generated/graphql';

/** The catalog's `viewUsers` is the schema's `VIEW_USERS` (src/api/guards/directives.ts reads it back). */
export function operationEnum(operation: CatalogOperation): Operation {
  return operation.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase() as Operation;
}
