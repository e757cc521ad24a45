import { HeaderMap } from '@apollo/server';
import { unwrapResolverError } from '@apollo/server/errors';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { CatalogError } from '../catalog';
import { UnknownPermissionError } from '../engine';
import { ForbiddenError, InvalidInputError } from '../decisions/errors';
import { StoreError } from '../store';
import { ImportFileError } from '../import';
import type { AuthenticationFailure } from '../identity/tokens';
import { DeadlineExceededError } from './limits/deadline';
import { LimitExceededError } from './limits/limit-error';

/**
 * Two kinds of error: expected refusals, typed, with a code from this list and what was refused; and
 * everything else, masked for the client as "Unexpected error." and logged whole.
 */
export const ErrorCode = {
  /** No credentials, or credentials that are not valid (bad token or key, locked or deleted user). */
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  /** A genuine token past its `exp` (or ROLEGATE_JWT_MAX_AGE): refresh it and send the request again. */
  TOKEN_EXPIRED: 'TOKEN_EXPIRED',
  FORBIDDEN: 'FORBIDDEN',
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  UNAVAILABLE: 'UNAVAILABLE',
  /** The request ran past its deadline: it was stopped (see src/api/limits/deadline.ts). */
  REQUEST_TIMEOUT: 'REQUEST_TIMEOUT',
  /** An automatic persisted query whose sha256Hash is not its query's (as Apollo Router names it). */
  PERSISTED_QUERY_HASH_MISMATCH: 'PERSISTED_QUERY_HASH_MISMATCH',
  /** `atLeastVersion` of a field (not a check input's) was not reached in time. */
  VERSION_NOT_REACHED: 'VERSION_NOT_REACHED',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
} as const;

/** Codes Apollo Server itself gives to a request it could not run; safe to pass through. */
export const REQUEST_CODES: ReadonlySet<string> = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'BAD_REQUEST',
  'OPERATION_RESOLUTION_FAILURE',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'PERSISTED_QUERY_HASH_MISMATCH',
  ...Object.values(ErrorCode),
]);

export function forbidden(err: ForbiddenError): GraphQLError {
  return new GraphQLError(err.message, {
    extensions: { code: ErrorCode.FORBIDDEN, permission: err.permission, scope: err.scope },
  });
}

/** The realm of every `WWW-Authenticate` challenge. */
const REALM = 'rolegate';

/**
 * Refused credentials, HTTP 401 with an RFC 6750 challenge: `Bearer realm="rolegate"` alone when none
 * were sent (§3.1: no error code then), `error="invalid_request"` for an Authorization header that is
 * not `Bearer <token>`, and `error="invalid_token"` for a bad, revoked or expired token, the last
 * with the code TOKEN_EXPIRED and `error_description="The access token expired"`.
 */
export function unauthenticated(message: string, reason: AuthenticationFailure = 'invalid'): GraphQLError {
  const expired = reason === 'expired';
  return new GraphQLError(message, {
    extensions: {
      code: expired ? ErrorCode.TOKEN_EXPIRED : ErrorCode.UNAUTHENTICATED,
      http: { status: 401, headers: new HeaderMap([['www-authenticate', bearerChallenge(reason, message)]]) },
    },
  });
}

/** The `WWW-Authenticate` value for a refusal (RFC 6750 §3). */
export function bearerChallenge(reason: AuthenticationFailure, message: string): string {
  if (reason === 'missing') return `Bearer realm="${REALM}"`;
  const error = reason === 'malformed' ? 'invalid_request' : 'invalid_token';
  // error_description is a quoted-string of printable ASCII without `"` or `\` (RFC 6750 §3).
  const description = message.replace(/[^\x20-\x7e]|["\\]/g, '');
  return `Bearer realm="${REALM}", error="${error}", error_description="${description}"`;
}

/** Whether an error's code is a refusal of the credentials (either code). */
export function isAuthenticationCode(code: unknown): boolean {
  return code === ErrorCode.UNAUTHENTICATED || code === ErrorCode.TOKEN_EXPIRED;
}

/** The store and the shared cache cannot be reached: nothing is decided or changed (HTTP 503). */
export function unavailable(message: string): GraphQLError {
  return new GraphQLError(message, {
    extensions: { code: ErrorCode.UNAVAILABLE, http: { status: 503 } },
  });
}

export function badInput(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: ErrorCode.BAD_USER_INPUT } });
}

/** What the client may be told beyond the default. */
export interface FormatOptions {
  /** Production: no "Did you mean …" of any kind (fields, arguments, types, enum values). Default false. */
  hideSuggestions?: boolean;
}

/** Apollo Server's own message for an APQ whose hash is not its query's (it gives it no code). */
const APQ_MISMATCH = 'provided sha does not match query';

/** The error a client sees for a thrown value; `log` gets the ones masked. */
export function formatError(
  formatted: GraphQLFormattedError,
  error: unknown,
  log: (err: unknown) => void,
  options: FormatOptions = {},
): GraphQLFormattedError {
  const out = classify(formatted, error, log);
  const message = clipInputs(options.hideSuggestions ? withoutSuggestions(out.message) : out.message);
  return message === out.message ? out : { ...out, message };
}

