import type { Db, Queryable } from './db';
import { notFound, StoreError } from './errors';
import { isUuid, newId } from './ids';
import type { Entry, Recorder, WriteContext } from './write';

export const APPROVAL_STATUSES = [
  'PENDING',
  'APPROVED',
  'DISMISSED',
  'EXPIRED',
  'CANCELLED',
  'EXECUTED',
] as const;
export type ApprovalStatus = (typeof APPROVAL_STATUSES)[number];

/** A request waiting for (or past) a person's decision. */
export interface ApprovalRequest {
  id: string;
  orgId: string;
  kind: string;
  tool: string | null;
  subjectId: string;
  /** A user id, or `apikey:<id>`. */
  requestedBy: string;
  summary: string;
  arguments: unknown;
  argumentsHash: string;
  locationId: string | null;
  /**
   * As of the database's clock when read: a PENDING request past `expiresAt` reads EXPIRED even before
   * the sweep records it (expiry never waits for a sweep).
   */
  status: ApprovalStatus;
  createdAt: Date;
  expiresAt: Date;
  decidedBy: string | null;
  decidedAt: Date | null;
  note: string | null;
  executedAt: Date | null;
}

/** A notification to write with the request (the outbox), in the same transaction. */
export interface Recipient {
  channel: 'slack' | 'teams';
  recipientId: string;
  /** The Slack member id or Teams address, as it is now. */
  address: string;
}

export interface OpenInput {
  kind: string;
  tool: string | null;
  subjectId: string;
  requestedBy: string;
  summary: string;
  arguments: unknown;
  argumentsHash: string;
  locationId: string | null;
  lifetimeSeconds: number;
}

/** Which requests a viewer may see (the caller decides it from the catalog): any of these. */
export interface Visibility {
  /** Requests about this user. */
  subjectId?: string;
  /** Requests opened by this actor (a user id or `apikey:<id>`). */
  requestedBy?: string;
  /** Every request of these kinds (approvable at the root). */
  kinds: readonly string[];
  /** Requests of a kind at one of these locations (approvable there). */
  kindAt: readonly { kind: string; locationId: string }[];
  /** Every request (operators, from the command line). */
  everything?: boolean;
}

/** Why a transition did not happen: the request as it is now. */
export class TransitionRefused extends StoreError {
  constructor(
    readonly request: ApprovalRequest,
    message: string,
    code: 'CONFLICT' | 'INVALID' = 'CONFLICT',
  ) {
    super(code, message);
  }
}

interface Row {
  org_id: string;
  id: string;
  kind: string;
  tool: string | null;
  subject_id: string;
  requested_by: string;
  summary: string;
  arguments: unknown;
  arguments_hash: string;
  location_id: string | null;
  status_now: ApprovalStatus;
  status_stored: ApprovalStatus;
  created_at: Date;
  expires_at: Date;
  decided_by: string | null;
  decided_at: Date | null;
  note: string | null;
  executed_at: Date | null;
}

/**
 * The status as of this moment: a request still open (PENDING, or APPROVED and not executed) past its
 * expiry is EXPIRED. `clock_timestamp()`, not `now()`: the moment of the statement, not of its
 * transaction's start (which may have waited for a lock).
 */
const STATUS_NOW = `CASE WHEN status IN ('PENDING', 'APPROVED') AND expires_at <= clock_timestamp() THEN 'EXPIRED' ELSE status END`;
const COLUMNS = `org_id, id, kind, tool, subject_id, requested_by, summary, arguments, arguments_hash,
  location_id, ${STATUS_NOW} AS status_now, status AS status_stored, created_at, expires_at, decided_by, decided_at, note, executed_at`;

const fromRow = (r: Row): ApprovalRequest => ({
  id: r.id,
  orgId: r.org_id,
  kind: r.kind,
  tool: r.tool,
  subjectId: r.subject_id,
  requestedBy: r.requested_by,
  summary: r.summary,
  arguments: r.arguments,
  argumentsHash: r.arguments_hash,
  locationId: r.location_id,
  status: r.status_now,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  decidedBy: r.decided_by,
  decidedAt: r.decided_at,
  note: r.note,
  executedAt: r.executed_at,
});

