import { createHash } from 'node:crypto';
import type { ApprovalSpec } from '../catalog';
import { stoppable, type Change, type Changes } from '../consistency/changes';
import { Access, scopeOf } from '../decisions/access';
import type { Authz } from '../decisions/authz';
import { InvalidInputError } from '../decisions/errors';
import type { Loaders } from '../decisions/loaders';
import type { Scans } from '../decisions/scans';
import type { Outcome } from '../engine';
import {
  canonicalJson,
  notFound,
  StoreError,
  approvalRefusal,
  type ApprovalRequest,
  type ApprovalStatus,
  type Recipient,
  type Store,
  type User,
} from '../store';

/**
 * The most `approvers` lists one API request may ask for: each is a whoCan (or a flag's holders),
 * and a page of 500 requests each asking for theirs would run 500 of them.
 */
export const MAX_APPROVER_LISTS = 10;

/** The most PENDING requests one requester (a user, an agent's key) may have waiting at once. */
export const MAX_PENDING_PER_REQUESTER = 1_000;

/** The most people one request notifies (per channel each); more holders are not all messaged. */
export const MAX_RECIPIENTS = 100;

/** SHA-256 (hex) of the canonical JSON of `value` (keys sorted at every level; undefined is null). */
export function argumentsHash(value: unknown): string {
  return createHash('sha256')
    .update(canonicalJson(value ?? null) ?? 'null')
    .digest('hex');
}

export interface RequestInput {
  kind: string;
  userId: string;
  tool?: string | null;
  summary: string;
  arguments?: unknown;
  locationId?: string | null;
  expiresInSeconds?: number | null;
}

export interface Requested {
  outcome: Outcome;
  reason: string;
  request: ApprovalRequest | null;
  version: string;
}

/** What the service needs from the gateway: the store, where changes are announced, the outbox worker. */
export interface ApprovalDeps {
  store: Store;
  changes: Changes;
  /** Told when notifications were written, so they go out now rather than at the next poll. */
  outbox?: { poke(): void };
}

/**
 * Approval requests for one API request's viewer (SPEC.md "Approvals"): opening one (a tool decision
 * first, for tool use), deciding, cancelling and executing it, and reading what the viewer may see.
 * Who may do each transition is the guards' (`@requires(approval: …)`, Access.requireOnRequest); what
 * state allows it is the store's (one conditional update each, so races have one winner).
 */
export class ApprovalService {
  private approverLists = 0;

  constructor(
    private readonly deps: ApprovalDeps,
    private readonly authz: Authz,
    private readonly access: Access,
    private readonly loaders: Loaders,
    private readonly scans: Scans,
    private readonly requestId: string,
  ) {}

  private get orgId(): string {
    return this.authz.viewer.orgId;
  }

  private get ctx() {
    return { orgId: this.orgId, actor: this.access.actor, requestId: this.requestId };
  }

