import type { Db } from './db';
import { notFound } from './errors';
import { isUuid } from './ids';
import { check, type Recorder, type WriteContext } from './write';

export type NotificationChannel = 'slack' | 'teams';
export type NotificationStatus = 'PENDING' | 'SENDING' | 'DELIVERED' | 'FAILED';

/** One message to one approver about one request, as the outbox has it. */
export interface Notification {
  id: string;
  requestId: string;
  channel: NotificationChannel;
  recipientId: string;
  status: NotificationStatus;
  /** Attempts started so far, the one under way included. */
  attempts: number;
  /** Why the last failed attempt failed (kept after a later success); never a secret. */
  lastError: string | null;
  deliveredAt: Date | null;
  createdAt: Date;
}

/**
 * A notification leased to one sender until its lease lapses, with everything its message needs. The
 * pair (`id`, `attempts`) names the claim: only its holder may settle it (`delivered`, `retryLater`,
 * `failed`), and only while no one has claimed it again.
 */
export interface Claimed {
  orgId: string;
  id: string;
  requestId: string;
  channel: NotificationChannel;
  recipientId: string;
  /** The recipient's name, or their email when they have none. */
  recipientName: string;
  /** The Slack member id or the Teams address, as it was when the request opened. */
  address: string;
  /** The same on every attempt: a receiver tells a redelivery by it. */
  idempotencyKey: string;
  /** This attempt's number, 1 for the first. */
  attempts: number;
  lastError: string | null;
  request: {
    kind: string;
    tool: string | null;
    summary: string;
    subjectId: string;
    /** The subject's name, or their email. */
    subjectName: string;
    status: string;
    expiresAt: Date;
  };
  /**
   * The organization's name and how to reach its chat. `slackBotToken` is not enumerable, so a claim
   * that ends up in a log line or a JSON body does not carry the token with it.
   */
  org: { name: string; slackBotToken: string | null; teamsWebhookUrl: string | null };
}

/** Which claim an outcome is for. */
export type ClaimRef = Pick<Claimed, 'orgId' | 'id' | 'attempts'>;

/** How an organization reaches its approvers. The Slack token itself is never read back. */
export interface NotificationSettings {
  slackBotTokenSet: boolean;
  teamsWebhookUrl: string | null;
}

/** Where one user is reached. */
export interface NotificationAddresses {
  slackMemberId: string | null;
  teamsAddress: string | null;
}

export interface NotificationsOptions {
  /**
   * Checks a Teams webhook URL before it is saved: a message naming `teamsWebhookUrl` when it is
   * refused, null when it is accepted. The gateway passes its host allow-list
   * (`TeamsWebhookHosts.problem`, src/approvals/notify/teams.ts). Default: any `https:` URL (the
   * worker checks the allow-list again before every send).
   */
  checkTeamsWebhookUrl?: (url: string) => string | null;
}

/** What a stored error may hold: one line, at most the column's 500 characters. */
export const MAX_ERROR_LENGTH = 500;

const NO_LONGER_PENDING = 'the request was no longer pending';

interface Row {
  id: string;
  request_id: string;
  channel: NotificationChannel;
  recipient_id: string;
  status: NotificationStatus;
  attempts: number;
  last_error: string | null;
  delivered_at: Date | null;
  created_at: Date;
}

const COLUMNS =
  'id, request_id, channel, recipient_id, status, attempts, last_error, delivered_at, created_at';
const fromRow = (r: Row): Notification => ({
  id: r.id,
  requestId: r.request_id,
  channel: r.channel,
  recipientId: r.recipient_id,
  status: r.status,
  attempts: Number(r.attempts),
  lastError: r.last_error,
  deliveredAt: r.delivered_at,
  createdAt: r.created_at,
});

