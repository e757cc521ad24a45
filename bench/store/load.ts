/**
 * Bulk loading the generated world with COPY: through `pg-copy-streams` into PostgreSQL, through
 * PGlite's `/dev/blob` device into PGlite. Both drop keys, indexes and foreign keys of the loaded
 * tables first, COPY into tables truncated in the same transaction (`WITH (FREEZE)`: rows land frozen
 * and all-visible, as after a VACUUM), recreate what they dropped from its catalog definition, check
 * the schema is identical to before, and VACUUM (ANALYZE) (which also completes the visibility map).
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PGlite } from '@electric-sql/pglite';
import { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { assertSameSchema, dropForLoad, recreate, snapshot, type Sql } from './schema';
import {
  ASSIGNMENT_COLUMNS,
  assignmentRows,
  USER_COLUMNS,
  userRows,
  type AssignmentStats,
  type Tree,
  type WorldSize,
} from './world';

const TABLES = ['locations', 'users', 'assignments'] as const;
type Table = (typeof TABLES)[number];

export interface LoadReport {
  /** Seconds per phase. */
  drop: number;
  copy: Record<Table, number>;
  keysAndIndexes: number;
  foreignKeys: number;
  analyze: number;
  total: number;
  rows: Record<Table, number>;
  /** COPY text sent, bytes. */
  bytes: number;
  /** What the loaded tables and their indexes take on disk. */
  sizes: { table: string; rows: number; tableMB: number; indexesMB: number; allVisiblePct: number }[];
}

const now = () => performance.now();

/** The COPY statements: each table's rows as text, generated while they are sent. */
function sources(
  orgId: string,
  size: WorldSize,
  tree: Tree,
  stats: AssignmentStats,
  seed: number,
): { table: Table; columns: string; rows: () => Generator<Buffer> }[] {
  return [
    { table: 'locations', columns: '(org_id, id, parent_id, name, path)', rows: () => tree.rows(orgId) },
    { table: 'users', columns: USER_COLUMNS, rows: () => userRows(orgId, size, seed + 1) },
    {
      table: 'assignments',
      columns: ASSIGNMENT_COLUMNS,
      rows: () => assignmentRows(orgId, size, tree, seed + 2, stats),
    },
  ];
}

const SIZES_SQL = `
  SELECT c.relname::text AS "table", c.reltuples::bigint::text AS rows,
         pg_table_size(c.oid)::float8 / 1048576 AS "tableMB", pg_indexes_size(c.oid)::float8 / 1048576 AS "indexesMB",
         CASE WHEN c.relpages > 0 THEN 100.0 * c.relallvisible / c.relpages ELSE 0 END::float8 AS "allVisiblePct"
    FROM pg_class c WHERE c.relname IN ('locations', 'users', 'assignments') ORDER BY c.relname`;

async function finish(
  db: Sql,
  report: Omit<LoadReport, 'keysAndIndexes' | 'foreignKeys' | 'analyze' | 'total' | 'sizes'>,
  dropped: Awaited<ReturnType<typeof dropForLoad>>,
  before: Awaited<ReturnType<typeof snapshot>>,
  t0: number,
  log: (m: string) => void,
): Promise<LoadReport> {
  log('recreating keys, indexes and foreign keys');
  const r = await recreate(db, dropped);
  assertSameSchema(before, await snapshot(db));
  log('VACUUM (ANALYZE)');
  const t = now();
  await db.query('VACUUM (ANALYZE) locations, users, assignments');
  const analyze = (now() - t) / 1000;
  const sizes = (
    await db.query<{
      table: string;
      rows: string;
      tableMB: number;
      indexesMB: number;
      allVisiblePct: number;
    }>(SIZES_SQL)
  ).map((s) => ({ ...s, rows: Number(s.rows) }));
  return {
    ...report,
    keysAndIndexes: r.indexes,
    foreignKeys: r.foreignKeys,
    analyze,
    total: (now() - t0) / 1000,
    sizes,
  };
}

