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
  /** Called for every statement sent (the gateway's `rolegate_store_queries_total`). Default none. */
  onStatement?: () => void;
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
