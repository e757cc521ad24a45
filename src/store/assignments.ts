import type { Assignment as EngineAssignment } from '../engine';
import type { Db } from './db';
import { notFound } from './errors';
import { isUuid, newId } from './ids';
import { check, type Write, type WriteContext, type Written } from './write';

export interface Assignment {
  id: string;
  userId: string;
  roleKey: string;
  locationId: string | null;
  teamId: string | null;
  personId: string | null;
  groupIds: string[];
  expiresAt: Date | null;
  createdAt: Date;
}

interface Row {
  id: string;
  user_id: string;
  role_key: string;
  location_id: string | null;
  team_id: string | null;
  person_id: string | null;
  group_ids: string[];
  expires_at: Date | null;
  created_at: Date;
}

const COLUMNS =
  'a.id, a.user_id, a.role_key, a.location_id, a.team_id, a.person_id, a.group_ids, a.expires_at, a.created_at';
const fromRow = (r: Row): Assignment => ({
  id: r.id,
  userId: r.user_id,
  roleKey: r.role_key,
  locationId: r.location_id,
  teamId: r.team_id,
  personId: r.person_id,
  groupIds: r.group_ids,
  expiresAt: r.expires_at,
  createdAt: r.created_at,
});

/** The engine's view of an assignment. */
export function toEngineAssignment(a: Assignment): EngineAssignment {
  return {
    id: a.id,
    role: a.roleKey,
    locationId: a.locationId,
    teamId: a.teamId,
    personId: a.personId,
    groupIds: a.groupIds,
    expiresAt: a.expiresAt ? a.expiresAt.getTime() : null,
  };
}

export interface AssignInput {
  userId: string;
  roleKey: string;
  locationId?: string | null;
  teamId?: string | null;
  personId?: string | null;
  groupIds?: readonly string[] | null;
  expiresAt?: Date | null;
}

export class Assignments {
  constructor(
    private readonly db: Db,
    private readonly write: Write,
  ) {}

  /** Gives a role (the caller checks it exists and suits the scope). */
  async assign(ctx: WriteContext, input: AssignInput): Promise<Written<Assignment>> {
    check(!(input.locationId && input.teamId), 'give a location or a team, not both');
    return this.write(ctx, 'assignRole', async (tx) => {
      for (const [what, id] of [
        ['user', input.userId],
        ['location', input.locationId],
        ['team', input.teamId],
      ] as const) {
        if (id != null && !isUuid(id)) throw notFound(what, id);
      }
      const [row] = await tx.query<Row>(
        `INSERT INTO assignments AS a (org_id, id, user_id, role_key, location_id, team_id, person_id, group_ids, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text[], $9) RETURNING ${COLUMNS}`,
        [
          ctx.orgId,
          newId(),
          input.userId,
          input.roleKey,
          input.locationId ?? null,
          input.teamId ?? null,
          input.personId ?? null,
          [...new Set(input.groupIds ?? [])],
          input.expiresAt ?? null,
        ],
      );
      const assignment = fromRow(row!);
      return { target: `user:${assignment.userId}`, after: assignment, result: assignment };
    });
  }

  revoke(ctx: WriteContext, id: string): Promise<Written<Assignment>> {
    return this.write(ctx, 'revokeAssignment', async (tx) => {
      const [row] = isUuid(id)
        ? await tx.query<Row>(
            `DELETE FROM assignments AS a WHERE a.org_id = $1 AND a.id = $2 RETURNING ${COLUMNS}`,
            [ctx.orgId, id],
          )
        : [];
      if (!row) throw notFound('assignment', id);
      const assignment = fromRow(row);
      return { target: `user:${assignment.userId}`, before: assignment, result: assignment };
    });
  }

  async get(orgId: string, id: string): Promise<Assignment | null> {
    if (!isUuid(id)) return null;
    const [row] = await this.db.query<Row>(
      `SELECT ${COLUMNS} FROM assignments a WHERE a.org_id = $1 AND a.id = $2`,
      [orgId, id],
    );
    return row ? fromRow(row) : null;
  }

  /**
   * The assignments that can count for each user, one list per user id in key order: those in a
   * deleted team are left out (they count for nothing until the team is restored).
   */
  async forUsers(orgId: string, userIds: readonly string[]): Promise<Assignment[][]> {
    const valid = userIds.filter(isUuid);
    const rows = valid.length
      ? await this.db.query<Row>(
          `SELECT ${COLUMNS} FROM assignments a
             LEFT JOIN teams t ON t.org_id = a.org_id AND t.id = a.team_id
            WHERE a.org_id = $1 AND a.user_id = ANY($2::uuid[]) AND t.deleted_at IS NULL
            ORDER BY a.created_at, a.id`,
          [orgId, valid],
        )
      : [];
    const byUser = new Map<string, Assignment[]>();
    for (const r of rows) {
      const list = byUser.get(r.user_id);
      if (list) list.push(fromRow(r));
      else byUser.set(r.user_id, [fromRow(r)]);
    }
    return userIds.map((id) => byUser.get(id) ?? []);
  }
}

/**
 * Makes `toUserId` an owner (org-wide `ownerRole`, with `ownerFlags` added) and then removes
 * `fromUserId`'s org-wide owner assignments, in one write: the organization is never without an owner.
 */
export async function transferOwnership(
  write: Write,
  ctx: WriteContext,
  input: { fromUserId: string; toUserId: string; ownerRole: string; ownerFlags: readonly string[] },
): Promise<Written<{ fromUserId: string; toUserId: string }>> {
  return write(ctx, 'transferOwnership', async (tx) => {
    if (!isUuid(input.toUserId)) throw notFound('user', input.toUserId);
    const [to] = await tx.query<{ id: string; flags: string[] }>(
      'SELECT id, flags FROM users WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL AND NOT locked FOR UPDATE',
      [ctx.orgId, input.toUserId],
    );
    if (!to) throw notFound('active user', input.toUserId);
    const owns = await tx.query(
      `SELECT 1 FROM assignments WHERE org_id = $1 AND user_id = $2 AND role_key = $3 AND location_id IS NULL AND team_id IS NULL
         AND person_id IS NULL AND cardinality(group_ids) = 0 AND expires_at IS NULL`,
      [ctx.orgId, input.toUserId, input.ownerRole],
    );
    if (!owns.length) {
      await tx.query('INSERT INTO assignments (org_id, id, user_id, role_key) VALUES ($1, $2, $3, $4)', [
        ctx.orgId,
        newId(),
        input.toUserId,
        input.ownerRole,
      ]);
    }
    const flags = [...new Set([...to.flags, ...input.ownerFlags])].sort();
    await tx.query('UPDATE users SET flags = $3::text[] WHERE org_id = $1 AND id = $2', [
      ctx.orgId,
      input.toUserId,
      flags,
    ]);
    await tx.query(
      'DELETE FROM assignments WHERE org_id = $1 AND user_id = $2 AND role_key = $3 AND location_id IS NULL AND team_id IS NULL',
      [ctx.orgId, input.fromUserId, input.ownerRole],
    );
    const result = { fromUserId: input.fromUserId, toUserId: input.toUserId };
    return {
      target: `user:${input.toUserId}`,
      before: { owner: input.fromUserId },
      after: { owner: input.toUserId, flags },
      result,
    };
  });
}
