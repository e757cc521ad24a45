import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { ConfigError } from '../../src/config';
import { TeamsWebhookHosts } from '../../src/approvals/notify/teams';
import {
  NotificationWorker,
  notifyConfigFromEnv,
  type NotificationWorkerOptions,
} from '../../src/approvals/notify/worker';
import { openStore, StoreError, type Store } from '../../src/store';
import { Notifications } from '../../src/store/notifications';
import { recorder } from '../../src/store/write';
import { startChatStandin, type ChatStandin } from '../support/chat-standin';
import { freePort } from '../support/postgres-server';
import { BACKENDS, newOrg, openTestStore, privateDatabase, type Backend } from '../support/stores';

/**
 * The notification outbox, end to end: requests opened through the store write their notifications,
 * workers claim and send them over real HTTP to a stand-in for Slack and Teams, on PGlite and on a real
 * PostgreSQL. Workers claim across organizations, so each backend gets a database of its own (a fresh
 * PostgreSQL database, a fresh PGlite folder) where no other test file's notifications live.
 */

const SLACK_TOKEN = 'xoxb-1234567890-0987654321-SeCrEtToKeN0123456789';
const TEAMS_HOSTS = TeamsWebhookHosts.parse('127.0.0.1', { allowInsecureLoopback: true });
const ROOT = path.resolve(__dirname, '..', '..');
const link = (id: string) => `https://rolegate.example/approvals/${id}`;

interface World {
  store: Store;
  notifications: Notifications;
  /** The database's URL (PostgreSQL only), for a second replica. */
  databaseUrl?: string;
  close(): Promise<void>;
}

/** A store over a database no other test file uses. */
async function openWorld(backend: Backend): Promise<World> {
  let databaseUrl: string | undefined;
  let drop = async () => {};
  if (backend === 'postgres') {
    const own = await privateDatabase('rolegate_outbox');
    databaseUrl = own.url;
    drop = own.drop;
  }
  const { store, close } = await openTestStore(backend, databaseUrl);
  return {
    store,
    notifications: outbox(store),
    databaseUrl,
    async close() {
      await close();
      await drop();
    },
  };
}

/** The outbox over a store's database, with the test's Teams host list. */
const outbox = (store: Store) =>
  new Notifications(
    store.db,
    recorder((fn) => store.db.transaction(fn)),
    {
      checkTeamsWebhookUrl: (url) => TEAMS_HOSTS.problem(url),
    },
  );

/** Polls `fn` until it returns something truthy; fails after `timeoutMs`, saying what it waited for. */
async function until<T>(what: string, fn: () => Promise<T> | T, timeoutMs = 10_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 15));
  }
}

const rejection = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: unknown) => err as StoreError,
  );

async function setUp(backend: Backend) {
  const world = await openWorld(backend);
  const standin = await startChatStandin();
  return { world, standin };
}

/**
 * An organization with Slack and Teams set up: a subject, `approvers` approvers reachable on both, and a
 * way to open a request (through the store, as the API does) that notifies them on one channel.
 */
async function organization(world: World, standin: ChatStandin, approvers = 1) {
  const { store, notifications } = world;
  const { orgId, ctx } = await newOrg(store, 'Acme & Co');
  const subject = (await store.users.create(ctx, { email: 'sam@example.com', name: 'Sam Subject' })).result;
  const people: { id: string; slackMemberId: string; teamsAddress: string }[] = [];
  for (let i = 0; i < approvers; i++) {
    const user = (await store.users.create(ctx, { email: `ann${i}@example.com`, name: `Ann ${i}` })).result;
    const address = { slackMemberId: `U0ANN${i}`, teamsAddress: `ann${i}@contoso.example` };
    await notifications.setAddresses(ctx, user.id, address);
    people.push({ id: user.id, ...address });
  }
  await notifications.setSettings(ctx, {
    slackBotToken: SLACK_TOKEN,
    teamsWebhookUrl: standin.teamsUrl(orgId),
  });
  const open = async (channel: 'slack' | 'teams', options: { summary?: string; to?: typeof people } = {}) => {
    const request = await store.approvals.open(
      ctx,
      {
        kind: 'tool_use',
        tool: 'invoices',
        subjectId: subject.id,
        requestedBy: subject.id,
        summary: options.summary ?? 'Pay invoice 42 to Globex',
        arguments: { invoice: 42 },
        argumentsHash: createHash('sha256').update('{"invoice":42}').digest('hex'),
        locationId: null,
        lifetimeSeconds: 3600,
      },
      (options.to ?? people).map((p) => ({
        channel,
        recipientId: p.id,
        address: channel === 'slack' ? p.slackMemberId : p.teamsAddress,
      })),
    );
    const [list] = await notifications.forRequests(orgId, [request.id]);
    return { request, notifications: list! };
  };
  return { orgId, ctx, subject, approvers: people, open };
}

