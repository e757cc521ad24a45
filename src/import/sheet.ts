import { IMPORT_LIMITS } from './limits';
import { tooManyRows } from './errors';

/** One row of a file as a spreadsheet shows it: its number (the first row is 1) and its cells' text. */
export interface SheetRow {
  row: number;
  cells: string[];
}

/**
 * Collects a file's rows as a reader finds them: blank rows are left out, and past the header the
 * data rows are counted, so that a file with too many is refused as soon as it shows one too many
 * (the rest is never read).
 */
export class RowCollector {
  readonly rows: SheetRow[] = [];
  private data = -1; // the first non-blank row is the header

  constructor(private readonly maxRows: number = IMPORT_LIMITS.rows) {}

  add(row: number, cells: string[]): void {
    if (cells.every((c) => c.trim() === '')) return;
    if (++this.data > this.maxRows) throw tooManyRows();
    this.rows.push({ row, cells });
  }
}
