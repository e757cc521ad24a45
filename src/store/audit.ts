import { createHash } from 'node:crypto';
import { configure } from 'safe-stable-stringify';
import type { Queryable } from './db';

/** Keys sorted at every level, so a value hashes the same after a round trip through jsonb. */
export const canonicalJson = configure({ deterministic: true, circularValue: Error, bigint: false });

export const GENESIS_HASH = '0'.repeat(64);

export interface AuditEntry {
  orgId: string;
  seq: number;
  actor: string;
  action: string;
  target: string;
  before: unknown;
  after: unknown;
  requestId: string | null;
  at: Date;
  prevHash: string;
  hash: string;
}

/** The hash of an entry: its content and its place in the chain (seq, previous hash). */
export function entryHash(e: Omit<AuditEntry, 'hash'>): string {
  const content = canonicalJson({
    orgId: e.orgId,
    seq: e.seq,
    actor: e.actor,
    action: e.action,
    target: e.target,
    before: e.before ?? null,
    after: e.after ?? null,
    requestId: e.requestId,
    at: e.at.toISOString(),
    prevHash: e.prevHash,
  });
  return createHash('sha256').update(content!).digest('hex');
}

/** Appends the entry for the write that produced version `seq`, chained to the entry before it. */
export async function appendAudit(
  tx: Queryable,
  e: Omit<AuditEntry, 'prevHash' | 'hash' | 'at'> & { at?: Date },
): Promise<AuditEntry> {
  let prevHash = GENESIS_HASH;
  if (e.seq > 1) {
    const [prev] = await tx.query<{ hash: string }>(
      'SELECT hash FROM audit_log WHERE org_id = $1 AND seq = $2',
      [e.orgId, e.seq - 1],
    );
    if (!prev) throw new Error(`audit chain of organization ${e.orgId} has no entry ${e.seq - 1}`);
    prevHash = prev.hash;
  }
  // jsonb keeps JSON values only: store what JSON.stringify makes of them, and hash exactly that.
  const entry = {
    ...e,
    before: toJson(e.before),
    after: toJson(e.after),
    at: new Date(e.at ?? Date.now()),
    prevHash,
  };
  const full: AuditEntry = { ...entry, hash: entryHash(entry) };
  await tx.query(
    `INSERT INTO audit_log (org_id, seq, actor, action, target, before, after, request_id, at, prev_hash, hash)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
    [
      full.orgId,
      full.seq,
      full.actor,
      full.action,
      full.target,
      jsonParam(full.before),
      jsonParam(full.after),
      full.requestId,
      full.at,
      full.prevHash,
      full.hash,
    ],
  );
  return full;
}

interface AuditRow {
  org_id: string;
  seq: string;
  actor: string;
  action: string;
  target: string;
  before: unknown;
  after: unknown;
  request_id: string | null;
  at: Date;
  prev_hash: string;
  hash: string;
}

export function auditFromRow(r: AuditRow): AuditEntry {
  return {
    orgId: r.org_id,
    seq: Number(r.seq),
    actor: r.actor,
    action: r.action,
    target: r.target,
    before: r.before,
    after: r.after,
    requestId: r.request_id,
    at: r.at,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}

export const AUDIT_COLUMNS =
  'org_id, seq::text AS seq, actor, action, target, before, after, request_id, at, prev_hash, hash';

export interface AuditVerdict {
  ok: boolean;
  /** Entries read. */
  checked: number;
  /** How many entries the organization has written (its version, plus audited approval transitions): the chain must run from 1 to it without a gap. */
  version: number;
  /** The first entry found edited, missing or out of order, and how. */
  firstBad?: { seq: number; problem: string };
}

/**
 * Recomputes an organization's chain from the first entry: every seq from 1 to the organization's
 * version present once and in order, every prev_hash the hash before it, every hash its content's.
 */
export async function verifyAudit(
  db: Queryable,
  orgId: string,
  version: number,
  pageSize = 5_000,
): Promise<AuditVerdict> {
  let expectedSeq = 1;
  let prevHash = GENESIS_HASH;
  let checked = 0;
  for (;;) {
    const rows = await db.query<AuditRow>(
      `SELECT ${AUDIT_COLUMNS} FROM audit_log WHERE org_id = $1 AND seq >= $2 ORDER BY audit_log.seq LIMIT $3`,
      [orgId, expectedSeq, pageSize],
    );
    for (const row of rows) {
      const e = auditFromRow(row);
      checked++;
      if (e.seq !== expectedSeq) {
        return {
          ok: false,
          checked,
          version,
          firstBad: { seq: expectedSeq, problem: `entry ${expectedSeq} is missing (the next is ${e.seq})` },
        };
      }
      if (e.prevHash !== prevHash) {
        return {
          ok: false,
          checked,
          version,
          firstBad: {
            seq: e.seq,
            problem: 'does not follow the entry before it (deleted, replaced or reordered)',
          },
        };
      }
      if (entryHash(e) !== e.hash) {
        return { ok: false, checked, version, firstBad: { seq: e.seq, problem: 'its content was edited' } };
      }
      prevHash = e.hash;
      expectedSeq++;
    }
    if (rows.length < pageSize) break;
  }
  if (expectedSeq - 1 !== version) {
    const problem =
      expectedSeq - 1 < version
        ? `entries ${expectedSeq} to ${version} are missing`
        : `entries after entry ${version} exist`;
    return { ok: false, checked, version, firstBad: { seq: expectedSeq, problem } };
  }
  return { ok: true, checked, version };
}

function toJson(value: unknown): unknown {
  return value === undefined ? null : JSON.parse(JSON.stringify(value));
}

/** jsonb parameters go as JSON text: `pg` would send a JS array as a Postgres array. */
function jsonParam(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value);
}
