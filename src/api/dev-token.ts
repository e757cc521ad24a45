import { isIP } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { developmentTokenFor } from '../identity/dev-token';
import type { AuthConfig } from '../identity/tokens';
import { StoreError, type Store } from '../store';

/** The longest `org` or `user` taken (an id, or an email of at most 320 characters). */
const MAX_FIELD_CHARS = 320;

/**
 * `POST /dev/token` with `{ "org": "<id>", "user": "<email or id>" }`: a development token while the
 * server runs (the embedded store is one process's, so `rolegate token` asks here first). Mounted only
 * in development with the development signing key; it answers only:
 *
 * - callers on a loopback address (the socket's, not a header's), naming a loopback host (`Host`:
 *   localhost, 127.x.x.x, [::1]: a DNS-rebound name reaching 127.0.0.1 is refused);
 * - requests that are no browser's: no `Origin` and no `Sec-Fetch-Site` header. A page of any origin,
 *   even on this machine, cannot mint tokens; the route is left out of CORS too, and needs
 *   `content-type: application/json`, which a page cannot send elsewhere without a preflight;
 * - for an active user of the organization named (see developmentTokenFor).
 *
 * Errors answer `{ errors: [{ message, extensions: { code } }] }`, as the gateway's other refusals.
 */
export function registerDevTokenRoute(app: FastifyInstance, store: Store, auth: AuthConfig): void {
  app.post(
    '/dev/token',
    {
      bodyLimit: 4096,
      // Before the body is read: a refused caller's body is never parsed.
      onRequest: async (req, reply) => {
        const refused = refusal(req);
        if (refused) await send(reply, refused.status, refused.code, refused.message);
      },
    },
    async (req, reply) => {
      const body = req.body as { org?: unknown; user?: unknown } | null;
      const { org, user } = body && typeof body === 'object' ? body : { org: undefined, user: undefined };
      if (!isField(org) || !isField(user))
        return send(
          reply,
          400,
          'BAD_USER_INPUT',
          'send {"org": "<organization id>", "user": "<email or user id>"}',
        );
      try {
        return await developmentTokenFor(store, auth, org, user);
      } catch (err) {
        if (err instanceof StoreError && (err.code === 'NOT_FOUND' || err.code === 'CONFLICT'))
          return send(reply, err.code === 'NOT_FOUND' ? 404 : 409, err.code, err.message);
        throw err;
      }
    },
  );
}

function refusal(req: FastifyRequest): { status: number; code: string; message: string } | null {
  if (!isLoopback(req.socket.remoteAddress))
    return {
      status: 403,
      code: 'FORBIDDEN',
      message: 'development tokens are given to loopback callers only',
    };
  if (!isLoopbackHost(req.headers.host))
    return {
      status: 403,
      code: 'FORBIDDEN',
      message: 'development tokens are given to requests for localhost or 127.0.0.1 only',
    };
  // Browsers send Origin with every POST, and Sec-Fetch-Site to localhost; Node's fetch sends neither
  // (only Sec-Fetch-Mode), nor does curl.
  if (req.headers.origin !== undefined || req.headers['sec-fetch-site'] !== undefined)
    return { status: 403, code: 'FORBIDDEN', message: 'development tokens are not given to web pages' };
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json')
    return { status: 415, code: 'BAD_REQUEST', message: 'send content-type: application/json' };
  return null;
}

function isField(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_FIELD_CHARS;
}

/** 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6 addresses. */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (isIP(v4) === 4) return v4.startsWith('127.');
  return address === '::1';
}

/** A `Host` header naming this machine: localhost, 127.x.x.x or [::1] (a DNS-rebound name is not). */
export function isLoopbackHost(host: string | undefined): boolean {
  if (!host) return false;
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0]!;
  return name === 'localhost' || name === '[::1]' || (isIP(name) === 4 && name.startsWith('127.'));
}

function send(reply: FastifyReply, status: number, code: string, message: string) {
  return reply.status(status).send({ errors: [{ message, extensions: { code } }] });
}
