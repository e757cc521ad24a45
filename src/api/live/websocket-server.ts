import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  GraphQLError,
  type ExecutionResult,
  type FormattedExecutionResult,
  type GraphQLFormattedError,
} from 'graphql';
import { handleProtocols, makeServer } from 'graphql-ws';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Context } from '../context';
import { ErrorCode, isAuthenticationCode } from '../errors';
import { credentialsOf, type Credentials } from './credentials';
import { contextOfEvent } from './event';
import { prepareSubscription, subscribeEach, type OperationRules } from './operation';
import { LiveClose, type LiveOptions } from './options';
import { startRecheck } from './recheck';

/** How long a shutdown waits for clients to answer the close before dropping their sockets. */
const SHUTDOWN_GRACE_MS = 1_000;
/** A WebSocket close reason holds at most 123 bytes. */
const MAX_REASON_BYTES = 123;

export interface LiveServerOptions extends OperationRules {
  /** The HTTP server whose upgrades to `path` are taken (Fastify's `app.server`). */
  server: Server;
  path: string;
  /** Authenticates credentials into a request context, as HTTP does (buildContext); throws as it does. */
  context(credentials: Credentials): Promise<Context>;
  /** The error a client sees (the gateway's formatError: masked, and logged, when unexpected). */
  formatError(error: GraphQLError): GraphQLFormattedError;
  /** Where an unexpected error outside any operation goes, whole. */
  logError(err: unknown): void;
  limits: Required<LiveOptions>;
}

export interface LiveServer {
  /** Open WebSocket connections. */
  connections(): number;
  /** Refuses new connections, closes every open one (1001), and waits for their subscriptions to end. */
  close(): Promise<void>;
}

/** One socket: who it authenticated as (once `connection_init` was accepted). */
interface Connection {
  socket: WebSocket;
  request: IncomingMessage;
  credentials?: Credentials;
  /** Who it authenticated as (`<org>:<user or key>`), for the per-viewer bound. */
  viewer?: string;
  closing: boolean;
}

/** Why a context could not be built, as a close: its code and reason; null to keep the connection. */
type Refusal = { code: number; reason: string } | null;

/**
 * GraphQL subscriptions over WebSocket (the graphql-ws protocol, `graphql-transport-ws`) on the HTTP
 * server's port and path. A connection authenticates in `connection_init` as an HTTP request does;
 * every subscription gets a context of its own, and every event is executed in a new one (see
 * subscribeEach); the credentials are checked again every `recheckMs`, and a connection whose
 * credentials stop working is closed. Only subscriptions are served: queries and mutations are HTTP's.
 *
 * graphql-ws's own `useServer` is not used: it writes to the console, and in development tells the
 * client the message of any unexpected error. This is the same wiring with the gateway's log, bounds
 * and shutdown.
 */