function classify(
  formatted: GraphQLFormattedError,
  error: unknown,
  log: (err: unknown) => void,
): GraphQLFormattedError {
  const original = unwrapResolverError(error);
  const base = {
    message: formatted.message,
    ...(formatted.locations ? { locations: formatted.locations } : {}),
    ...(formatted.path ? { path: formatted.path } : {}),
  };
  if (original instanceof StoreError) {
    const code = original.code === 'INVALID' ? ErrorCode.BAD_USER_INPUT : original.code;
    return { ...base, message: original.message, extensions: { code } };
  }
  if (original instanceof ForbiddenError) {
    return {
      ...base,
      message: original.message,
      extensions: { code: ErrorCode.FORBIDDEN, permission: original.permission, scope: original.scope },
    };
  }
  if (
    original instanceof UnknownPermissionError ||
    original instanceof InvalidInputError ||
    original instanceof ImportFileError
  ) {
    return { ...base, message: original.message, extensions: { code: ErrorCode.BAD_USER_INPUT } };
  }
  const limit = limitOf(error);
  if (limit)
    return { message: limit.message, extensions: { code: ErrorCode.BAD_USER_INPUT, limit: limit.kind } };
  if (original instanceof DeadlineExceededError) {
    return { ...base, message: original.message, extensions: { code: ErrorCode.REQUEST_TIMEOUT } };
  }
  if (original instanceof CatalogError) {
    return {
      ...base,
      message: original.issues.map((i) => `${i.path}: ${i.message}`).join('; '),
      extensions: { code: ErrorCode.BAD_USER_INPUT },
    };
  }
  const code = formatted.extensions?.code;
  // An APQ mismatch is the client's (Apollo Server sends it as HTTP 400 without a code): the code
  // persisted-query clients and Apollo Router use, and nothing logged.
  if (original instanceof GraphQLError && original.message === APQ_MISMATCH && !original.extensions.code) {
    return { message: APQ_MISMATCH, extensions: { code: ErrorCode.PERSISTED_QUERY_HASH_MISMATCH } };
  }
  // Apollo Server's other refusals without a code carry a 4xx status (e.g. an unsupported APQ version).
  if (
    original instanceof GraphQLError &&
    !original.extensions.code &&
    isClientStatus(original.extensions.http)
  ) {
    return { ...base, extensions: { code: 'BAD_REQUEST' } };
  }
  // graphql's parser names its token limit ("Document contains more that N tokens"): never tell it.
  if (code === 'GRAPHQL_PARSE_FAILED' && /contains more th(?:an|at) \d+ tokens/.test(formatted.message)) {
    const tokens = new LimitExceededError('tokens');
    return { message: tokens.message, extensions: { code: ErrorCode.BAD_USER_INPUT, limit: tokens.kind } };
  }
  if (typeof code === 'string' && REQUEST_CODES.has(code) && code !== ErrorCode.INTERNAL_SERVER_ERROR) {
    // `http` (status and headers) is Apollo's to apply over HTTP; over WebSocket it is not the client's.
    const {
      stacktrace: _stack,
      exception: _exception,
      http: _http,
      ...extensions
    } = formatted.extensions ?? {};
    return { ...base, extensions };
  }
  log(original);
  return {
    message: 'Unexpected error.',
    ...(formatted.path ? { path: formatted.path } : {}),
    extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR },
  };
}

/**
 * A limit refused: thrown by a validation rule (graphql-armor's onReject, see limits/limit-error.ts),
 * which Apollo wraps as a validation error, or by the request budget.
 */
function limitOf(error: unknown): LimitExceededError | null {
  for (let e = error; e instanceof Error; e = (e as GraphQLError).originalError ?? undefined) {
    if (e instanceof LimitExceededError) return e;
    if (!(e instanceof GraphQLError)) break;
  }
  return null;
}

function isClientStatus(http: unknown): boolean {
  const status = (http as { status?: unknown } | undefined)?.status;
  return typeof status === 'number' && status >= 400 && status < 500;
}

/**
 * graphql's suggestions, in every wording: ` Did you mean "viewer"?`, `Did you mean the enum value
 * "AUTO"?`, `Did you mean to use an inline fragment on "User"?` They name the schema's fields, types and
 * values, which production does not tell.
 */
export function withoutSuggestions(message: string): string {
  return message.replace(/\s*Did you mean\b[^?]*\?/g, '');
}

/** The most characters of one input an error message repeats. */
const ECHO_CHARS = 100;

/**
 * Messages quote inputs (graphql's "got invalid value", unknown permissions): each quoted string is
 * cut to ECHO_CHARS characters, so a 2 MB input never comes back in an error.
 */
export function clipInputs(message: string): string {
  if (message.length <= ECHO_CHARS) return message;
  return message.replace(/"((?:[^"\\]|\\.)*)"/g, (quoted, inner: string) =>
    inner.length > ECHO_CHARS
      ? `"${[...inner.slice(0, 2 * ECHO_CHARS)].slice(0, ECHO_CHARS - 1).join('')}…"`
      : quoted,
  );
}
