import type { Assignment as EngineAssignment } from '../engine';
import type { Db, Queryable } from './db';
import { notFound, StoreError } from './errors';
import { EFFECTIVE_OWNER_SQL } from './owners';
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

/** Who hands ownership to whom, and what the catalog says an owner and a former owner hold. */
export interface OwnershipTransfer {
  fromUserId: string;
  toUserId: string;
  ownerRole: string;
  ownerFlags: readonly string[];
  formerRole?: string;
}

/**
 * Inserts one assignment inside a write (the caller checks the role exists and suits the scope). A
 * role given in a team makes the user a member of it (team roles count only for members: rule 3);
 * `joinedTeam` says whether they were not one before.
 */
export async function insertAssignment(
  tx: Queryable,
  orgId: string,
  input: AssignInput,
): Promise<{ assignment: Assignment; joinedTeam: boolean }> {
  check(!(input.locationId && input.teamId), 'give a location or a team, not both');
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
      orgId,
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
  const joined = assignment.teamId
    ? await tx.query(
        `INSERT INTO team_members (org_id, team_id, user_id) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING RETURNING user_id`,
        [orgId, assignment.teamId, assignment.userId],
      )
    : [];
  return { assignment, joinedTeam: joined.length > 0 };
}

/** Deletes a user's roles in a team inside a write (they leave it: rule 3), returning them. */
export async function deleteTeamRoles(
  tx: Queryable,
  orgId: string,
  teamId: string,
  userId: string,
): Promise<Assignment[]> {
  const rows = await tx.query<Row>(
    `DELETE FROM assignments AS a WHERE a.org_id = $1 AND a.team_id = $2 AND a.user_id = $3
     RETURNING ${COLUMNS}`,
    [orgId, teamId, userId],
  );
  return rows.map(fromRow).sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
}

/** Adds flags to a user inside a write (the owner's flags, when someone becomes an owner). */
async function addFlags(tx: Queryable, orgId: string, userId: string, flags: readonly string[]) {
  if (!flags.length) return;
  await tx.query(
    `UPDATE users SET flags = ARRAY(SELECT DISTINCT f FROM unnest(flags || $3::text[]) AS f ORDER BY f)
      WHERE org_id = $1 AND id = $2`,
    [orgId, userId, flags],
  );
}

/**
 * Where the holders of a permission may be found (whoCan's candidates): the roles that grant it at each
 * kind of scope, and the flags that grant it on their own. A superset: the engine confirms each one.
 */
export interface HolderQuery {
  /** Roles whose org-wide assignments (no location, no team) may grant it. */
  orgRoles: readonly string[];
  /** Roles whose assignments at one of `locationIds` may grant it… */
  locationRoles: readonly string[];
  /** …the location asked about and its ancestors (rule 2: a role given above it cascades). */
  locationIds: readonly string[];
  /** Roles whose assignments in one of `teamIds` may grant it (rule 3). */
  teamRoles: readonly string[];
  teamIds: readonly string[];
  /** Flags that grant it on their own (rule 6): every user holding one is a candidate. */
  flags: readonly string[];
  /** Whether assignments restricted to a person or groups may grant it (pages and modules, rule 5). */
  restricted: boolean;
  /** Assignments expired at this instant are left out (rule 8). */
  at: Date;
}

/**
 * More (role, scope) ranges than this in one holders query are read in several queries: the query's
 * text and planning time grow with them. Default 400.
 */
const MAX_RANGES = 400;

export class Assignments {
  constructor(
    private readonly db: Db,
    private readonly write: Write,
  ) {}

