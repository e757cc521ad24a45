import { appendAudit } from './audit';
import type { KnownVersions, Queryable } from './db';
import { notFound, StoreError } from './errors';
import { isUuid } from './ids';

/**
 * How long a write may take between marking its version pending and committing: past it, the write is
 * rolled back instead (its mark may have expired and a replica re-read the version before it).
 */
export const WRITE_DEADLINE_MS = 10_000;

/** Who is writing, to which organization, for which request: recorded in the audit entry. */
export interface WriteContext {
  orgId: string;
  /** A user id, `apikey:<id>`, or `cli` / `system`. */
  actor: string;
  requestId?: string;
  /**
   * Rules checked inside the transaction, after the change and before it commits (at least one active
   * owner, …). Writes to one organization run one at a time, so a rule that holds here holds.
   */
  invariants?: readonly Invariant[];
}

/** Throws (a StoreError) when the organization's state breaks a rule: the write is rolled back. */
export type Invariant = (tx: Queryable) => Promise<void>;

/** What a write changed: the audit entry's target, before and after, and what the caller gets back. */
export interface Change<T> {
  target: string;
  before?: unknown;
  after?: unknown;
  result: T;
}

export interface Written<T> {
  result: T;
  /** The organization's version after this write. */
  version: string;
}

/**
 * How a write makes its version known to every reader (the version protocol, src/consistency/): before
 * it commits, after, and when it is rolled back. The store is given one when it is built; without one,
 * a write is known to readers of the database (and, embedded, to this process) only.
 */
export interface VersionHooks {
  /** Inside the transaction, before the change; throwing refuses the write. */
  prepare(orgId: string, version: string): Promise<void>;
  /** After the commit, before the write returns. */
  committed(orgId: string, version: string): Promise<void>;
  abandoned(orgId: string, version: string): Promise<void>;
}

/**
 * The one way to write: a transaction that bumps the organization's version first (which also locks
 * the organization's row, so writes to one organization run one at a time), applies the change, and
 * appends its audit entry. Any error rolls all three back: no partial rows, no version, no entry.
 */
export type Transact = <T>(fn: (tx: Queryable) => Promise<T>) => Promise<T>;

/**
 * Writes in `transaction`s. `versions` makes each write's version known (the version protocol);
 * `known` is the embedded store's record of its own writes' versions (`Db.known`).
 */
export function writer(
  transaction: Transact,
  options: { versions?: VersionHooks; known?: KnownVersions } = {},
) {
  const { versions, known } = options;
  return async function write<T>(
    ctx: WriteContext,
    action: string,
    fn: (tx: Queryable) => Promise<Change<T>>,
  ): Promise<Written<T>> {
    if (!isUuid(ctx.orgId)) throw notFound('organization', ctx.orgId);
    let prepared: { version: string; at: number } | null = null;
    const written = await transaction(async (tx) => {
      const [org] = await tx.query<{ version: string; seq: string }>(
        'UPDATE organizations SET version = version + 1, audit_seq = audit_seq + 1 WHERE id = $1 RETURNING version::text AS version, audit_seq::text AS seq',
        [ctx.orgId],
      );
      if (!org) throw notFound('organization', ctx.orgId);
      await versions?.prepare(ctx.orgId, org.version);
      prepared = { version: org.version, at: Date.now() };
      const change = await fn(tx);
      for (const invariant of ctx.invariants ?? []) await invariant(tx);
      await appendAudit(tx, {
        orgId: ctx.orgId,
        seq: Number(org.seq),
        actor: ctx.actor,
        action,
        target: change.target,
        before: change.before,
        after: change.after,
        requestId: ctx.requestId ?? null,
      });
      if (Date.now() - prepared.at > WRITE_DEADLINE_MS)
        throw new StoreError('UNAVAILABLE', 'the change took too long and was rolled back; try again');
      return { result: change.result, version: org.version };
    }).catch(async (err: unknown) => {
      const p = prepared as { version: string } | null;
      if (p) await versions?.abandoned(ctx.orgId, p.version);
      throw err;
    });
    // Before the write returns: a request that starts after it sees its version, on every replica.
    known?.advance(ctx.orgId, written.version);
    await versions?.committed(ctx.orgId, written.version);
    return written;
  };
}

export type Write = ReturnType<typeof writer>;

/** One audit entry of a `record`ed change. */
export interface Entry {
  action: string;
  target: string;
  before?: unknown;
  after?: unknown;
  /** Default: the context's actor (the expiry sweep records `system`). */
  actor?: string;
}

/**
 * Audited changes that are not permission changes (approval transitions): each appends its audit
 * entries, in the same transaction, without bumping the organization's version, so what is cached for
 * the version stays good. Writes to one organization's audit log run one at a time (its row is locked
 * first). A change that returns no entries changed nothing.
 */
export function recorder(transaction: Transact) {
  return async function record<T>(
    ctx: Omit<WriteContext, 'invariants'>,
    fn: (tx: Queryable) => Promise<{ entries: Entry[]; result: T }>,
  ): Promise<T> {
    if (!isUuid(ctx.orgId)) throw notFound('organization', ctx.orgId);
    return transaction(async (tx) => {
      const [org] = await tx.query<{ seq: string }>(
        'SELECT audit_seq::text AS seq FROM organizations WHERE id = $1 FOR UPDATE',
        [ctx.orgId],
      );
      if (!org) throw notFound('organization', ctx.orgId);
      const { entries, result } = await fn(tx);
      if (!entries.length) return result;
      let seq = Number(org.seq);
      for (const e of entries) {
        await appendAudit(tx, {
          orgId: ctx.orgId,
          seq: ++seq,
          actor: e.actor ?? ctx.actor,
          action: e.action,
          target: e.target,
          before: e.before,
          after: e.after,
          requestId: ctx.requestId ?? null,
        });
      }
      await tx.query('UPDATE organizations SET audit_seq = $2 WHERE id = $1', [ctx.orgId, seq]);
      return result;
    });
  };
}

export type Recorder = ReturnType<typeof recorder>;

/** Throws INVALID with a message for the client when `ok` is false. */
export function check(ok: boolean, message: string): asserts ok {
  if (!ok) throw new StoreError('INVALID', message);
}
