import { CommandError } from './command-error';

/** How long `rolegate token` waits for the running gateway's answer. */
const ANSWER_TIMEOUT_MS = 10_000;

/**
 * Asks the gateway at `url` (its base or its /graphql address) for a development token
 * (POST /dev/token). Resolves with the token; with null when nothing listens there (the caller then
 * opens the store itself); throws CommandError with the gateway's reason when it refuses, or when
 * what answers is no development gateway.
 */
export async function tokenFromServer(url: string, org: string, user: string): Promise<string | null> {
  const base = url.replace(/\/+$/, '').replace(/\/graphql$/, '');
  let res: Response;
  try {
    res = await fetch(`${base}/dev/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ org, user }),
      signal: AbortSignal.timeout(ANSWER_TIMEOUT_MS),
    });
  } catch (err) {
    if (refused(err)) return null;
    throw new CommandError(
      `the gateway at ${base} did not answer (${(err as Error).message}): is it running there? (--url)`,
    );
  }
  const text = await res.text();
  let body: { token?: unknown; errors?: { message?: unknown }[] } | undefined;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (res.ok && typeof body?.token === 'string') return body.token;
  const message = body?.errors?.[0]?.message;
  // The gateway's answer for a path it has not: no /dev/token there (production, or another key).
  if (res.status === 404 && (typeof message !== 'string' || message === 'not found'))
    throw new CommandError(
      `the server at ${base} has no /dev/token: it is not a rolegate gateway in development mode with the development signing key. Stop it to use the store, or point --url at the right one`,
    );
  throw new CommandError(
    typeof message === 'string'
      ? message
      : `the server at ${base} answered HTTP ${res.status} without a token`,
  );
}

/** Whether a fetch failed because nothing listens at the address. */
function refused(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ECONNREFUSED') return true;
    // AggregateError of every address tried (localhost: ::1 and 127.0.0.1): refused by all of them.
    if (e instanceof AggregateError && e.errors.length > 0 && e.errors.every(refused)) return true;
  }
  return false;
}
