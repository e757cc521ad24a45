import type { PostgresServer } from './postgres-server';
import type { RedisServer } from './redis-server';

export default async function globalTeardown(): Promise<void> {
  const servers = globalThis as { __rolegatePostgres?: PostgresServer; __rolegateRedis?: RedisServer };
  await Promise.all([servers.__rolegatePostgres?.stop(), servers.__rolegateRedis?.stop()]);
}