export function startLiveServer(options: LiveServerOptions): LiveServer {
  const { limits } = options;
  const open = new Set<Connection>();
  /** Work that must end before close() returns: message handlers and subscription clean-ups. */
  const pending = new Set<Promise<unknown>>();
  /** A subscription's context: its connection, and what is aborted when it ends. */
  const subscriptionOf = new WeakMap<object, { connection: Connection; ended: AbortController }>();
  let closing = false;

  const track = (work: Promise<unknown>) => {
    pending.add(work);
    void work.finally(() => pending.delete(work));
  };

  const close = (connection: Connection, code: number, reason: string) => {
    if (connection.closing) return;
    connection.closing = true;
    const { socket } = connection;
    if (socket.readyState === socket.OPEN || socket.readyState === socket.CONNECTING)
      socket.close(code, clip(reason));
  };

  /**
   * What a failure to build a context means for a connection: a close, or null to keep it. Once the
   * connection is open, only refused credentials close it; other errors are the operation's (sent to
   * the client formatted, and logged there when unexpected). At connect, unexpected ones are logged.
   */
  const refusalOf = (err: unknown, phase: 'connect' | 'open'): Refusal => {
    const code = codeOf(err);
    if (isAuthenticationCode(code)) {
      // An expired token's reason starts with its code (`TOKEN_EXPIRED: …`), as HTTP's error says it,
      // so a client refreshes the token rather than signing the user out.
      const expired = code === ErrorCode.TOKEN_EXPIRED ? `${code}: ` : '';
      const message = (err as GraphQLError).message;
      return phase === 'connect'
        ? { code: LiveClose.UNAUTHORIZED, reason: `${expired}${message}` }
        : {
            code: LiveClose.CREDENTIALS_REVOKED,
            reason: `${expired}credentials no longer accepted: ${message}`,
          };
    }
    if (phase === 'open') return null;
    if (code === ErrorCode.UNAVAILABLE)
      return {
        code: LiveClose.TRY_AGAIN_LATER,
        reason: 'the gateway cannot decide anything now: try again later',
      };
    options.logError(err);
    return { code: LiveClose.INTERNAL_ERROR, reason: 'Internal server error' };
  };

  const format = (error: GraphQLError) => options.formatError(error);
  const formatResult = (result: ExecutionResult): FormattedExecutionResult => ({
    ...result,
    ...(result.errors ? { errors: result.errors.map(format) } : {}),
  });

  const graphqlWs = makeServer<Record<string, unknown> | undefined, Connection>({
    schema: options.schema,
    connectionInitWaitTimeout: limits.connectionInitTimeoutMs,

    async onConnect(ctx) {
      const connection = ctx.extra;
      // Already being closed (over the connection bound, shutting down): nothing to authenticate.
      if (connection.closing) return false;
      const credentials = credentialsOf(ctx.connectionParams, connection.request);
      if (typeof credentials === 'string') {
        close(connection, LiveClose.UNAUTHORIZED, credentials);
        return false;
      }
      let viewer: string;
      try {
        const { viewer: v } = await options.context(credentials);
        viewer = `${v.orgId}:${v.kind === 'user' ? v.userId : `apikey:${v.keyId}`}`;
      } catch (err) {
        const refusal = refusalOf(err, 'connect')!;
        close(connection, refusal.code, refusal.reason);
        return false;
      }
      if (connection.closing) return false;
      // One viewer cannot take every connection of the gateway (nor multiply the work of each change).
      let same = 0;
      for (const c of open) if (c.viewer === viewer) same++;
      if (same >= limits.maxConnectionsPerViewer) {
        close(
          connection,
          LiveClose.TRY_AGAIN_LATER,
          'too many connections for these credentials: close some',
        );
        return false;
      }
      connection.credentials = credentials;
      connection.viewer = viewer;
      return true;
    },

    async onSubscribe(ctx, _id, payload) {
      const connection = ctx.extra;
      // graphql-ws has already counted this one among the connection's subscriptions.
      if (Object.keys(ctx.subscriptions).length > limits.maxSubscriptionsPerConnection)
        return [
          new GraphQLError(
            'too many subscriptions on this connection: complete one, or open another connection',
            { extensions: { code: 'BAD_REQUEST' } },
          ),
        ];
      const prepared = prepareSubscription(options, payload);
      if (Array.isArray(prepared)) return prepared;
      let context: Context;
      try {
        context = await options.context(connection.credentials!);
      } catch (err) {
        const refusal = refusalOf(err, 'open');
        if (refusal) close(connection, refusal.code, refusal.reason);
        return [asGraphQLError(err)];
      }
      // Aborted when the subscription ends (the source itself stops listening on its own `return()`).
      const ended = new AbortController();
      subscriptionOf.set(context, { connection, ended });
      return {
        schema: options.schema,
        document: prepared.document,
        operationName: payload.operationName,
        variableValues: payload.variables,
        contextValue: context,
      };
    },

    subscribe(args) {
      const { connection, ended } = subscriptionOf.get(args.contextValue as object)!;
      return subscribeEach(args, {
        eventContext: async (event) => {
          const decided = contextOfEvent(event);
          if (decided) return { context: decided };
          if (connection.closing) return null;
          try {
            return { context: await options.context(connection.credentials!) };
          } catch (err) {
            const refusal = refusalOf(err, 'open');
            if (!refusal) return { result: { errors: [asGraphQLError(err)] } };
            close(connection, refusal.code, refusal.reason);
            return null;
          }
        },
        onSourceError: (err) => {
          // The source decides events in a fresh context: credentials refused there end the connection.
          const refusal = refusalOf(err, 'open');
          if (refusal) close(connection, refusal.code, refusal.reason);
        },
        onEnd: () => ended.abort(),
      });
    },

    onNext: (_ctx, _id, _payload, _args, result) => formatResult(result),
    onError: (_ctx, _id, _payload, errors) => errors.map(format),
  });

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: limits.maxMessageBytes,
    perMessageDeflate: false,
    handleProtocols: (protocols) => handleProtocols(protocols),
  });

  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    if ((request.url ?? '').split('?')[0] !== options.path) return refuseUpgrade(socket, 404, 'Not Found');
    if (closing) return refuseUpgrade(socket, 503, 'Service Unavailable');
    wss.handleUpgrade(request, socket, head, (ws) => accept(ws, request));
  };
  options.server.on('upgrade', onUpgrade);

  const accept = (socket: WebSocket, request: IncomingMessage) => {
    const connection: Connection = { socket, request, closing: false };
    open.add(connection);
    // A client breaking the WebSocket protocol (a frame too large, bad UTF-8): ws closes the socket
    // itself (1009, 1007, 1002); that is the client's problem, not one to log.
    socket.on('error', () => {});
    if (closing) close(connection, LiveClose.GOING_AWAY, 'the gateway is shutting down');
    else if (open.size > limits.maxConnections)
      close(connection, LiveClose.TRY_AGAIN_LATER, 'too many connections on this gateway: try again later');

    // Keep-alive: a socket that has not answered the previous ping by the next one is gone.
    let alive = true;
    socket.on('pong', () => (alive = true));
    const keepAlive = setInterval(() => {
      if (!alive) return socket.terminate();
      alive = false;
      socket.ping();
    }, limits.keepAliveMs);
    keepAlive.unref();

    const closed = graphqlWs.opened(
      {
        protocol: socket.protocol,
        send: (data) =>
          new Promise<void>((resolve, reject) => {
            if (socket.readyState !== socket.OPEN) return resolve();
            socket.send(data, (err) => (err ? reject(err) : resolve()));
          }),
        close: (code, reason) => close(connection, code ?? LiveClose.BAD_REQUEST, reason ?? ''),
        onMessage: (handle) =>
          socket.on('message', (data) => {
            track(
              handle(String(data)).catch((err) => {
                // A send to a socket that closed meanwhile is no error; anything else is ours.
                if (socket.readyState !== socket.OPEN) return;
                options.logError(err);
                close(connection, LiveClose.INTERNAL_ERROR, 'Internal server error');
              }),
            );
          }),
      },
      connection,
    );
    socket.once('close', (code, reason) => {
      clearInterval(keepAlive);
      open.delete(connection);
      connection.closing = true;
      track(closed(code, reason.toString()).catch(options.logError));
    });
  };

  const recheck = startRecheck({
    everyMs: limits.recheckMs,
    connections: () => open,
    credentialOf: (c) => (c.credentials && !c.closing ? (c.credentials.authorization ?? '') : undefined),
    check: async (_credential, connections) => {
      try {
        await options.context(connections[0]!.credentials!);
      } catch (err) {
        const refusal = refusalOf(err, 'open');
        if (refusal) for (const c of connections) close(c, refusal.code, refusal.reason);
        // The store out of reach decides nothing: the connection stays, and its events say so.
        else if (codeOf(err) !== ErrorCode.UNAVAILABLE) options.logError(err);
      }
    },
    onError: options.logError,
  });

  return {
    connections: () => open.size,
    async close() {
      closing = true;
      await recheck.stop();
      for (const connection of open) close(connection, LiveClose.GOING_AWAY, 'the gateway is shutting down');
      // Clients answer a close at once; those that do not are dropped.
      const deadline = Date.now() + SHUTDOWN_GRACE_MS;
      while (open.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      for (const connection of open) connection.socket.terminate();
      while (open.size) await new Promise((r) => setTimeout(r, 5));
      // Each closed socket's subscriptions are ended (their sources' return()); a source that does not
      // end when told is not waited for past the grace.
      const settled = Promise.allSettled([...pending]);
      await Promise.race([settled, new Promise((r) => setTimeout(r, SHUTDOWN_GRACE_MS).unref())]);
      options.server.off('upgrade', onUpgrade);
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

/** Answers an upgrade that is not taken with a plain HTTP status, and ends the socket. */
function refuseUpgrade(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

function codeOf(err: unknown): unknown {
  return err instanceof GraphQLError ? err.extensions.code : undefined;
}

function asGraphQLError(err: unknown): GraphQLError {
  return err instanceof GraphQLError
    ? err
    : new GraphQLError(err instanceof Error ? err.message : String(err), {
        originalError: err instanceof Error ? err : undefined,
      });
}

/** At most MAX_REASON_BYTES of UTF-8, cut on a character. */
function clip(reason: string): string {
  if (Buffer.byteLength(reason) <= MAX_REASON_BYTES) return reason;
  let out = '';
  for (const ch of reason) {
    if (Buffer.byteLength(out + ch + '…') > MAX_REASON_BYTES) break;
    out += ch;
  }
  return `${out}…`;
}