interface ClaimRow {
  org_id: string;
  id: string;
  request_id: string;
  channel: NotificationChannel;
  recipient_id: string;
  recipient_name: string;
  address: string;
  idempotency_key: string;
  attempts: number;
  last_error: string | null;
  kind: string;
  tool: string | null;
  summary: string;
  subject_id: string;
  subject_name: string;
  request_status: string;
  expires_at: Date;
  org_name: string;
  slack_bot_token: string | null;
  teams_webhook_url: string | null;
}

const SLACK_BOT_TOKEN = /^xoxb-[A-Za-z0-9-]{10,490}$/;
const SLACK_MEMBER_ID = /^[UW][A-Z0-9]{2,30}$/;

/**
 * The notification outbox and where notifications go. Requests write their notifications when they
 * open (`Approvals.open`); a worker on every replica `claim`s what is due, sends it, and settles each
 * claim. A claim is a lease: a replica that dies mid-send lets it lapse and another sends the message
 * again, with the same idempotency key, so delivery is at least once.
 */
export class Notifications {
  private readonly checkTeamsWebhookUrl: (url: string) => string | null;

  constructor(
    private readonly db: Db,
    private readonly record: Recorder,
    options: NotificationsOptions = {},
  ) {
    this.checkTeamsWebhookUrl = options.checkTeamsWebhookUrl ?? httpsOnly;
  }

  /** The notifications of each request, oldest first: one list per id, in key order. */
  async forRequests(orgId: string, requestIds: readonly string[]): Promise<Notification[][]> {
    const valid = requestIds.filter(isUuid);
    if (!isUuid(orgId) || !valid.length) return requestIds.map(() => []);
    const rows = await this.db.query<Row>(
      `SELECT ${COLUMNS} FROM notifications WHERE org_id = $1 AND request_id = ANY($2::uuid[])
        ORDER BY created_at, id`,
      [orgId, valid],
    );
    const byRequest = new Map<string, Notification[]>();
    for (const r of rows) {
      const list = byRequest.get(r.request_id) ?? [];
      list.push(fromRow(r));
      byRequest.set(r.request_id, list);
    }
    return requestIds.map((id) => byRequest.get(id) ?? []);
  }

  /**
   * Leases up to `limit` due notifications of any organization for `leaseMs`: those waiting for their
   * (next) attempt, and those whose sender's lease lapsed (it died mid-send). Rows another replica is
   * claiming right now are skipped, not waited for, so replicas never claim the same row twice. A
   * notification whose request is no longer pending (decided, cancelled, expired) is not sent: it is
   * marked FAILED here and not returned. One short transaction, two statements.
   */
  async claim(options: { limit: number; leaseMs: number }): Promise<Claimed[]> {
    check(Number.isInteger(options.limit) && options.limit > 0, 'claim: limit must be a positive integer');
    check(Number.isInteger(options.leaseMs) && options.leaseMs > 0, 'claim: leaseMs must be positive');
    const rows = await this.db.transaction(async (tx) => {
      // A leased row's next_attempt_at is its lease's end, so one index (notifications_due) finds both.
      const leased = await tx.query<{ org_id: string; id: string; live: boolean }>(
        `WITH due AS (
           SELECT n.org_id, n.id, (r.status = 'PENDING' AND r.expires_at > now()) AS live
             FROM notifications n
             JOIN approval_requests r ON r.org_id = n.org_id AND r.id = n.request_id
            WHERE n.status IN ('PENDING', 'SENDING') AND n.next_attempt_at <= now()
              AND (n.status = 'PENDING' OR n.leased_until < now())
            ORDER BY n.next_attempt_at, n.id
            LIMIT $1
              FOR UPDATE OF n SKIP LOCKED)
         UPDATE notifications n
            SET status = CASE WHEN due.live THEN 'SENDING' ELSE 'FAILED' END,
                attempts = CASE WHEN due.live THEN n.attempts + 1 ELSE n.attempts END,
                leased_until = CASE WHEN due.live THEN now() + make_interval(secs => $2::double precision / 1000) END,
                next_attempt_at = CASE WHEN due.live
                                       THEN now() + make_interval(secs => $2::double precision / 1000)
                                       ELSE n.next_attempt_at END,
                last_error = CASE WHEN due.live THEN n.last_error ELSE $3 END
           FROM due
          WHERE n.org_id = due.org_id AND n.id = due.id
          RETURNING n.org_id, n.id, due.live`,
        [options.limit, options.leaseMs, NO_LONGER_PENDING],
      );
      const live = leased.filter((r) => r.live);
      if (!live.length) return [];
      return tx.query<ClaimRow>(
        `SELECT n.org_id, n.id, n.request_id, n.channel, n.recipient_id,
                COALESCE(ru.name, ru.email) AS recipient_name, n.address, n.idempotency_key, n.attempts,
                n.last_error, r.kind, r.tool, r.summary, r.subject_id,
                COALESCE(su.name, su.email) AS subject_name, r.status AS request_status, r.expires_at,
                o.name AS org_name, s.slack_bot_token, s.teams_webhook_url
           FROM unnest($1::uuid[], $2::uuid[]) AS c(org_id, id)
           JOIN notifications n ON n.org_id = c.org_id AND n.id = c.id
           JOIN approval_requests r ON r.org_id = n.org_id AND r.id = n.request_id
           JOIN organizations o ON o.id = n.org_id
           JOIN users ru ON ru.org_id = n.org_id AND ru.id = n.recipient_id
           JOIN users su ON su.org_id = r.org_id AND su.id = r.subject_id
           LEFT JOIN notification_settings s ON s.org_id = n.org_id
          ORDER BY n.next_attempt_at, n.id`,
        [live.map((r) => r.org_id), live.map((r) => r.id)],
      );
    });
    return rows.map(claimFromRow);
  }

