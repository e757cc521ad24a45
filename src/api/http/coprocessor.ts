import { lstatSync, unlinkSync } from 'node:fs';
import Fastify, { type FastifyInstance } from 'fastify';
import { GraphQLError } from 'graphql';
import { ConfigError } from '../../config';
import { isUuid, StoreError } from '../../store';
import { buildContext, claimsContext, type Context, type ContextDeps } from '../context';
import { isLoopback } from '../dev-token';
import { ErrorCode } from '../errors';
import { argumentValues, MAX_SCOPES, parsePolicyName } from './coprocessor-policies';
import {
  answer,
  ProtocolError,
  readRequest,
  type CoprocessorRequest,
  type Fault,
} from './coprocessor-protocol';

/**
 * `POST /federation/coprocessor`: Apollo Router's and Hive Router's coprocessor protocols (version 1)
 * for `@policy`. The router sends the policies an operation touches, each mapped to null; the answer
 * maps each to true or false for the viewer named by the request's own token (verified here, as
 * /graphql verifies it), decided exactly as `check` on oneself at the organization, or at the locations
 * of `permission@argumentName` (see coprocessor-policies.ts). Not GraphQL: neither Apollo Server nor
 * the guards run. Every policy of a request is decided in one batch, at most one cache round trip.
 *
 * Fails closed: no viewer, an unknown policy, an unreadable operation, or the store and cache out of
 * reach answer false (or a break, ROLEGATE_COPROCESSOR_ON_FAULT=break), never true; a request that is
 * not the protocol's is HTTP 400, which the router turns into an error for its client.
 */

export interface CoprocessorOptions {
  /**
   * ROLEGATE_COPROCESSOR_TRUST_CLAIMS=1 — decide for the router's verified JWT claims
   * (`apollo::authentication::jwt_claims`) instead of verifying the Authorization header here, and only
   * for callers on loopback or the Unix socket: the protocol has no caller authentication, so anyone who
   * can reach the endpoint could name any user. The claims need `sub`, `org` and an unexpired `exp`,
   * and the user must be active. Default off.
   */
  trustClaims: boolean;
  /**
   * ROLEGATE_COPROCESSOR_ON_FAULT — what refused credentials and an unreachable store answer: `deny`
   * (default), every policy false and the router removes the fields; `break`, the router answers its
   * client at once, 401 UNAUTHENTICATED (or TOKEN_EXPIRED) or 503 UNAVAILABLE.
   */
  onFault: 'deny' | 'break';
  /** ROLEGATE_COPROCESSOR_SOCKET — also serve the coprocessor on this Unix socket. Default unset. */
  socket?: string;
}

/** The coprocessor's body limit: a router's request carries the operation and its variables. */
export const COPROCESSOR_BODY_BYTES = 1024 * 1024;
const PATH = '/federation/coprocessor';

export function coprocessorConfigFromEnv(env: NodeJS.ProcessEnv = process.env): CoprocessorOptions {
  const trust = (env.ROLEGATE_COPROCESSOR_TRUST_CLAIMS ?? '').trim().toLowerCase();
  if (!['', '0', '1', 'false', 'true'].includes(trust))
    throw new ConfigError(
      `ROLEGATE_COPROCESSOR_TRUST_CLAIMS must be 1 or 0, got "${env.ROLEGATE_COPROCESSOR_TRUST_CLAIMS}"`,
    );
  const onFault = (env.ROLEGATE_COPROCESSOR_ON_FAULT ?? '').trim() || 'deny';
  if (onFault !== 'deny' && onFault !== 'break')
    throw new ConfigError(`ROLEGATE_COPROCESSOR_ON_FAULT must be "deny" or "break", got "${onFault}"`);
  return {
    trustClaims: trust === '1' || trust === 'true',
    onFault,
    socket: env.ROLEGATE_COPROCESSOR_SOCKET || undefined,
  };
}

/**
 * Mounts the route on `app`. `local`: every caller is local (the Unix socket's app); otherwise a caller
 * is local when its socket's address is loopback.
 */
export function registerCoprocessorRoute(
  app: FastifyInstance,
  deps: ContextDeps,
  options: CoprocessorOptions,
  logError: (err: unknown) => void,
  local = false,
): void {
  app.post(PATH, { bodyLimit: COPROCESSOR_BODY_BYTES }, async (req, reply) => {
    let request: CoprocessorRequest;
    try {
      request = readRequest(req.body);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      deps.metrics?.coprocessor.inc({ protocol: 'unknown', result: 'refused' });
      return reply
        .status(400)
        .send({ errors: [{ message: err.message, extensions: { code: 'BAD_REQUEST' } }] });
    }
    const protocol = request.protocol;
    if (!request.policies.size) {
      deps.metrics?.coprocessor.inc({ protocol, result: 'no_policies' });
      return answer(request, 'continue');
    }
    const trusted = options.trustClaims && (local || isLoopback(req.socket.remoteAddress));
    const outcome = await decidePolicies(request, deps, trusted, logError);
    if ('fault' in outcome) {
      const result = outcome.fault.status === 401 ? 'unauthenticated' : 'unavailable';
      deps.metrics?.coprocessor.inc({ protocol, result });
      return answer(request, options.onFault === 'break' ? outcome : { decided: new Map() });
    }
    deps.metrics?.coprocessor.inc({ protocol, result: 'decided' });
    return answer(request, outcome);
  });
}

/**
 * A second listener for the coprocessor alone, on a Unix socket (both routers call `unix://` URLs:
 * Apollo Router from 2.12). A stale socket file left by a previous process is replaced; any other
 * file there is a refusal to start.
 */