/** Loads the world into an organization that exists in PostgreSQL at `url` (and has no rows in these tables). */
export async function loadPostgres(
  url: string,
  orgId: string,
  size: WorldSize,
  tree: Tree,
  stats: AssignmentStats,
  seed: number,
  log: (m: string) => void,
): Promise<LoadReport> {
  const client = new Client({ connectionString: url });
  await client.connect();
  const sql: Sql = { query: async <R>(q: string) => (await client.query(q)).rows as R[] };
  try {
    const t0 = now();
    await client.query(`SET maintenance_work_mem = '1GB'`);
    const before = await snapshot(sql);
    const dropped = await dropForLoad(sql, TABLES);
    const drop = (now() - t0) / 1000;
    const copy = {} as Record<Table, number>;
    const rows = {} as Record<Table, number>;
    let bytes = 0;
    await client.query('BEGIN');
    await client.query(`TRUNCATE ${TABLES.join(', ')}`);
    for (const s of sources(orgId, size, tree, stats, seed)) {
      log(`COPY ${s.table}`);
      const t = now();
      const stream = client.query(copyFrom(`COPY ${s.table} ${s.columns} FROM STDIN WITH (FREEZE)`));
      const gen = s.rows();
      const counted = (function* () {
        for (const chunk of gen) {
          bytes += chunk.length;
          yield chunk;
        }
      })();
      await pipeline(Readable.from(counted), stream);
      copy[s.table] = (now() - t) / 1000;
      rows[s.table] = stream.rowCount;
    }
    await client.query('COMMIT');
    return await finish(sql, { drop, copy, rows, bytes }, dropped, before, t0, log);
  } finally {
    await client.end();
  }
}

/** Bytes of COPY text per `/dev/blob` statement. */
const PGLITE_BLOB_BYTES = 16 << 20;

/**
 * Loads the world into an organization that exists in the PGlite folder `dataDir` (which no one else
 * has open): PGlite's COPY reads from the `/dev/blob` device, one Blob of ~16 MB per statement.
 */
export async function loadPglite(
  dataDir: string,
  orgId: string,
  size: WorldSize,
  tree: Tree,
  stats: AssignmentStats,
  seed: number,
  log: (m: string) => void,
): Promise<LoadReport> {
  const pg = await PGlite.create(dataDir);
  const sql: Sql = { query: async <R>(q: string) => (await pg.query<R>(q)).rows };
  try {
    const t0 = now();
    const before = await snapshot(sql);
    const dropped = await dropForLoad(sql, TABLES);
    const drop = (now() - t0) / 1000;
    const copy = {} as Record<Table, number>;
    const rows = {} as Record<Table, number>;
    let bytes = 0;
    await pg.exec(`BEGIN; TRUNCATE ${TABLES.join(', ')}`);
    for (const s of sources(orgId, size, tree, stats, seed)) {
      log(`COPY ${s.table}`);
      const t = now();
      let parts: Buffer[] = [];
      let partBytes = 0;
      let count = 0;
      const flush = async () => {
        if (!parts.length) return;
        const res = await pg.query(`COPY ${s.table} ${s.columns} FROM '/dev/blob' WITH (FREEZE)`, [], {
          blob: new Blob(parts),
        });
        count += res.affectedRows ?? 0;
        parts = [];
        partBytes = 0;
      };
      for (const chunk of s.rows()) {
        parts.push(chunk);
        partBytes += chunk.length;
        bytes += chunk.length;
        if (partBytes >= PGLITE_BLOB_BYTES) await flush();
      }
      await flush();
      copy[s.table] = (now() - t) / 1000;
      rows[s.table] = count;
    }
    await pg.exec('COMMIT');
    return await finish(sql, { drop, copy, rows, bytes }, dropped, before, t0, log);
  } finally {
    await pg.close();
  }
}
