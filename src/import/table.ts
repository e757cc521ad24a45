import type { SheetRow } from './sheet';

/** The columns an import knows, in the order errors are reported. */
export const IMPORT_COLUMNS = ['email', 'name', 'roles', 'flags'] as const;
export type ImportColumn = (typeof IMPORT_COLUMNS)[number];

/** One data row, by column: each cell's text as written (trimmed), null where the column is absent. */
export interface TableRow {
  row: number;
  cells: Record<ImportColumn, string | null>;
  /** Text in a column whose header cell is empty. */
  unnamed: boolean;
}

/** Something wrong with a row (or the header): where, and what. */
export interface RowProblem {
  row: number;
  column: string | null;
  message: string;
}

/**
 * The header (the first row that is not blank) names the columns, case and spaces aside; `email` is
 * required, the others optional, and a column no import knows is refused (a misspelt `flag` would
 * otherwise import everyone without their flags). Header problems are reported alone: the rows
 * cannot be read without it.
 */
export function readTable(rows: readonly SheetRow[]): { rows: TableRow[]; problems: RowProblem[] } {
  const [header, ...data] = rows;
  const known = IMPORT_COLUMNS.join(', ');
  if (!header)
    return {
      rows: [],
      problems: [
        {
          row: 1,
          column: null,
          message: `the file is empty: its first row must name the columns (${known})`,
        },
      ],
    };
  const names = header.cells.map((c) => c.trim().toLowerCase());
  if (!names.some((n) => (IMPORT_COLUMNS as readonly string[]).includes(n)))
    return {
      rows: [],
      problems: [
        {
          row: header.row,
          column: null,
          message: `the first row must be a header naming the columns (email, and any of name, roles, flags); this one names none of them`,
        },
      ],
    };
  const problems: RowProblem[] = [];
  const at = new Map<ImportColumn, number>();
  names.forEach((name, i) => {
    if (!name) return;
    const shown = header.cells[i]!.trim().slice(0, 100);
    if (!(IMPORT_COLUMNS as readonly string[]).includes(name))
      problems.push({
        row: header.row,
        column: shown,
        message: `unknown column "${shown}": the columns are ${known}`,
      });
    else if (at.has(name as ImportColumn))
      problems.push({ row: header.row, column: shown, message: `the column ${name} is named twice` });
    else at.set(name as ImportColumn, i);
  });
  if (!at.has('email'))
    problems.push({
      row: header.row,
      column: 'email',
      message: 'the header has no email column: every row needs an email',
    });
  if (problems.length) return { rows: [], problems };
  const unnamed = names.flatMap((n, i) => (n ? [] : [i]));
  return {
    rows: data.map(({ row, cells }) => ({
      row,
      cells: Object.fromEntries(
        IMPORT_COLUMNS.map((c) => {
          const i = at.get(c);
          return [c, i === undefined ? null : (cells[i] ?? '').trim()];
        }),
      ) as Record<ImportColumn, string | null>,
      unnamed:
        unnamed.some((i) => (cells[i] ?? '').trim() !== '') ||
        cells.slice(names.length).some((c) => c.trim() !== ''),
    })),
    problems: [],
  };
}
