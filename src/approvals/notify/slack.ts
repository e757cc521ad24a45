import {
  WebAPIHTTPError,
  WebAPIPlatformError,
  WebAPIRateLimitedError,
  WebAPIRequestError,
  WebClient,
  LogLevel,
  type FetchFunction,
  type Logger,
} from '@slack/web-api';
import type { Claimed } from '../../store/notifications';
import { messageLines, networkFailure, retryAfterMs, type MessageParts, type SendResult } from './message';

/** Slack's Web API. */
export const DEFAULT_SLACK_API_URL = 'https://slack.com/api/';

/** Slack's `metadata.event_type` on every approval message: receivers match it. */
export const SLACK_EVENT_TYPE = 'rolegate_approval';

export interface SlackOptions {
  /** The Web API's base URL (default DEFAULT_SLACK_API_URL; a stand-in in tests). */
  apiUrl: string;
  /** How long one call may take before it counts as failed (and may be retried). */
  timeoutMs: number;
}

/**
 * Slack `error` codes worth trying again: Slack's own trouble, not ours. Every other code (`invalid_auth`,
 * `not_authed`, `channel_not_found`, `user_not_found`, `account_inactive`, `missing_scope`, …) will not
 * get better by retrying.
 */
const RETRYABLE_SLACK_ERRORS = new Set([
  'ratelimited',
  'rate_limited',
  'internal_error',
  'fatal_error',
  'service_unavailable',
  'request_timeout',
]);

/**
 * Sends one claimed notification as a direct message from the organization's bot (`chat.postMessage`
 * to the member id), carrying the request id and the idempotency key in Slack's message metadata so a
 * receiver can tell a redelivery. The client does not retry nor wait out rate limits itself: the
 * worker retries, with back-off, from the outbox.
 */
export async function sendToSlack(
  claim: Claimed,
  parts: MessageParts,
  options: SlackOptions,
): Promise<SendResult> {
  const token = claim.org.slackBotToken;
  if (!token)
    return { ok: false, retryable: false, error: 'slack: no bot token is set for the organization' };
  const client = new WebClient(token, {
    slackApiUrl: options.apiUrl,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    timeout: options.timeoutMs,
    // Only ever the Web API's own methods under apiUrl.
    allowAbsoluteUrls: false,
    logger: SILENT,
    fetch: fetchWithPlainFailures,
  });
  const lines = messageLines(claim, parts);
  const text = [
    `*${escape(lines.title)}* ${escape(lines.where)}`,
    `>${escape(lines.summary).replace(/\n/g, '\n>')}`,
    escape(lines.forWhom),
    `${escape(lines.how)} <${linkTarget(parts.link)}|Open the request>`,
  ].join('\n');
  try {
    await client.chat.postMessage({
      channel: claim.address,
      text,
      unfurl_links: false,
      unfurl_media: false,
      metadata: {
        event_type: SLACK_EVENT_TYPE,
        event_payload: { request_id: claim.requestId, idempotency_key: claim.idempotencyKey },
      },
    });
    return { ok: true };
  } catch (err) {
    return slackFailure(err);
  }
}

/** What a failed call was, in a short line without the token (the SDK's errors do not carry it). */
function slackFailure(err: unknown): SendResult {
  if (err instanceof WebAPIPlatformError) {
    const code = String(err.data.error).slice(0, 100);
    return { ok: false, retryable: RETRYABLE_SLACK_ERRORS.has(code), error: `slack: ${code}` };
  }
  if (err instanceof WebAPIRateLimitedError)
    return {
      ok: false,
      retryable: true,
      error: 'slack: HTTP 429',
      retryAfterMs: Math.min(err.retryAfter, 3_600) * 1000,
    };
  if (err instanceof WebAPIHTTPError) {
    const status = err.statusCode;
    return {
      ok: false,
      retryable: status >= 500 || status === 408 || status === 429,
      error: `slack: HTTP ${status}`,
      retryAfterMs: retryAfterMs(err.headers['retry-after']),
    };
  }
  if (err instanceof WebAPIRequestError) {
    const words =
      err.original instanceof NetworkFailure ? err.original.message : networkFailure(err.original);
    return { ok: false, retryable: true, error: `slack: ${words}` };
  }
  // A 429 without a usable Retry-After comes out of the SDK as a plain Error.
  const message = err instanceof Error ? err.message : String(err);
  if (/rate limit|retry header/i.test(message))
    return { ok: false, retryable: true, error: 'slack: HTTP 429' };
  return { ok: false, retryable: true, error: `slack: ${networkFailure(err)}` };
}

/** A request that got no answer, its message already the few words the worker records. */
class NetworkFailure extends Error {
  override name = 'NetworkFailure';
}

/**
 * fetch for the SDK, whose failures carry what went wrong (a timeout, ECONNREFUSED) in their message:
 * the SDK keeps a failure's `cause` only when it is an Error of its own realm, which fetch's are not
 * always (jest runs modules in a realm of their own).
 */
const fetchWithPlainFailures: FetchFunction = async (url, init) => {
  try {
    return await fetch(url, init as RequestInit);
  } catch (err) {
    throw new NetworkFailure(networkFailure(err));
  }
};

/** A URL inside Slack's `<url|label>`: its `|` and `>` would end it early. */
function linkTarget(url: string): string {
  return url.replace(/\|/g, '%7C').replace(/>/g, '%3E').replace(/</g, '%3C');
}

/** Slack's three control characters in text: `&`, `<` and `>` (so a summary cannot ping @channel). */
function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const SILENT: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  setLevel: () => {},
  getLevel: () => LogLevel.ERROR,
  setName: () => {},
};