  /** The claim's message was delivered. False when the claim is no longer this sender's. */
  delivered(claim: ClaimRef): Promise<boolean> {
    return this.settle(claim, `status = 'DELIVERED', delivered_at = now()`, []);
  }

  /** The attempt failed and may be retried in `delayMs` (database time). False when no longer held. */
  retryLater(claim: ClaimRef, error: string, delayMs: number): Promise<boolean> {
    check(Number.isFinite(delayMs) && delayMs >= 0, 'retryLater: delayMs must be a number of milliseconds');
    return this.settle(
      claim,
      `status = 'PENDING', last_error = $4,
       next_attempt_at = now() + make_interval(secs => $5::double precision / 1000)`,
      [shortError(error), delayMs],
    );
  }

  /** The notification will never be delivered: FAILED, with why. False when no longer held. */
  failed(claim: ClaimRef, error: string): Promise<boolean> {
    return this.settle(claim, `status = 'FAILED', last_error = $4`, [shortError(error)]);
  }

  /** How the organization reaches its approvers; the defaults for one with no settings. */
  async settings(orgId: string): Promise<NotificationSettings> {
    if (!isUuid(orgId)) return { slackBotTokenSet: false, teamsWebhookUrl: null };
    const [row] = await this.db.query<{ token_set: boolean; teams_webhook_url: string | null }>(
      `SELECT slack_bot_token IS NOT NULL AS token_set, teams_webhook_url
         FROM notification_settings WHERE org_id = $1`,
      [orgId],
    );
    return { slackBotTokenSet: row?.token_set ?? false, teamsWebhookUrl: row?.teams_webhook_url ?? null };
  }

