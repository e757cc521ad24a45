/** A refusal: the viewer lacks `permission` at `scope`. The API reports it as FORBIDDEN with both. */
export class ForbiddenError extends Error {
  override name = 'ForbiddenError';
  constructor(
    readonly permission: string,
    readonly scope: string,
    message = `forbidden: requires ${permission} at ${scope}`,
  ) {
    super(message);
  }
}

/** Input that cannot be acted on: an unknown role, a grant the catalog lacks, a broken rule. */
export class InvalidInputError extends Error {
  override name = 'InvalidInputError';
}
