/**
 * The two backends behind one small interface: PostgreSQL through `pg` when a connection string is
 * given, PGlite (PostgreSQL compiled to WASM) persisted to a folder otherwise. Both run the same SQL
 * and the same migrations. Every statement is parameterized; nothing builds SQL from input.
 */
export interface Queryable {
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<R[]>;
  /** Runs a script of several statements, without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

export interface Db extends Queryable {
  readonly kind: 'postgres' | 'pglite';
  /**
   * The embedded store only: each organization's version as this process's writes left it. One process
   * makes every write to an embedded store, so what it knows is current (see consistency/versions.ts).
   */
  readonly known?: KnownVersions;
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface DbConfig {
  /** PostgreSQL connection string; unset = the embedded store. */
  databaseUrl?: string;
  /** The embedded store's folder (default `./data`), or `memory://` for a throwaway one. */
  dataDir?: string;
  /** Connections in the PostgreSQL pool (default 10). */
  poolSize?: number;
}

export async function openDb(config: DbConfig): Promise<Db> {
  if (config.databaseUrl) {
    const { openPostgres } = await import('./postgres');
    return openPostgres(config.databaseUrl, config.poolSize ?? 10);
  }
  const { openPglite } = await import('./pglite');
  return openPglite(config.dataDir ?? './data');
}

/** Organizations' versions known in process: they only move forward. */
export class KnownVersions {
  private readonly versions = new Map<string, bigint>();

  get(orgId: string): string | undefined {
    return this.versions.get(orgId)?.toString();
  }

  advance(orgId: string, version: string): void {
    const v = BigInt(version);
    const kept = this.versions.get(orgId);
    if (kept === undefined || v > kept) this.versions.set(orgId, v);
  }

  clear(): void {
    this.versions.clear();
  }
}

/**
 * The same database, counting every statement sent through it (the gateway's
 * `rolegate_store_queries_total`): a gateway counts its own statements, not another's over the same
 * database. Transaction control (BEGIN, COMMIT) is not counted.
 */
export function countingDb(db: Db, count: () => void): Db {
  const counted = (q: Queryable): Queryable => ({
    query: (sql, params) => {
      count();
      return q.query(sql, params);
    },
    exec: (sql) => {
      count();
      return q.exec(sql);
    },
  });
  return {
    ...counted(db),
    kind: db.kind,
    known: db.known,
    transaction: (fn) => db.transaction((tx) => fn(counted(tx))),
    close: () => db.close(),
  };
}
