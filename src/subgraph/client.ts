import DataLoader from 'dataloader';
import { LRUCache } from 'lru-cache';
import {
  RolegateDecisionError,
  RolegateError,
  RolegateForbiddenError,
  RolegateRefusedError,
  RolegateUnauthenticatedError,
  RolegateUnavailableError,
  type Scope,
} from './errors';

/**
 * A client for subgraphs that delegate their decisions to rolegate. Per request (`forRequest`), every
 * `can()` asked in the same tick is batched by DataLoader into ONE `checks(inputs:)` POST (at most
 * `maxBatchSize` inputs a call: 1,001 questions are two calls). Answers are kept a short while in an
 * LRU keyed by the organization's version. Every failure is a typed error and a deny.
 */

export interface RolegateClientOptions {
  /** rolegate's GraphQL endpoint, e.g. `http://127.0.0.1:4000/graphql`. */
  url: string;
  /**
   * The subgraph's own API key (`rgk_…` with the scope `decisions:check`), to ask on behalf of a
   * viewer named by id (`forRequest({ userId })`). Not needed when forwarding the viewer's token.
   */
  apiKey?: string;
  /** Bound on one `checks` call, connecting and reading the answer included. Default 500 ms. */
  timeoutMs?: number;
  /** How long an answer may be reused across requests. Default 5,000 ms; 0 turns the cache off. */
  cacheTtlMs?: number;
  /** Most answers kept. Default 10,000. */
  cacheMax?: number;
  /** Most inputs in one `checks` call: rolegate's limit. Default 1,000. */
  maxBatchSize?: number;
  /** The fetch to use (a wrapper that counts or traces calls, undici's with a keep-alive agent…). Default: the global fetch. */
  fetch?: typeof fetch;
}

/**
 * Who the request's decisions are for.
 * - `{ token }`: the viewer's own bearer token (a JWT, or `Bearer <JWT>` as the header came), forwarded
 *   to rolegate, which verifies it; the user is its `sub` claim unless `userId` is given. rolegate lets
 *   a viewer ask only about themself.
 * - `{ userId }`: the subgraph's `apiKey` asks on behalf of that user. The subgraph vouches for the id:
 *   it must have verified the viewer itself.
 *
 * `atLeastVersion` (a version returned by a rolegate mutation): answer at that version or later.
 */
export type ViewerRequest = ({ token: string; userId?: string } | { userId: string; token?: undefined }) & {
  atLeastVersion?: string;
};

/** The decisions of one request. Make one per request (its DataLoader must not outlive the request). */
export interface RolegateRequest {
  /** The user the decisions are about (null: the token names none, and every `can()` rejects). */
  readonly userId: string | null;
  /**
   * May the viewer do `permission` here? Resolves true or false; rejects with a `RolegateError` when no
   * decision could be had (rolegate unavailable, the credential refused, the question undecidable).
   * A rejection is a deny.
   */
  can(permission: string, scope?: Scope): Promise<boolean>;
  /**
   * The answer this request already has, or the client's cache holds, without asking: true, false, or
   * undefined (not known yet: ask with `can()`). Lets a resolver answer without a promise.
   */
  peek(permission: string, scope?: Scope): boolean | undefined;
  /** As `can()`, but a deny rejects with `RolegateForbiddenError`. */
  require(permission: string, scope?: Scope): Promise<void>;
}

export interface RolegateClient {
  forRequest(viewer: ViewerRequest): RolegateRequest;
  /** Counters since the client was made: `checks` calls sent, questions in them, answers from the cache. */
  readonly stats: { calls: number; questions: number; cacheHits: number };
}

const DEFAULTS = { timeoutMs: 500, cacheTtlMs: 5_000, cacheMax: 10_000, maxBatchSize: 1_000 };

type Resolved = RolegateClientOptions & typeof DEFAULTS;

const CHECKS = `query RolegateChecks($inputs: [CheckInput!]!) {
  checks(inputs: $inputs) { allowed version error { code message } }
}`;

/** One question, as sent in a `checks` input. `key` identifies it within a credential. */
interface Question {
  key: string;
  userId: string;
  permission: string;
  locationId: string | null;
  teamIds: string[] | null;
}

interface Cached {
  allowed: boolean;
  version: string;
  /** The organization's entry in `newest` (see `partitionOf`). */
  partition: string;
}

