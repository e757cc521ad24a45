import { openDb, migrate } from '../../src/store';
import { startPostgres, type PostgresServer } from './postgres-server';

/**
 * Once per test run: a PostgreSQL for the tests, from DATABASE_URL when given, otherwise a throwaway
 * server started here (and stopped by global-teardown.ts). Tests read ROLEGATE_TEST_DATABASE_URL.
 */
export default async function globalSetup(): Promise<void> {
  let url = process.env.DATABASE_URL;
  if (!url) {
    const server: PostgresServer = await startPostgres();
    (globalThis as { __rolegatePostgres?: PostgresServer }).__rolegatePostgres = server;
    url = server.url;
  }
  process.env.ROLEGATE_TEST_DATABASE_URL = url;
  const db = await openDb({ databaseUrl: url, poolSize: 2 });
  try {
    await migrate(db);
  } finally {
    await db.close();
  }
}
