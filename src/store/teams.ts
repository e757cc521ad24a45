import { deleteTeamRoles, type Assignment } from './assignments';
import type { Db } from './db';
import { notFound, StoreError } from './errors';
import { isUuid, newId } from './ids';
import type { Write, WriteContext, Written } from './write';

export interface Team {
  id: string;
  name: string;
  deletedAt: Date | null;
  createdAt: Date;
}

interface Row {
  id: string;
  name: string;
  deleted_at: Date | null;
  created_at: Date;
}

const COLUMNS = 'id, name, deleted_at, created_at';
const fromRow = (r: Row): Team => ({
  id: r.id,
  name: r.name,
  deletedAt: r.deleted_at,
  createdAt: r.created_at,
});

export class Teams {
  constructor(
    private readonly db: Db,
    private readonly write: Write,
  ) {}

  create(ctx: WriteContext, input: { name: string }): Promise<Written<Team>> {
    return this.write(ctx, 'createTeam', async (tx) => {
      const [row] = await tx.query<Row>(
        `INSERT INTO teams (org_id, id, name) VALUES ($1, $2, $3) RETURNING ${COLUMNS}`,
        [ctx.orgId, newId(), input.name],
      );
      const team = fromRow(row!);
      return { target: `team:${team.id}`, after: team, result: team };
    });
  }

  update(ctx: WriteContext, input: { id: string; name: string }): Promise<Written<Team>> {
    return this.change(ctx, 'updateTeam', input.id, 'name = $3', [input.name]);
  }

  /** Soft delete: team roles given in a deleted team count for nothing until it is restored. */
  delete(ctx: WriteContext, id: string): Promise<Written<Team>> {
    return this.change(ctx, 'deleteTeam', id, 'deleted_at = now()', []);
  }

  undelete(ctx: WriteContext, id: string): Promise<Written<Team>> {
    return this.change(ctx, 'undeleteTeam', id, 'deleted_at = NULL', []);
  }

  addMember(
    ctx: WriteContext,
    teamId: string,
    userId: string,
  ): Promise<Written<{ teamId: string; userId: string }>> {
    return this.write(ctx, 'addTeamMember', async (tx) => {
      if (!isUuid(teamId)) throw notFound('team', teamId);
      if (!isUuid(userId)) throw notFound('user', userId);
      await tx.query(
        'INSERT INTO team_members (org_id, team_id, user_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
        [ctx.orgId, teamId, userId],
      );
      const member = { teamId, userId };
      return { target: `team:${teamId}`, after: member, result: member };
    });
  }

  /**
   * Takes a user out of a team, and their roles in that team with them (team roles count only for
   * members: rule 3), in one write whose audit entry lists the roles taken.
   */
  removeMember(
    ctx: WriteContext,
    teamId: string,
    userId: string,
  ): Promise<Written<{ teamId: string; userId: string; revoked: Assignment[] }>> {
    return this.write(ctx, 'removeTeamMember', async (tx) => {
      const gone =
        isUuid(teamId) && isUuid(userId)
          ? await tx.query(
              'DELETE FROM team_members WHERE org_id = $1 AND team_id = $2 AND user_id = $3 RETURNING user_id',
              [ctx.orgId, teamId, userId],
            )
          : [];
      if (!gone.length) throw new StoreError('NOT_FOUND', `user ${userId} is not a member of team ${teamId}`);
      const revoked = await deleteTeamRoles(tx, ctx.orgId, teamId, userId);
      return {
        target: `team:${teamId}`,
        before: { teamId, userId, assignments: revoked },
        after: { teamId, userId, member: false },
        result: { teamId, userId, revoked },
      };
    });
  }

  /** A page of the organization's teams in id order after `after` (deleted ones only when asked). */
  async list(
    orgId: string,
    page: { first: number; after?: string | null; includeDeleted?: boolean },
  ): Promise<Team[]> {
    if (!isUuid(orgId)) return [];
    const rows = await this.db.query<Row>(
      `SELECT ${COLUMNS} FROM teams WHERE org_id = $1 AND ($2::uuid IS NULL OR id > $2::uuid)
         AND ($4 OR deleted_at IS NULL) ORDER BY id LIMIT $3`,
      [orgId, page.after && isUuid(page.after) ? page.after : null, page.first, !!page.includeDeleted],
    );
    return rows.map(fromRow);
  }

  /** The live teams whose name is one of `names` (compared without case; live names are unique so). */
  async byNames(orgId: string, names: readonly string[]): Promise<Team[]> {
    if (!names.length) return [];
    const rows = await this.db.query<Row>(
      `SELECT ${COLUMNS} FROM teams WHERE org_id = $1 AND deleted_at IS NULL AND lower(name) = ANY($2::text[])`,
      [orgId, [...new Set(names.map((n) => n.toLowerCase()))]],
    );
    return rows.map(fromRow);
  }

  async getMany(orgId: string, ids: readonly string[]): Promise<(Team | null)[]> {
    const valid = ids.filter(isUuid);
    const rows = valid.length
      ? await this.db.query<Row>(`SELECT ${COLUMNS} FROM teams WHERE org_id = $1 AND id = ANY($2::uuid[])`, [
          orgId,
          valid,
        ])
      : [];
    const byId = new Map(rows.map((r) => [r.id, fromRow(r)]));
    return ids.map((id) => byId.get(id) ?? null);
  }

  /** The live teams each user belongs to, one list per user id in key order. */
  async membershipsOf(orgId: string, userIds: readonly string[]): Promise<string[][]> {
    const valid = userIds.filter(isUuid);
    const rows = valid.length
      ? await this.db.query<{ user_id: string; team_id: string }>(
          `SELECT m.user_id, m.team_id FROM team_members m JOIN teams t ON t.org_id = m.org_id AND t.id = m.team_id
            WHERE m.org_id = $1 AND m.user_id = ANY($2::uuid[]) AND t.deleted_at IS NULL ORDER BY m.team_id`,
          [orgId, valid],
        )
      : [];
    const byUser = new Map<string, string[]>();
    for (const r of rows) byUser.set(r.user_id, [...(byUser.get(r.user_id) ?? []), r.team_id]);
    return userIds.map((id) => byUser.get(id) ?? []);
  }

  private change(
    ctx: WriteContext,
    action: string,
    id: string,
    set: string,
    params: unknown[],
  ): Promise<Written<Team>> {
    // `set` is one of the fixed strings above, never input.
    return this.write(ctx, action, async (tx) => {
      const [before] = isUuid(id)
        ? await tx.query<Row>(`SELECT ${COLUMNS} FROM teams WHERE org_id = $1 AND id = $2 FOR UPDATE`, [
            ctx.orgId,
            id,
          ])
        : [];
      if (!before) throw notFound('team', id);
      const [after] = await tx.query<Row>(
        `UPDATE teams SET ${set} WHERE org_id = $1 AND id = $2 RETURNING ${COLUMNS}`,
        [ctx.orgId, id, ...params],
      );
      const team = fromRow(after!);
      return { target: `team:${id}`, before: fromRow(before), after: team, result: team };
    });
  }
}
