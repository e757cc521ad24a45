import { ConfigError } from '../../config';
import type { Claimed, Notifications } from '../../store/notifications';
import { readableKind, scrub, type MessageParts, type SendResult } from './message';
import { DEFAULT_SLACK_API_URL, sendToSlack } from './slack';
import { DEFAULT_TEAMS_WEBHOOK_HOSTS, sendToTeams, TeamsWebhookHosts } from './teams';

export interface NotificationWorkerOptions {
  /** The outbox (`store.notifications`). */
  notifications: Pick<Notifications, 'claim' | 'delivered' | 'retryLater' | 'failed'>;
  /** Slack's Web API. Default https://slack.com/api/. */
  slackApiUrl?: string;
  /** Where Teams webhooks may point. Default DEFAULT_TEAMS_WEBHOOK_HOSTS, https only. */
  teamsHosts?: TeamsWebhookHosts;
  /** The link to a request in rolegate, from its id. Required. */
  approvalUrl: (requestId: string) => string;
  /** The catalog's name of a kind, when known (`null`: its key made readable). Default: the key made readable. */
  kindName?: (orgId: string, kind: string) => string | null | Promise<string | null>;
  /** How often to look for due notifications when nothing pokes the worker. Default 1000 ms. */
  pollMs?: number;
  /** How long a claim lasts: past it, another replica sends the notification again. Default 30000 ms. */
  leaseMs?: number;
  /** How long one send may take; must be shorter than the lease. Default min(10000, leaseMs / 2) ms. */
  sendTimeoutMs?: number;
  /** Attempts before a notification is FAILED. Default 8. */
  maxAttempts?: number;
  /**
   * The wait before attempt n+1: initialMs doubled per attempt, at most maxMs, with jitter (between half
   * and all of it). Default { initialMs: 1000, maxMs: 300000 }: 1 s doubling to 5 min.
   */
  backoff?: { initialMs: number; maxMs: number };
  /** Notifications claimed (and sent at once) per round. Default 20. */
  batch?: number;
  /** Where failures go: never a token nor a webhook URL. Default nowhere. */
  log?: (entry: Record<string, unknown>) => void;
}

/**
 * What one round did. `lost`: the outcome could not be recorded (the claim had lapsed and been taken
 * over, or the store failed); the notification is sent again later if it still needs to be.
 */
export interface RoundCounts {
  claimed: number;
  delivered: number;
  retried: number;
  failed: number;
  lost: number;
}

/**
 * Delivers the notification outbox: every replica runs one. Each round claims a batch of due
 * notifications (skipping what other replicas hold), sends them, and settles each claim: delivered,
 * retried later with back-off, or FAILED when the error will not go away or after `maxAttempts`. A
 * replica that dies mid-send leaves its claim to lapse; another sends it again with the same
 * idempotency key. Nothing it meets is thrown out of its loop: failures are logged.
 */
export class NotificationWorker {
  private readonly options: Required<Omit<NotificationWorkerOptions, 'kindName'>> &
    Pick<NotificationWorkerOptions, 'kindName'>;
  private loop: Promise<void> | null = null;
  private stopping = false;
  /** Wakes the loop from its wait (a poke, or stop). */
  private wake: (() => void) | null = null;
  private poked = false;

  constructor(options: NotificationWorkerOptions) {
    const o: Partial<NotificationWorkerOptions> = options ?? {};
    if (typeof o.notifications?.claim !== 'function')
      refuse('`notifications` must be the outbox (store.notifications)', o.notifications);
    if (typeof o.approvalUrl !== 'function')
      refuse('`approvalUrl` must be a function of a request id', o.approvalUrl);
    if (o.kindName !== undefined && typeof o.kindName !== 'function')
      refuse('`kindName` must be a function', o.kindName);
    const leaseMs = wholeNumber('leaseMs', o.leaseMs ?? 30_000, 100, 3_600_000);
    const backoff = o.backoff ?? { initialMs: 1000, maxMs: 300_000 };
    if (
      typeof backoff !== 'object' ||
      !(Number.isFinite(backoff.initialMs) && backoff.initialMs >= 0) ||
      !(Number.isFinite(backoff.maxMs) && backoff.maxMs >= backoff.initialMs)
    )
      refuse('`backoff` must be { initialMs >= 0, maxMs >= initialMs }', backoff);
    const slackApiUrl = o.slackApiUrl ?? DEFAULT_SLACK_API_URL;
    if (!isHttpUrl(slackApiUrl)) refuse('`slackApiUrl` must be an http(s) URL', slackApiUrl);
    const teamsHosts = o.teamsHosts ?? TeamsWebhookHosts.parse(DEFAULT_TEAMS_WEBHOOK_HOSTS);
    if (!(teamsHosts instanceof TeamsWebhookHosts))
      refuse('`teamsHosts` must be a TeamsWebhookHosts (TeamsWebhookHosts.parse)', teamsHosts);
    this.options = {
      notifications: o.notifications,
      approvalUrl: o.approvalUrl,
      kindName: o.kindName,
      slackApiUrl,
      teamsHosts,
      pollMs: wholeNumber('pollMs', o.pollMs ?? 1000, 1, 3_600_000),
      leaseMs,
      // A send must end (or be given up) before its lease lapses and another replica sends it too.
      sendTimeoutMs: wholeNumber(
        'sendTimeoutMs',
        o.sendTimeoutMs ?? Math.min(10_000, Math.floor(leaseMs / 2)),
        1,
        leaseMs - 1,
      ),
      maxAttempts: wholeNumber('maxAttempts', o.maxAttempts ?? 8, 1, 100),
      backoff,
      batch: wholeNumber('batch', o.batch ?? 20, 1, 1000),
      log: o.log ?? (() => {}),
    };
  }