export function createRolegateClient(options: RolegateClientOptions): RolegateClient {
  const opts: Resolved = { ...DEFAULTS, ...definedOnly(options), url: options.url };
  checkOptions(opts);
  const doFetch = options.fetch ?? globalThis.fetch;
  const stats = { calls: 0, questions: 0, cacheHits: 0 };
  // Keyed by credential and question; an entry is served only while no newer version of its
  // organization has been seen (versions count per organization, so `newest` is kept per organization).
  const cache =
    opts.cacheTtlMs > 0
      ? new LRUCache<string, Cached>({ max: opts.cacheMax, ttl: opts.cacheTtlMs, ttlAutopurge: false })
      : null;
  const newest = new LRUCache<string, string>({ max: opts.cacheMax });

  const fresh = (entry: Cached, atLeast: string | undefined): boolean => {
    const top = newest.get(entry.partition);
    if (top !== undefined && compareVersions(entry.version, top) < 0) return false;
    return atLeast === undefined || compareVersions(entry.version, atLeast) >= 0;
  };

  /** One `checks` POST for a batch of questions: an answer or an Error per question. */
  async function ask(
    credential: string,
    partition: string,
    atLeastVersion: string | undefined,
    questions: readonly Question[],
  ): Promise<(boolean | Error)[]> {
    stats.calls++;
    stats.questions += questions.length;
    const inputs = questions.map((q) => ({
      userId: q.userId,
      permission: q.permission,
      ...(q.locationId != null ? { locationId: q.locationId } : {}),
      ...(q.teamIds != null ? { teamIds: q.teamIds } : {}),
      ...(atLeastVersion !== undefined ? { atLeastVersion } : {}),
    }));
    let decisions: unknown[];
    try {
      decisions = await post(doFetch, opts.url, credential, opts.timeoutMs, inputs);
    } catch (err) {
      const error = err instanceof RolegateError ? err : unexpected(err);
      return questions.map(() => error);
    }
    return questions.map((q, i) => {
      const d = decisions[i] as { allowed?: unknown; version?: unknown; error?: unknown } | null;
      if (!d || typeof d.allowed !== 'boolean' || typeof d.version !== 'string')
        return new RolegateUnavailableError('malformed', `rolegate answered a malformed decision (${i})`);
      const error = d.error as { code?: unknown; message?: unknown } | null | undefined;
      if (error)
        return new RolegateDecisionError(
          typeof error.message === 'string' ? error.message : 'the question could not be decided',
          typeof error.code === 'string' ? error.code : 'UNKNOWN',
          q.permission,
          { locationId: q.locationId, teamIds: q.teamIds },
        );
      const top = newest.get(partition);
      if (top === undefined || compareVersions(d.version, top) > 0) newest.set(partition, d.version);
      cache?.set(`${credential}\u0000${q.key}`, { allowed: d.allowed, version: d.version, partition });
      return d.allowed;
    });
  }

  function forRequest(viewer: ViewerRequest): RolegateRequest {
    const token = viewer.token !== undefined ? stripBearer(viewer.token) : undefined;
    if (token === undefined && !opts.apiKey)
      throw new TypeError(
        "rolegate client: forRequest({ userId }) asks with the subgraph's API key, but the client was made without `apiKey`; forward the viewer's token instead ({ token })",
      );
    const claims = token ? jwtClaims(token) : null;
    const userId = viewer.userId ?? (typeof claims?.sub === 'string' ? claims.sub : null);
    const credential = token !== undefined ? token : opts.apiKey!;
    const partition = partitionOf(token, claims, opts.apiKey);
    const atLeast = viewer.atLeastVersion;
    // This request's questions by a short key (the user and credential are the request's): the answer
    // once known (its batch, or the client's cache), or the pending load. A question asked again costs a
    // Map lookup, and a known answer no promise (`peek`); the request keeps one answer per question.
    const seen = new Map<string, boolean | Promise<boolean>>();
    const loader = new DataLoader<Question & { short: string }, boolean, string>(
      async (questions) => {
        const answers = await ask(credential, partition, atLeast, questions);
        answers.forEach((a, i) => typeof a === 'boolean' && seen.set(questions[i]!.short, a));
        return answers;
      },
      // `seen` already asks each question once.
      { maxBatchSize: opts.maxBatchSize, cache: false },
    );
    /** The answer known without asking (this request's, or a fresh one from the client's cache). */
    const known = (
      short: string,
      permission: string,
      scope: Scope,
    ): boolean | Promise<boolean> | undefined => {
      const mine = seen.get(short);
      if (mine !== undefined) return mine;
      const hit = cache?.get(`${credential}\u0000${questionOf(userId!, permission, scope).key}`);
      if (!hit || !fresh(hit, atLeast)) return undefined;
      stats.cacheHits++;
      seen.set(short, hit.allowed);
      return hit.allowed;
    };
    const refusal = (): RolegateUnauthenticatedError | null =>
      token === ''
        ? new RolegateUnauthenticatedError('no token: the viewer is not signed in')
        : userId === null
          ? new RolegateUnauthenticatedError('the token names no user (no `sub` claim): pass `userId` too')
          : null;

    const can = (permission: string, scope: Scope = {}): Promise<boolean> => {
      const refused = refusal();
      if (refused) return Promise.reject(refused);
      const short = shortKey(permission, scope);
      const answer = known(short, permission, scope);
      if (answer !== undefined) return typeof answer === 'boolean' ? Promise.resolve(answer) : answer;
      const pending = loader.load({ ...questionOf(userId!, permission, scope), short });
      seen.set(short, pending);
      return pending;
    };

    return {
      userId,
      can,
      peek(permission, scope = {}) {
        if (refusal()) return undefined;
        const answer = known(shortKey(permission, scope), permission, scope);
        return typeof answer === 'boolean' ? answer : undefined;
      },
      async require(permission, scope = {}) {
        if (!(await can(permission, scope))) throw new RolegateForbiddenError(permission, scope);
      },
    };
  }

  return { forRequest, stats };
}

