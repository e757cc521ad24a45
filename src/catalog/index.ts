/** The permission catalog: its YAML format, loading and validation. */
export {
  parseCatalog,
  loadCatalogFile,
  loadPreset,
  PRESETS,
  CATALOG_DIR,
  type Catalog,
  type PresetName,
} from './load';
export { CatalogError, formatIssue, type CatalogIssue } from './errors';
export { OPERATIONS, type Operation } from './operations';
export type {
  CatalogDocument,
  RoleKind,
  RoleSpec,
  ToolMode,
  PermissionSpec,
  UiEntrySpec,
  ToolSpec,
  ApprovalSpec,
} from './schema';
export { ROLE_KINDS, TOOL_MODES, MAX_APPROVAL_LIFETIME_S } from './schema';
export { catalogTypes } from './typescript';