  /** Runs rounds until `stop()`: at once while batches come back full, else every `pollMs` or on a poke. */
  start(): void {
    if (this.loop) return;
    this.stopping = false;
    this.loop = this.run();
  }

  /** Stops after the round under way: its sends finish (each within `sendTimeoutMs`) and are settled. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.loop;
    this.loop = null;
  }

  /** Something was just written to the outbox (a request opened): run a round soon. */
  poke(): void {
    this.poked = true;
    this.wake?.();
  }

  /** One round: claims up to `batch` due notifications, sends them all, settles each. */
  async runOnce(): Promise<RoundCounts> {
    const { notifications, batch, leaseMs } = this.options;
    const claims = await notifications.claim({ limit: batch, leaseMs });
    const counts: RoundCounts = { claimed: claims.length, delivered: 0, retried: 0, failed: 0, lost: 0 };
    await Promise.all(
      claims.map(async (claim) => {
        const outcome = await this.deliver(claim);
        counts[outcome]++;
      }),
    );
    return counts;
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      let full = false;
      try {
        this.poked = false;
        full = (await this.runOnce()).claimed >= this.options.batch;
      } catch (err) {
        this.options.log({
          level: 'error',
          msg: 'notification worker: a round failed; trying again',
          error: err instanceof Error ? err.message : String(err),
        });
      }
      if (!full && !this.poked && !this.stopping) await this.pause(this.options.pollMs);
    }
  }

  /** Waits `ms`, or less when poked or stopped. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  /** Sends one claim and settles it; never throws. */
  private async deliver(claim: Claimed): Promise<'delivered' | 'retried' | 'failed' | 'lost'> {
    const { notifications, maxAttempts, log } = this.options;
    const secrets = [claim.org.slackBotToken, claim.org.teamsWebhookUrl];
    const about = {
      notificationId: claim.id,
      orgId: claim.orgId,
      requestId: claim.requestId,
      channel: claim.channel,
      attempt: claim.attempts,
    };
    try {
      // Past maxAttempts only when senders died mid-send (leases lapsed) that many times: give up.
      if (claim.attempts > maxAttempts) {
        const error =
          claim.lastError ?? `gave up after ${maxAttempts} attempt${maxAttempts === 1 ? '' : 's'}`;
        return (await notifications.failed(claim, error)) ? 'failed' : 'lost';
      }
      const result = await this.send(claim);
      if (result.ok) {
        if (await notifications.delivered(claim)) return 'delivered';
        log({ level: 'warn', msg: 'notification delivered after its claim lapsed', ...about });
        return 'lost';
      }
      const error = scrub(result.error, secrets);
      if (result.retryable && claim.attempts < maxAttempts) {
        const delayMs = Math.max(this.backoffMs(claim.attempts), result.retryAfterMs ?? 0);
        log({ level: 'warn', msg: 'notification not delivered; will retry', ...about, error, delayMs });
        return (await notifications.retryLater(claim, error, delayMs)) ? 'retried' : 'lost';
      }
      log({ level: 'error', msg: 'notification failed', ...about, error });
      return (await notifications.failed(claim, error)) ? 'failed' : 'lost';
    } catch (err) {
      // The store is out of reach: the claim lapses and the notification is sent again later.
      const error = scrub(err instanceof Error ? err.message : String(err), secrets);
      log({ level: 'error', msg: 'notification outcome not recorded', ...about, error });
      return 'lost';
    }
  }

  private async send(claim: Claimed): Promise<SendResult> {
    const { slackApiUrl, teamsHosts, sendTimeoutMs } = this.options;
    try {
      const parts: MessageParts = {
        link: this.options.approvalUrl(claim.requestId),
        kindName: await this.kindName(claim),
      };
      return claim.channel === 'slack'
        ? await sendToSlack(claim, parts, { apiUrl: slackApiUrl, timeoutMs: sendTimeoutMs })
        : await sendToTeams(claim, parts, { hosts: teamsHosts, timeoutMs: sendTimeoutMs });
    } catch (err) {
      // A bug, not the service's answer: retried, as a network failure would be.
      return {
        ok: false,
        retryable: true,
        error: `${claim.channel}: ${err instanceof Error ? err.message : String(err)}`,
      };
    }
  }

  private async kindName(claim: Claimed): Promise<string> {
    const fallback = readableKind(claim.request.kind);
    if (!this.options.kindName) return fallback;
    try {
      return (await this.options.kindName(claim.orgId, claim.request.kind)) ?? fallback;
    } catch {
      return fallback;
    }
  }

  /** The wait after failed attempt `attempt` (1-based), with jitter: between half and all of it. */
  private backoffMs(attempt: number): number {
    const { initialMs, maxMs } = this.options.backoff;
    const full = Math.min(maxMs, initialMs * 2 ** Math.min(attempt - 1, 40));
    return Math.round(full / 2 + Math.random() * (full / 2));
  }
}

