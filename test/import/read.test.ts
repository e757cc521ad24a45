import { readImportFile, readTable, IMPORT_LIMITS, ImportFileError } from '../../src/import';
import { separatorOf } from '../../src/import/csv';
import { xlsx, xlsxParts, zip, sheetXml, type ZipPart } from '../support/xlsx';

/**
 * Reading files, before any rule about users: CSV as spreadsheets write it, XLSX cells as text, and
 * hostile files refused whole (BAD_USER_INPUT in the API) before they cost memory or time. The files
 * are made here, byte by byte.
 */

const b64 = (b: Buffer) => b.toString('base64');

async function refusal(run: Promise<unknown>): Promise<string> {
  try {
    await run;
  } catch (err) {
    expect(err).toBeInstanceOf(ImportFileError);
    const message = (err as Error).message;
    // No limit's value in a refusal (the schema states them).
    for (const n of ['5242880', '5,242,880', '10000', '10,000', '33554432', '1000', '1,000'])
      expect(message).not.toContain(n);
    return message;
  }
  throw new Error('the file was not refused');
}

describe('CSV', () => {
  test('a byte order mark, ; separators and CRLF, as Excel writes "CSV (semicolon)"', async () => {
    const text =
      '\uFEFFEmail;Name;Roles;Flags\r\n' +
      'ann@example.com;Ann Smith;"manager@Parent company/London;user";billing_admin\r\n' +
      '\r\n' +
      'bob@example.com;"Bob ""the builder""";;\r\n';
    const read = await readImportFile('csv', text);
    expect(read.rows).toEqual([
      { row: 1, cells: ['Email', 'Name', 'Roles', 'Flags'] },
      {
        row: 2,
        cells: ['ann@example.com', 'Ann Smith', 'manager@Parent company/London;user', 'billing_admin'],
      },
      // Row 3 is blank: left out, and counted (a spreadsheet shows bob on row 4).
      { row: 4, cells: ['bob@example.com', 'Bob "the builder"', '', ''] },
    ]);
    expect(read.bytes).toBe(Buffer.byteLength(text));
    expect(readTable(read.rows).rows.map((r) => r.cells)).toEqual([
      {
        email: 'ann@example.com',
        name: 'Ann Smith',
        roles: 'manager@Parent company/London;user',
        flags: 'billing_admin',
      },
      { email: 'bob@example.com', name: 'Bob "the builder"', roles: '', flags: '' },
    ]);
  });

  test('the separator is the one the header uses: a cell may hold any of them', () => {
    expect(separatorOf('email,name\nann@x.io,"A; B"')).toBe(',');
    expect(separatorOf('email;name;roles\nann@x.io;A, B;x,y')).toBe(';');
    expect(separatorOf('email\tname\nann@x.io\tA;B')).toBe('\t');
    expect(separatorOf('\r\n\r\nemail;name\r\n')).toBe(';');
    expect(separatorOf('"e,mail";name;roles\n')).toBe(';'); // quoted text does not count
    expect(separatorOf('email\n')).toBe(',');
  });

  test('LF and CR line ends, a quoted cell over two lines, a quote inside an unquoted cell', async () => {
    expect(
      (await readImportFile('csv', 'email,name\nann@x.io,"Ann\nSmith"\nbob@x.io,O"Brien\n')).rows,
    ).toEqual([
      { row: 1, cells: ['email', 'name'] },
      { row: 2, cells: ['ann@x.io', 'Ann\nSmith'] },
      { row: 3, cells: ['bob@x.io', 'O"Brien'] },
    ]);
    expect((await readImportFile('csv', 'email,name\rann@x.io,Ann\r')).rows).toHaveLength(2);
  });

  test('a quote left open: the rows before it, and where reading stopped', async () => {
    const read = await readImportFile('csv', 'email,name\nann@x.io,Ann\nbob@x.io,"Bob\ncat@x.io,Cat\n');
    expect(read.rows).toHaveLength(2);
    expect(read.broken).toEqual({ row: 3, message: expect.stringMatching(/never closed/) });
  });

  test('too large: refused before parsing, by characters and then by UTF-8 bytes', async () => {
    const big = 'email\n' + 'x'.repeat(IMPORT_LIMITS.fileBytes);
    expect(await refusal(readImportFile('csv', big))).toMatch(/too large/);
    // Under the limit in characters, over it in bytes (é is two bytes).
    const wide = 'email\n' + 'é'.repeat(IMPORT_LIMITS.fileBytes / 2 + 1);
    expect(wide.length).toBeLessThan(IMPORT_LIMITS.fileBytes);
    expect(await refusal(readImportFile('csv', wide))).toMatch(/too large/);
  });

  test('too many rows: refused as soon as one too many is read; blank rows do not count', async () => {
    const rows = (n: number) => Array.from({ length: n }, (_, i) => `u${i}@x.io`).join('\n');
    const exactly = `email\n${rows(IMPORT_LIMITS.rows)}\n\n\n`;
    expect((await readImportFile('csv', exactly)).rows).toHaveLength(IMPORT_LIMITS.rows + 1);
    expect(await refusal(readImportFile('csv', `email\n${rows(IMPORT_LIMITS.rows + 1)}`))).toMatch(
      /too many rows/,
    );
  });

  test('from the command line: bytes that are not UTF-8 are refused', async () => {
    expect(await refusal(readImportFile('csv', Buffer.from([0x65, 0x0a, 0xe9, 0x0a])))).toMatch(/not UTF-8/);
    expect((await readImportFile('csv', Buffer.from('\uFEFFemail\nann@x.io\n'))).rows).toHaveLength(2);
  });
});