/** What an audit entry keeps of a request (no arguments: their hash says what they were). */
const audited = (r: ApprovalRequest) => ({
  kind: r.kind,
  tool: r.tool,
  subjectId: r.subjectId,
  requestedBy: r.requestedBy,
  locationId: r.locationId,
  argumentsHash: r.argumentsHash,
  status: r.status,
  expiresAt: r.expiresAt.toISOString(),
  decidedBy: r.decidedBy,
  note: r.note,
});

/**
 * Approval requests. Every transition is one conditional UPDATE (`WHERE status = 'PENDING' AND
 * expires_at > now()`), so of two approvers, or an approver and the expiry, exactly one wins, and the
 * loser is told what happened instead. Each is audited in the same transaction, without bumping the
 * organization's version (no permission changed).
 */
export class Approvals {
  constructor(
    private readonly db: Db,
    private readonly record: Recorder,
  ) {}

  /** Opens a PENDING request and writes its notifications (the outbox) in the same transaction. */
  open(ctx: Omit<WriteContext, 'invariants'>, input: OpenInput, recipients: readonly Recipient[]) {
    return this.record(ctx, async (tx) => {
      const id = newId();
      const [row] = await tx.query<Row>(
        `INSERT INTO approval_requests (org_id, id, kind, tool, subject_id, requested_by, summary, arguments,
           arguments_hash, location_id, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now() + make_interval(secs => $11))
         RETURNING ${COLUMNS}`,
        [
          ctx.orgId,
          id,
          input.kind,
          input.tool,
          input.subjectId,
          input.requestedBy,
          input.summary,
          input.arguments === undefined ? null : JSON.stringify(input.arguments),
          input.argumentsHash,
          input.locationId,
          input.lifetimeSeconds,
        ],
      );
      for (const r of recipients) {
        const notification = newId();
        await tx.query(
          `INSERT INTO notifications (org_id, id, request_id, channel, recipient_id, address, idempotency_key)
           VALUES ($1, $2, $3, $4, $5, $6, $7)`,
          [ctx.orgId, notification, id, r.channel, r.recipientId, r.address, `rolegate-${notification}`],
        );
      }
      const request = fromRow(row!);
      return {
        entries: [
          {
            action: 'requestApproval',
            target: `approval:${id}`,
            after: { ...audited(request), summary: request.summary, notifications: recipients.length },
          },
        ],
        result: request,
      };
    });
  }

  async get(orgId: string, id: string): Promise<ApprovalRequest | null> {
    const [request] = await this.getMany(orgId, [id]);
    return request ?? null;
  }

  /** One entry per id, in order; null for an id that names no request of this organization. */
  async getMany(orgId: string, ids: readonly string[]): Promise<(ApprovalRequest | null)[]> {
    const valid = ids.filter(isUuid);
    if (!isUuid(orgId) || !valid.length) return ids.map(() => null);
    const rows = await this.db.query<Row>(
      `SELECT ${COLUMNS} FROM approval_requests WHERE org_id = $1 AND id = ANY($2::uuid[])`,
      [orgId, valid],
    );
    const byId = new Map(rows.map((r) => [r.id, fromRow(r)]));
    return ids.map((id) => byId.get(id) ?? null);
  }

  /**
   * A page of the requests `visible` allows, newest first, after the request `after` (the last one
   * seen), optionally of one status (as of now) and one kind.
   */
  async list(
    orgId: string,
    visible: Visibility,
    page: { status?: ApprovalStatus; kind?: string; after?: string | null; first: number },
  ): Promise<ApprovalRequest[]> {
    if (!isUuid(orgId)) return [];
    const rows = await this.db.query<Row>(
      `SELECT ${COLUMNS} FROM approval_requests
        WHERE org_id = $1
          AND ($11::boolean OR subject_id = $2::uuid OR requested_by = $3 OR kind = ANY($4::text[])
               OR EXISTS (SELECT 1 FROM unnest($5::text[], $6::uuid[]) AS v(k, l)
                           WHERE v.k = kind AND v.l = location_id))
          AND ($7::text IS NULL OR ${STATUS_NOW} = $7)
          AND ($8::text IS NULL OR kind = $8)
          AND ($9::uuid IS NULL OR (created_at, id) <
               (SELECT c.created_at, c.id FROM approval_requests c WHERE c.org_id = $1 AND c.id = $9::uuid))
        ORDER BY created_at DESC, id DESC
        LIMIT $10`,
      [
        orgId,
        visible.subjectId && isUuid(visible.subjectId) ? visible.subjectId : null,
        visible.requestedBy ?? null,
        visible.kinds,
        visible.kindAt.map((k) => k.kind),
        visible.kindAt.map((k) => k.locationId),
        page.status ?? null,
        page.kind ?? null,
        page.after && isUuid(page.after) ? page.after : null,
        page.first,
        visible.everything === true,
      ],
    );
    return rows.map(fromRow);
  }