  /**
   * Sets how the organization reaches its approvers: a field left undefined is kept, null clears it.
   * Audited (`setNotificationSettings`) with whether a token is set, never the token, and the webhook's
   * host only (a webhook URL is itself a credential).
   */
  async setSettings(
    ctx: Omit<WriteContext, 'invariants'>,
    input: { slackBotToken?: string | null; teamsWebhookUrl?: string | null },
  ): Promise<NotificationSettings> {
    const { slackBotToken, teamsWebhookUrl } = input;
    if (slackBotToken != null)
      check(
        typeof slackBotToken === 'string' && SLACK_BOT_TOKEN.test(slackBotToken),
        'slackBotToken must be a Slack bot token (xoxb-…, at most 500 characters)',
      );
    if (teamsWebhookUrl != null) {
      check(
        typeof teamsWebhookUrl === 'string' && teamsWebhookUrl.length <= 2000,
        'teamsWebhookUrl must be a URL of at most 2000 characters',
      );
      const problem = this.checkTeamsWebhookUrl(teamsWebhookUrl);
      check(problem === null, problem ?? '');
    }
    return this.record(ctx, async (tx) => {
      const [row] = await tx.query<{ slack_bot_token: string | null; teams_webhook_url: string | null }>(
        'SELECT slack_bot_token, teams_webhook_url FROM notification_settings WHERE org_id = $1 FOR UPDATE',
        [ctx.orgId],
      );
      const before = { token: row?.slack_bot_token ?? null, url: row?.teams_webhook_url ?? null };
      const after = {
        token: slackBotToken === undefined ? before.token : slackBotToken,
        url: teamsWebhookUrl === undefined ? before.url : teamsWebhookUrl,
      };
      const result = { slackBotTokenSet: after.token !== null, teamsWebhookUrl: after.url };
      if (after.token === before.token && after.url === before.url) return { entries: [], result };
      await tx.query(
        `INSERT INTO notification_settings (org_id, slack_bot_token, teams_webhook_url, updated_at)
         VALUES ($1, $2, $3, now())
         ON CONFLICT (org_id) DO UPDATE
           SET slack_bot_token = EXCLUDED.slack_bot_token, teams_webhook_url = EXCLUDED.teams_webhook_url,
               updated_at = now()`,
        [ctx.orgId, after.token, after.url],
      );
      const audited = (s: { token: string | null; url: string | null }, replaced = false) => ({
        slackBotTokenSet: s.token !== null,
        ...(replaced ? { slackBotTokenReplaced: true } : {}),
        teamsWebhookHost: s.url === null ? null : hostOf(s.url),
      });
      const replaced = before.token !== null && after.token !== null && before.token !== after.token;
      return {
        entries: [
          {
            action: 'setNotificationSettings',
            target: `organization:${ctx.orgId}`,
            before: audited(before),
            after: audited(after, replaced),
          },
        ],
        result,
      };
    });
  }

  /** Where each user is reached: one entry per id, in key order; null for no such user here. */
  async addresses(orgId: string, userIds: readonly string[]): Promise<(NotificationAddresses | null)[]> {
    const valid = userIds.filter(isUuid);
    if (!isUuid(orgId) || !valid.length) return userIds.map(() => null);
    const rows = await this.db.query<{
      id: string;
      slack_member_id: string | null;
      teams_address: string | null;
    }>('SELECT id, slack_member_id, teams_address FROM users WHERE org_id = $1 AND id = ANY($2::uuid[])', [
      orgId,
      valid,
    ]);
    const byId = new Map(
      rows.map((r) => [r.id, { slackMemberId: r.slack_member_id, teamsAddress: r.teams_address }]),
    );
    return userIds.map((id) => byId.get(id) ?? null);
  }