  /**
   * Opens a request (guarded: for yourself, or an agent's key with `approvals:request`). For the kind
   * that opens on a tool decision, the tool is decided for the user first: ALLOW and DENY answer with no
   * request. Other kinds open one if the user may raise it (is active, holds `raisedWith`).
   */
  async request(input: RequestInput): Promise<Requested> {
    const catalog = this.authz.catalog;
    const spec = catalog.approval(input.kind);
    if (!spec) {
      const kinds = catalog.approvalKinds;
      throw new InvalidInputError(
        `unknown approval kind "${input.kind}"; ${kinds.length ? `expected one of: ${kinds.join(', ')}` : 'this catalog defines none'}`,
      );
    }
    const summary = input.summary.trim();
    if (!summary) throw new InvalidInputError('summary must not be empty');
    const lifetime = input.expiresInSeconds ?? spec.defaultLifetimeSeconds;
    if (!Number.isInteger(lifetime) || lifetime < 1 || lifetime > spec.maxLifetimeSeconds)
      throw new InvalidInputError(
        `expiresInSeconds must be between 1 and ${spec.maxLifetimeSeconds} for kind ${spec.kind} (the catalog's maxLifetimeSeconds)`,
      );
    const locationId = input.locationId ?? null;
    if (locationId && !(await this.authz.pathOf(locationId))) throw notFound('location', locationId);
    const version = this.authz.version;
    const deny = (reason: string): Requested => ({ outcome: 'DENY', reason, request: null, version });

    const subject = await this.loaders.grants.load(input.userId);
    if (!subject) throw notFound('user', input.userId);

    let tool: string | null = null;
    if (spec.onToolDecision) {
      if (!input.tool) throw new InvalidInputError(`kind ${spec.kind} needs the agent tool (input.tool)`);
      tool = input.tool;
      const decision = await this.authz.decide({
        userId: input.userId,
        permission: `tool:${tool}`,
        locationId,
      });
      if (decision.error) throw new InvalidInputError(decision.error.message);
      if (decision.outcome === 'ALLOW')
        return { outcome: 'ALLOW', reason: `${tool} may be used without approval`, request: null, version };
      if (decision.outcome === 'DENY')
        return deny(`user ${input.userId} may not have the agent use ${tool} here`);
    } else {
      if (input.tool)
        throw new InvalidInputError(`kind ${spec.kind} is not about an agent tool: leave tool out`);
      const refused = await this.mayRaise(spec.kind, input.userId, locationId);
      if (refused) return deny(refused);
    }
    // A bounded number waiting per requester: a loop of requests cannot flood the approvers.
    if (
      (await this.deps.store.approvals.pendingBy(this.orgId, this.access.actor)) >= MAX_PENDING_PER_REQUESTER
    )
      throw new StoreError(
        'CONFLICT',
        'too many of your approval requests are waiting: cancel some, or wait for decisions',
      );

    const recipients = await this.recipients(spec, locationId, input.userId);
    const request = await this.deps.store.approvals.open(
      this.ctx,
      {
        kind: spec.kind,
        tool,
        subjectId: input.userId,
        requestedBy: this.access.actor,
        summary,
        arguments: input.arguments ?? null,
        argumentsHash: argumentsHash(input.arguments),
        locationId,
        lifetimeSeconds: lifetime,
      },
      recipients,
    );
    if (recipients.length) this.deps.outbox?.poke();
    await this.announce(request);
    return { outcome: 'REQUIRES_APPROVAL', reason: `waiting for ${spec.approvedBy}`, request, version };
  }

  /** Approves or dismisses (the guard checked the viewer may decide it). */
  async decide(id: string, to: 'APPROVED' | 'DISMISSED', note?: string | null): Promise<ApprovalRequest> {
    const userId = this.authz.viewer.kind === 'user' ? this.authz.viewer.userId : null;
    return this.announce(
      await this.deps.store.approvals.decide(this.ctx, id, to, { userId, note: note ?? null }),
    );
  }

  /** Withdraws a PENDING request (the guard checked the viewer is its requester or subject). */
  async cancel(id: string, note?: string | null): Promise<ApprovalRequest> {
    const userId = this.authz.viewer.kind === 'user' ? this.authz.viewer.userId : null;
    return this.announce(
      await this.deps.store.approvals.decide(this.ctx, id, 'CANCELLED', { userId, note: note ?? null }),
    );
  }

  /**
   * Uses an APPROVED request once (the guard checked the viewer is its requester or subject), decided
   * again now: the subject still holds the tool (its policy does not deny it), or for other kinds is
   * still active and may still raise it; and the approver still holds the kind's approval there. The
   * request is read fresh: only one seen APPROVED is re-decided and executed (APPROVED can then only
   * become EXECUTED or EXPIRED, which the conditional update checks).
   */
  async execute(id: string, hash: string): Promise<ApprovalRequest> {
    const current = await this.deps.store.approvals.get(this.orgId, id);
    if (!current) throw notFound('approval request', id);
    if (current.status !== 'APPROVED') throw approvalRefusal(current, 'executeApproved', hash);
    const scope = scopeOf({ locationId: current.locationId });
    if (current.tool) {
      const decision = await this.authz.decide({
        userId: current.subjectId,
        permission: `tool:${current.tool}`,
        locationId: current.locationId,
      });
      if (decision.outcome === 'DENY')
        throw Access.forbidden(
          `tool:${current.tool}`,
          scope,
          `forbidden: user ${current.subjectId} no longer may have the agent use ${current.tool}: the approval cannot be used`,
        );
    } else {
      const refused = await this.mayRaise(current.kind, current.subjectId, current.locationId);
      if (refused)
        throw Access.forbidden(
          this.authz.catalog.approval(current.kind)?.raisedWith ?? current.kind,
          scope,
          `forbidden: ${refused}: the approval cannot be used`,
        );
    }
    if (!(await this.approverStillMay(current)))
      throw Access.forbidden(
        this.authz.catalog.approval(current.kind)?.approvedBy ?? current.kind,
        scope,
        `forbidden: the approver ${current.decidedBy} no longer may approve ${current.kind} here: the approval cannot be used`,
      );
    return this.announce(await this.deps.store.approvals.execute(this.ctx, id, hash));
  }

