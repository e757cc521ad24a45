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
  /**
   * ROLEGATE_CORS_ORIGINS — the browser origins (`scheme://host[:port]`, comma-separated, compared
   * exactly) whose pages may call /graphql from another origin. Default none: no CORS headers at all.
   */
  corsOrigins: string[];
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
    corsOrigins: flags.corsOrigins ?? parseCorsOrigins(env.ROLEGATE_CORS_ORIGINS),
  };
}

/**
 * ROLEGATE_CORS_ORIGINS as a list of origins, each exactly as a browser sends it in `Origin`
 * (`http://localhost:5173`: a scheme, a host, a port unless it is the scheme's default; no path, no
 * trailing slash). `*` is refused: the gateway answers with credentials allowed, which browsers never
 * combine with `*`, and a wildcard would let every web page a user visits call the API with the
 * tokens it can get hold of. Throws ConfigError naming the entry.
 */
export function parseCorsOrigins(text: string | undefined): string[] {
  return checkCorsOrigins(
    (text ?? '')
      .split(',')
      .map((o) => o.trim())
      .filter(Boolean),
  );
}

/** The origins unchanged when each is one (see parseCorsOrigins); ConfigError otherwise. */
export function checkCorsOrigins(origins: readonly string[]): string[] {
  for (const origin of origins) {
    if (origin === '*' || origin.includes('*'))
      throw new ConfigError(
        `ROLEGATE_CORS_ORIGINS cannot contain "*": list each origin allowed (e.g. http://localhost:5173); credentials are allowed for those, and browsers refuse them with a wildcard`,
      );
    let url: URL | undefined;
    try {
      url = new URL(origin);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:'))
      throw new ConfigError(
        `ROLEGATE_CORS_ORIGINS: "${origin}" is not an origin: write scheme://host[:port], e.g. http://localhost:5173`,
      );
    if (url.origin !== origin)
      throw new ConfigError(
        `ROLEGATE_CORS_ORIGINS: "${origin}" is not written as browsers send it: write "${url.origin}" (no path, no trailing slash, no default port)`,
      );
  }
  return [...new Set(origins)];
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
