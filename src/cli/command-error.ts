/** A command that cannot do what was asked, for a reason the message gives in one line (exit 1). */
export class CommandError extends Error {
  override name = 'CommandError';
}
