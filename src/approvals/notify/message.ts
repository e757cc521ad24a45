import type { Claimed } from '../../store/notifications';

/**
 * How one send went. A failure says whether trying again may help (network, 5xx, rate limits) and
 * what went wrong in a short line that names the channel and never holds a secret (`slack: HTTP 500`,
 * `slack: channel_not_found`, `teams: HTTP 400`). `retryAfterMs`: the service asked us to wait.
 */
export type SendResult =
  { ok: true } | { ok: false; retryable: boolean; error: string; retryAfterMs?: number };

/** What a message says besides the claim itself. */
export interface MessageParts {
  /** Where the approver opens the request in rolegate. */
  link: string;
  /** The kind's name as the catalog gives it (`Agent tool use`), or its key made readable. */
  kindName: string;
}

/** A kind's key made readable when its name is not known: `tool_use` → `tool use`. */
export function readableKind(kind: string): string {
  return kind.replace(/[_-]+/g, ' ').trim() || kind;
}

/** The few lines every message says, in plain text; each channel escapes and lays them out. */
export function messageLines(claim: Claimed, parts: MessageParts) {
  const { request } = claim;
  return {
    title: `Approval needed: ${parts.kindName}`,
    where: `in ${claim.org.name}`,
    summary: request.summary,
    forWhom: `For ${request.subjectName}${request.tool ? `, tool ${request.tool}` : ''}; expires ${request.expiresAt.toISOString()}.`,
    how: 'Approve it in rolegate with your own account.',
  };
}

/**
 * `text` with every secret in `secrets` replaced: the last line of defence for what is logged and
 * stored (a service may echo what it was sent).
 */
export function scrub(text: string, secrets: readonly (string | null | undefined)[]): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 8) out = out.split(s).join('[redacted]');
  return out;
}

/** The seconds of a Retry-After header as milliseconds (capped at an hour); undefined when absent. */
export function retryAfterMs(header: string | null | undefined): number | undefined {
  if (header == null) return undefined;
  const seconds = Number(header.trim());
  if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds, 3_600) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.min(Math.max(0, at - Date.now()), 3_600_000);
}

/** A failed request in a few words: timed out, or its error code. Never a URL: a webhook URL is a credential. */
export function networkFailure(err: unknown): string {
  const e = err as { name?: string; code?: string; cause?: { code?: string } } | null;
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return 'no answer in time';
  const code = e?.cause?.code ?? e?.code;
  return code ? `request failed (${code})` : `request failed (${e?.name ?? 'error'})`;
}
