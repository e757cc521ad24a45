import { openDb, migrate } from '../../src/store';
import { startPostgres, type PostgresServer } from './postgres-server';
import { startRedis, type RedisServer } from './redis-server';

/**
 * Once per test run: a PostgreSQL and a Redis for the tests, from DATABASE_URL / REDIS_URL when given,
 * otherwise throwaway servers started here (and stopped by global-teardown.ts). Tests read
 * ROLEGATE_TEST_DATABASE_URL and ROLEGATE_TEST_REDIS_URL.
 */
export default async function globalSetup(): Promise<void> {
  let url = process.env.DATABASE_URL;
  if (!url) {
    const server: PostgresServer = await startPostgres();
    (globalThis as { __rolegatePostgres?: PostgresServer }).__rolegatePostgres = server;
    url = server.url;
  }
  process.env.ROLEGATE_TEST_DATABASE_URL = url;
  let redisUrl = process.env.REDIS_URL;
  if (!redisUrl) {
    const redis: RedisServer = await startRedis();
    (globalThis as { __rolegateRedis?: RedisServer }).__rolegateRedis = redis;
    redisUrl = redis.url;
  }
  process.env.ROLEGATE_TEST_REDIS_URL = redisUrl;
  const db = await openDb({ databaseUrl: url, poolSize: 2 });
  try {
    await migrate(db);
  } finally {
    await db.close();
  }
}
