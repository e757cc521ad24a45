import { createHash } from 'node:crypto';
import { readCsv } from './csv';
import { ImportFileError, tooLarge } from './errors';
import { base64Length, IMPORT_LIMITS } from './limits';
import type { SheetRow } from './sheet';
import { readXlsx } from './xlsx';

export type ImportFormat = 'csv' | 'xlsx';

/** A file's rows as read, and, for a CSV that breaks off, where and why. */
export interface FileRead {
  rows: SheetRow[];
  broken?: { row: number; message: string };
  /** The file's size in bytes (the CSV as UTF-8, the workbook decoded). */
  bytes: number;
  /** SHA-256 of those bytes (hex), for the audit log: which file was imported, not what it held. */
  sha256: string;
}

/**
 * Reads an imported file, refusing it whole (ImportFileError) before parsing when it is too large and
 * while reading when it has too many rows. `content` is what the API was sent (CSV text, or an XLSX
 * workbook in base64) or, from the command line, the file's bytes.
 */
export async function readImportFile(format: ImportFormat, content: string | Buffer): Promise<FileRead> {
  const max = IMPORT_LIMITS.fileBytes;
  if (format === 'csv') {
    // A string's UTF-16 length is at most its UTF-8 length: the cheap test first.
    if (content.length > max) throw tooLarge();
    const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
    if (bytes.length > max) throw tooLarge();
    const text = typeof content === 'string' ? content : utf8(content);
    return { ...readCsv(text), bytes: bytes.length, sha256: sha256(bytes) };
  }
  const bytes = typeof content === 'string' ? fromBase64(content) : content;
  if (bytes.length > max) throw tooLarge();
  return { rows: await readXlsx(bytes), bytes: bytes.length, sha256: sha256(bytes) };
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Standard base64 (RFC 4648 §4), line breaks and spaces allowed; refused when too long before decoding. */
function fromBase64(content: string): Buffer {
  // Line breaks (MIME's every 76 characters) add at most a few percent: refuse far larger at once.
  if (content.length > 2 * base64Length(IMPORT_LIMITS.fileBytes)) throw tooLarge();
  const text = /\s/.test(content) ? content.replace(/\s+/g, '') : content;
  if (text.length > base64Length(IMPORT_LIMITS.fileBytes)) throw tooLarge();
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text))
    throw new ImportFileError(
      'content is not base64: send an XLSX workbook as its bytes in base64 (RFC 4648, the standard alphabet)',
    );
  return Buffer.from(text, 'base64');
}

function utf8(bytes: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new ImportFileError('the file is not UTF-8 text: save it as "CSV UTF-8"');
  }
}
