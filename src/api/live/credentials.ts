import type { IncomingMessage } from 'node:http';

/** What a connection authenticates with, as buildContext takes it from HTTP headers. */
export interface Credentials {
  authorization?: string;
  requestId?: string;
}

/**
 * A connection's credentials: `connection_init`'s payload `{ authorization: 'Bearer …' }` (or
 * `Authorization`), which browsers can send, else the upgrade request's Authorization header, which
 * other clients can. A string: why the payload is unusable (it is told to the client).
 */
export function credentialsOf(
  connectionParams: Readonly<Record<string, unknown>> | undefined,
  request: IncomingMessage,
): Credentials | string {
  const given = connectionParams?.authorization ?? connectionParams?.Authorization;
  if (given !== undefined && given !== null && typeof given !== 'string')
    return 'malformed connection_init payload: "authorization" must be a string "Bearer <token>"';
  const header = request.headers['x-request-id'];
  return {
    authorization: given || request.headers.authorization || undefined,
    requestId: typeof header === 'string' ? header : undefined,
  };
}
