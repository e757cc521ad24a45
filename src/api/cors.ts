import fastifyCors from '@fastify/cors';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { checkCorsOrigins } from '../config';

/**
 * The request headers a browser app may send to /graphql: the token, JSON, Apollo's CSRF header and
 * operation name, a request id, Apollo Client's client awareness, and If-None-Match for polling
 * with an ETag.
 */
export const CORS_ALLOWED_HEADERS = [
  'authorization',
  'content-type',
  'apollo-require-preflight',
  'x-apollo-operation-name',
  'x-request-id',
  'apollographql-client-name',
  'apollographql-client-version',
  'if-none-match',
];

/** The response headers a browser app may read: the ETag of polled answers, and the 401's challenge. */
export const CORS_EXPOSED_HEADERS = ['etag', 'www-authenticate'];

/** How long a browser may keep a preflight's answer (Chromium caps it at 2 h): 10 minutes. */
const PREFLIGHT_MAX_AGE_S = 600;

/** The only path answered to other origins; /dev/token, /metrics and the health checks never are. */
const CORS_PATHS = new Set(['/graphql']);

/**
 * CORS for the listed origins (exact matches), on /graphql only, with @fastify/cors. A listed origin
 * gets its own origin back, credentials allowed, and its preflights (OPTIONS with
 * Access-Control-Request-Method) answered 204 before authentication or GraphQL see them. Any other
 * origin gets no CORS header, and its preflight is not answered (405, like any OPTIONS /graphql):
 * the browser then blocks the request. Every answer varies by Origin, so a cache never serves one
 * origin's headers to another.
 *
 * CORS only widens what browsers allow; Apollo's CSRF prevention still refuses the simple requests
 * (a text/plain POST, a GET without `apollo-require-preflight`) that a page could send without a
 * preflight, listed origin or not.
 */
export async function registerCors(app: FastifyInstance, origins: readonly string[]): Promise<void> {
  const allowed = new Set(checkCorsOrigins(origins));
  if (!allowed.size) return;
  await app.register(fastifyCors, {
    hook: 'onRequest',
    delegator: (req: FastifyRequest, callback) => {
      const origin = req.headers.origin;
      const listed =
        typeof origin === 'string' && allowed.has(origin) && CORS_PATHS.has(req.url.split('?')[0]!);
      callback(
        null,
        listed
          ? {
              origin,
              credentials: true,
              methods: ['GET', 'POST'],
              allowedHeaders: CORS_ALLOWED_HEADERS,
              exposedHeaders: CORS_EXPOSED_HEADERS,
              maxAge: PREFLIGHT_MAX_AGE_S,
              strictPreflight: true,
            }
          : { origin: false },
      );
    },
  });
}
