/**
 * How much an imported file may hold. The schema's description of `importUsers` states the first two
 * (a test holds them together); errors never say any of these numbers.
 */
export const IMPORT_LIMITS = {
  /** The file: CSV text as UTF-8 bytes, or the XLSX workbook itself (its base64 is 4/3 of this). */
  fileBytes: 5 * 1024 * 1024,
  /** Data rows (the header and blank rows not counted). */
  rows: 10_000,
  /** Errors reported; past them the import stops looking. */
  errors: 100,
  /** XLSX: entries in the zip, read from its central directory before anything is inflated. */
  zipEntries: 1_000,
  /**
   * XLSX: the most a part that is read may inflate to (the sheet, its shared strings). A sheet of the
   * largest file allowed, written by Excel or LibreOffice, inflates to well under a fifth of this.
   */
  partBytes: 32 * 1024 * 1024,
  /** XLSX: the workbook's small parts (workbook.xml and its relationships). */
  smallPartBytes: 1024 * 1024,
} as const;

/** The most characters a base64 text of `bytes` bytes has (without line breaks). */
export function base64Length(bytes: number): number {
  return 4 * Math.ceil(bytes / 3);
}
