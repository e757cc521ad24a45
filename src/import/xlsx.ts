import { posix } from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import * as sax from 'sax';
import { IMPORT_LIMITS } from './limits';
import { notXlsx } from './errors';
import { RowCollector, type SheetRow } from './sheet';
import { BoundedZip } from './zip';

/**
 * Reads the first sheet of an XLSX workbook (Office Open XML, ECMA-376) as text rows. Only what a
 * sheet of values needs is read: the package's relationships, the workbook's list of sheets, the
 * shared strings and the sheet itself, each through BoundedZip (declared sizes checked before
 * inflating, inflation capped). Every cell is text: a string as written, a number as Excel stores it
 * (`42`, `1.5`), a boolean as TRUE or FALSE, an error as its code (`#N/A`), and a formula cell as the
 * value Excel cached for it, or `=` and the formula's text when none was cached: formulas are never
 * evaluated. The XML is read by sax, which expands no entity a document declares; a document type
 * declaration is refused outright.
 */
export async function readXlsx(bytes: Buffer, maxRows?: number): Promise<SheetRow[]> {
  const zip = await BoundedZip.open(bytes);
  try {
    const workbook = officeDocument(await relationships(zip, '_rels/.rels'), 'officeDocument');
    if (!workbook || !zip.has(workbook)) throw notXlsx('it has no workbook');
    const rels = await relationships(zip, relsOf(workbook));
    const sheetId = await firstSheet(zip, workbook);
    const sheet = rels.find((r) => r.id === sheetId && !r.external);
    if (!sheet || !zip.has(sheet.target)) throw notXlsx('its first sheet is missing');
    const sharedPart = rels.find((r) => r.type === 'sharedStrings' && !r.external)?.target;
    const shared = sharedPart ? await sharedStrings(zip, sharedPart) : [];
    return await sheetRows(zip, sheet.target, shared, new RowCollector(maxRows));
  } finally {
    zip.close();
  }
}

interface Relationship {
  id: string;
  /** The last segment of the relationship's type URI (`officeDocument`, `worksheet`, `sharedStrings`). */
  type: string;
  /** The part it points to, as a path inside the archive. */
  target: string;
  external: boolean;
}

/** A part's relationships (`_rels/*.rels`), targets resolved against the part's folder. */
async function relationships(zip: BoundedZip, part: string): Promise<Relationship[]> {
  const found: Relationship[] = [];
  const base = posix.dirname(posix.dirname(part)); // xl/_rels/workbook.xml.rels → xl
  await parseXml(zip, part, IMPORT_LIMITS.smallPartBytes, {
    open(name, attributes) {
      if (name !== 'Relationship') return;
      const target = attributes.Target ?? '';
      found.push({
        id: attributes.Id ?? '',
        type: (attributes.Type ?? '').split('/').pop() ?? '',
        target: target.startsWith('/')
          ? posix.normalize(target).slice(1)
          : posix.normalize(posix.join(base === '.' ? '' : base, target)),
        external: attributes.TargetMode === 'External',
      });
    },
  });
  return found;
}

function officeDocument(rels: Relationship[], type: string): string | undefined {
  return rels.find((r) => r.type === type && !r.external)?.target;
}

/** `xl/workbook.xml` → `xl/_rels/workbook.xml.rels`. */
function relsOf(part: string): string {
  return posix.join(posix.dirname(part), '_rels', `${posix.basename(part)}.rels`);
}

/** The relationship id of the workbook's first sheet. */
async function firstSheet(zip: BoundedZip, workbook: string): Promise<string> {
  let id: string | undefined;
  await parseXml(zip, workbook, IMPORT_LIMITS.smallPartBytes, {
    open(name, attributes) {
      if (name !== 'sheet' || id !== undefined) return;
      id = Object.entries(attributes).find(([key]) => key.endsWith(':id'))?.[1];
    },
  });
  if (id === undefined) throw notXlsx('its workbook lists no sheet');
  return id;
}

/** The shared strings table: each `si`'s text, its runs joined, phonetic guides left out. */
async function sharedStrings(zip: BoundedZip, part: string): Promise<string[]> {
  const strings: string[] = [];
  let current: string[] | null = null;
  let inText = false;
  let phonetic = 0;
  await parseXml(zip, part, IMPORT_LIMITS.partBytes, {
    open(name) {
      if (name === 'si') current = [];
      else if (name === 'rPh') phonetic++;
      else if (name === 't' && current && !phonetic) inText = true;
    },
    close(name) {
      if (name === 'si' && current) {
        strings.push(unescapeOoxml(current.join('')));
        current = null;
      } else if (name === 'rPh') phonetic--;
      else if (name === 't') inText = false;
    },
    text(text) {
      if (inText && current) current.push(text);
    },
  });
  return strings;
}

