import type { PostgresServer } from './postgres-server';

export default async function globalTeardown(): Promise<void> {
  await (globalThis as { __rolegatePostgres?: PostgresServer }).__rolegatePostgres?.stop();
}
