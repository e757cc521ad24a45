import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { KnownVersions, type Db, type Queryable } from './db';
import { fromDriverError, StoreError } from './errors';

/**
 * The embedded store: PGlite persisted to a folder. One process at a time may open a folder; PGlite
 * runs one statement at a time, and a transaction holds it until it ends.
 */
export async function openPglite(dataDir: string): Promise<Db> {
  const release = dataDir.includes('://') ? () => {} : lockFolder(dataDir);
  let db: PGlite;
  try {
    db = await PGlite.create(dataDir);
  } catch (err) {
    release();
    throw err;
  }

  const run = async <R>(
    client: PGlite | Transaction,
    sql: string,
    params?: readonly unknown[],
  ): Promise<R[]> => {
    try {
      const result = await client.query<R>(sql, params as unknown[] | undefined);
      return result.rows;
    } catch (err) {
      throw fromDriverError(err);
    }
  };

  const self: Db = {
    kind: 'pglite',
    known: new KnownVersions(),
    query: (sql, params) => run(db, sql, params),
    async transaction(fn) {
      try {
        return await db.transaction((t) =>
          fn({
            query: (sql, params) => run(t, sql, params),
            exec: async (sql) => void (await t.exec(sql)),
          } satisfies Queryable),
        );
      } catch (err) {
        throw fromDriverError(err);
      }
    },
    async exec(sql) {
      try {
        await db.exec(sql);
      } catch (err) {
        throw fromDriverError(err);
      }
    },
    close: async () => {
      try {
        await db.close();
      } finally {
        release();
      }
    },
  };
  return self;
}

/**
 * One process at a time per folder: PGlite is not made for two, and the gateway keeps the
 * organizations' versions in memory because it makes every write itself. A lock file holds the
 * owner's pid; a lock whose process is gone is taken over.
 */
function lockFolder(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, 'rolegate.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx' });
      return () => rmSync(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number(readFileSync(file, 'utf8'));
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && alive(owner)) {
        throw new StoreError(
          'UNAVAILABLE',
          `the embedded store in ${dataDir} is in use by process ${owner}: stop it first, or go through its API`,
        );
      }
      rmSync(file, { force: true }); // stale: its process is gone
    }
  }
  throw new StoreError('UNAVAILABLE', `cannot lock the embedded store in ${dataDir}`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
