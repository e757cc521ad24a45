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
  /**
   * ROLEGATE_REQUEST_TIMEOUT_MS — how long a request may run before it is answered REQUEST_TIMEOUT and
   * its work stops. Default 10000 (10 s).
   */
  requestTimeoutMs: number;
}

/** The request deadline when ROLEGATE_REQUEST_TIMEOUT_MS is unset. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

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
  const timeout =
    flags.requestTimeoutMs ?? numberOr(env.ROLEGATE_REQUEST_TIMEOUT_MS, DEFAULT_REQUEST_TIMEOUT_MS);
  if (!Number.isInteger(timeout) || timeout < 1)
    throw new ConfigError(
      `ROLEGATE_REQUEST_TIMEOUT_MS must be a whole number of milliseconds, got "${env.ROLEGATE_REQUEST_TIMEOUT_MS}"`,
    );
  return {
    port,
    databaseUrl: flags.databaseUrl ?? (env.DATABASE_URL || undefined),
    dataDir: flags.dataDir ?? (env.ROLEGATE_DATA_DIR || './data'),
    redisUrl: flags.redisUrl ?? (env.REDIS_URL || undefined),
    env: mode,
    requestTimeoutMs: timeout,
  };
}

function numberOr(text: string | undefined, fallback: number): number {
  return text === undefined || text === '' ? fallback : Number(text);
}

const SECONDS: Record<string, number> = { s: 1, m: 60, h: 3_600, d: 86_400, w: 604_800 };

/**
 * A duration in seconds: a number of seconds (`3600`) or a number and a unit (`90s`, `15m`, `1h`,
 * `7d`, `2w`, also spelled out: `1 hour`, `30 minutes`), as jose writes them. Throws ConfigError
 * naming `setting` otherwise.
 */
export function parseDuration(text: string, setting: string): number {
  const match =
    /^\s*(\d+(?:\.\d+)?)\s*(s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?|w|weeks?)?\s*$/i.exec(
      text,
    );
  const seconds = match ? Number(match[1]) * SECONDS[(match[2] ?? 's')[0]!.toLowerCase()]! : NaN;
  if (!Number.isFinite(seconds) || seconds <= 0)
    throw new ConfigError(`${setting} must be a duration such as 3600, "15m" or "1h", got "${text}"`);
  return seconds;
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
