/**
 * The bounds of live subscriptions (GraphQL over WebSocket, graphql-ws). None of these numbers is ever
 * told to a client: a refusal says what was refused, not by how much.
 */
export interface LiveOptions {
  /** Open subscriptions one connection may hold at once; one more is refused (BAD_REQUEST). Default 20. */
  maxSubscriptionsPerConnection?: number;
  /** Open WebSocket connections per gateway; one more is closed 1013 (try again later). Default 10,000. */
  maxConnections?: number;
  /** Open connections of one viewer (a user, an API key); one more is closed 1013. Default 50. */
  maxConnectionsPerViewer?: number;
  /** How long a new socket may take to send `connection_init`; then it is closed 4408. Default 10 s. */
  connectionInitTimeoutMs?: number;
  /** The largest message a client may send (ws `maxPayload`); a larger one closes the socket 1009. Default 64 KiB. */
  maxMessageBytes?: number;
  /**
   * How often every connection's credentials are checked again (a revoked API key, a locked or
   * deleted user, an expired token): a connection whose credentials fail is closed 4403. Default 5 s.
   */
  recheckMs?: number;
  /** How often the server pings each socket; one that has not answered by the next ping is dropped. Default 12 s. */
  keepAliveMs?: number;
}

export const LIVE_DEFAULTS: Required<LiveOptions> = {
  maxSubscriptionsPerConnection: 20,
  maxConnections: 10_000,
  maxConnectionsPerViewer: 50,
  connectionInitTimeoutMs: 10_000,
  maxMessageBytes: 64 * 1024,
  recheckMs: 5_000,
  keepAliveMs: 12_000,
};

/** The options with their defaults filled in; each given one must be a positive integer. */
export function liveOptions(given: LiveOptions = {}): Required<LiveOptions> {
  const options = { ...LIVE_DEFAULTS };
  for (const [name, value] of Object.entries(given) as [keyof LiveOptions, unknown][]) {
    if (value === undefined) continue;
    if (!(name in LIVE_DEFAULTS)) throw new TypeError(`live.${String(name)} is not an option of live`);
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0)
      throw new RangeError(`live.${name} must be a positive integer, got ${String(value)}`);
    options[name] = value;
  }
  return options;
}

/**
 * How the gateway closes a socket, and what a graphql-ws client does then (it retries on 1001, 1013,
 * 4403 and 4408; it gives up on 4400, 4401 and 4500). The reason (at most 123 bytes) says why.
 */
export const LiveClose = {
  /** The gateway is shutting down: reconnect (to another replica). */
  GOING_AWAY: 1001,
  /** Too many connections on this gateway, or its store is out of reach: try again later. */
  TRY_AGAIN_LATER: 1013,
  /** A message the protocol does not allow. */
  BAD_REQUEST: 4400,
  /** No usable credentials in `connection_init` (or the upgrade's Authorization header). */
  UNAUTHORIZED: 4401,
  /**
   * The connection's credentials stopped working while it was open (revoked key, locked or deleted
   * user, expired token). The client retries with its `connectionParams` read again: a refreshed token
   * reconnects, a revoked one is then refused 4401.
   */
  CREDENTIALS_REVOKED: 4403,
  /** Something unexpected: masked, and logged whole. */
  INTERNAL_ERROR: 4500,
} as const;
