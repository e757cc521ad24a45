import { mkdirSync } from 'node:fs';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import type { Db, Queryable } from './db';
import { fromDriverError } from './errors';

/**
 * The embedded store: PGlite persisted to a folder. One process at a time may open a folder; PGlite
 * runs one statement at a time, and a transaction holds it until it ends.
 */
export async function openPglite(dataDir: string): Promise<Db> {
  if (!dataDir.includes('://')) mkdirSync(dataDir, { recursive: true });
  const db = await PGlite.create(dataDir);

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

  return {
    kind: 'pglite',
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
    close: () => db.close(),
  };
}