interface OutboxRow {
  status: string;
  attempts: number;
  next_attempt_at: Date;
  leased_until: Date | null;
  last_error: string | null;
  delivered_at: Date | null;
  idempotency_key: string;
}

async function row(world: World, orgId: string, id: string): Promise<OutboxRow> {
  const [r] = await world.store.db.query<OutboxRow>(
    `SELECT status, attempts, next_attempt_at, leased_until, last_error, delivered_at, idempotency_key
       FROM notifications WHERE org_id = $1 AND id = $2`,
    [orgId, id],
  );
  return r!;
}

function workerFor(
  world: World,
  standin: ChatStandin,
  logs: Record<string, unknown>[],
  options: Partial<NotificationWorkerOptions> = {},
) {
  return new NotificationWorker({
    notifications: world.notifications,
    slackApiUrl: standin.slackApiUrl,
    teamsHosts: TEAMS_HOSTS,
    approvalUrl: link,
    backoff: { initialMs: 20, maxMs: 50 },
    leaseMs: 5_000,
    pollMs: 10,
    log: (e) => logs.push(e),
    ...options,
  });
}

describe.each(BACKENDS)('notification outbox on %s', (backend) => {
  let world: World;
  let standin: ChatStandin;
  let logs: Record<string, unknown>[];

  beforeAll(async () => {
    ({ world, standin } = await setUp(backend));
  });
  afterAll(async () => {
    await standin?.close();
    await world?.close();
  });
  beforeEach(async () => {
    standin.reset();
    logs = [];
    // Workers claim across organizations: nothing an earlier test left due may be claimed by the next.
    await world.store.db.query(
      `UPDATE notifications SET status = 'FAILED', leased_until = NULL, last_error = 'left by an earlier test'
        WHERE status IN ('PENDING', 'SENDING')`,
    );
  });
  afterEach(() => {
    expect({ violations: standin.violations }).toEqual({ violations: [] });
  });

  it('Slack answers 500 twice then 200: delivered once, on the third attempt, after backing off', async () => {
    const org = await organization(world, standin);
    const { request, notifications } = await org.open('slack');
    const n = notifications[0]!;
    standin.script('slack', { status: 500 }, { status: 500 });
    const worker = workerFor(world, standin, logs, { backoff: { initialMs: 300, maxMs: 1_000 } });

    expect(await worker.runOnce()).toEqual({ claimed: 1, delivered: 0, retried: 1, failed: 0, lost: 0 });
    const first = await row(world, org.orgId, n.id);
    expect(first).toMatchObject({ status: 'PENDING', attempts: 1, last_error: 'slack: HTTP 500' });
    // Backing off: attempt 2 waits 150–300 ms, so a round right away finds nothing due.
    expect((await worker.runOnce()).claimed).toBe(0);

    await until('attempt 2', async () => (await worker.runOnce()).claimed);
    const second = await row(world, org.orgId, n.id);
    expect(second).toMatchObject({ status: 'PENDING', attempts: 2, last_error: 'slack: HTTP 500' });
    expect(second.next_attempt_at.getTime()).toBeGreaterThan(first.next_attempt_at.getTime());

    await until('attempt 3', async () => (await worker.runOnce()).delivered);
    const done = await row(world, org.orgId, n.id);
    expect(done).toMatchObject({ status: 'DELIVERED', attempts: 3, leased_until: null });
    expect(done.delivered_at).toBeInstanceOf(Date);

    const sent = standin.requests;
    expect(sent.map((r) => r.outcome)).toEqual(['failed', 'failed', 'ok']);
    expect(new Set(sent.map((r) => r.key))).toEqual(new Set([done.idempotency_key]));
    expect(standin.delivered()).toEqual([done.idempotency_key]);
    // Each retry came no sooner than half its back-off (jitter) after the failure before it.
    expect(sent[1]!.at - sent[0]!.at).toBeGreaterThanOrEqual(150);
    expect(sent[2]!.at - sent[1]!.at).toBeGreaterThanOrEqual(300);

    // The message: to the member, with what the approver needs, and the metadata a receiver dedupes by.
    const body = sent[2]!.body;
    expect(sent[2]!.headers.authorization).toBe(`Bearer ${SLACK_TOKEN}`);
    expect(body.channel).toBe('U0ANN0');
    expect(body.metadata).toEqual({
      event_type: 'rolegate_approval',
      event_payload: { request_id: request.id, idempotency_key: done.idempotency_key },
    });
    for (const part of [
      'Pay invoice 42 to Globex',
      'tool use',
      'Sam Subject',
      'invoices',
      'Acme &amp; Co',
      link(request.id),
      'Approve it in rolegate with your own account',
    ])
      expect(body.text).toContain(part);

    const [listed] = (await world.notifications.forRequests(org.orgId, [request.id]))[0]!;
    expect(listed).toMatchObject({
      status: 'DELIVERED',
      attempts: 3,
      lastError: 'slack: HTTP 500',
      channel: 'slack',
    });
  });

  it('after maxAttempts retryable failures the notification is FAILED with the last error', async () => {
    const org = await organization(world, standin);
    const { notifications } = await org.open('slack');
    standin.script('slack', ...Array.from({ length: 5 }, () => ({ status: 503 })));
    const worker = workerFor(world, standin, logs, { maxAttempts: 3 });
    worker.start();
    try {
      await until(
        'FAILED',
        async () => (await row(world, org.orgId, notifications[0]!.id)).status === 'FAILED',
      );
    } finally {
      await worker.stop();
    }
    expect(await row(world, org.orgId, notifications[0]!.id)).toMatchObject({
      status: 'FAILED',
      attempts: 3,
      last_error: 'slack: HTTP 503',
    });
    expect(standin.requests).toHaveLength(3);
    expect(logs).toContainEqual(
      expect.objectContaining({ msg: 'notification failed', error: 'slack: HTTP 503' }),
    );
  });

  it('a Slack error that retrying cannot fix (channel_not_found) fails the notification at once', async () => {
    const org = await organization(world, standin);
    const { notifications } = await org.open('slack');
    standin.script('slack', { slackError: 'channel_not_found' });
    expect(await workerFor(world, standin, logs).runOnce()).toMatchObject({ claimed: 1, failed: 1 });
    expect(await row(world, org.orgId, notifications[0]!.id)).toMatchObject({
      status: 'FAILED',
      attempts: 1,
      last_error: 'slack: channel_not_found',
    });
    expect(standin.requests).toHaveLength(1);
  });

  it('a 429 is retried, no sooner than Retry-After says', async () => {
    const org = await organization(world, standin);
    const { notifications } = await org.open('slack');
    standin.script('slack', { status: 429, retryAfter: 1 });
    const worker = workerFor(world, standin, logs);
    expect(await worker.runOnce()).toMatchObject({ retried: 1 });
    const waiting = await row(world, org.orgId, notifications[0]!.id);
    expect(waiting).toMatchObject({ status: 'PENDING', last_error: 'slack: HTTP 429' });
    await until('the retry', async () => (await worker.runOnce()).delivered);
    expect(standin.requests[1]!.at - standin.requests[0]!.at).toBeGreaterThanOrEqual(950);
  });

  it('a network failure is retried, and says so in a few words', async () => {
    const org = await organization(world, standin);
    const { notifications } = await org.open('slack');
    const nobody = `http://127.0.0.1:${await freePort()}/api/`;
    expect(await workerFor(world, standin, logs, { slackApiUrl: nobody }).runOnce()).toMatchObject({
      retried: 1,
    });
    expect(await row(world, org.orgId, notifications[0]!.id)).toMatchObject({
      status: 'PENDING',
      attempts: 1,
      last_error: 'slack: request failed (ECONNREFUSED)',
    });
  });

  it('Teams: one Adaptive Card, mentioning the approver, with the summary, to the organization webhook', async () => {
    const org = await organization(world, standin);
    const { request, notifications } = await org.open('teams', {
      summary: 'Refund **order** 7 [now](http://x)',
    });
    expect(await workerFor(world, standin, logs).runOnce()).toMatchObject({ claimed: 1, delivered: 1 });
    const n = await row(world, org.orgId, notifications[0]!.id);
    expect(n).toMatchObject({ status: 'DELIVERED', attempts: 1 });

    expect(standin.requests).toHaveLength(1);
    const [sent] = standin.requests;
    expect(sent!.path).toBe(`/teams/${org.orgId}`);
    expect(sent!.key).toBe(n.idempotency_key);
    const card = sent!.body.attachments[0].content;
    expect(card.msteams.entities).toEqual([
      { type: 'mention', text: '<at>Ann 0</at>', mentioned: { id: 'ann0@contoso.example', name: 'Ann 0' } },
    ]);
    const runs = card.body.flatMap((b: any) => (b.inlines ?? []).map((i: any) => i.text));
    // The summary as written, in a TextRun (no markdown there: its link is only text).
    expect(runs).toContain('Refund **order** 7 [now](http://x)');
    expect(runs.join(' ')).toContain('Sam Subject');
    expect(card.actions).toEqual([
      { type: 'Action.OpenUrl', title: 'Open the request', url: link(request.id) },
    ]);
    expect(standin.delivered('teams')).toEqual([n.idempotency_key]);
  });

  it('Teams: a 400 is not retried, a redirect not followed; a host not allowed is never called', async () => {
    const org = await organization(world, standin);
    const first = await org.open('teams');
    const redirected = await org.open('teams');
    standin.script('teams', { status: 400 }, { status: 307, location: `${standin.url}/elsewhere` });
    const worker = workerFor(world, standin, logs);
    expect(await worker.runOnce()).toMatchObject({ claimed: 2, failed: 2 });
    const errors = [first, redirected].map(
      async (o) => (await row(world, org.orgId, o.notifications[0]!.id)).last_error,
    );
    expect((await Promise.all(errors)).sort()).toEqual(['teams: HTTP 307', 'teams: HTTP 400']);
    expect(standin.requests.map((r) => r.path)).toEqual([`/teams/${org.orgId}`, `/teams/${org.orgId}`]);

    // Saved when the host was allowed; the worker's list (the default, https only) no longer allows it.
    const second = await org.open('teams');
    const strict = workerFor(world, standin, logs, { teamsHosts: TeamsWebhookHosts.parse() });
    expect(await strict.runOnce()).toMatchObject({ failed: 1 });
    const failed = await row(world, org.orgId, second.notifications[0]!.id);
    expect(failed.last_error).toBe('teams: teamsWebhookUrl must be an https URL');
    expect(standin.requests).toHaveLength(2);
  });

  it('two workers at once (two replicas) deliver each notification exactly once', async () => {
    const org = await organization(world, standin, 6);
    const opened = [];
    for (let i = 0; i < 5; i++) opened.push(await org.open('slack'));
    const ids = opened.flatMap((o) => o.notifications.map((n) => n.id));
    expect(ids).toHaveLength(30);
    // Every answer takes a moment, so the two workers' rounds overlap.
    standin.script('slack', ...ids.map(() => ({ delayMs: 15 })));

    // A second replica: its own connection pool (PostgreSQL), or the same embedded database.
    const other =
      backend === 'postgres' ? await openStore({ databaseUrl: world.databaseUrl!, poolSize: 4 }) : null;
    const claimedBy = [0, 0];
    const counting = (n: Notifications, i: number): NotificationWorkerOptions['notifications'] => ({
      claim: async (o) => {
        const got = await n.claim(o);
        claimedBy[i] = claimedBy[i]! + got.length;
        return got;
      },
      delivered: (c) => n.delivered(c),
      retryLater: (c, e, d) => n.retryLater(c, e, d),
      failed: (c, e) => n.failed(c, e),
    });
    const workers = [
      workerFor(world, standin, logs, { notifications: counting(world.notifications, 0), batch: 4 }),
      workerFor(world, standin, logs, {
        notifications: counting(other ? outbox(other) : world.notifications, 1),
        batch: 4,
      }),
    ];
    workers.forEach((w) => w.start());
    try {
      await until('all 30 delivered', () => standin.delivered().length === 30);
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
      await other?.close();
    }
    const keys = standin.requests.map((r) => r.key);
    expect(keys).toHaveLength(30);
    expect(new Set(keys).size).toBe(30);
    expect(claimedBy[0]! + claimedBy[1]!).toBe(30);
    expect(claimedBy.every((n) => n > 0)).toBe(true);
    for (const id of ids)
      expect(await row(world, org.orgId, id)).toMatchObject({ status: 'DELIVERED', attempts: 1 });
  });

  it('a lapsed claim is claimed again, and its first holder can no longer settle it', async () => {
    const org = await organization(world, standin);
    const { notifications } = await org.open('slack');
    const outboxOf = world.notifications;
    const [stale] = await outboxOf.claim({ limit: 5, leaseMs: 100 });
    expect(stale).toMatchObject({ id: notifications[0]!.id, attempts: 1 });
    const fresh = await until(
      'the lease to lapse',
      async () => (await outboxOf.claim({ limit: 5, leaseMs: 5_000 }))[0],
    );
    expect(fresh).toMatchObject({ id: stale!.id, attempts: 2, idempotencyKey: stale!.idempotencyKey });
    expect(await outboxOf.delivered(stale!)).toBe(false);
    expect(await outboxOf.retryLater(stale!, 'slack: HTTP 500', 0)).toBe(false);
    expect(await outboxOf.failed(stale!, 'slack: HTTP 500')).toBe(false);
    expect(await outboxOf.delivered(fresh)).toBe(true);
    expect(await outboxOf.delivered(fresh)).toBe(false); // settled once
    expect(await row(world, org.orgId, stale!.id)).toMatchObject({
      status: 'DELIVERED',
      attempts: 2,
      last_error: null,
    });
  });

  it('a notification whose senders keep dying mid-send is given up after maxAttempts', async () => {
    const org = await organization(world, standin);
    const { notifications } = await org.open('slack');
    await world.notifications.claim({ limit: 5, leaseMs: 100 }); // a sender that never comes back
    const worker = workerFor(world, standin, logs, { maxAttempts: 1 });
    await until('the lease to lapse', async () => (await worker.runOnce()).failed);
    expect(await row(world, org.orgId, notifications[0]!.id)).toMatchObject({
      status: 'FAILED',
      attempts: 2,
      last_error: 'gave up after 1 attempt',
    });
    expect(standin.requests).toEqual([]);
  });

  it('nothing is sent for a request whose transaction rolled back', async () => {
    const org = await organization(world, standin);
    // Through the store: the second recipient does not exist, so the whole request is rolled back.
    const err = await rejection(
      world.store.approvals.open(
        org.ctx,
        {
          kind: 'tool_use',
          tool: 'invoices',
          subjectId: org.subject.id,
          requestedBy: org.subject.id,
          summary: 'Never opened',
          arguments: null,
          argumentsHash: '0'.repeat(64),
          locationId: null,
          lifetimeSeconds: 600,
        },
        [
          { channel: 'slack', recipientId: org.approvers[0]!.id, address: 'U0ANN0' },
          { channel: 'slack', recipientId: randomUUID(), address: 'U0GHOST' },
        ],
      ),
    );
    expect(err).toBeInstanceOf(StoreError);
    // By hand: the rows are written, then the transaction throws.
    await expect(
      world.store.db.transaction(async (tx) => {
        const id = randomUUID();
        await tx.query(
          `INSERT INTO approval_requests (org_id, id, kind, subject_id, requested_by, summary, arguments_hash, expires_at)
           VALUES ($1, $2, 'tool_use', $3, $4, 'Rolled back', $5, now() + interval '1 hour')`,
          [org.orgId, id, org.subject.id, org.subject.id, '0'.repeat(64)],
        );
        await tx.query(
          `INSERT INTO notifications (org_id, id, request_id, channel, recipient_id, address, idempotency_key)
           VALUES ($1, $2, $3, 'slack', $4, 'U0ANN0', $5)`,
          [org.orgId, randomUUID(), id, org.approvers[0]!.id, `rolegate-${randomUUID()}`],
        );
        throw new Error('the caller changed its mind');
      }),
    ).rejects.toThrow('the caller changed its mind');

    expect(await workerFor(world, standin, logs).runOnce()).toMatchObject({ claimed: 0 });
    expect(standin.requests).toEqual([]);
    const [count] = await world.store.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM notifications WHERE org_id = $1',
      [org.orgId],
    );
    expect(count!.n).toBe(0);
  });

  it('a request decided before its notification went out is not announced: FAILED, nothing sent', async () => {
    const org = await organization(world, standin);
    const { request, notifications } = await org.open('slack');
    await world.store.approvals.decide(org.ctx, request.id, 'CANCELLED', { userId: null, note: null });
    expect(await workerFor(world, standin, logs).runOnce()).toMatchObject({ claimed: 0 });
    expect(await row(world, org.orgId, notifications[0]!.id)).toMatchObject({
      status: 'FAILED',
      attempts: 0,
      last_error: 'the request was no longer pending',
    });
    expect(standin.requests).toEqual([]);
  });

  it('poke() runs a round at once; stop() waits for the send under way', async () => {
    const org = await organization(world, standin);
    const worker = workerFor(world, standin, logs, { pollMs: 60_000 });
    worker.start();
    let stopped = false;
    try {
      await new Promise((r) => setTimeout(r, 50)); // its first round found nothing; it now waits a minute
      standin.script('slack', { hold: true });
      const { notifications } = await org.open('slack');
      worker.poke();
      await until('the send', () => standin.requests.length === 1, 3_000);
      const stopping = worker.stop().then(() => (stopped = true));
      await new Promise((r) => setTimeout(r, 50));
      expect(stopped).toBe(false);
      standin.release();
      await stopping;
      expect(await row(world, org.orgId, notifications[0]!.id)).toMatchObject({ status: 'DELIVERED' });
    } finally {
      standin.release();
      await worker.stop();
    }
  });

  it('the Slack token is never in the audit log, the logs, last_error or a claim as JSON', async () => {
    const org = await organization(world, standin);
    const { notifications } = await org.open('slack');
    standin.acceptTokens([SLACK_TOKEN]);
    // A service that echoes what it was sent, then refuses the token.
    standin.script(
      'slack',
      { status: 500, body: `bad request from ${SLACK_TOKEN}` },
      { slackError: 'invalid_auth' },
    );
    const worker = workerFor(world, standin, logs);
    await worker.runOnce();
    await until('FAILED', async () => (await worker.runOnce()).failed);
    const failed = await row(world, org.orgId, notifications[0]!.id);
    expect(failed).toMatchObject({ status: 'FAILED', attempts: 2, last_error: 'slack: invalid_auth' });

    const audit = await world.store.auditLog(org.orgId, { first: 100 });
    const settings = audit.filter((e) => e.action === 'setNotificationSettings');
    expect(settings).toHaveLength(1);
    expect(settings[0]!.after).toEqual({
      slackBotTokenSet: true,
      teamsWebhookHost: new URL(standin.url).host,
    });
    expect(audit.filter((e) => e.action === 'setNotificationAddresses')).toHaveLength(1);

    // A claim as JSON: the token is there for the sender, not for a log line.
    const again = await org.open('slack');
    const [claim] = await world.notifications.claim({ limit: 10, leaseMs: 5_000 });
    expect(claim!.org.slackBotToken).toBe(SLACK_TOKEN);
    expect(claim!.requestId).toBe(again.request.id);
    await world.notifications.failed(claim!, 'test');

    for (const text of [
      JSON.stringify(audit),
      JSON.stringify(logs),
      failed.last_error,
      JSON.stringify(claim),
    ])
      expect(text).not.toContain('SeCrEtToKeN');
    expect(JSON.stringify(logs)).not.toContain(standin.teamsUrl(org.orgId));
  });

  describe('settings and addresses', () => {
    it('are read back, kept when omitted, cleared by null, and audited only when they change', async () => {
      const { orgId, ctx } = await newOrg(world.store);
      const n = world.notifications;
      expect(await n.settings(orgId)).toEqual({ slackBotTokenSet: false, teamsWebhookUrl: null });
      const hook = standin.teamsUrl('a');
      expect(await n.setSettings(ctx, { slackBotToken: SLACK_TOKEN, teamsWebhookUrl: hook })).toEqual({
        slackBotTokenSet: true,
        teamsWebhookUrl: hook,
      });
      expect(await n.setSettings(ctx, { teamsWebhookUrl: null })).toEqual({
        slackBotTokenSet: true,
        teamsWebhookUrl: null,
      });
      await n.setSettings(ctx, { slackBotToken: 'xoxb-another-token-0000000' });
      await n.setSettings(ctx, {}); // nothing changes: no entry
      expect(await n.settings(orgId)).toEqual({ slackBotTokenSet: true, teamsWebhookUrl: null });
      const entries = (await world.store.auditLog(orgId, { first: 100 })).filter(
        (e) => e.action === 'setNotificationSettings',
      );
      expect(entries.map((e) => e.after)).toEqual([
        { slackBotTokenSet: true, teamsWebhookHost: new URL(hook).host },
        { slackBotTokenSet: true, teamsWebhookHost: null },
        { slackBotTokenSet: true, slackBotTokenReplaced: true, teamsWebhookHost: null },
      ]);
      expect(await world.store.verifyAudit(orgId)).toMatchObject({ ok: true });
    });

    it('refuse bad values with INVALID naming the field, never echoing a token', async () => {
      const { ctx } = await newOrg(world.store);
      const n = world.notifications;
      const cases: [Promise<unknown>, RegExp][] = [
        [n.setSettings(ctx, { slackBotToken: 'xoxp-user-token-SeCrEtToKeN' }), /^slackBotToken /],
        [
          n.setSettings(ctx, { teamsWebhookUrl: 'https://evil.example/hook' }),
          /^teamsWebhookUrl's host evil/,
        ],
        [
          n.setSettings(ctx, { teamsWebhookUrl: 'http://10.0.0.1/hook' }),
          /^teamsWebhookUrl must be an https/,
        ],
        [n.setSettings(ctx, { teamsWebhookUrl: 'not a url' }), /^teamsWebhookUrl /],
        [n.setAddresses(ctx, randomUUID(), { slackMemberId: 'ann' }), /^slackMemberId /],
        [n.setAddresses(ctx, randomUUID(), { teamsAddress: 'a b c' }), /^teamsAddress /],
      ];
      for (const [p, message] of cases) {
        const err = await rejection(p);
        expect([err.code, err.message]).toEqual(['INVALID', expect.stringMatching(message)]);
        expect(err.message).not.toContain('SeCrEtToKeN');
      }
    });

    it('addresses load in key order; a user of another organization is NOT_FOUND', async () => {
      const a = await newOrg(world.store);
      const b = await newOrg(world.store);
      const ann = (await world.store.users.create(a.ctx, { email: 'ann@example.com' })).result;
      const bob = (await world.store.users.create(b.ctx, { email: 'bob@example.com' })).result;
      const n = world.notifications;
      expect(await n.setAddresses(a.ctx, ann.id, { slackMemberId: 'U0ANN' })).toEqual({
        slackMemberId: 'U0ANN',
        teamsAddress: null,
      });
      expect(await n.setAddresses(a.ctx, ann.id, { teamsAddress: 'ann@contoso.example' })).toEqual({
        slackMemberId: 'U0ANN',
        teamsAddress: 'ann@contoso.example',
      });
      expect(await n.setAddresses(a.ctx, ann.id, { slackMemberId: null })).toEqual({
        slackMemberId: null,
        teamsAddress: 'ann@contoso.example',
      });
      expect((await rejection(n.setAddresses(a.ctx, bob.id, { slackMemberId: 'U0BOB' }))).code).toBe(
        'NOT_FOUND',
      );
      expect(await n.addresses(a.orgId, [bob.id, ann.id, 'nope'])).toEqual([
        null,
        { slackMemberId: null, teamsAddress: 'ann@contoso.example' },
        null,
      ]);
    });

    it('forRequests gives one list per request id, in order', async () => {
      const org = await organization(world, standin, 2);
      const one = await org.open('slack');
      const two = await org.open('teams', { to: org.approvers.slice(1) });
      const lists = await world.notifications.forRequests(org.orgId, [
        two.request.id,
        randomUUID(),
        one.request.id,
      ]);
      // Written in one transaction, the two of a request are in no particular order.
      const shown = lists.map((l) => l.map((n) => [n.channel, n.recipientId, n.status, n.attempts]).sort());
      expect(shown).toEqual([
        [['teams', org.approvers[1]!.id, 'PENDING', 0]],
        [],
        [
          ['slack', org.approvers[0]!.id, 'PENDING', 0],
          ['slack', org.approvers[1]!.id, 'PENDING', 0],
        ].sort(),
      ]);
      expect(lists[2]!.every((n) => n.requestId === one.request.id && n.lastError === null)).toBe(true);
    });
  });
});

