/**
 * A check asked about something the catalog does not define. Never answered with ALLOW or DENY: the
 * caller gets this error (the API reports it as BAD_USER_INPUT).
 */
export class UnknownPermissionError extends Error {
  readonly permission: string;
  constructor(permission: string, hint?: string) {
    // Messages echo at most 100 characters of an input.
    const shown = permission.length > 100 ? `${permission.slice(0, 99)}…` : permission;
    super(`unknown permission "${shown}"${hint ? `: ${hint}` : ''}`);
    this.name = 'UnknownPermissionError';
    this.permission = permission;
  }
}
