/**
 * Dropping and recreating keys, foreign keys and indexes around a bulk load. Every definition is read
 * back from the catalog (`pg_get_constraintdef`, `pg_get_indexdef`) before it is dropped and recreated
 * from that text, and the schema is compared before and after: the measured queries run against
 * exactly the schema `migrations/001_init.sql` made.
 */

/** The least a bulk loader needs of a connection. */
export interface Sql {
  query<R = Record<string, unknown>>(sql: string): Promise<R[]>;
}

export interface SchemaObject {
  table: string;
  name: string;
  kind: string;
  def: string;
}

/** Every constraint and index of the current schema, in a stable order. */
export async function snapshot(db: Sql): Promise<SchemaObject[]> {
  return db.query<SchemaObject>(`
    SELECT c.conrelid::regclass::text AS "table", c.conname::text AS name, c.contype::text AS kind,
           pg_get_constraintdef(c.oid) || CASE WHEN c.convalidated THEN '' ELSE ' NOT VALID' END AS def
      FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
     WHERE n.nspname = current_schema()
    UNION ALL
    SELECT tablename::text, indexname::text, 'index', indexdef
      FROM pg_indexes WHERE schemaname = current_schema()
    ORDER BY 1, 2, 3`);
}

interface Dropped {
  foreignKeys: SchemaObject[];
  keys: SchemaObject[];
  indexes: SchemaObject[];
}

const quoteIdent = (s: string) => `"${s.replace(/"/g, '""')}"`;

/**
 * Drops, on `tables`, every primary/unique key and index, and every foreign key from or to them
 * (including `team_members → users`, which would block TRUNCATE). CHECK and NOT NULL constraints stay.
 */
export async function dropForLoad(db: Sql, tables: readonly string[]): Promise<Dropped> {
  const list = tables.map((t) => `'${t}'::regclass`).join(', ');
  const foreignKeys = await db.query<SchemaObject>(`
    SELECT conrelid::regclass::text AS "table", conname::text AS name, 'f' AS kind, pg_get_constraintdef(oid) AS def
      FROM pg_constraint WHERE contype = 'f' AND (conrelid IN (${list}) OR confrelid IN (${list}))
     ORDER BY 1, 2`);
  const keys = await db.query<SchemaObject>(`
    SELECT conrelid::regclass::text AS "table", conname::text AS name, contype::text AS kind, pg_get_constraintdef(oid) AS def
      FROM pg_constraint WHERE contype IN ('p', 'u') AND conrelid IN (${list})
     ORDER BY 1, 2`);
  const indexes = await db.query<SchemaObject>(`
    SELECT i.indrelid::regclass::text AS "table", i.indexrelid::regclass::text AS name, 'index' AS kind,
           pg_get_indexdef(i.indexrelid) AS def
      FROM pg_index i
     WHERE i.indrelid IN (${list})
       AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid
                         AND c.contype IN ('p', 'u', 'x'))
     ORDER BY 1, 2`);
  for (const fk of foreignKeys)
    await db.query(`ALTER TABLE ${fk.table} DROP CONSTRAINT ${quoteIdent(fk.name)}`);
  for (const k of keys) await db.query(`ALTER TABLE ${k.table} DROP CONSTRAINT ${quoteIdent(k.name)}`);
  for (const ix of indexes) await db.query(`DROP INDEX ${ix.name}`);
  return { foreignKeys, keys, indexes };
}

/** Recreates what `dropForLoad` dropped; returns the seconds spent on keys+indexes and on foreign keys. */
export async function recreate(db: Sql, dropped: Dropped): Promise<{ indexes: number; foreignKeys: number }> {
  const t0 = performance.now();
  for (const k of dropped.keys) {
    await db.query(`ALTER TABLE ${k.table} ADD CONSTRAINT ${quoteIdent(k.name)} ${k.def}`);
  }
  for (const ix of dropped.indexes) await db.query(ix.def);
  const t1 = performance.now();
  for (const fk of dropped.foreignKeys) {
    await db.query(`ALTER TABLE ${fk.table} ADD CONSTRAINT ${quoteIdent(fk.name)} ${fk.def}`);
  }
  const t2 = performance.now();
  return { indexes: (t1 - t0) / 1000, foreignKeys: (t2 - t1) / 1000 };
}

/** Throws unless two snapshots are identical. */
export function assertSameSchema(before: SchemaObject[], after: SchemaObject[]): void {
  const key = (o: SchemaObject) => `${o.table} ${o.kind} ${o.name}: ${o.def}`;
  const a = new Set(before.map(key));
  const b = new Set(after.map(key));
  const missing = [...a].filter((x) => !b.has(x));
  const extra = [...b].filter((x) => !a.has(x));
  if (missing.length || extra.length) {
    throw new Error(
      `the schema differs after the load:\n  missing: ${missing.join('\n    ') || '-'}\n  extra: ${extra.join('\n    ') || '-'}`,
    );
  }
}