describe('a replica killed mid-delivery (PostgreSQL)', () => {
  let world: World;
  let standin: ChatStandin;

  beforeAll(async () => {
    ({ world, standin } = await setUp('postgres'));
  });
  afterAll(async () => {
    await standin?.close();
    await world?.close();
  });

  it('another replica sends it again after the lease lapses, with the same idempotency key', async () => {
    const org = await organization(world, standin);
    const { notifications } = await org.open('slack');
    standin.script('slack', { hold: true });

    // tsx as a loader, not its CLI: the CLI runs the script in a second process SIGKILL would not reach.
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/outbox-worker.ts'], {
      cwd: ROOT,
      env: {
        ...process.env,
        NODE_OPTIONS: '',
        DATABASE_URL: world.databaseUrl,
        SLACK_API_URL: standin.slackApiUrl,
        LEASE_MS: '2000',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout!.resume();
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      await until(
        'the child replica to send',
        () => standin.requests.length === 1 || child.exitCode !== null,
        30_000,
      );
      if (child.exitCode !== null)
        throw new Error(`the child replica exited with ${child.exitCode}: ${stderr}`);
      expect(await row(world, org.orgId, notifications[0]!.id)).toMatchObject({
        status: 'SENDING',
        attempts: 1,
      });
      child.kill('SIGKILL');
      await exited;
      expect(() => process.kill(child.pid!, 0)).toThrow(); // gone, nothing of it left running
      await until('the held request to be dropped', () => standin.requests[0]!.outcome === 'aborted');
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }

    const logs: Record<string, unknown>[] = [];
    const survivor = workerFor(world, standin, logs);
    // Its lease has not lapsed yet: the survivor finds nothing to claim at first.
    expect((await survivor.runOnce()).claimed).toBe(0);
    await until('the redelivery', async () => (await survivor.runOnce()).delivered, 10_000);

    const n = await row(world, org.orgId, notifications[0]!.id);
    expect(n).toMatchObject({ status: 'DELIVERED', attempts: 2 });
    expect(standin.requests.map((r) => [r.key, r.outcome])).toEqual([
      [n.idempotency_key, 'aborted'],
      [n.idempotency_key, 'ok'],
    ]);
    expect(standin.delivered()).toEqual([n.idempotency_key]);
    expect(standin.violations).toEqual([]);
  });
});

