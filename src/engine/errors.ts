/**
 * A check asked about something the catalog does not define. Never answered with ALLOW or DENY: the
 * caller gets this error (the API reports it as BAD_USER_INPUT).
 */
export class UnknownPermissionError extends Error {
  readonly permission: string;
  constructor(permission: string, hint?: string) {
    super(`unknown permission "${permission}"${hint ? `: ${hint}` : ''}`);
    this.name = 'UnknownPermissionError';
    this.permission = permission;
  }
}