/** The sheet's rows, each cell as text at its column. */
async function sheetRows(
  zip: BoundedZip,
  part: string,
  shared: readonly string[],
  rows: RowCollector,
): Promise<SheetRow[]> {
  let rowNumber = 0;
  let cells: string[] | null = null;
  let column = 0;
  let cell: { type: string; column: number; v: string[]; f: string[]; is: string[] } | null = null;
  let into: string[] | null = null; // where text goes: the cell's v, f, or inline string's t
  let inInline = false;
  let phonetic = 0;
  await parseXml(zip, part, IMPORT_LIMITS.partBytes, {
    open(name, attributes) {
      switch (name) {
        case 'row': {
          const r = Number(attributes.r);
          rowNumber = Number.isSafeInteger(r) && r > 0 ? r : rowNumber + 1;
          cells = [];
          column = 0;
          return;
        }
        case 'c':
          column = columnOf(attributes.r) ?? column;
          cell = { type: attributes.t ?? 'n', column, v: [], f: [], is: [] };
          column++;
          return;
        case 'v':
          if (cell) into = cell.v;
          return;
        case 'f':
          if (cell) into = cell.f;
          return;
        case 'is':
          inInline = true;
          return;
        case 'rPh':
          phonetic++;
          return;
        case 't':
          if (cell && inInline && !phonetic) into = cell.is;
          return;
      }
    },
    close(name) {
      switch (name) {
        case 'v':
        case 'f':
        case 't':
          into = null;
          return;
        case 'is':
          inInline = false;
          return;
        case 'rPh':
          phonetic--;
          return;
        case 'c':
          // Columns past the last an import could use are not kept (a far cell would make every row wide).
          if (cell && cells && cell.column < MAX_COLUMNS) cells[cell.column] = cellText(cell, shared);
          cell = null;
          return;
        case 'row':
          if (cells)
            rows.add(
              rowNumber,
              Array.from(cells, (c) => c ?? ''),
            );
          cells = null;
          return;
      }
    },
    text(text) {
      into?.push(text);
    },
  });
  return rows.rows;
}

/** Columns read from a sheet: far more than the four an import knows, so an unknown one is reported. */
const MAX_COLUMNS = 256;

/** A cell as text: never evaluated. */
function cellText(
  cell: { type: string; v: string[]; f: string[]; is: string[] },
  shared: readonly string[],
): string {
  const v = cell.v.join('');
  const hasValue = cell.v.length > 0;
  switch (cell.type) {
    case 's': {
      const i = Number(v);
      const s = Number.isSafeInteger(i) ? shared[i] : undefined;
      if (s === undefined) throw notXlsx('a cell names a shared string that does not exist');
      return s;
    }
    case 'inlineStr':
      return unescapeOoxml(cell.is.join(''));
    case 'b':
      if (hasValue) return v.trim() === '1' ? 'TRUE' : 'FALSE';
      break;
    default:
      // 'n' (number), 'str' (a formula's string), 'e' (an error such as #N/A), 'd' (an ISO date)
      if (hasValue) return cell.type === 'str' ? unescapeOoxml(v) : v;
  }
  // A formula whose value was never cached: its text, as written.
  return cell.f.length ? `=${cell.f.join('')}` : '';
}

/** `B12` → 1 (column B); undefined for a reference without a column. */
function columnOf(ref: string | undefined): number | undefined {
  const letters = ref ? /^([A-Z]{1,3})\d*$/i.exec(ref)?.[1] : undefined;
  if (!letters) return undefined;
  let n = 0;
  for (const ch of letters.toUpperCase()) n = n * 26 + (ch.charCodeAt(0) - 64);
  return n - 1;
}

/** OOXML escapes characters XML cannot hold as `_xHHHH_` (ECMA-376 22.9.2.19); `_x005F_` escapes `_`. */
function unescapeOoxml(s: string): string {
  return s.includes('_x')
    ? s.replace(/_x([0-9A-Fa-f]{4})_/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)))
    : s;
}

interface XmlHandlers {
  /** An element opens: its local name (no prefix) and attributes (names as written). */
  open?(name: string, attributes: Record<string, string>): void;
  close?(name: string): void;
  text?(text: string): void;
}

/** Feeds a part to sax in slices, yielding to the event loop between them (other requests go on). */
const SLICE = 1024 * 1024;

async function parseXml(
  zip: BoundedZip,
  part: string,
  maxBytes: number,
  handlers: XmlHandlers,
): Promise<void> {
  const bytes = await zip.read(part, maxBytes);
  if (!bytes) throw notXlsx(`a part it names is missing`);
  const text =
    bytes[0] === 0xff && bytes[1] === 0xfe ? bytes.toString('utf16le').slice(1) : bytes.toString('utf8');
  const parser = sax.parser(true, { trim: false, normalize: false, position: false });
  const local = (name: string) => name.slice(name.indexOf(':') + 1);
  parser.onerror = () => {
    throw notXlsx('one of its parts is not well-formed XML');
  };
  parser.ondoctype = () => {
    throw notXlsx('one of its parts declares a document type');
  };
  parser.onopentag = (tag) => handlers.open?.(local(tag.name), tag.attributes as Record<string, string>);
  parser.onclosetag = (name) => handlers.close?.(local(name));
  parser.ontext = (t) => handlers.text?.(t);
  parser.oncdata = (t) => handlers.text?.(t);
  const start = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  for (let at = start; at < text.length; at += SLICE) {
    parser.write(text.slice(at, at + SLICE));
    if (at + SLICE < text.length) await yieldToLoop();
  }
  parser.close();
}
