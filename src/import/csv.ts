import { CsvError, parse } from 'csv-parse/sync';
import { RowCollector, type SheetRow } from './sheet';
import { ImportFileError } from './errors';

/** A CSV file's rows, or where reading it stopped and why. */
export interface CsvRead {
  rows: SheetRow[];
  /** The file cannot be read past this row (a quote left open, text after a closing quote). */
  broken?: { row: number; message: string };
}

/**
 * Reads CSV text as a spreadsheet would: a byte order mark is dropped, records end at CRLF, LF or CR,
 * the separator is `,`, `;` or a tab (whichever the header row uses most; `,` when it uses none), and a
 * row's number counts every record, blank ones too (a quoted cell may span lines). A quote inside an
 * unquoted cell is kept as text.
 */
export function readCsv(text: string, maxRows?: number): CsvRead {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const collector = new RowCollector(maxRows);
  try {
    parse(body, {
      delimiter: separatorOf(body),
      bom: true,
      relax_column_count: true,
      relax_quotes: true,
      skip_empty_lines: false,
      on_record: (record: string[], info) => {
        collector.add(info.records, record);
        return null; // kept by the collector, not by the parser
      },
    });
  } catch (err) {
    if (err instanceof ImportFileError) throw err;
    if (err instanceof CsvError) {
      const records = (err as CsvError & { records?: number }).records ?? collector.rows.length;
      return { rows: collector.rows, broken: { row: records + 1, message: describe(err.code) } };
    }
    throw err;
  }
  return { rows: collector.rows };
}

/**
 * The separator the header row uses: the one of `,`, `;` and tab it holds most of outside quotes
 * (header names hold none of them), `,` on a tie or when it holds none. Only the header is looked at:
 * cells further down may hold any of them (a role's location path, a name).
 */
export function separatorOf(text: string): string {
  const counts = new Map<string, number>([
    [',', 0],
    [';', 0],
    ['\t', 0],
  ]);
  let quoted = false;
  let seen = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') quoted = !quoted;
    else if (!quoted && (c === '\n' || c === '\r')) {
      if (seen) break; // the end of the first line that is not blank
    } else if (!quoted && counts.has(c)) counts.set(c, counts.get(c)! + 1);
    else if (c.trim()) seen = true;
  }
  const [best] = [...counts].sort((a, b) => b[1] - a[1]);
  return best![1] > counts.get(',')! ? best![0] : ',';
}

function describe(code: string): string {
  switch (code) {
    case 'CSV_QUOTE_NOT_CLOSED':
      return 'a quoted cell is never closed: the file cannot be read from this row on';
    case 'CSV_INVALID_CLOSING_QUOTE':
    case 'CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE':
      return 'a quoted cell is followed by other text before the separator: the file cannot be read from this row on';
    default:
      return 'this row is not valid CSV: the file cannot be read from here on';
  }
}
