/**
 * What can go wrong when a subgraph asks rolegate. Every one of these is a deny: `can()` rejects with
 * one instead of answering, so nothing is ever allowed by an error. The `@can` directive turns each into
 * a GraphQL error at the guarded field's path (see `graphqlErrorOf` in directive.ts).
 */

/** The base class: `code` says which kind, for callers that branch on it without `instanceof`. */
export abstract class RolegateError extends Error {
  abstract readonly code: 'UNAVAILABLE' | 'UNAUTHENTICATED' | 'REFUSED' | 'DECISION_ERROR' | 'FORBIDDEN';
}

/** Why rolegate could not be asked: no answer in time, no connection, a 5xx, or an answer we cannot read. */
export type UnavailableReason = 'timeout' | 'network' | 'server' | 'malformed';

/** rolegate did not answer usably. Retry later; meanwhile, deny. */
export class RolegateUnavailableError extends RolegateError {
  readonly code = 'UNAVAILABLE';
  constructor(
    readonly reason: UnavailableReason,
    message: string,
    /** The HTTP status, when there was a response. */
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RolegateUnavailableError';
  }
}

/**
 * rolegate refused the credential (HTTP 401: UNAUTHENTICATED, or TOKEN_EXPIRED for a genuine token past
 * its expiry), or the client was given none it could use: the viewer must sign in again.
 */
export class RolegateUnauthenticatedError extends RolegateError {
  readonly code = 'UNAUTHENTICATED';
  constructor(
    message: string,
    /** rolegate's code: UNAUTHENTICATED or TOKEN_EXPIRED; absent when the client refused before asking. */
    readonly rolegateCode?: string,
  ) {
    super(message);
    this.name = 'RolegateUnauthenticatedError';
  }
}

/**
 * rolegate refused the whole `checks` call for this credential: a viewer's token asking about another
 * user (FORBIDDEN), an API key without `decisions:check`, or input it rejects (BAD_USER_INPUT).
 */
export class RolegateRefusedError extends RolegateError {
  readonly code = 'REFUSED';
  constructor(
    message: string,
    readonly rolegateCode: string,
  ) {
    super(message);
    this.name = 'RolegateRefusedError';
  }
}

/**
 * This one question could not be decided (an unknown permission, a user or location not in the
 * organization, a version not reached): rolegate's `Decision.error`. The other questions still answer.
 */
export class RolegateDecisionError extends RolegateError {
  readonly code = 'DECISION_ERROR';
  constructor(
    message: string,
    /** rolegate's DecisionErrorCode: BAD_USER_INPUT, NOT_FOUND or VERSION_NOT_REACHED. */
    readonly rolegateCode: string,
    readonly permission: string,
    readonly scope: Scope,
  ) {
    super(message);
    this.name = 'RolegateDecisionError';
  }
}

/** A plain deny, thrown by `require()` (never by `can()`, which answers false). */
export class RolegateForbiddenError extends RolegateError {
  readonly code = 'FORBIDDEN';
  constructor(
    readonly permission: string,
    readonly scope: Scope,
  ) {
    super(`forbidden: ${permission} is not allowed${describeScope(scope)}`);
    this.name = 'RolegateForbiddenError';
  }
}

/** Where a question is asked: a location (omitted: the organization root) and the resource's teams. */
export interface Scope {
  locationId?: string | null;
  /** Allowed if allowed in one of them, with that team's roles alone (rolegate's rule 3). */
  teamIds?: readonly string[] | null;
}

export function describeScope(scope: Scope): string {
  const parts: string[] = [];
  if (scope.locationId) parts.push(`at location ${scope.locationId}`);
  if (scope.teamIds?.length) parts.push(`in team ${scope.teamIds.join(' or ')}`);
  return parts.length ? ` ${parts.join(' ')}` : ' at the organization';
}
