import type { Claimed } from '../../store/notifications';
import { messageLines, networkFailure, retryAfterMs, type MessageParts, type SendResult } from './message';

/** Where Microsoft's Teams incoming webhooks and Workflows (Power Automate) triggers live. */
export const DEFAULT_TEAMS_WEBHOOK_HOSTS =
  '*.webhook.office.com,*.logic.azure.com,*.environment.api.powerplatform.com';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);
const HOST_PATTERN = /^(\*\.)?(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;

/**
 * The hosts a Teams webhook may point at. Webhook URLs are typed in by organization admins, and the
 * gateway POSTs to them from inside the network: without this list, one could make it call any internal
 * service (SSRF). A URL passes when it is `https:` on the default port, without credentials, and its
 * host is one of the list's (`*.` matches one label or more). The same check runs when the URL is saved
 * and before every send.
 */
export class TeamsWebhookHosts {
  private constructor(
    readonly patterns: readonly string[],
    private readonly insecureLoopback: boolean,
  ) {}

  /**
   * A comma-separated list such as ROLEGATE_TEAMS_WEBHOOK_HOSTS (default DEFAULT_TEAMS_WEBHOOK_HOSTS).
   * `allowInsecureLoopback` (tests and development only; default false) also accepts `http:` and any
   * port on a loopback host of the list (127.0.0.1, localhost, [::1]). Throws naming a bad entry.
   */
  static parse(
    list: string = DEFAULT_TEAMS_WEBHOOK_HOSTS,
    options: { allowInsecureLoopback?: boolean } = {},
  ): TeamsWebhookHosts {
    const patterns = list
      .split(',')
      .map((p) => p.trim().toLowerCase())
      .filter(Boolean);
    if (!patterns.length) throw new Error(`the Teams webhook host list is empty, got "${list}"`);
    for (const p of patterns) {
      if (!(HOST_PATTERN.test(p) || p === '[::1]'))
        throw new Error(`"${p}" is not a host name or a "*.domain" pattern`);
      // `*.com` would allow nearly anything: a wildcard needs a domain of two labels at least.
      if (p.startsWith('*.') && p.split('.').length < 3)
        throw new Error(
          `"${p}" is too broad: a wildcard needs a domain of two labels or more (*.example.com)`,
        );
    }
    return new TeamsWebhookHosts(patterns, options.allowInsecureLoopback === true);
  }

  /** Why `url` may not be used as a Teams webhook, naming the field; null when it may. */
  problem(url: string): string | null {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return 'teamsWebhookUrl must be an absolute https URL';
    }
    if (parsed.username || parsed.password) return 'teamsWebhookUrl must not hold a user name or password';
    const host = parsed.hostname;
    const insecureOk = this.insecureLoopback && LOOPBACK.has(host);
    if (parsed.protocol !== 'https:' && !(insecureOk && parsed.protocol === 'http:'))
      return 'teamsWebhookUrl must be an https URL';
    if (parsed.port !== '' && !insecureOk) return 'teamsWebhookUrl must use the default https port';
    if (!this.patterns.some((p) => matches(p, host)))
      return `teamsWebhookUrl's host ${host} is not allowed (ROLEGATE_TEAMS_WEBHOOK_HOSTS: ${this.patterns.join(', ')})`;
    return null;
  }
}

function matches(pattern: string, host: string): boolean {
  if (!pattern.startsWith('*.')) return host === pattern;
  const domain = pattern.slice(1); // `.example.com`
  return host.length > domain.length && host.endsWith(domain);
}

export interface TeamsOptions {
  hosts: TeamsWebhookHosts;
  /** How long one POST may take before it counts as failed (and may be retried). */
  timeoutMs: number;
}

/**
 * Posts one claimed notification to the organization's Teams webhook: a message with one Adaptive Card
 * (1.4) that mentions the recipient by their Teams address. Sent with an `Idempotency-Key` header (the
 * notification's key, the same on every attempt). 2xx is delivered; 429, 5xx and network failures may
 * be retried; any other answer (a 4xx, a redirect, which is never followed) will not get better.
 */
export async function sendToTeams(
  claim: Claimed,
  parts: MessageParts,
  options: TeamsOptions,
): Promise<SendResult> {
  const url = claim.org.teamsWebhookUrl;
  if (!url) return { ok: false, retryable: false, error: 'teams: no webhook is set for the organization' };
  const problem = options.hosts.problem(url);
  if (problem) return { ok: false, retryable: false, error: `teams: ${problem}` };
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': claim.idempotencyKey },
      body: JSON.stringify(teamsMessage(claim, parts)),
      // A redirect could lead anywhere, past the host check: it is an answer, not a hop.
      redirect: 'manual',
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    // What it says is not needed (and could be large): the status is the answer.
    await res.body?.cancel();
  } catch (err) {
    return { ok: false, retryable: true, error: `teams: ${networkFailure(err)}` };
  }
  const status = res.status;
  if (status >= 200 && status < 300) return { ok: true };
  return {
    ok: false,
    retryable: status >= 500 || status === 429 || status === 408,
    error: `teams: HTTP ${status}`,
    retryAfterMs: retryAfterMs(res.headers.get('retry-after')),
  };
}

/**
 * The message: one Adaptive Card. What users wrote (the summary, names) goes in TextRuns, which render
 * no markdown, so a summary cannot dress up as a link; the mention is the one `<at>` in a TextBlock.
 */
export function teamsMessage(claim: Claimed, parts: MessageParts) {
  const lines = messageLines(claim, parts);
  const name = claim.recipientName.replace(/[<>[\]*_`~\\]/g, '').trim() || 'approver';
  const mention = `<at>${name}</at>`;
  const run = (text: string, style: Record<string, unknown> = {}) => ({ type: 'TextRun', text, ...style });
  return {
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        contentUrl: null,
        content: {
          $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
          type: 'AdaptiveCard',
          version: '1.4',
          body: [
            {
              type: 'RichTextBlock',
              inlines: [run(`${lines.title} ${lines.where}`, { weight: 'Bolder', size: 'Medium' })],
            },
            { type: 'TextBlock', text: `${mention}, you are asked to decide:`, wrap: true },
            { type: 'RichTextBlock', inlines: [run(lines.summary)] },
            { type: 'RichTextBlock', inlines: [run(lines.forWhom, { isSubtle: true })] },
            { type: 'RichTextBlock', inlines: [run(lines.how)] },
          ],
          actions: [{ type: 'Action.OpenUrl', title: 'Open the request', url: parts.link }],
          msteams: {
            width: 'Full',
            entities: [{ type: 'mention', text: mention, mentioned: { id: claim.address, name } }],
          },
        },
      },
    ],
  };
}
