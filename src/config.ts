/**
 * Configuration from the environment; command-line flags of the same meaning override it. Every
 * setting's default is written next to it.
 */
export interface Config {
  /** PORT — HTTP port of the gateway. Default 4000. */
  port: number;
  /** DATABASE_URL — PostgreSQL connection string. Default unset: the embedded store. */
  databaseUrl?: string;
  /** ROLEGATE_DATA_DIR — the embedded store's folder. Default `./data`. */
  dataDir: string;
  /** REDIS_URL — shared cache. Default unset: in-process cache only. */
  redisUrl?: string;
  /** ROLEGATE_ENV — `development` (default) or `production`. */
  env: 'development' | 'production';
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, flags: Partial<Config> = {}): Config {
  const port = flags.port ?? (env.PORT ? Number(env.PORT) : 4000);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new ConfigError(`PORT must be a port number, got "${env.PORT}"`);
  const mode = flags.env ?? env.ROLEGATE_ENV ?? 'development';
  if (mode !== 'development' && mode !== 'production') {
    throw new ConfigError(`ROLEGATE_ENV must be "development" or "production", got "${mode}"`);
  }
  return {
    port,
    databaseUrl: flags.databaseUrl ?? (env.DATABASE_URL || undefined),
    dataDir: flags.dataDir ?? (env.ROLEGATE_DATA_DIR || './data'),
    redisUrl: flags.redisUrl ?? (env.REDIS_URL || undefined),
    env: mode,
  };
}

/** Where the store is, for messages: never the password of a connection string. */
export function describeStore(config: Pick<Config, 'databaseUrl' | 'dataDir'>): string {
  if (!config.databaseUrl) return `embedded store in ${config.dataDir}`;
  try {
    const url = new URL(config.databaseUrl);
    return `PostgreSQL at ${url.hostname}:${url.port || 5432}${url.pathname}`;
  } catch {
    return 'PostgreSQL';
  }
}

/** Where Redis is, for messages: never its password. */
export function describeRedis(redisUrl: string): string {
  try {
    const url = new URL(redisUrl);
    return `Redis at ${url.hostname}:${url.port || 6379}`;
  } catch {
    return 'Redis';
  }
}