/** POSTs one `checks` call; its decisions, in order, or a typed error for the whole call. */
async function post(
  doFetch: typeof fetch,
  url: string,
  credential: string,
  timeoutMs: number,
  inputs: unknown[],
): Promise<unknown[]> {
  let status: number;
  let text: string;
  try {
    const res = await doFetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json, application/json',
        authorization: `Bearer ${credential}`,
      },
      body: JSON.stringify({ query: CHECKS, variables: { inputs } }),
      // Bounds the whole call, the body's reading included.
      signal: AbortSignal.timeout(timeoutMs),
    });
    status = res.status;
    text = await res.text();
  } catch (err) {
    // By name, not `instanceof`: the DOMException may come from another realm (a test VM, a polyfill).
    const name = typeof err === 'object' && err !== null ? (err as { name?: unknown }).name : undefined;
    const timedOut = name === 'TimeoutError' || name === 'AbortError';
    throw timedOut
      ? new RolegateUnavailableError('timeout', `rolegate did not answer within ${timeoutMs} ms`, undefined, {
          cause: err,
        })
      : new RolegateUnavailableError(
          'network',
          `rolegate could not be reached: ${messageOf(err)}`,
          undefined,
          {
            cause: err,
          },
        );
  }
  if (status >= 500) throw new RolegateUnavailableError('server', `rolegate answered HTTP ${status}`, status);
  let body: { data?: { checks?: unknown } | null; errors?: unknown } | null;
  try {
    body = JSON.parse(text);
  } catch {
    body = null;
  }
  const firstError = Array.isArray(body?.errors)
    ? (body.errors[0] as { message?: unknown; extensions?: { code?: unknown } } | undefined)
    : undefined;
  const code = typeof firstError?.extensions?.code === 'string' ? firstError.extensions.code : undefined;
  const message = typeof firstError?.message === 'string' ? firstError.message : `HTTP ${status}`;
  if (status === 401 || code === 'UNAUTHENTICATED' || code === 'TOKEN_EXPIRED')
    throw new RolegateUnauthenticatedError(`rolegate refused the credential: ${message}`, code);
  if (!body || typeof body !== 'object')
    throw new RolegateUnavailableError('malformed', `rolegate answered HTTP ${status} without JSON`, status);
  const checks = body.data?.checks;
  if (checks == null) {
    if (code && REFUSALS.has(code))
      throw new RolegateRefusedError(`rolegate refused checks: ${message}`, code);
    throw new RolegateUnavailableError(
      code ? 'server' : 'malformed',
      code ? `rolegate could not answer: ${code}` : `rolegate answered HTTP ${status} without decisions`,
      status,
    );
  }
  if (!Array.isArray(checks) || checks.length !== inputs.length)
    throw new RolegateUnavailableError(
      'malformed',
      `rolegate answered ${Array.isArray(checks) ? checks.length : 'no list of'} decisions for ${inputs.length} questions`,
      status,
    );
  return checks;
}

