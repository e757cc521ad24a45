import { unwrapResolverError } from '@apollo/server/errors';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { CatalogError } from '../catalog';
import { UnknownPermissionError } from '../engine';
import { ForbiddenError, InvalidInputError } from '../authz/errors';
import { StoreError } from '../store';

/**
 * Two kinds of error: expected refusals, typed, with a code from this list and what was refused; and
 * everything else, masked for the client as "Unexpected error." and logged whole.
 */
export const ErrorCode = {
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  UNAVAILABLE: 'UNAVAILABLE',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
} as const;

/** Codes Apollo Server itself gives to a request it could not run; safe to pass through. */
const REQUEST_CODES = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'BAD_REQUEST',
  'OPERATION_RESOLUTION_FAILURE',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  ...Object.values(ErrorCode),
]);

export function forbidden(err: ForbiddenError): GraphQLError {
  return new GraphQLError(err.message, {
    extensions: { code: ErrorCode.FORBIDDEN, permission: err.permission, scope: err.scope },
  });
}

export function unauthenticated(message: string): GraphQLError {
  return new GraphQLError(message, {
    extensions: { code: ErrorCode.UNAUTHENTICATED, http: { status: 401 } },
  });
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

/** The error a client sees for a thrown value; `log` gets the ones masked. */
export function formatError(
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
  if (original instanceof UnknownPermissionError || original instanceof InvalidInputError) {
    return { ...base, message: original.message, extensions: { code: ErrorCode.BAD_USER_INPUT } };
  }
  if (original instanceof CatalogError) {
    return {
      ...base,
      message: original.issues.map((i) => `${i.path}: ${i.message}`).join('; '),
      extensions: { code: ErrorCode.BAD_USER_INPUT },
    };
  }
  const code = formatted.extensions?.code;
  // graphql's parser names its token limit ("Document contains more that N tokens"): never tell it.
  if (code === 'GRAPHQL_PARSE_FAILED' && /contains more th(?:an|at) \d+ tokens/.test(formatted.message)) {
    return { message: 'Syntax Error: the document is too large.', extensions: { code } };
  }
  if (typeof code === 'string' && REQUEST_CODES.has(code) && code !== ErrorCode.INTERNAL_SERVER_ERROR) {
    const { stacktrace: _stack, exception: _exception, ...extensions } = formatted.extensions ?? {};
    return { ...base, extensions };
  }
  log(original);
  return {
    message: 'Unexpected error.',
    ...(formatted.path ? { path: formatted.path } : {}),
    extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR },
  };
}
