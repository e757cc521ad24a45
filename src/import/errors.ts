/**
 * A file refused whole, before any of its rows is looked at: too large, too many rows, not base64, not
 * a workbook, a zip that would inflate past its bounds. The API reports it as BAD_USER_INPUT; the
 * message says what is wrong and never a limit's value (the schema states them).
 */
export class ImportFileError extends Error {
  override name = 'ImportFileError';
}

export const tooLarge = () =>
  new ImportFileError('the file is too large: importUsers states in its description how large it may be');

export const tooManyRows = () =>
  new ImportFileError(
    'the file has too many rows: importUsers states in its description how many it may have; split it',
  );

export const notXlsx = (why: string) => new ImportFileError(`content is not an XLSX workbook: ${why}`);
