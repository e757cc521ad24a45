import { ApolloServer } from '@apollo/server';
import {
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
} from '@apollo/server/plugin/disabled';
import { fastifyApolloHandler } from '@as-integrations/fastify';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type RouteHandlerMethod,
} from 'fastify';
import type { GraphQLError } from 'graphql';
import { openGatewayServices, type GatewayServicesOptions } from '../app/gateway';
import { checkCorsOrigins, DEFAULT_REQUEST_TIMEOUT_MS, type Config } from '../config';
import type { CacheSizes } from '../decisions/caches';
import { authConfigFromEnv, type AuthConfig } from '../identity/tokens';
import type { Store } from '../store';
import { buildContext, type Context } from './context';
import { registerCors } from './cors';
import { registerDevTokenRoute } from './dev-token';
import { DescribedSchemas } from './explorer/described-schema';
import { registerLandingPage, wantsLandingPage, type ExplorerSettings } from './explorer/landing-page';
import { registerSdlRoute } from './explorer/sdl-route';
import {
  asksIntrospectionOnly,
  introspectionContext,
  useDescribedIntrospection,
} from './explorer/use-described-introspection';
import { formatError } from './errors';
import { bodyLimits } from './limits/body-limit';
import { Deadline } from './limits/deadline';
import { armorRefusal, LimitExceededError } from './limits/limit-error';
import { useRequestLimits } from './limits/use-request-limits';
import {
  coprocessorConfigFromEnv,
  registerCoprocessorRoute,
  startCoprocessorSocket,
  type CoprocessorOptions,
} from './http/coprocessor';
import { useEtag } from './http/use-etag';
import { liveOptions, type LiveOptions } from './live/options';
import { useNoHttpSubscriptions } from './live/use-no-http-subscriptions';
import { startLiveServer } from './live/websocket-server';
import { buildSchema } from './schema';

/**
 * Request limits. They are never told to clients: a refusal names the kind of limit (a
 * LimitExceededError: "too many aliases in this operation"), not its value. The limits
 * of the API itself (decisions, expensive fields, input lengths) are in src/api/limits/.
 */
const LIMITS = {
  bodyBytes: 2 * 1024 * 1024,
  /**
   * A request whose operation is only `importUsers`: a 5 MiB workbook is 6.67 MiB in base64, plus the
   * query and JSON's escapes (see limits/body-limit.ts).
   */
  importBodyBytes: 7 * 1024 * 1024,
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
  /** The gateway's own repositories: their writes go through its version protocol. */
  store: Store;
  close(): Promise<void>;
}

export interface GatewayOptions {
  /**
   * The store whose database the gateway serves (its opener closes it). The gateway builds its own
   * repositories over that database, wired to its version protocol: write through `Gateway.store`.
   * With Redis, a write through this `store` itself is not marked or published, and replicas may
   * answer from before it until the next write through a gateway.
   */
  store: Store;
  config: Pick<Config, 'port' | 'env'> &
    Partial<Pick<Config, 'redisUrl' | 'requestTimeoutMs' | 'corsOrigins'>>;
  /**
   * How long a request may run before it is answered REQUEST_TIMEOUT and its work stops. Default:
   * `config.requestTimeoutMs`, else 10 s.
   */
  requestTimeoutMs?: number;
  auth?: AuthConfig;
  /** Where masked errors and start-up notes go. Default: stderr, one JSON line each. */
  log?: (entry: Record<string, unknown>) => void;
  host?: string;
  /** What is kept in process (default on, default sizes); false reads the store for every request, Redis or not. */
  cache?: false | CacheSizes;
  /**
   * Benchmarks only (default strict): false trusts the last version this process heard of instead of
   * reading one per request, which breaks the consistency promise. It measures what strictness costs.
   */
  strictVersions?: false;
  /**
   * Subscriptions over WebSocket (graphql-ws) at /graphql; each bound has its default in
   * src/api/live/options.ts: 20 subscriptions per connection, 10,000 connections, 10 s to send
   * `connection_init`, 64 KiB per message, credentials checked again every 5 s, a ping every 12 s.
   */
  live?: LiveOptions;
  /**
   * The approvals' background work (expiry sweep every 5 s, the notification outbox worker, its
   * settings from the environment by default: see GatewayServicesOptions.approvals). False: none.
   */
  approvals?: GatewayServicesOptions['approvals'];
  /**
   * Development only: what the landing page's explorer (GraphiQL, at `/`) opens with, e.g. the demo
   * owner's token on a first start. Default: the endpoint and an example query, no headers.
   */
  explorer?: ExplorerSettings;
  /**
   * The router coprocessor for `@policy` at POST /federation/coprocessor (see src/api/http/coprocessor.ts):
   * default from the environment (claims not trusted, faults answered false, no Unix socket).
   */
  coprocessor?: Partial<CoprocessorOptions>;
}