describe('Teams webhook hosts', () => {
  const hosts = TeamsWebhookHosts.parse();

  test.each([
    'https://contoso.webhook.office.com/webhookb2/1234/IncomingWebhook/abcd/5678',
    'https://prod-12.westus.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?sig=x',
    'https://default0a1b2c.3d.environment.api.powerplatform.com:443/powerautomate/automations/direct/x',
  ])('the default list allows %s', (url) => {
    expect(hosts.problem(url)).toBeNull();
  });

  test.each([
    ['http://contoso.webhook.office.com/x', 'must be an https URL'],
    ['https://webhook.office.com/x', 'host webhook.office.com is not allowed'],
    ['https://webhook.office.com.evil.example/x', 'is not allowed'],
    ['https://169.254.169.254/latest/meta-data', 'is not allowed'],
    ['https://127.0.0.1/x', 'is not allowed'],
    ['https://a.webhook.office.com:8443/x', 'default https port'],
    ['https://user:pw@a.webhook.office.com/x', 'user name or password'],
    ['file:///etc/passwd', 'must be an https URL'],
    ['//a.webhook.office.com/x', 'absolute https URL'],
  ])('the default list refuses %s', (url, why) => {
    expect(hosts.problem(url)).toContain(why);
  });

  it('allows http and any port on a listed loopback host only when told to (tests, development)', () => {
    expect(TEAMS_HOSTS.problem('http://127.0.0.1:8080/teams/x')).toBeNull();
    expect(TeamsWebhookHosts.parse('127.0.0.1').problem('http://127.0.0.1:8080/x')).toContain('https');
    expect(TEAMS_HOSTS.problem('http://10.0.0.1/x')).toContain('https');
  });

  test.each(['*.com', '*', 'exa mple.com', '', 'http://x.example.com'])('refuses the list "%s"', (list) => {
    expect(() => TeamsWebhookHosts.parse(list)).toThrow();
  });
});

