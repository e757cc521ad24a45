/** What went wrong with a store call, in the API's vocabulary. The message is safe to show a client. */
export type StoreErrorCode = 'NOT_FOUND' | 'CONFLICT' | 'INVALID' | 'UNAVAILABLE';

/**
 * An expected refusal from the store: something missing, a clash, a broken rule, or the database out of
 * reach. The message never holds SQL or values the caller did not give; the driver's error, if any, is
 * kept as `cause` for the logs.
 */
export class StoreError extends Error {
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StoreError';
  }
}

export const notFound = (what: string, id: string) =>
  new StoreError('NOT_FOUND', `${what} ${id} does not exist`);

/**
 * Turns a driver error into a StoreError: constraint violations become CONFLICT / NOT_FOUND / INVALID,
 * lost connections UNAVAILABLE. Anything else is returned as it is (an unexpected error, masked by the
 * API and logged whole).
 */
export function fromDriverError(err: unknown): unknown {
  if (err instanceof StoreError) return err;
  const e = err as { code?: string; constraint?: string };
  switch (e?.code) {
    case '23505':
      return new StoreError('CONFLICT', conflictMessage(e.constraint), { cause: err });
    case '23503':
      return new StoreError('NOT_FOUND', 'a referenced object does not exist', { cause: err });
    case '23502':
    case '23514':
    case '22001':
    case '22P02':
    case '22021': // character_not_in_repertoire: a NUL byte in text
    case '22P05': // untranslatable_character
      return new StoreError('INVALID', 'a value was rejected by the store', { cause: err });
    case 'ECONNREFUSED':
    case 'ECONNRESET':
    case 'ETIMEDOUT':
    case 'EPIPE':
    case '57P01': // admin_shutdown
    case '57P02': // crash_shutdown
    case '57P03': // cannot_connect_now
      return new StoreError('UNAVAILABLE', 'the store is unavailable', { cause: err });
  }
  if (typeof e?.code === 'string' && e.code.startsWith('08')) {
    return new StoreError('UNAVAILABLE', 'the store is unavailable', { cause: err });
  }
  if (
    err instanceof Error &&
    /Connection terminated|not queryable|connect ECONNREFUSED|timeout exceeded when trying to connect/i.test(
      err.message,
    )
  ) {
    return new StoreError('UNAVAILABLE', 'the store is unavailable', { cause: err });
  }
  return err;
}

function conflictMessage(constraint?: string): string {
  switch (constraint) {
    case 'users_email':
      return 'a user with this email already exists';
    case 'teams_name':
      return 'a team with this name already exists';
    case 'roles_pkey':
      return 'a role with this key already exists';
    default:
      return 'this already exists';
  }
}

/** A thrown value as an Error (DataLoader batches and joined loads carry Errors per key). */
export function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