/**
 * Builds and starts the gateway: GraphQL at /graphql (queries and mutations over HTTP, subscriptions
 * over WebSocket), liveness at /healthz, readiness at /readyz.
 */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const { config } = options;
  const log =
    options.log ??
    ((entry) => process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`));
  const development = config.env === 'development';
  const logError = (err: unknown) => log({ level: 'error', msg: 'unexpected error', error: describe(err) });
  const requestTimeoutMs = options.requestTimeoutMs ?? config.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  if (!Number.isFinite(requestTimeoutMs) || requestTimeoutMs <= 0)
    throw new RangeError(
      `requestTimeoutMs must be a positive number of milliseconds, got ${requestTimeoutMs}`,
    );
  const live = liveOptions(options.live);
  // Checked before anything is opened: a bad origin (or "*") is a refusal to start, not a leak.
  const corsOrigins = checkCorsOrigins(config.corsOrigins ?? []);
  const { schema, guards } = buildSchema();
  // Development: introspection, the landing page and /schema.graphql describe every field's requirement
  // in the viewer's catalog (one described schema per catalog, made once); production serves none of them.
  const described = development ? new DescribedSchemas(schema, guards) : null;
  const auth = options.auth ?? authConfigFromEnv();
  const coprocessor = { ...coprocessorConfigFromEnv(), ...options.coprocessor };

  const services = await openGatewayServices({
    db: options.store.db,
    env: config.env,
    redisUrl: config.redisUrl,
    cache: options.cache,
    auth,
    log,
    strictVersions: options.strictVersions,
    approvals: options.approvals,
  });
  const { store, metrics } = services;
  const deps = { ...services, requestTimeoutMs };

  // Each refusal is a LimitExceededError naming its kind (armor's own says "Syntax Error: Query
  // validation error." for every kind).
  const armor = new ApolloArmor({
    maxDepth: { n: LIMITS.depth, ...armorRefusal('depth') },
    maxAliases: { n: LIMITS.aliases, ...armorRefusal('aliases') },
    maxDirectives: { n: LIMITS.directives, ...armorRefusal('directives') },
    // Tokens are limited by graphql's own parser (parseOptions below; formatError names the kind):
    // armor's token plugin re-parses in a plugin hook, and a syntax error thrown there became a 500.
    maxTokens: { enabled: false },
    costLimit: { maxCost: LIMITS.cost, ...armorRefusal('cost') },
    // Suggestions are hidden by graphql itself (validationOptions) and by formatError, every kind of them.
    blockFieldSuggestion: { enabled: false },
  }).protect();

  const apollo = new ApolloServer<Context>({
    schema,
    introspection: development,
    allowBatchedHttpRequests: false,
    // The process's signals are the caller's (`rolegate serve` closes the gateway, then the store, on
    // SIGTERM/SIGINT). Apollo's own handler would stop Apollo alone and then re-raise the signal, ending the
    // process before the store is closed (exit by SIGTERM, 143 in a container, instead of 0).
    stopOnTerminationSignals: false,
    includeStacktraceInErrorResponses: false,
    validationRules: armor.validationRules,
    validationOptions: { hideSuggestions: !development },
    parseOptions: { maxTokens: LIMITS.tokens },
    plugins: [
      ...armor.plugins,
      useRequestLimits<Context>(),
      useNoHttpSubscriptions<Context>(),
      useEtag<Context>(),
      ...(described ? [useDescribedIntrospection(described)] : []),
      // A subgraph schema would turn on Apollo's inline traces (ftv1): resolver timings for whoever
      // sends the header. rolegate reports its own metrics instead (/metrics).
      ApolloServerPluginInlineTraceDisabled(),
      // Development's landing page is the gateway's own (registerLandingPage, below), not Apollo's: that
      // one loads the Sandbox from a CDN, and stays blank without internet access.
      ApolloServerPluginLandingPageDisabled(),
    ],
    formatError: (formatted, error) =>
      formatError(formatted, error, logError, { hideSuggestions: !development }),
  });
  await apollo.start();

  const app = Fastify({ bodyLimit: LIMITS.bodyBytes, logger: false });
  // Before any route: preflights from the listed origins are answered before anything else runs.
  await registerCors(app, corsOrigins);
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _req, reply) => {
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      const limit = new LimitExceededError('body');
      return reply.status(413).send({ errors: [{ message: limit.message, extensions: limit.extensions }] });
    }
    // Fastify's own refusals (bad JSON, a media type it cannot read) keep their status and message;
    // nothing else leaks.
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
      services.redisUp(),
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
  // The routers' coprocessor for `@policy`: not GraphQL, its own body limit and answers.
  registerCoprocessorRoute(app, deps, coprocessor, logError);
  // Development only, with the development signing key (tokens of an identity provider are its own).
  if (development && !auth.jwksUrl && !auth.publicKey) registerDevTokenRoute(app, store, auth);
  const landing = described ? registerLandingPage(app, { settings: options.explorer }) : null;
  if (described)
    registerSdlRoute(
      app,
      described,
      async (authorization) => (await buildContext(deps, { authorization })).authz.catalog.catalog,
    );
  // The route @as-integrations/fastify's plugin would register, with the import's larger body limit,
  // less OPTIONS: Apollo has no answer to a preflight but its CSRF refusal. A listed origin's
  // preflight is answered by CORS (see cors.ts); any other OPTIONS gets the 405 below.
  app.route({
    method: ['GET', 'POST'],
    url: '/graphql',
    bodyLimit: LIMITS.importBodyBytes,
    preHandler: bodyLimits(app, { ...LIMITS, maxTokens: LIMITS.tokens }),
    handler: landingPageFirst(
      landing,
      notModified(
        fastifyApolloHandler(apollo, {
          context: async (req) => {
            // The request's deadline, counted from here (authentication included); see limits/deadline.ts.
            const deadline = new Deadline(requestTimeoutMs);
            // Development: an explorer without a token still reads the schema (the generic wording).
            if (
              described &&
              !req.headers.authorization &&
              asksIntrospectionOnly((req.method === 'GET' ? req.query : req.body) as never, LIMITS.tokens)
            )
              return introspectionContext(deadline);
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
        }),
      ),
    ),
  });

  // Subscriptions: the same port and path, over WebSocket; the same parse, validation and input limits
  // and the same error masking as HTTP, and the same authentication, per operation and per event.
  const liveServer = startLiveServer({
    server: app.server,
    path: '/graphql',
    schema,
    validationRules: armor.validationRules ?? [],
    maxTokens: LIMITS.tokens,
    hideSuggestions: !development,
    context: (credentials) => buildContext(deps, credentials, new Deadline(requestTimeoutMs)),
    formatError: (error: GraphQLError) =>
      formatError(error.toJSON(), error.originalError ?? error, logError, { hideSuggestions: !development }),
    logError,
    limits: live,
  });

  await app.listen({ port: config.port, host: options.host ?? '127.0.0.1' });
  const coprocessorSocket = coprocessor.socket
    ? await startCoprocessorSocket(coprocessor.socket, deps, coprocessor, logError).catch(async (err) => {
        await liveServer.close();
        await app.close();
        await apollo.stop();
        await services.close();
        throw err;
      })
    : undefined;
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${port}/graphql`,
    port,
    app,
    store,
    async close() {
      // WebSockets first (closed 1001): the HTTP server's close waits for every socket it upgraded.
      await liveServer.close();
      await app.close();
      await coprocessorSocket?.close();
      await apollo.stop();
      await services.close();
    },
  };
}

/** Development: a browser opening /graphql itself gets the landing page (GraphiQL) instead. */
function landingPageFirst<H extends (this: FastifyInstance, request: never, reply: never) => unknown>(
  landing: { send(req: FastifyRequest, reply: FastifyReply): FastifyReply } | null,
  handler: H,
): H {
  if (!landing) return handler;
  const wrapped = async function (this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) {
    if (wantsLandingPage(request)) return landing.send(request, reply);
    return (handler as unknown as RouteHandlerMethod).call(this, request, reply);
  };
  return wrapped as unknown as H;
}

/**
 * A 304 (an ETag the client already holds, `useEtag`) is sent with no body, and without the length of
 * the body it replaces.
 */
function notModified<H extends (this: FastifyInstance, request: never, reply: never) => unknown>(
  handler: H,
): H {
  const wrapped = async function (this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) {
    const body = await (handler as unknown as RouteHandlerMethod).call(this, request, reply);
    return reply.statusCode === 304 ? reply.send() : body;
  };
  return wrapped as unknown as H;
}

function describe(err: unknown): unknown {
  return err instanceof Error
    ? { name: err.name, message: err.message, stack: err.stack, cause: describe(err.cause) }
    : err;
}