describe('XLSX', () => {
  test('text, number, boolean and formula cells, all as text; formulas never evaluated', async () => {
    const book = xlsx([
      ['email', 'name', 'roles', 'flags'],
      ['ann@x.io', 42, { formula: 'CONCAT("man","ager")', cached: 'manager' }, true],
      ['bob@x.io', 1.5, { formula: 'HYPERLINK("http://evil.example","x")' }, { inline: 'a & b' }],
      [{ formula: 'A2', cached: 'ann@x.io' }, null, { formula: 'SUM(1,2)', cached: 3 }, ''],
    ]);
    const read = await readImportFile('xlsx', b64(book));
    expect(read.bytes).toBe(book.length);
    expect(read.rows).toEqual([
      { row: 1, cells: ['email', 'name', 'roles', 'flags'] },
      { row: 2, cells: ['ann@x.io', '42', 'manager', 'TRUE'] },
      { row: 3, cells: ['bob@x.io', '1.5', '=HYPERLINK("http://evil.example","x")', 'a & b'] },
      { row: 4, cells: ['ann@x.io', '', '3', ''] },
    ]);
  });

  test('rows and cells where the sheet puts them: gaps, blank rows, rich text, escapes', async () => {
    const parts = xlsxParts([]);
    const sheet = `<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>
      <row r="1"><c r="A1" t="inlineStr"><is><t>email</t></is></c><c r="C1" t="inlineStr"><is><t>name</t></is></c></row>
      <row r="2"><c r="A2" t="inlineStr"><is><t></t></is></c></row>
      <row r="5"><c r="A5" t="s"><v>0</v></c><c r="C5" t="s"><v>1</v></c></row>
    </sheetData></worksheet>`;
    const shared = `<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">
      <si><t>ann@x.io</t></si>
      <si><r><t>An</t></r><r><rPr><b/></rPr><t>n_x000D_</t></r><rPh><t>ふりがな</t></rPh></si></sst>`;
    const book = zip(
      parts.map((p) =>
        p.name === 'xl/worksheets/sheet1.xml'
          ? { ...p, data: sheet }
          : p.name === 'xl/sharedStrings.xml'
            ? { ...p, data: shared }
            : p,
      ),
    );
    expect((await readImportFile('xlsx', b64(book))).rows).toEqual([
      { row: 1, cells: ['email', '', 'name'] },
      { row: 5, cells: ['ann@x.io', '', 'Ann\r'] },
    ]);
  });

  test('base64 with line breaks (as MIME wraps it) reads the same', async () => {
    const book = xlsx([['email'], ['ann@x.io']]);
    const wrapped = b64(book).replace(/.{76}/g, '$&\r\n');
    expect((await readImportFile('xlsx', wrapped)).rows).toHaveLength(2);
  });

  test('not base64', async () => {
    expect(await refusal(readImportFile('xlsx', 'email,name\nann@x.io,Ann\n'))).toMatch(/not base64/);
    expect(await refusal(readImportFile('xlsx', 'UEsDBA=x'))).toMatch(/not base64/);
  });

  test('not an XLSX: other bytes, a zip without a workbook, a damaged part', async () => {
    expect(await refusal(readImportFile('xlsx', b64(Buffer.from('%PDF-1.7 not a workbook'))))).toMatch(
      /not an XLSX workbook: it is not a zip archive/,
    );
    expect(await refusal(readImportFile('xlsx', b64(zip([{ name: 'a.txt', data: 'hello' }]))))).toMatch(
      /not an XLSX workbook/,
    );
    const broken = xlsxParts([['email']]).map((p) =>
      p.name === 'xl/worksheets/sheet1.xml' ? { ...p, data: '<worksheet><sheetData><row>' } : p,
    );
    expect(await refusal(readImportFile('xlsx', b64(zip(broken))))).toMatch(/not well-formed/);
  });

  test('a document type declaration is refused (no entity is ever expanded)', async () => {
    const laughs = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>
      <worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>
      <row r="1"><c t="inlineStr"><is><t>&lol2;</t></is></c></row></sheetData></worksheet>`;
    const parts = xlsxParts([]).map((p) =>
      p.name === 'xl/worksheets/sheet1.xml' ? { ...p, data: laughs } : p,
    );
    expect(await refusal(readImportFile('xlsx', b64(zip(parts))))).toMatch(/declares a document type/);
  });

  test('a zip bomb that declares its size is refused before anything is inflated', async () => {
    // 200 MiB of zeros deflate to about 200 KiB: small on the wire, huge once unpacked.
    const zeros = Buffer.alloc(200 * 1024 * 1024);
    const parts = xlsxParts([]).map((p) => (p.name === 'xl/sharedStrings.xml' ? { ...p, data: zeros } : p));
    const bomb = zip(parts);
    expect(bomb.length).toBeLessThan(IMPORT_LIMITS.fileBytes);
    const before = process.memoryUsage().arrayBuffers;
    expect(await refusal(readImportFile('xlsx', b64(bomb)))).toMatch(/too large once unpacked/);
    // Nothing near the bomb's size was ever allocated for it.
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 1024 * 1024);
  });

  test('a zip bomb that lies about its size stops inflating where its lie ends', async () => {
    const { sheet } = sheetXml([['email'], ['ann@x.io']]);
    const honest = Buffer.from(sheet);
    // The sheet, then 100 MiB of spaces (still well-formed XML), declared as the sheet's own size.
    const inflated = Buffer.concat([honest, Buffer.alloc(100 * 1024 * 1024, 0x20)]);
    const parts: ZipPart[] = xlsxParts([]).map((p) =>
      p.name === 'xl/worksheets/sheet1.xml' ? { ...p, data: inflated, declaredSize: honest.length } : p,
    );
    const bomb = zip(parts);
    expect(bomb.length).toBeLessThan(IMPORT_LIMITS.fileBytes);
    expect(await refusal(readImportFile('xlsx', b64(bomb)))).toMatch(/inflates past the size it declares/);
  });

  test('too many zip entries: refused from the directory alone', async () => {
    const parts: ZipPart[] = [
      ...xlsxParts([['email']]),
      ...Array.from({ length: IMPORT_LIMITS.zipEntries }, (_, i) => ({
        name: `x/${i}.bin`,
        data: '',
        method: 0 as const,
      })),
    ];
    expect(await refusal(readImportFile('xlsx', b64(zip(parts))))).toMatch(/too large once unpacked/);
  });

  test('an oversized sheet (too many rows) stops being read at the first row too many', async () => {
    const rows = [['email'], ...Array.from({ length: IMPORT_LIMITS.rows + 1 }, (_, i) => [`u${i}@x.io`])];
    expect(await refusal(readImportFile('xlsx', b64(xlsx(rows))))).toMatch(/too many rows/);
  });

  test('too large: the workbook over the limit, or its base64 longer than that of the limit', async () => {
    const big = Buffer.concat([xlsx([['email']]), Buffer.alloc(IMPORT_LIMITS.fileBytes)]);
    expect(await refusal(readImportFile('xlsx', b64(big)))).toMatch(/too large/);
    expect(await refusal(readImportFile('xlsx', big))).toMatch(/too large/);
  });

  test('a stored (not deflated) part reads as well', async () => {
    const parts = xlsxParts([['email'], ['ann@x.io']]).map((p) => ({ ...p, method: 0 as const }));
    expect((await readImportFile('xlsx', b64(zip(parts)))).rows).toHaveLength(2);
  });

  test('a deflate stream that is not one: damaged, not a crash', async () => {
    const parts = xlsxParts([['email']]);
    const good = zip(parts);
    // Flip bytes inside the sheet's compressed data (the fifth part).
    const bad = Buffer.from(good);
    const at = bad.indexOf(Buffer.from('xl/worksheets/sheet1.xml')) + 'xl/worksheets/sheet1.xml'.length;
    for (let i = at; i < at + 8; i++) bad[i] = 0xff;
    expect(await refusal(readImportFile('xlsx', b64(bad)))).toMatch(/not an XLSX workbook/);
  });
});

describe('the header', () => {
  const table = async (csv: string) => readTable((await readImportFile('csv', csv)).rows);

  test('names in any case and order; optional columns absent are null', async () => {
    expect((await table(' ROLES ,EMAIL\nuser,ann@x.io\n')).rows).toEqual([
      { row: 2, cells: { email: 'ann@x.io', name: null, roles: 'user', flags: null }, unnamed: false },
    ]);
  });

  test('missing, without an email column, with unknown or twice-named columns', async () => {
    expect((await table('')).problems).toEqual([
      { row: 1, column: null, message: expect.stringMatching(/empty/) },
    ]);
    expect((await table('ann@x.io,Ann\n')).problems).toEqual([
      { row: 1, column: null, message: expect.stringMatching(/must be a header naming the columns/) },
    ]);
    expect((await table('name,roles\nAnn,user\n')).problems).toEqual([
      { row: 1, column: 'email', message: expect.stringMatching(/no email column/) },
    ]);
    expect((await table('email,flag,email\nann@x.io,x,y\n')).problems).toEqual([
      { row: 1, column: 'flag', message: 'unknown column "flag": the columns are email, name, roles, flags' },
      { row: 1, column: 'email', message: 'the column email is named twice' },
    ]);
  });

  test('text under a column without a name is flagged on its row', async () => {
    expect(
      (await table('email,,name\nann@x.io,,Ann\nbob@x.io,??,Bob\ncat@x.io,,Cat,extra\n')).rows.map(
        (r) => r.unnamed,
      ),
    ).toEqual([false, true, true]);
  });
});
