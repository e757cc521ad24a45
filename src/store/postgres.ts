import { Pool, type PoolClient } from 'pg';
import type { Db, Queryable } from './db';
import { fromDriverError } from './errors';

/** PostgreSQL through a `pg` pool. */
export function openPostgres(connectionString: string, max: number): Db {
  const pool = new Pool({ connectionString, max, connectionTimeoutMillis: 5_000 });
  // An idle client losing its connection must not crash the process; the next query reports it.
  pool.on('error', () => {});

  const run = async <R>(
    client: Pool | PoolClient,
    sql: string,
    params?: readonly unknown[],
  ): Promise<R[]> => {
    try {
      const result = await client.query(sql, params as unknown[] | undefined);
      return result.rows as R[];
    } catch (err) {
      throw fromDriverError(err);
    }
  };

  const self: Db = {
    kind: 'postgres',
    query: (sql, params) => run(pool, sql, params),
    async transaction(fn) {
      let client: PoolClient;
      try {
        client = await pool.connect();
      } catch (err) {
        throw fromDriverError(err);
      }
      const tx: Queryable = {
        query: (sql, params) => run(client, sql, params),
        exec: async (sql) => void (await run(client, sql)),
      };
      try {
        await run(client, 'BEGIN');
        const result = await fn(tx);
        await run(client, 'COMMIT');
        client.release();
        return result;
      } catch (err) {
        // A failed ROLLBACK means the connection is gone: drop it rather than return it to the pool.
        await client.query('ROLLBACK').then(
          () => client.release(),
          (e: Error) => client.release(e),
        );
        throw fromDriverError(err);
      }
    },
    async exec(sql) {
      await run(pool, sql);
    },
    close: () => pool.end(),
  };
  return self;
}