  /** Every request of the organization (operators: `rolegate approvals list`), newest first. */
  listAll(
    orgId: string,
    page: { status?: ApprovalStatus; kind?: string; after?: string | null; first: number },
  ): Promise<ApprovalRequest[]> {
    return this.list(orgId, { kinds: [], kindAt: [], everything: true }, page);
  }

  /**
   * A decision on a PENDING request that has not expired: APPROVED or DISMISSED by `decidedBy`, or
   * CANCELLED. Refused (`TransitionRefused`, CONFLICT, with the request as it is) when it is no longer
   * pending: decided by someone else first, cancelled, or expired.
   */
  decide(
    ctx: Omit<WriteContext, 'invariants'>,
    id: string,
    to: 'APPROVED' | 'DISMISSED' | 'CANCELLED',
    by: { userId: string | null; note: string | null },
  ): Promise<ApprovalRequest> {
    const action = { APPROVED: 'approveRequest', DISMISSED: 'dismissRequest', CANCELLED: 'cancelRequest' }[
      to
    ];
    return this.transition(ctx, id, action, (tx) =>
      tx.query<Row>(
        `UPDATE approval_requests
            SET status = $3, decided_by = $4, decided_at = clock_timestamp(), note = $5
          WHERE org_id = $1 AND id = $2 AND status = 'PENDING' AND expires_at > clock_timestamp()
          RETURNING ${COLUMNS}`,
        [ctx.orgId, id, to, by.userId, by.note],
      ),
    );
  }

  /**
   * Uses an APPROVED request, once: only with the arguments it was approved for, and only before it
   * expires. Anything else is refused with the reason.
   */
  execute(
    ctx: Omit<WriteContext, 'invariants'>,
    id: string,
    argumentsHash: string,
  ): Promise<ApprovalRequest> {
    return this.transition(
      ctx,
      id,
      'executeApproved',
      (tx) =>
        tx.query<Row>(
          `UPDATE approval_requests SET status = 'EXECUTED', executed_at = clock_timestamp()
          WHERE org_id = $1 AND id = $2 AND status = 'APPROVED' AND expires_at > clock_timestamp()
            AND arguments_hash = $3
          RETURNING ${COLUMNS}`,
          [ctx.orgId, id, argumentsHash],
        ),
      argumentsHash,
    );
  }

  private async transition(
    ctx: Omit<WriteContext, 'invariants'>,
    id: string,
    action: string,
    update: (tx: Queryable) => Promise<Row[]>,
    argumentsHash?: string,
  ): Promise<ApprovalRequest> {
    if (!isUuid(id)) throw notFound('approval request', id);
    return this.record(ctx, async (tx) => {
      const [before] = await tx.query<Row>(
        `SELECT ${COLUMNS} FROM approval_requests WHERE org_id = $1 AND id = $2 FOR UPDATE`,
        [ctx.orgId, id],
      );
      if (!before) throw notFound('approval request', id);
      const [row] = await update(tx);
      if (!row) throw refusal(fromRow(before), action, argumentsHash);
      const after = fromRow(row);
      const entries: Entry[] = [
        { action, target: `approval:${id}`, before: audited(fromRow(before)), after: audited(after) },
      ];
      return { entries, result: after };
    });
  }

