import { randomBytes } from 'node:crypto';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import fastifyApollo from '@as-integrations/fastify';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import Fastify, { type FastifyInstance } from 'fastify';
import { GraphQLError, type ValidationRule } from 'graphql';
import { authConfigFromEnv, Authenticator, type AuthConfig } from '../identity/tokens';
import { OrgStates } from '../decisions/org-state';
import { L1Cache, type L1Options } from '../cache/l1';
import { SharedCache } from '../cache/redis';
import { Tiers } from '../cache/tiers';
import { DEFAULT_REQUEST_TIMEOUT_MS, type Config } from '../config';
import { Metrics } from '../metrics/metrics';
import { gatewaySecret, type Store } from '../store';
import { buildContext, type Context } from './context';
import { formatError } from './errors';
import { Deadline } from './limits/deadline';
import { useRequestLimits } from './limits/use-request-limits';
import { buildSchema } from './schema';

/** The store's name for the key that signs the shared cache's entries (every replica reads the same). */
const CACHE_KEY_NAME = 'cache_signing_key';

/**
 * Request limits. They are never told to clients (errors say "too deep", not by how much). The limits
 * of the API itself (decisions, expensive fields, input lengths) are in src/api/limits/.
 */
const LIMITS = {
  bodyBytes: 2 * 1024 * 1024,
  depth: 12,
  aliases: 30,
  directives: 20,
  tokens: 20_000,
  cost: 20_000,
};

export interface Gateway {
  url: string;
  port: number;
  app: FastifyInstance;
  close(): Promise<void>;
}

export interface GatewayOptions {
  store: Store;
  config: Pick<Config, 'port' | 'env'> & Partial<Pick<Config, 'redisUrl' | 'requestTimeoutMs'>>;
  /**
   * How long a request may run before it is answered REQUEST_TIMEOUT and its work stops. Default:
   * `config.requestTimeoutMs`, else 10 s.
   */
  requestTimeoutMs?: number;
  auth?: AuthConfig;
  /** Where masked errors and start-up notes go. Default: stderr, one JSON line each. */
  log?: (entry: Record<string, unknown>) => void;
  host?: string;
  /** The cache levels (default on, with L1Cache's default sizes); false reads the store for every request, Redis or not. */
  cache?: false | L1Options;
  /**
   * Benchmarks only (default strict): false trusts the last version this process heard of instead of
   * reading one per request, which breaks the consistency promise. It measures what strictness costs.
   */
  strictVersions?: false;
}