  /**
   * Gives a role (the caller checks it exists and suits the scope), with `flags` added to the user in
   * the same write (the owner's flags, for a new owner).
   */
  async assign(
    ctx: WriteContext,
    input: AssignInput & { flags?: readonly string[] },
  ): Promise<Written<Assignment>> {
    check(!(input.locationId && input.teamId), 'give a location or a team, not both');
    return this.write(ctx, 'assignRole', async (tx) => {
      const { assignment, joinedTeam } = await insertAssignment(tx, ctx.orgId, input);
      await addFlags(tx, ctx.orgId, assignment.userId, input.flags ?? []);
      return {
        target: `user:${assignment.userId}`,
        after: {
          ...assignment,
          ...(input.flags?.length ? { flagsAdded: input.flags } : {}),
          ...(joinedTeam ? { joinedTeam: assignment.teamId } : {}),
        },
        result: assignment,
      };
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
    return (await this.getMany(orgId, [id]))[0]!;
  }

  /** Assignments by id, one entry per id in key order; null where there is none in this organization. */
  async getMany(orgId: string, ids: readonly string[]): Promise<(Assignment | null)[]> {
    const valid = ids.filter(isUuid);
    const rows = valid.length
      ? await this.db.query<Row>(
          `SELECT ${COLUMNS} FROM assignments a WHERE a.org_id = $1 AND a.id = ANY($2::uuid[])`,
          [orgId, valid],
        )
      : [];
    const byId = new Map(rows.map((r) => [r.id, fromRow(r)]));
    return ids.map((id) => byId.get(id) ?? null);
  }

  /** The organization's first active owner (see EFFECTIVE_OWNER_SQL); null when it has none. */
  async activeOwner(orgId: string, ownerRole: string): Promise<string | null> {
    if (!isUuid(orgId)) return null;
    const [row] = await this.db.query<{ user_id: string }>(
      `SELECT a.user_id FROM assignments a JOIN users u ON u.org_id = a.org_id AND u.id = a.user_id
        WHERE a.org_id = $1 AND ${EFFECTIVE_OWNER_SQL} ORDER BY a.created_at, a.id LIMIT 1`,
      [orgId, ownerRole],
    );
    return row?.user_id ?? null;
  }

  /**
   * The ids of the users who may hold a permission (`HolderQuery`), in id order after `page.after`,
   * from at most `page.first` rows (a user found at several scopes is one of several rows); `done` when
   * nothing follows them. One index range per (role, scope) (the `assignments_reverse_*` indexes), plus the flag
   * holders (`users_flags`), merged in user order: the work follows the candidates, not the
   * organization.
   */
  async holders(
    orgId: string,
    q: HolderQuery,
    page: { first: number; after?: string | null },
  ): Promise<{ userIds: string[]; done: boolean }> {
    const none = { userIds: [], done: true };
    if (!isUuid(orgId)) return none;
    const after = page.after != null && isUuid(page.after) ? page.after : null;
    const locations = [...new Set(q.locationIds.filter(isUuid))];
    const teams = [...new Set(q.teamIds.filter(isUuid))];
    const ranges: { role: string; column: 'location_id' | 'team_id' | null; id: string | null }[] = [];
    for (const role of new Set(q.orgRoles)) ranges.push({ role, column: null, id: null });
    for (const role of new Set(q.locationRoles))
      for (const id of locations) ranges.push({ role, column: 'location_id', id });
    for (const role of new Set(q.teamRoles))
      for (const id of teams) ranges.push({ role, column: 'team_id', id });
    const flags = [...new Set(q.flags)];
    if (!ranges.length && !flags.length) return none;
    // Several queries when there are many ranges: each gives its first `page.first`, the union's first
    // `page.first` are the answer.
    const parts: (typeof ranges)[] = [];
    for (let i = 0; i < ranges.length; i += MAX_RANGES) parts.push(ranges.slice(i, i + MAX_RANGES));
    if (!parts.length) parts.push([]);
    const lists = await Promise.all(
      parts.map((part, i) => this.holdersIn(orgId, part, i === 0 ? flags : [], q, after, page.first)),
    );
    if (lists.length === 1) return lists[0]!;
    // Complete up to the smallest last id of the parts that stopped at `first` rows.
    const cut = lists
      .filter((l) => !l.done)
      .map((l) => l.userIds[l.userIds.length - 1]!)
      .sort()[0];
    const userIds = [...new Set(lists.flatMap((l) => l.userIds))]
      .filter((id) => cut === undefined || id <= cut)
      .sort();
    return { userIds, done: cut === undefined };
  }

  private async holdersIn(
    orgId: string,
    ranges: readonly { role: string; column: 'location_id' | 'team_id' | null; id: string | null }[],
    flags: readonly string[],
    q: HolderQuery,
    after: string | null,
    first: number,
  ): Promise<{ userIds: string[]; done: boolean }> {
    const params: unknown[] = [orgId, first];
    const param = (v: unknown) => `$${params.push(v)}`;
    // Parameters are numbered as they are used: an unused one has no type PostgreSQL can tell.
    const live = !ranges.length
      ? ''
      : ` AND (a.expires_at IS NULL OR a.expires_at > ${param(q.at)}::timestamptz)${
          q.restricted ? '' : ' AND a.person_id IS NULL AND cardinality(a.group_ids) = 0'
        }${after === null ? '' : ` AND a.user_id > ${param(after)}::uuid`}`;
    // Every branch is an equality on the leading columns of its scope's index (migrations/006), so each
    // is read in user order; each has its own ORDER BY … LIMIT, without which the planner reads every
    // branch whole and sorts, and the outer ORDER BY … LIMIT merges them (Merge Append): the work
    // follows the page, not the holders.
    const branches = ranges.map(({ role, column, id }) => {
      const scope =
        column === 'location_id'
          ? `a.location_id = ${param(id)}::uuid AND a.team_id IS NULL`
          : column === 'team_id'
            ? `a.location_id IS NULL AND a.team_id = ${param(id)}::uuid`
            : 'a.location_id IS NULL AND a.team_id IS NULL';
      return `(SELECT a.user_id FROM assignments a WHERE a.org_id = $1 AND a.role_key = ${param(role)} AND ${scope}${live} ORDER BY a.user_id LIMIT $2)`;
    });
    if (flags.length)
      branches.push(
        `(SELECT a.id AS user_id FROM users a WHERE a.org_id = $1 AND a.flags && ${param(flags)}::text[]${
          after === null ? '' : ` AND a.id > ${param(after)}::uuid`
        } ORDER BY a.id LIMIT $2)`,
      );
    if (!branches.length) return { userIds: [], done: true };
    // No DISTINCT in SQL: with it the planner may hash every branch whole before sorting. A user found
    // by several branches comes once per branch; `first` rows hold at most `first` users.
    const rows = await this.db.query<{ user_id: string }>(
      `SELECT c.user_id FROM (${branches.join(' UNION ALL ')}) c ORDER BY c.user_id LIMIT $2`,
      params,
    );
    return { userIds: [...new Set(rows.map((r) => r.user_id))], done: rows.length < first };
  }

  /** Every assignment given in a team. */
  async inTeam(orgId: string, teamId: string): Promise<Assignment[]> {
    if (!isUuid(teamId)) return [];
    const rows = await this.db.query<Row>(
      `SELECT ${COLUMNS} FROM assignments a WHERE a.org_id = $1 AND a.team_id = $2`,
      [orgId, teamId],
    );
    return rows.map(fromRow);
  }

  /** Every assignment given at one of these locations (not below them). */
  async atLocations(orgId: string, locationIds: readonly string[]): Promise<Assignment[]> {
    const valid = locationIds.filter(isUuid);
    if (!valid.length) return [];
    const rows = await this.db.query<Row>(
      `SELECT ${COLUMNS} FROM assignments a WHERE a.org_id = $1 AND a.location_id = ANY($2::uuid[])`,
      [orgId, valid],
    );
    return rows.map(fromRow);
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

  /**
   * Makes `toUserId` an owner (org-wide `ownerRole`, with `ownerFlags` added), then takes the owner role
   * from `fromUserId` and gives them `formerRole` (if any), in one write: the organization is never
   * without an owner. `fromUserId` must still be an active owner when the write runs (CONFLICT otherwise).
   */
  transferOwnership(
    ctx: WriteContext,
    input: OwnershipTransfer,
  ): Promise<Written<{ fromUserId: string; toUserId: string }>> {
    return this.write(ctx, 'transferOwnership', async (tx) => {
      if (!isUuid(input.toUserId)) throw notFound('user', input.toUserId);
      const owning = (userId: string) =>
        tx.query(
          `SELECT 1 FROM assignments a JOIN users u ON u.org_id = a.org_id AND u.id = a.user_id
            WHERE a.org_id = $1 AND a.user_id = $3 AND ${EFFECTIVE_OWNER_SQL}`,
          [ctx.orgId, input.ownerRole, userId],
        );
      if (!(await owning(input.fromUserId)).length)
        throw new StoreError('CONFLICT', 'you are no longer an owner of the organization');
      const [to] = await tx.query<{ id: string; flags: string[] }>(
        'SELECT id, flags FROM users WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL AND NOT locked FOR UPDATE',
        [ctx.orgId, input.toUserId],
      );
      if (!to) throw notFound('active user', input.toUserId);
      if (!(await owning(input.toUserId)).length)
        await insertAssignment(tx, ctx.orgId, { userId: input.toUserId, roleKey: input.ownerRole });
      await addFlags(tx, ctx.orgId, input.toUserId, input.ownerFlags);
      await tx.query(
        'DELETE FROM assignments WHERE org_id = $1 AND user_id = $2 AND role_key = $3 AND location_id IS NULL AND team_id IS NULL',
        [ctx.orgId, input.fromUserId, input.ownerRole],
      );
      if (input.formerRole) {
        const kept = await tx.query(
          `SELECT 1 FROM assignments WHERE org_id = $1 AND user_id = $2 AND role_key = $3 AND location_id IS NULL
              AND team_id IS NULL AND person_id IS NULL AND cardinality(group_ids) = 0 AND expires_at IS NULL`,
          [ctx.orgId, input.fromUserId, input.formerRole],
        );
        if (!kept.length)
          await insertAssignment(tx, ctx.orgId, { userId: input.fromUserId, roleKey: input.formerRole });
      }
      const result = { fromUserId: input.fromUserId, toUserId: input.toUserId };
      return {
        target: `user:${input.toUserId}`,
        before: { owner: input.fromUserId },
        after: { owner: input.toUserId, ownerFlags: input.ownerFlags, formerRole: input.formerRole ?? null },
        result,
      };
    });
  }
}