/** The worker's settings from the environment; every default is written next to it. */
export interface NotifyConfig {
  /** ROLEGATE_SLACK_API_URL — Slack's Web API. Default https://slack.com/api/. */
  slackApiUrl: string;
  /** ROLEGATE_TEAMS_WEBHOOK_HOSTS — comma-separated hosts, `*.` wildcards. Default DEFAULT_TEAMS_WEBHOOK_HOSTS. */
  teamsHosts: TeamsWebhookHosts;
  /** ROLEGATE_APPROVAL_URL — a link template with `{id}`. Default http://localhost:4000/approvals/{id}. */
  approvalUrl: (requestId: string) => string;
  /** ROLEGATE_NOTIFY_POLL_MS — how often the worker looks for due notifications. Default 1000. */
  pollMs: number;
}

export const DEFAULT_APPROVAL_URL = 'http://localhost:4000/approvals/{id}';

/** Reads the worker's settings; throws ConfigError naming the variable and what it was given. */
export function notifyConfigFromEnv(env: NodeJS.ProcessEnv = process.env): NotifyConfig {
  const slackApiUrl = env.ROLEGATE_SLACK_API_URL || DEFAULT_SLACK_API_URL;
  if (!isHttpUrl(slackApiUrl))
    throw new ConfigError(`ROLEGATE_SLACK_API_URL must be an http(s) URL, got "${slackApiUrl}"`);
  let teamsHosts: TeamsWebhookHosts;
  try {
    teamsHosts = TeamsWebhookHosts.parse(env.ROLEGATE_TEAMS_WEBHOOK_HOSTS || DEFAULT_TEAMS_WEBHOOK_HOSTS);
  } catch (err) {
    throw new ConfigError(`ROLEGATE_TEAMS_WEBHOOK_HOSTS: ${(err as Error).message}`);
  }
  const template = env.ROLEGATE_APPROVAL_URL || DEFAULT_APPROVAL_URL;
  if (!template.includes('{id}') || !isHttpUrl(template.replace(/\{id\}/g, 'id')))
    throw new ConfigError(
      `ROLEGATE_APPROVAL_URL must be an http(s) URL with {id} where the request id goes, got "${template}"`,
    );
  const poll = env.ROLEGATE_NOTIFY_POLL_MS;
  const pollMs = poll === undefined || poll === '' ? 1000 : Number(poll);
  if (!Number.isInteger(pollMs) || pollMs < 1 || pollMs > 3_600_000)
    throw new ConfigError(
      `ROLEGATE_NOTIFY_POLL_MS must be a whole number of milliseconds from 1 to 3600000, got "${poll}"`,
    );
  return {
    slackApiUrl,
    teamsHosts,
    approvalUrl: (id) => template.replace(/\{id\}/g, encodeURIComponent(id)),
    pollMs,
  };
}

/** Private: an option the worker cannot run with, named, with what was given. */
function refuse(what: string, got: unknown): never {
  throw new TypeError(`NotificationWorker: ${what}, got ${shown(got)}`);
}

function wholeNumber(name: string, value: unknown, min: number, max: number): number {
  if (!Number.isInteger(value) || (value as number) < min || (value as number) > max)
    refuse(`\`${name}\` must be a whole number from ${min} to ${max}`, value);
  return value as number;
}

function isHttpUrl(text: unknown): boolean {
  if (typeof text !== 'string') return false;
  try {
    const url = new URL(text);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}

function shown(value: unknown): string {
  if (typeof value === 'function') return 'a function';
  if (value === undefined) return 'undefined';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