  /**
   * Sets where a user is reached: a field left undefined is kept, null clears it. Audited
   * (`setNotificationAddresses`); NOT_FOUND for a user not in the organization. Notifications already
   * written keep the address they were written with.
   */
  async setAddresses(
    ctx: Omit<WriteContext, 'invariants'>,
    userId: string,
    input: { slackMemberId?: string | null; teamsAddress?: string | null },
  ): Promise<NotificationAddresses> {
    const { slackMemberId, teamsAddress } = input;
    if (slackMemberId != null)
      check(
        typeof slackMemberId === 'string' && SLACK_MEMBER_ID.test(slackMemberId),
        'slackMemberId must be a Slack member id such as U0123ABCD',
      );
    if (teamsAddress != null)
      check(
        typeof teamsAddress === 'string' &&
          teamsAddress.length >= 3 &&
          teamsAddress.length <= 320 &&
          // eslint-disable-next-line no-control-regex
          !/[\s\u0000-\u001f\u007f<>]/.test(teamsAddress),
        'teamsAddress must be a Teams user principal name (or Entra object id) of 3 to 320 characters, without spaces or < >',
      );
    if (!isUuid(userId)) throw notFound('user', userId);
    return this.record(ctx, async (tx) => {
      const [row] = await tx.query<{ slack_member_id: string | null; teams_address: string | null }>(
        'SELECT slack_member_id, teams_address FROM users WHERE org_id = $1 AND id = $2 FOR UPDATE',
        [ctx.orgId, userId],
      );
      if (!row) throw notFound('user', userId);
      const before: NotificationAddresses = {
        slackMemberId: row.slack_member_id,
        teamsAddress: row.teams_address,
      };
      const after: NotificationAddresses = {
        slackMemberId: slackMemberId === undefined ? before.slackMemberId : slackMemberId,
        teamsAddress: teamsAddress === undefined ? before.teamsAddress : teamsAddress,
      };
      if (after.slackMemberId === before.slackMemberId && after.teamsAddress === before.teamsAddress)
        return { entries: [], result: after };
      await tx.query(
        'UPDATE users SET slack_member_id = $3, teams_address = $4 WHERE org_id = $1 AND id = $2',
        [ctx.orgId, userId, after.slackMemberId, after.teamsAddress],
      );
      return {
        entries: [{ action: 'setNotificationAddresses', target: `user:${userId}`, before, after }],
        result: after,
      };
    });
  }

  /**
   * Settles a claim, only while it is still the one claimed: the same attempt, still SENDING. A sender
   * whose lease lapsed and was taken over cannot overwrite the newer attempt's outcome.
   */
  private async settle(claim: ClaimRef, set: string, params: unknown[]): Promise<boolean> {
    if (!isUuid(claim.orgId) || !isUuid(claim.id)) return false;
    // `set` is one of the fixed fragments above, never input.
    const rows = await this.db.query(
      `UPDATE notifications SET ${set}, leased_until = NULL
        WHERE org_id = $1 AND id = $2 AND attempts = $3 AND status = 'SENDING'
        RETURNING id`,
      [claim.orgId, claim.id, claim.attempts, ...params],
    );
    return rows.length === 1;
  }
}

function claimFromRow(r: ClaimRow): Claimed {
  const org = { name: r.org_name, teamsWebhookUrl: r.teams_webhook_url } as Claimed['org'];
  Object.defineProperty(org, 'slackBotToken', { value: r.slack_bot_token, enumerable: false });
  return {
    orgId: r.org_id,
    id: r.id,
    requestId: r.request_id,
    channel: r.channel,
    recipientId: r.recipient_id,
    recipientName: r.recipient_name,
    address: r.address,
    idempotencyKey: r.idempotency_key,
    attempts: Number(r.attempts),
    lastError: r.last_error,
    request: {
      kind: r.kind,
      tool: r.tool,
      summary: r.summary,
      subjectId: r.subject_id,
      subjectName: r.subject_name,
      status: r.request_status,
      expiresAt: r.expires_at,
    },
    org,
  };
}

/** One line, at most MAX_ERROR_LENGTH characters (code points, as PostgreSQL counts them). */
export function shortError(error: string): string {
  const line = String(error).replace(/\s+/g, ' ').trim() || 'unknown error';
  const chars = Array.from(line);
  return chars.length <= MAX_ERROR_LENGTH ? line : chars.slice(0, MAX_ERROR_LENGTH - 1).join('') + '…';
}

function httpsOnly(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'teamsWebhookUrl must be an absolute https URL';
  }
  return parsed.protocol === 'https:' ? null : 'teamsWebhookUrl must be an https URL';
}

function hostOf(url: string): string | null {
  try {
    return new URL(url).host;
  } catch {
    return null;
  }
}
