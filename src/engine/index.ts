/** The decision engine: pure functions of plain data. No I/O, no GraphQL, no database. */
export {
  compileCatalog,
  compileRole,
  CompiledCatalog,
  type CompiledRole,
  type CompiledTool,
  type Granters,
  type ToolModeOf,
} from './compile';
export { fitsScope, UserGrants } from './grants';
export { decodeGrants, encodeGrants } from './codec';
export { grantLocations, grantsDigest } from './digest';
export { decide, outcomeOfPolicy } from './decide';
export {
  explain,
  type Explanation,
  type GrantScope,
  type GrantSource,
  type IgnoredGrant,
  type Names,
  type PermissionExplanation,
} from './explain';
export { UnknownPermissionError } from './errors';
export {
  exportRules,
  packRules,
  REQUEST_APPROVAL_PREFIX,
  RulesExportLimitError,
  type ExportedRule,
  type ResourceConditions,
  type RulesExport,
} from './rules-export';
export { bitIndexes, emptyBits, hasBit, orInto, type Bits } from './bitset';
export type { Assignment, CheckRequest, Outcome, Subject, ToolPolicies } from './types';
