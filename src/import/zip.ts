import { promisify } from 'node:util';
import { inflateRaw } from 'node:zlib';
import * as yauzl from 'yauzl';
import { IMPORT_LIMITS } from './limits';
import { ImportFileError, notXlsx } from './errors';

const inflate = promisify(inflateRaw);

/**
 * A zip archive read from memory with bounds, for files nobody vouches for. yauzl reads the central
 * directory (names, declared sizes, methods); nothing is inflated until a part is asked for, and then
 * only a part whose declared size is within its bound, by zlib told to stop at that size
 * (`maxOutputLength`): a part that lies about its size is refused the moment it inflates past it, so a
 * zip bomb never expands beyond the bound, honest header or not.
 */
export class BoundedZip {
  private constructor(
    private readonly zip: yauzl.ZipFile,
    private readonly entries: ReadonlyMap<string, yauzl.Entry>,
  ) {}

  /** Reads the central directory; refuses an archive with more entries than an import may hold. */
  static async open(bytes: Buffer): Promise<BoundedZip> {
    let zip: yauzl.ZipFile;
    try {
      // validateEntrySizes is ours (yauzl's counter swallows its own error when a stream is destroyed).
      zip = await yauzl.fromBufferPromise(bytes, {
        lazyEntries: true,
        autoClose: false,
        validateEntrySizes: false,
        strictFileNames: false,
      });
    } catch {
      throw notXlsx('it is not a zip archive');
    }
    if (zip.entryCount > IMPORT_LIMITS.zipEntries) {
      zip.close();
      throw bomb('it holds more parts than an import reads');
    }
    const entries = new Map<string, yauzl.Entry>();
    try {
      await new Promise<void>((resolve, reject) => {
        zip.on('entry', (entry: yauzl.Entry) => {
          // The first of two entries with one name wins, as in the readers Excel users have.
          if (!entries.has(entry.fileName)) entries.set(entry.fileName, entry);
          zip.readEntry();
        });
        zip.once('end', resolve);
        zip.once('error', reject);
        zip.readEntry();
      });
    } catch {
      zip.close();
      throw notXlsx('its zip directory is damaged');
    }
    return new BoundedZip(zip, entries);
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /**
   * A part's bytes, inflated to at most `maxBytes`; null when there is no such part. Refused, before
   * anything is inflated, when it declares more, and while inflating when it holds more than it declared.
   */
  async read(name: string, maxBytes: number): Promise<Buffer | null> {
    const entry = this.entries.get(name);
    if (!entry) return null;
    if (entry.isEncrypted()) throw notXlsx('it is encrypted');
    if (entry.uncompressedSize > maxBytes)
      throw bomb(`${shown(name)} would inflate past what an import reads`);
    if (entry.compressionMethod !== 0 && entry.compressionMethod !== 8)
      throw notXlsx(`${shown(name)} uses a compression this reader does not know`);
    const raw = await this.raw(entry);
    if (entry.compressionMethod === 0) {
      if (raw.length !== entry.uncompressedSize) throw notXlsx(`${shown(name)} is damaged`);
      return raw;
    }
    let out: Buffer;
    try {
      // At most what the part declared: zlib stops there (ERR_BUFFER_TOO_LARGE) rather than inflate on.
      out = await inflate(raw, { maxOutputLength: Math.max(1, entry.uncompressedSize) });
    } catch (err) {
      if ((err as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE')
        throw bomb(`${shown(name)} inflates past the size it declares`);
      throw notXlsx(`${shown(name)} is damaged`);
    }
    if (out.length !== entry.uncompressedSize) throw notXlsx(`${shown(name)} is damaged`);
    return out;
  }

  close(): void {
    this.zip.close();
  }

  /** The part's stored bytes, as they are in the archive (never more than the archive itself). */
  private async raw(entry: yauzl.Entry): Promise<Buffer> {
    try {
      const stream = await this.zip.openReadStreamPromise(entry, { decodeFileData: false });
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    } catch {
      throw notXlsx(`${shown(entry.fileName)} cannot be read`);
    }
  }
}

/** A workbook that would inflate past what an import reads (a zip bomb, or a sheet far too large). */
function bomb(why: string): ImportFileError {
  return new ImportFileError(
    `the workbook is too large once unpacked (${why}): importUsers states in its description how large a file and how many rows it may have`,
  );
}

/** A part's name as a message shows it: names come from the file, so at most 100 characters. */
function shown(name: string): string {
  return name.length > 100 ? `${name.slice(0, 99)}…` : name;
}