export async function startCoprocessorSocket(
  path: string,
  deps: ContextDeps,
  options: CoprocessorOptions,
  logError: (err: unknown) => void,
): Promise<{ close(): Promise<void> }> {
  const existing = lstatSync(path, { throwIfNoEntry: false });
  if (existing && !existing.isSocket())
    throw new ConfigError(`ROLEGATE_COPROCESSOR_SOCKET: ${path} exists and is not a socket`);
  if (existing) unlinkSync(path);
  const app = Fastify({ bodyLimit: COPROCESSOR_BODY_BYTES, logger: false });
  app.setErrorHandler((err: Error & { statusCode?: number }, _req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) logError(err);
    void reply.status(status).send({
      errors: [
        {
          message: status === 500 ? 'Unexpected error.' : err.message,
          extensions: { code: status === 500 ? ErrorCode.INTERNAL_SERVER_ERROR : 'BAD_REQUEST' },
        },
      ],
    });
  });
  registerCoprocessorRoute(app, deps, options, logError, true);
  await app.listen({ path });
  return { close: () => app.close() };
}

/**
 * Every policy of the request, true or false, for the viewer its credentials name; or why nothing can
 * be decided (refused credentials: 401; the store and cache out of reach: 503).
 */
async function decidePolicies(
  request: CoprocessorRequest,
  deps: ContextDeps,
  trustClaims: boolean,
  logError: (err: unknown) => void,
): Promise<{ decided: Map<string, boolean> } | { fault: Fault }> {
  let context: Context;
  try {
    if (trustClaims && request.claims !== undefined) {
      const viewer = viewerOfClaims(request.claims);
      if ('status' in viewer) return { fault: viewer };
      context = await claimsContext(deps, viewer);
    } else {
      if (request.authorizationConflict)
        return { fault: refused('several Authorization headers: send one "Bearer <token>"') };
      context = await buildContext(deps, {
        authorization: request.authorization,
        requestId: request.echo.id,
      });
    }
  } catch (err) {
    return { fault: faultOf(err, logError) };
  }
  const decided = new Map<string, boolean>();
  const viewer = context.viewer;
  // A service key is no viewer: a policy is a user's, and a key acts for nobody here.
  if (viewer.kind !== 'user') return { decided };

  const names = [...new Set([...request.policies.values()].flat())];
  const parsed = names.map(parsePolicyName);
  const argumentNames = new Set(parsed.flatMap((p) => (p?.argument ? [p.argument] : [])));
  const values = argumentNames.size ? argumentValues(request.operation, argumentNames) : new Map();
  try {
    // Every decision of every policy started in one pass: their loads share one batch.
    const answers = await Promise.all(
      parsed.map(async (policy) => {
        const locations = policy && scopesOf(policy.argument, values);
        if (!policy || !locations) return false;
        const results = await Promise.all(
          locations.map((locationId) =>
            context.authz.decide({ userId: viewer.userId, permission: policy.permission, locationId }),
          ),
        );
        // AND: the router's map has one boolean per policy, whatever the objects the operation touches.
        return results.every((r) => r.allowed);
      }),
    );
    names.forEach((n, i) => decided.set(n, answers[i]!));
  } catch (err) {
    return { fault: faultOf(err, logError) };
  }
  return { decided };
}

/**
 * The locations a policy is decided at (null: the organization); null when its argument holds
 * something that is not a location id, or too many of them: that policy is false.
 */
function scopesOf(argument: string | null, values: Map<string, unknown[]> | Error): (string | null)[] | null {
  if (argument === null) return [null];
  if (values instanceof Error) return null;
  const found = values.get(argument) ?? [];
  if (!found.length) return [null];
  const scopes = new Set<string | null>();
  for (const v of found) {
    if (v === null || v === undefined) scopes.add(null);
    else if (typeof v === 'string' && isUuid(v)) scopes.add(v);
    else return null;
  }
  return scopes.size > MAX_SCOPES ? null : [...scopes];
}

/** The user the router's claims name, checked as a token's claims are; or a 401 fault. */
function viewerOfClaims(claims: unknown): { kind: 'user'; orgId: string; userId: string } | Fault {
  const c = (claims && typeof claims === 'object' ? claims : {}) as Record<string, unknown>;
  if (!isUuid(c.org) || !isUuid(c.sub))
    return refused('the router\'s JWT claims name no organization and user (claims "org" and "sub")');
  if (typeof c.exp !== 'number' || !Number.isFinite(c.exp))
    return refused('the router\'s JWT claims carry no expiry ("exp")');
  if (c.exp * 1000 <= Date.now())
    return { status: 401, code: ErrorCode.TOKEN_EXPIRED, message: 'The access token expired' };
  return { kind: 'user', orgId: c.org, userId: c.sub };
}

function refused(message: string): Fault {
  return { status: 401, code: ErrorCode.UNAUTHENTICATED, message };
}

/** Refused credentials keep their code and message; anything else is the store's, logged when unexpected. */
function faultOf(err: unknown, logError: (err: unknown) => void): Fault {
  const code = err instanceof GraphQLError ? err.extensions.code : undefined;
  if (code === ErrorCode.UNAUTHENTICATED || code === ErrorCode.TOKEN_EXPIRED)
    return { status: 401, code, message: (err as GraphQLError).message };
  const expected =
    code === ErrorCode.UNAVAILABLE || (err instanceof StoreError && err.code === 'UNAVAILABLE');
  if (!expected) logError(err);
  return {
    status: 503,
    code: ErrorCode.UNAVAILABLE,
    message: 'decisions cannot be made now: the store is unavailable',
  };
}
