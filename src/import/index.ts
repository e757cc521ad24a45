/**
 * Reading imported files (CSV, XLSX) into rows of text, within bounds. Knows nothing of users, roles
 * or the store: the administration (src/admin/import.ts) decides what the rows mean.
 */
export { readImportFile, type FileRead, type ImportFormat } from './read';
export { readTable, IMPORT_COLUMNS, type ImportColumn, type TableRow, type RowProblem } from './table';
export { IMPORT_LIMITS, base64Length } from './limits';
export { ImportFileError } from './errors';
export type { SheetRow } from './sheet';