/** Codes that say the call itself is refused for this credential or input (not a fault of rolegate). */
const REFUSALS = new Set([
  'FORBIDDEN',
  'BAD_USER_INPUT',
  'NOT_FOUND',
  'GRAPHQL_VALIDATION_FAILED',
  'GRAPHQL_PARSE_FAILED',
  'BAD_REQUEST',
]);

/**
 * A question's key within one request (one user, one credential): cheaper than `Question.key`, and
 * unambiguous as long as no part holds a NUL; one that does (a hostile argument) gets the JSON key.
 */
function shortKey(permission: string, scope: Scope): string {
  const location = scope.locationId ?? '';
  if (!scope.teamIds?.length && !permission.includes('\u0000') && !location.includes('\u0000'))
    return `${permission}\u0000${location}`;
  return `\u0001${JSON.stringify([permission, scope.locationId ?? null, scope.teamIds?.length ? [...new Set(scope.teamIds)].sort() : null])}`;
}

function questionOf(userId: string, permission: string, scope: Scope): Question {
  const locationId = scope.locationId ?? null;
  // rolegate reads teams as a set (allowed in one of them): one question whatever their order.
  const teamIds = scope.teamIds?.length ? [...new Set(scope.teamIds)].sort() : null;
  return {
    key: JSON.stringify([userId, permission, locationId, teamIds]),
    userId,
    permission,
    locationId,
    teamIds,
  };
}

/**
 * Which organization's version an answer belongs to: the API key's (a key belongs to one organization),
 * or the `org` claim of the viewer's JWT; a token without one is its own partition.
 */
function partitionOf(
  token: string | undefined,
  claims: Record<string, unknown> | null,
  apiKey: string | undefined,
): string {
  if (token === undefined) return `key:${apiKey}`;
  return typeof claims?.org === 'string' ? `org:${claims.org}` : `token:${token}`;
}

/**
 * The claims of a JWT, decoded but NOT verified: rolegate verifies the token on every call, and only
 * answers a viewer about themself, so a forged `sub` gets nothing but a refusal.
 */
function jwtClaims(token: string): Record<string, unknown> | null {
  const part = token.split('.')[1];
  if (!part) return null;
  try {
    const bytes = Uint8Array.from(atob(part.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
    const claims: unknown = JSON.parse(new TextDecoder().decode(bytes));
    return claims && typeof claims === 'object' ? (claims as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function stripBearer(value: string): string {
  return value.replace(/^\s*bearer\s+/i, '').trim();
}

/** Versions are decimal counters as strings: longer is later, then by digits. */
export function compareVersions(a: string, b: string): number {
  return a.length !== b.length ? a.length - b.length : a < b ? -1 : a > b ? 1 : 0;
}

function unexpected(err: unknown): RolegateUnavailableError {
  return new RolegateUnavailableError('malformed', `rolegate client failed: ${messageOf(err)}`, undefined, {
    cause: err,
  });
}

function messageOf(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    return cause instanceof Error ? `${err.message} (${cause.message})` : err.message;
  }
  return String(err);
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function checkOptions(o: Resolved): void {
  if (typeof o.url !== 'string' || !/^https?:\/\//.test(o.url))
    throw new TypeError(`rolegate client: url must be an http(s) URL, got ${JSON.stringify(o.url)}`);
  if (o.apiKey !== undefined && (typeof o.apiKey !== 'string' || o.apiKey.length === 0))
    throw new TypeError('rolegate client: apiKey must be a non-empty string (an rgk_… key) when given');
  for (const [name, min] of [
    ['timeoutMs', 1],
    ['cacheTtlMs', 0],
    ['cacheMax', 1],
    ['maxBatchSize', 1],
  ] as const)
    if (!Number.isInteger(o[name]) || o[name] < min)
      throw new TypeError(`rolegate client: ${name} must be an integer ≥ ${min}, got ${String(o[name])}`);
  if (typeof (o.fetch ?? globalThis.fetch) !== 'function')
    throw new TypeError('rolegate client: no fetch (Node 18+ has one; or pass `fetch`)');
}