  /** Why `userId` may not raise `kind` at `locationId` now (null: they may): active, and `raisedWith`. */
  private async mayRaise(kind: string, userId: string, locationId: string | null): Promise<string | null> {
    const subject = await this.loaders.grants.load(userId);
    if (!subject || !subject.active) return `user ${userId} is locked or deleted`;
    const raisedWith = this.authz.catalog.approval(kind)?.raisedWith;
    if (raisedWith && !(await this.authz.decide({ userId, permission: raisedWith, locationId })).allowed)
      return `raising ${kind} requires ${raisedWith}`;
    return null;
  }

  /** A request the viewer may see, or null (whether it exists or not). */
  async get(id: string): Promise<ApprovalRequest | null> {
    const request = await this.loaders.approvals.load(id);
    return request && (await this.access.maySeeRequest(request)) ? request : null;
  }

  /** A page of what the viewer may see, newest first (one more than `first`, for `hasNextPage`). */
  async list(filter: {
    status?: ApprovalStatus | null;
    kind?: string | null;
    first: number;
    after?: string | null;
  }): Promise<ApprovalRequest[]> {
    // A cursor is a request the viewer may see (one they may not is no cursor of their list).
    if (filter.after && !(await this.get(filter.after)))
      throw new InvalidInputError('after is not a cursor of this list: use an endCursor');
    const viewer = this.authz.viewer;
    const kinds: string[] = [];
    const kindAt: { kind: string; locationId: string }[] = [];
    if (viewer.kind === 'user') {
      for (const kind of this.authz.catalog.approvalKinds) {
        if (filter.kind && filter.kind !== kind) continue;
        if ((await this.access.holdsApproval(kind, null)) || (await this.access.managesKind(kind, null))) {
          kinds.push(kind);
          continue;
        }
        // Approvable or managed at some locations only: those (whereCan is exact and complete).
        const spec = this.authz.catalog.approval(kind)!;
        const refs = [spec.approvedBy, spec.managedBy].filter(
          (p): p is string => !!p && !p.startsWith('flag:'),
        );
        for (const permission of refs)
          for (const l of await this.scans.whereCan(viewer.userId, permission, { limit: 10_000 }))
            kindAt.push({ kind, locationId: l.id });
      }
    }
    return this.deps.store.approvals.list(
      this.orgId,
      {
        subjectId: viewer.kind === 'user' ? viewer.userId : undefined,
        requestedBy: this.access.actor,
        kinds,
        kindAt,
      },
      {
        status: filter.status ?? undefined,
        kind: filter.kind ?? undefined,
        after: filter.after ?? undefined,
        first: filter.first + 1,
      },
    );
  }

  /** Who may decide the request now, in id order after `after` (one more than `limit`, for paging). */
  async approvers(request: ApprovalRequest, limit: number, after?: string | null): Promise<User[]> {
    if (++this.approverLists > MAX_APPROVER_LISTS)
      throw new InvalidInputError(
        'too many approvers lists in one request: ask for the approvers of fewer requests at a time',
      );
    const spec = this.authz.catalog.approval(request.kind);
    if (!spec) return [];
    const parties = new Set([request.subjectId, request.requestedBy]);
    const holders = await this.holders(spec.approvedBy, request.locationId, limit + 1 + parties.size, after);
    return holders.filter((u) => !parties.has(u.id)).slice(0, limit + 1);
  }

