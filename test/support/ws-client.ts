import { createClient, type Client, type FormattedExecutionResult } from 'graphql-ws';
import WebSocket from 'ws';
import type { LiveOptions } from '../../src/api/live/options';
import { developmentSecret, signDevelopmentToken } from '../../src/identity/tokens';
import { startTestGateway, TEST_AUTH, type TestGateway } from './gateway';
import type { Backend } from './stores';

/** One `next` message's payload. */
export type LiveResult = FormattedExecutionResult<Record<string, any>, unknown>;

/** How a socket ended: its close code and reason. */
export interface Closed {
  code: number;
  reason: string;
}

/**
 * A real gateway as startTestGateway starts one, with the given bounds of its live subscriptions
 * (tests use short intervals and small limits).
 */
export async function startLiveGateway(
  kind: Backend,
  live: LiveOptions,
  options: { redisUrl?: string; databaseUrl?: string } = {},
): Promise<TestGateway & { wsUrl: string }> {
  const t = await startTestGateway(kind, { ...options, live });
  return { ...t, wsUrl: t.url.replace(/^http/, 'ws') };
}

/** A short-lived token (`ttl` as jose reads it, e.g. '1s'), signed as the test gateways expect. */
export async function shortToken(t: TestGateway, orgId: string, userId: string, ttl: string) {
  return signDevelopmentToken(await developmentSecret(t.store, TEST_AUTH), { orgId, userId }, TEST_AUTH, ttl);
}

/** One subscription as a client sees it: its results, and how it ended. */
export interface LiveSubscription {
  results: LiveResult[];
  /** The `error` message's errors, or the close event that ended it. */
  error?: unknown;
  completed: boolean;
  /** Settles when the subscription ended (completed or errored). */
  ended: Promise<void>;
  /** The next result not yet taken (results are taken in order); rejects after `timeoutMs`. */
  next(timeoutMs?: number): Promise<LiveResult>;
  stop(): void;
}

export interface LiveClient {
  client: Client;
  /** Settles with the first close of the socket. */
  closed: Promise<Closed>;
  /** Settles once the server acknowledged `connection_init`. */
  connected: Promise<void>;
  subscribe(query: string, variables?: Record<string, unknown>): LiveSubscription;
  dispose(): Promise<void>;
}

/**
 * The graphql-ws client Apollo Client and urql use, over `ws`, connecting at once and never retrying:
 * a test sees the first close as it happened.
 */
export function liveClient(
  url: string,
  connectionParams?: Record<string, unknown>,
  options: { headers?: Record<string, string> } = {},
): LiveClient {
  let onClosed!: (c: Closed) => void;
  const closed = new Promise<Closed>((resolve) => (onClosed = resolve));
  let onConnected!: () => void;
  const connected = new Promise<void>((resolve) => (onConnected = resolve));
  const headers = options.headers;
  const impl = headers
    ? class extends WebSocket {
        constructor(address: string, protocols?: string | string[]) {
          super(address, protocols, { headers });
        }
      }
    : WebSocket;
  const client = createClient({
    url,
    webSocketImpl: impl,
    connectionParams,
    lazy: false,
    retryAttempts: 0,
    onNonLazyError: () => {},
    on: {
      connected: () => onConnected(),
      closed: (event) => {
        const e = event as { code: number; reason: string | Buffer };
        onClosed({ code: e.code, reason: String(e.reason) });
      },
    },
  });
  return {
    client,
    closed,
    connected,
    subscribe(query, variables) {
      const results: LiveResult[] = [];
      const waiting: ((r: LiveResult) => void)[] = [];
      let taken = 0;
      let onEnd!: () => void;
      const sub: LiveSubscription = {
        results,
        completed: false,
        ended: new Promise<void>((resolve) => (onEnd = resolve)),
        next(timeoutMs = 5_000) {
          if (taken < results.length) return Promise.resolve(results[taken++]!);
          return new Promise((resolve, reject) => {
            const timer = setTimeout(
              () => reject(new Error(`no result within ${timeoutMs} ms (error: ${inspect(sub.error)})`)),
              timeoutMs,
            );
            waiting.push((r) => {
              clearTimeout(timer);
              taken++;
              resolve(r);
            });
          });
        },
        stop: () => unsubscribe(),
      };
      const unsubscribe = client.subscribe(
        { query, variables },
        {
          next: (r) => {
            results.push(r);
            waiting.shift()?.(r);
          },
          error: (e) => {
            sub.error = e;
            onEnd();
          },
          complete: () => {
            sub.completed = true;
            onEnd();
          },
        },
      );
      return sub;
    },
    dispose: async () => {
      await client.dispose();
    },
  };
}

/** A bare socket speaking graphql-transport-ws by hand, for what a well-behaved client never sends. */
export interface RawSocket {
  socket: WebSocket;
  messages: Record<string, any>[];
  closed: Promise<Closed>;
  opened: Promise<void>;
  send(message: unknown): void;
  /** The first message of `type` not taken yet, waiting up to `timeoutMs` for one. */
  message(type: string, timeoutMs?: number): Promise<Record<string, any>>;
}

export function rawSocket(
  url: string,
  protocol: string | string[] = 'graphql-transport-ws',
  headers?: Record<string, string>,
): RawSocket {
  const socket = new WebSocket(url, protocol, headers ? { headers } : {});
  const messages: Record<string, any>[] = [];
  const listeners = new Set<() => void>();
  socket.on('message', (data) => {
    try {
      messages.push(JSON.parse(String(data)));
    } catch {
      messages.push({ type: '(not JSON)', raw: String(data) });
    }
    for (const l of [...listeners]) l();
  });
  socket.on('error', () => {});
  const closed = new Promise<Closed>((resolve) =>
    socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  const opened = new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    socket.once('close', () => reject(new Error('closed before it opened')));
  });
  opened.catch(() => {});
  const taken = new Set<number>();
  return {
    socket,
    messages,
    closed,
    opened,
    send: (m) => socket.send(typeof m === 'string' ? m : JSON.stringify(m)),
    message(type, timeoutMs = 5_000) {
      return new Promise((resolve, reject) => {
        const look = () => {
          const i = messages.findIndex((m, j) => m.type === type && !taken.has(j));
          if (i < 0) return;
          taken.add(i);
          listeners.delete(look);
          clearTimeout(timer);
          resolve(messages[i]!);
        };
        const timer = setTimeout(() => {
          listeners.delete(look);
          reject(new Error(`no ${type} message within ${timeoutMs} ms: ${JSON.stringify(messages)}`));
        }, timeoutMs);
        listeners.add(look);
        look();
      });
    },
  };
}

function inspect(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}