  /**
   * Records the expiry of open requests (PENDING, or APPROVED and not executed) past their `expiresAt`
   * (at most `limit`, oldest first), each an audit entry by `system`. Returns what it expired, and the
   * organizations it could not sweep (one organization's failure does not stop the others'). Safe to
   * run on every replica at once: each expiry is a conditional update.
   */
  async expireDue(limit = 500): Promise<{ expired: { orgId: string; id: string }[]; failed: unknown[] }> {
    const due = await this.db.query<{ org_id: string; id: string }>(
      `SELECT org_id, id FROM approval_requests
        WHERE status IN ('PENDING', 'APPROVED') AND expires_at <= clock_timestamp()
        ORDER BY expires_at LIMIT $1`,
      [limit],
    );
    const byOrg = new Map<string, string[]>();
    for (const r of due) byOrg.set(r.org_id, [...(byOrg.get(r.org_id) ?? []), r.id]);
    const expired: { orgId: string; id: string }[] = [];
    const failed: unknown[] = [];
    for (const [orgId, ids] of byOrg) {
      try {
        const done = await this.record({ orgId, actor: 'system' }, async (tx) => {
          const before = await tx.query<Row>(
            `SELECT ${COLUMNS} FROM approval_requests
              WHERE org_id = $1 AND id = ANY($2::uuid[]) AND status IN ('PENDING', 'APPROVED')
                AND expires_at <= clock_timestamp()
              FOR UPDATE`,
            [orgId, ids],
          );
          const rows = await tx.query<Row>(
            `UPDATE approval_requests SET status = 'EXPIRED'
              WHERE org_id = $1 AND id = ANY($2::uuid[]) AND status IN ('PENDING', 'APPROVED')
                AND expires_at <= clock_timestamp()
              RETURNING ${COLUMNS}`,
            [orgId, before.map((r) => r.id)],
          );
          const was = new Map(before.map((r) => [r.id, r]));
          const entries = rows.map(fromRow).map((r): Entry => ({
            action: 'expireRequest',
            target: `approval:${r.id}`,
            // What it was: PENDING, or APPROVED and never executed.
            before: { ...audited(r), status: stored(was.get(r.id)) },
            after: audited(r),
          }));
          return { entries, result: rows.map((r) => r.id) };
        });
        expired.push(...done.map((id) => ({ orgId, id })));
      } catch (err) {
        failed.push(err);
      }
    }
    return { expired, failed };
  }

  /**
   * Counts the PENDING requests an actor opened in an organization: a requester may keep a bounded
   * number waiting (see MAX_PENDING_PER_REQUESTER).
   */
  async pendingBy(orgId: string, requestedBy: string): Promise<number> {
    const [row] = await this.db.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM approval_requests
        WHERE org_id = $1 AND requested_by = $2 AND status = 'PENDING' AND expires_at > clock_timestamp()`,
      [orgId, requestedBy],
    );
    return Number(row?.n ?? 0);
  }
}

/** A row's stored status (before the lapse `STATUS_NOW` shows). */
function stored(row: Row | undefined): string {
  return row?.status_stored ?? 'PENDING';
}

/** Why a transition from `current` was refused, in words a client can act on. */
export function refusal(current: ApprovalRequest, action: string, argumentsHash?: string): TransitionRefused {
  const at = current.expiresAt.toISOString();
  if (action === 'executeApproved') {
    if (current.status === 'EXECUTED')
      return new TransitionRefused(current, `approval request ${current.id} was already executed`);
    // Approved, then lapsed unexecuted (or APPROVED here while the database's clock says it lapsed).
    const lapsed = current.expiresAt.getTime() <= Date.now();
    if ((current.status === 'EXPIRED' && current.decidedAt) || (current.status === 'APPROVED' && lapsed))
      return new TransitionRefused(current, `the approval of request ${current.id} expired at ${at}`);
    if (current.status !== 'APPROVED')
      return new TransitionRefused(
        current,
        `approval request ${current.id} is ${current.status}, not APPROVED`,
      );
    if (argumentsHash !== current.argumentsHash)
      return new TransitionRefused(
        current,
        `argumentsHash does not match: request ${current.id} was approved for other arguments`,
        'INVALID',
      );
    return new TransitionRefused(current, `approval request ${current.id} cannot be executed now`);
  }
  if (current.status === 'EXPIRED')
    return new TransitionRefused(current, `approval request ${current.id} expired at ${at}`);
  return new TransitionRefused(
    current,
    `approval request ${current.id} is already ${current.status}${current.decidedBy ? ` (by ${current.decidedBy})` : ''}`,
  );
}