  /**
   * The request's changes the viewer may see, as they happen (`id`: of that one only). Each is read
   * again and decided at the organization's state of that moment, in a context from `fresh` (which
   * also refuses credentials revoked since the subscription began), and handed out as `emit` makes
   * it of the request and that context. Check first that `id` is one the viewer may see (`get`): the
   * stream itself only filters. Ending it (`return()`) stops listening at once, even while it waits.
   */
  changes<C extends { approvals: ApprovalService }, T>(
    id: string | null | undefined,
    fresh: () => Promise<C>,
    emit: (request: ApprovalRequest, context: C) => T,
  ): AsyncIterableIterator<T> {
    const queue: Change[] = [];
    let wake: (() => void) | null = null;
    let closed = false;
    const unsubscribe = this.deps.changes.subscribe((change) => {
      if (change.orgId !== this.orgId || (id && change.id !== id)) return;
      // A subscriber that does not keep up loses the oldest changes first; each event is read fresh.
      if (queue.length >= 1_000) queue.shift();
      queue.push(change);
      wake?.();
    });
    const close = () => {
      closed = true;
      unsubscribe();
      wake?.();
    };
    const events = (async function* () {
      try {
        while (!closed) {
          if (!queue.length) await new Promise<void>((resolve) => (wake = resolve));
          wake = null;
          const change = queue.shift();
          if (!change || closed) continue;
          const context = await fresh();
          const request = await context.approvals.get(change.id);
          if (request && !closed) yield emit(request, context);
        }
      } finally {
        close();
      }
    })();
    return stoppable(events, close);
  }

  /** Tells every replica's subscribers; returns the request. */
  private async announce(request: ApprovalRequest): Promise<ApprovalRequest> {
    await this.deps.changes.publish({ orgId: this.orgId, id: request.id });
    return request;
  }

  private async approverStillMay(request: ApprovalRequest): Promise<boolean> {
    const spec = this.authz.catalog.approval(request.kind);
    if (!spec || !request.decidedBy) return false;
    if (spec.approvedBy.startsWith('flag:')) {
      const grants = await this.loaders.grants.load(request.decidedBy);
      return !!grants && grants.active && grants.flags.includes(spec.approvedBy.slice(5));
    }
    const decision = await this.authz.decide({
      userId: request.decidedBy,
      permission: spec.approvedBy,
      locationId: request.locationId,
    });
    return decision.allowed;
  }

  /** Who is notified: holders of the kind's `notify` (default: its approvers), not the subject or requester. */
  private async recipients(
    spec: ApprovalSpec & { kind: string },
    locationId: string | null,
    subjectId: string,
  ): Promise<Recipient[]> {
    const parties = new Set([subjectId, this.access.actor]);
    const ids = new Set<string>();
    for (const ref of spec.notify ?? [spec.approvedBy]) {
      for (const u of await this.holders(ref, locationId, MAX_RECIPIENTS + parties.size))
        if (!parties.has(u.id) && ids.size < MAX_RECIPIENTS) ids.add(u.id);
    }
    if (!ids.size) return [];
    const [settings, addresses] = await Promise.all([
      this.deps.store.notifications.settings(this.orgId),
      this.deps.store.notifications.addresses(this.orgId, [...ids]),
    ]);
    const out: Recipient[] = [];
    [...ids].forEach((recipientId, i) => {
      const a = addresses[i];
      if (!a) return;
      if (settings.slackBotTokenSet && a.slackMemberId)
        out.push({ channel: 'slack', recipientId, address: a.slackMemberId });
      if (settings.teamsWebhookUrl && a.teamsAddress)
        out.push({ channel: 'teams', recipientId, address: a.teamsAddress });
    });
    return out;
  }

  /** Active users holding `ref` (a permission at the location, or `flag:<key>`), in id order. */
  private async holders(ref: string, locationId: string | null, limit: number, after?: string | null) {
    if (!ref.startsWith('flag:')) return this.scans.whoCan(ref, locationId, [], { limit, after });
    return this.scans.withFlag(ref.slice(5), { limit, after });
  }
}