/** Builds and starts the gateway: GraphQL at /graphql, liveness at /healthz, readiness at /readyz. */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const { store, config } = options;
  const log =
    options.log ??
    ((entry) => process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`));
  const development = config.env === 'development';
  const requestTimeoutMs = options.requestTimeoutMs ?? config.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  if (!Number.isFinite(requestTimeoutMs) || requestTimeoutMs <= 0)
    throw new RangeError(
      `requestTimeoutMs must be a positive number of milliseconds, got ${requestTimeoutMs}`,
    );
  const { schema } = buildSchema();

  const metrics = new Metrics();
  store.db.onStatement = () => metrics.storeQueries.inc();
  const cache = options.cache === false ? undefined : new L1Cache(options.cache);
  let shared: SharedCache | undefined;
  if (config.redisUrl && cache) {
    if (store.db.kind === 'pglite') {
      log({ level: 'warn', msg: 'REDIS_URL is not used with the embedded store: one process serves it' });
    } else {
      const macKey = Buffer.from(
        await gatewaySecret(store.db, CACHE_KEY_NAME, () => randomBytes(32).toString('base64url')),
        'base64url',
      );
      shared = new SharedCache(config.redisUrl, { log, metrics, macKey });
      shared.invalidated((orgId, version) => {
        cache.dropOlder(orgId, version);
        store.versions.advance(orgId, version);
      });
      shared.reset(() => {
        cache.clear();
        store.versions.forget();
      });
      await shared.connect();
      if (!shared.up)
        log({ level: 'warn', msg: 'Redis is unreachable: decisions read the store until it is up' });
    }
  }
  // One gateway per Store: the version protocol and the statement counter are set on it.
  store.versions.use({
    shared,
    strict: options.strictVersions !== false,
    observer: { read: (source, n) => metrics.versionReads.inc({ source }, n) },
  });
  const tiers = cache ? new Tiers(cache, shared, metrics) : undefined;
  const authenticator = await Authenticator.create(
    store,
    options.auth ?? authConfigFromEnv(),
    config.env,
    cache?.tokens,
  );
  const deps = {
    store,
    tiers,
    orgStates: new OrgStates(store, tiers),
    authenticator,
    metrics,
    requestTimeoutMs,
  };

  const armor = new ApolloArmor({
    maxDepth: { n: LIMITS.depth, exposeLimits: false },
    maxAliases: { n: LIMITS.aliases, exposeLimits: false },
    maxDirectives: { n: LIMITS.directives, exposeLimits: false },
    // Tokens are limited by graphql's own parser (parseOptions below): armor's token plugin re-parses
    // in a plugin hook, and a syntax error thrown there became a 500.
    maxTokens: { enabled: false },
    costLimit: { maxCost: LIMITS.cost, exposeLimits: false },
    // Suggestions are hidden by graphql itself (validationOptions) and by formatError, every kind of them.
    blockFieldSuggestion: { enabled: false },
  }).protect();

  const apollo = new ApolloServer<Context>({
    schema,
    introspection: development,
    allowBatchedHttpRequests: false,
    includeStacktraceInErrorResponses: false,
    validationRules: [...armor.validationRules, noSubscriptions],
    validationOptions: { hideSuggestions: !development },
    parseOptions: { maxTokens: LIMITS.tokens },
    plugins: [
      ...armor.plugins,
      useRequestLimits<Context>(),
      development
        ? ApolloServerPluginLandingPageLocalDefault({ embed: true })
        : ApolloServerPluginLandingPageDisabled(),
    ],
    formatError: (formatted, error) =>
      formatError(
        formatted,
        error,
        (err) => log({ level: 'error', msg: 'unexpected error', error: describe(err) }),
        { hideSuggestions: !development },
      ),
  });
  await apollo.start();

  const app = Fastify({ bodyLimit: LIMITS.bodyBytes, logger: false });
  app.setErrorHandler((err: Error & { statusCode?: number }, _req, reply) => {
    // Fastify's own refusals (bad JSON, body too large) keep their status and message; nothing else leaks.
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) log({ level: 'error', msg: 'unexpected error', error: describe(err) });
    void reply.status(status).send({
      errors: [
        {
          message: status === 500 ? 'Unexpected error.' : err.message,
          extensions: { code: status === 500 ? 'INTERNAL_SERVER_ERROR' : 'BAD_REQUEST' },
        },
      ],
    });
  });
  app.setNotFoundHandler((req, reply) => {
    const known = req.url.split('?')[0] === '/graphql';
    void reply.status(known ? 405 : 404).send({
      errors: [
        {
          message: known ? 'use GET or POST on /graphql' : 'not found',
          extensions: { code: known ? 'BAD_REQUEST' : 'NOT_FOUND' },
        },
      ],
    });
  });
  app.get('/healthz', async () => ({ status: 'ok' }));
  // Ready while decisions can be made: from the store, or (store down) from Redis at the current
  // version. Without Redis the gateway is ready and says so ("degraded" when it is configured but away).
  app.get('/readyz', async (_req, reply) => {
    const [storeOk, redisOk] = await Promise.all([
      store.db.query('SELECT 1').then(
        () => true,
        () => false,
      ),
      shared ? shared.ping() : Promise.resolve(null),
    ]);
    const body = {
      status: storeOk && redisOk !== false ? 'ready' : storeOk || redisOk ? 'degraded' : 'unavailable',
      store: storeOk ? 'ok' : 'unreachable',
      redis: redisOk === null ? 'not configured' : redisOk ? 'ok' : 'unreachable',
    };
    return reply.status(body.status === 'unavailable' ? 503 : 200).send(body);
  });
  app.get('/metrics', async (_req, reply) => {
    void reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  await app.register(fastifyApollo(apollo), {
    context: async (req) => {
      // The request's deadline, counted from here (authentication included); see limits/deadline.ts.
      const deadline = new Deadline(requestTimeoutMs);
      return buildContext(
        deps,
        {
          authorization: req.headers.authorization,
          requestId:
            typeof req.headers['x-request-id'] === 'string' ? req.headers['x-request-id'] : undefined,
        },
        deadline,
      );
    },
  });

  await app.listen({ port: config.port, host: options.host ?? '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${port}/graphql`,
    port,
    app,
    async close() {
      await app.close();
      await apollo.stop();
      // One gateway per Store: the version protocol and the statement counter are set on it.
      store.versions.use({});
      if (store.db.onStatement) store.db.onStatement = undefined;
      await shared?.close();
    },
  };
}

/** The gateway serves queries and mutations; a subscription is refused before it runs. */
const noSubscriptions: ValidationRule = (context) => ({
  OperationDefinition(node) {
    if (node.operation === 'subscription')
      context.reportError(new GraphQLError('subscriptions are not supported', { nodes: [node] }));
  },
});

function describe(err: unknown): unknown {
  return err instanceof Error
    ? { name: err.name, message: err.message, stack: err.stack, cause: describe(err.cause) }
    : err;
}