describe('the worker and its settings', () => {
  const notifications = {} as Notifications;
  const base = { notifications: { claim: async () => [] } as unknown as Notifications, approvalUrl: link };

  test.each([
    [{ ...base, notifications }, /`notifications` must be the outbox/],
    [{ ...base, approvalUrl: 'x' }, /`approvalUrl` must be a function/],
    [{ ...base, leaseMs: 50 }, /`leaseMs` must be a whole number from 100/],
    [
      { ...base, leaseMs: 1000, sendTimeoutMs: 1000 },
      /`sendTimeoutMs` must be a whole number from 1 to 999, got 1000/,
    ],
    [{ ...base, maxAttempts: 0 }, /`maxAttempts`/],
    [{ ...base, backoff: { initialMs: 10, maxMs: 5 } }, /`backoff`/],
    [{ ...base, slackApiUrl: 'slack.com' }, /`slackApiUrl`/],
    [{ ...base, batch: 1.5 }, /`batch`/],
  ])('refuses bad options, naming them (%#)', (options, message) => {
    expect(() => new NotificationWorker(options as unknown as NotificationWorkerOptions)).toThrow(message);
  });

  it('reads the environment, with defaults', () => {
    const config = notifyConfigFromEnv({});
    expect(config.slackApiUrl).toBe('https://slack.com/api/');
    expect(config.pollMs).toBe(1000);
    expect(config.approvalUrl('abc')).toBe('http://localhost:4000/approvals/abc');
    expect(config.teamsHosts.patterns).toEqual([
      '*.webhook.office.com',
      '*.logic.azure.com',
      '*.environment.api.powerplatform.com',
    ]);
    const set = notifyConfigFromEnv({
      ROLEGATE_SLACK_API_URL: 'http://127.0.0.1:9/api/',
      ROLEGATE_TEAMS_WEBHOOK_HOSTS: 'hooks.example.com, *.teams.example.com',
      ROLEGATE_APPROVAL_URL: 'https://rolegate.example/a/{id}?from=chat',
      ROLEGATE_NOTIFY_POLL_MS: '250',
    });
    expect(set.approvalUrl('abc')).toBe('https://rolegate.example/a/abc?from=chat');
    expect(set.teamsHosts.problem('https://x.teams.example.com/h')).toBeNull();
    expect(set.pollMs).toBe(250);
  });

  test.each([
    [{ ROLEGATE_NOTIFY_POLL_MS: 'fast' }, /ROLEGATE_NOTIFY_POLL_MS .*got "fast"/],
    [{ ROLEGATE_APPROVAL_URL: 'https://rolegate.example/approvals' }, /ROLEGATE_APPROVAL_URL .*\{id\}/],
    [{ ROLEGATE_TEAMS_WEBHOOK_HOSTS: '*.com' }, /ROLEGATE_TEAMS_WEBHOOK_HOSTS: "\*\.com" is too broad/],
    [{ ROLEGATE_SLACK_API_URL: 'ftp://slack.example' }, /ROLEGATE_SLACK_API_URL .*got "ftp/],
  ])('refuses %j', (env, message) => {
    expect(() => notifyConfigFromEnv(env)).toThrow(ConfigError);
    expect(() => notifyConfigFromEnv(env)).toThrow(message);
  });
});
