import type { Db, Queryable } from './db';
import { notFound, StoreError } from './errors';
import { isUuid, newId } from './ids';
import { insertAssignment, type AssignInput } from './assignments';
import { check, type Write, type WriteContext, type Written } from './write';

export interface User {
  id: string;
  email: string;
  name: string | null;
  flags: string[];
  locked: boolean;
  deletedAt: Date | null;
  createdAt: Date;
}

interface Row {
  id: string;
  email: string;
  name: string | null;
  flags: string[];
  locked: boolean;
  deleted_at: Date | null;
  created_at: Date;
}

const COLUMNS = 'id, email, name, flags, locked, deleted_at, created_at';
const fromRow = (r: Row): User => ({
  id: r.id,
  email: r.email,
  name: r.name,
  flags: r.flags,
  locked: r.locked,
  deletedAt: r.deleted_at,
  createdAt: r.created_at,
});

const EMAIL = /^[^\s@]+@[^\s@]+$/;

/** Whether the store takes `email` as an address (the rule every write of an email checks). */
export function isEmail(email: string): boolean {
  return EMAIL.test(email);
}

/** A user an import creates, with their assignments (the caller checked them as createUser does). */
export interface ImportedUser {
  email: string;
  name: string | null;
  flags: readonly string[];
  assignments: readonly Omit<AssignInput, 'userId'>[];
}

/** An existing user an import changes: a new name (undefined: kept), flags and assignments added. */
export interface ImportedUpdate {
  id: string;
  name?: string;
  addFlags: readonly string[];
  assignments: readonly Omit<AssignInput, 'userId'>[];
}

export class Users {
  constructor(
    private readonly db: Db,
    private readonly write: Write,
  ) {}

  /**
   * Creates a user with the roles given in the same write: org-wide `roles` and `assignments` at any
   * scope (default none; the caller checks they exist and suit their scope).
   */
  create(
    ctx: WriteContext,
    input: {
      email: string;
      name?: string | null;
      flags?: string[];
      roles?: readonly string[];
      assignments?: readonly Omit<AssignInput, 'userId'>[];
    },
  ): Promise<Written<User>> {
    return this.write(ctx, 'createUser', async (tx) => {
      const user = await insertUser(tx, ctx.orgId, input);
      const given = [
        ...(input.roles ?? []).map((roleKey) => ({ roleKey })),
        ...(input.assignments ?? []),
      ].map((a) => ({ ...a, userId: user.id }));
      const assignments = [];
      const joinedTeams = [];
      for (const a of given) {
        const { assignment, joinedTeam } = await insertAssignment(tx, ctx.orgId, a);
        assignments.push(assignment);
        if (joinedTeam) joinedTeams.push(assignment.teamId);
      }
      return {
        target: `user:${user.id}`,
        after: { ...user, assignments, ...(joinedTeams.length ? { joinedTeams } : {}) },
        result: user,
      };
    });
  }

  /**
   * An import: every user created, changed and given roles in ONE write (one version, one audit entry
   * whose `after` is the caller's `summary`, counts rather than rows). Statements take the rows as JSON
   * in bulk, so the write's time grows with the rows but not its round trips. A user to change that was
   * deleted since it was read is a CONFLICT, and nothing is written.
   */
  importUsers(
    ctx: WriteContext,
    input: {
      created: readonly ImportedUser[];
      updated: readonly ImportedUpdate[];
      summary: Record<string, unknown>;
    },
  ): Promise<Written<{ created: string[]; updated: string[] }>> {
    return this.write(ctx, 'importUsers', async (tx) => {
      const created = input.created.map((u) => ({ ...u, id: newId() }));
      for (const u of created)
        if (!EMAIL.test(u.email))
          throw new StoreError('INVALID', 'email must be an address like name@example.com');
      if (created.length)
        await tx.query(
          `INSERT INTO users (org_id, id, email, name, flags)
           SELECT $1, x.id, x.email, x.name, ARRAY(SELECT DISTINCT f FROM unnest(x.flags) AS f ORDER BY f)
             FROM jsonb_to_recordset($2::jsonb) AS x(id uuid, email text, name text, flags text[])`,
          [
            ctx.orgId,
            JSON.stringify(created.map(({ id, email, name, flags }) => ({ id, email, name, flags }))),
          ],
        );
      if (input.updated.length) {
        // A hash join, whatever the statistics say: right after a bulk import they can be stale (PGlite
        // runs no autovacuum), and the nested loop the planner then picks scans the JSON rows once per
        // user (10,000 × 10,000). Set for this statement only.
        await tx.query('SET LOCAL enable_nestloop = off');
        const rows = await tx.query<{ id: string }>(
          `UPDATE users u
              SET name = CASE WHEN x.set_name THEN x.name ELSE u.name END,
                  flags = ARRAY(SELECT DISTINCT f FROM unnest(u.flags || x.flags) AS f ORDER BY f)
             FROM jsonb_to_recordset($2::jsonb) AS x(id uuid, set_name boolean, name text, flags text[])
            WHERE u.org_id = $1 AND u.id = x.id AND u.deleted_at IS NULL
        RETURNING u.id`,
          [
            ctx.orgId,
            JSON.stringify(
              input.updated.map((u) => ({
                id: u.id,
                set_name: u.name !== undefined,
                name: u.name ?? null,
                flags: u.addFlags,
              })),
            ),
          ],
        );
        await tx.query('SET LOCAL enable_nestloop = on');
        if (rows.length !== input.updated.length)
          throw new StoreError(
            'CONFLICT',
            'a user of the file was deleted while it was imported; nothing was written: import it again',
          );
      }
      const assignments = [
        ...created.flatMap((u) => u.assignments.map((a) => ({ ...a, userId: u.id }))),
        ...input.updated.flatMap((u) => u.assignments.map((a) => ({ ...a, userId: u.id }))),
      ];
      if (assignments.length)
        await tx.query(
          `INSERT INTO assignments (org_id, id, user_id, role_key, location_id, team_id, person_id, group_ids, expires_at)
           SELECT $1, x.id, x.user_id, x.role_key, x.location_id, x.team_id, x.person_id, x.group_ids, x.expires_at
             FROM jsonb_to_recordset($2::jsonb)
               AS x(id uuid, user_id uuid, role_key text, location_id uuid, team_id uuid, person_id text,
                    group_ids text[], expires_at timestamptz)`,
          [
            ctx.orgId,
            JSON.stringify(
              assignments.map((a) => ({
                id: newId(),
                user_id: a.userId,
                role_key: a.roleKey,
                location_id: a.locationId ?? null,
                team_id: a.teamId ?? null,
                person_id: a.personId ?? null,
                group_ids: [...new Set(a.groupIds ?? [])],
                expires_at: a.expiresAt ? a.expiresAt.toISOString() : null,
              })),
            ),
          ],
        );
      const result = { created: created.map((u) => u.id), updated: input.updated.map((u) => u.id) };
      return { target: 'users', after: input.summary, result };
    });
  }

  async update(
    ctx: WriteContext,
    input: { id: string; email?: string; name?: string | null },
  ): Promise<Written<User>> {
    if (input.email !== undefined)
      check(EMAIL.test(input.email), 'email must be an address like name@example.com');
    return this.change(ctx, 'updateUser', input.id, (tx) =>
      tx.query<Row>(
        `UPDATE users SET email = COALESCE($3, email), name = CASE WHEN $4 THEN $5 ELSE name END
          WHERE org_id = $1 AND id = $2 RETURNING ${COLUMNS}`,
        [ctx.orgId, input.id, input.email ?? null, input.name !== undefined, input.name ?? null],
      ),
    );
  }

  setFlags(ctx: WriteContext, id: string, flags: readonly string[]): Promise<Written<User>> {
    const unique = [...new Set(flags)].sort();
    return this.change(ctx, 'setUserFlags', id, (tx) =>
      tx.query<Row>(
        `UPDATE users SET flags = $3::text[] WHERE org_id = $1 AND id = $2 RETURNING ${COLUMNS}`,
        [ctx.orgId, id, unique],
      ),
    );
  }

  lock(ctx: WriteContext, id: string): Promise<Written<User>> {
    return this.setState(ctx, 'lockUser', id, 'locked = true');
  }

  unlock(ctx: WriteContext, id: string): Promise<Written<User>> {
    return this.setState(ctx, 'unlockUser', id, 'locked = false');
  }

  /** Soft delete: the user holds nothing until restored; their assignments are kept for the restore. */
  delete(ctx: WriteContext, id: string): Promise<Written<User>> {
    return this.setState(ctx, 'deleteUser', id, 'deleted_at = now()');
  }

  undelete(ctx: WriteContext, id: string): Promise<Written<User>> {
    return this.setState(ctx, 'undeleteUser', id, 'deleted_at = NULL');
  }

  /** Users by id, one entry per id in key order; null where there is none in this organization. */
  /**
   * Users by id with the live teams each is a member of (what the engine's subject needs besides the
   * assignments), in one query; one entry per id in key order, null where there is none.
   */
  async getManyWithTeams(
    orgId: string,
    ids: readonly string[],
  ): Promise<((User & { teamIds: string[] }) | null)[]> {
    const valid = ids.filter(isUuid);
    const rows = valid.length
      ? await this.db.query<Row & { team_ids: string[] }>(
          `SELECT ${COLUMNS}, ARRAY(
             SELECT m.team_id::text FROM team_members m JOIN teams t ON t.org_id = m.org_id AND t.id = m.team_id
              WHERE m.org_id = u.org_id AND m.user_id = u.id AND t.deleted_at IS NULL ORDER BY m.team_id
           ) AS team_ids
             FROM users u WHERE org_id = $1 AND id = ANY($2::uuid[])`,
          [orgId, valid],
        )
      : [];
    const byId = new Map(rows.map((r) => [r.id, { ...fromRow(r), teamIds: r.team_ids }]));
    return ids.map((id) => byId.get(id) ?? null);
  }

  async getMany(orgId: string, ids: readonly string[]): Promise<(User | null)[]> {
    const valid = ids.filter(isUuid);
    const rows = valid.length
      ? await this.db.query<Row>(`SELECT ${COLUMNS} FROM users WHERE org_id = $1 AND id = ANY($2::uuid[])`, [
          orgId,
          valid,
        ])
      : [];
    const byId = new Map(rows.map((r) => [r.id, fromRow(r)]));
    return ids.map((id) => byId.get(id) ?? null);
  }

  /** The users with these addresses (compared without case), deleted ones included. */
  async byEmails(orgId: string, emails: readonly string[]): Promise<User[]> {
    if (!emails.length) return [];
    const rows = await this.db.query<Row>(
      `SELECT ${COLUMNS} FROM users WHERE org_id = $1 AND lower(email) = ANY($2::text[])`,
      [orgId, [...new Set(emails.map((e) => e.toLowerCase()))]],
    );
    return rows.map(fromRow);
  }

  async byEmail(orgId: string, email: string): Promise<User | null> {
    const [row] = await this.db.query<Row>(
      `SELECT ${COLUMNS} FROM users WHERE org_id = $1 AND lower(email) = lower($2)`,
      [orgId, email],
    );
    return row ? fromRow(row) : null;
  }

  /**
   * A page of users in id order, after the cursor `after` (an id); with `locationId`, only those holding
   * an assignment at that location or below it.
   */
  async list(
    orgId: string,
    page: { first: number; after?: string | null; locationId?: string | null },
  ): Promise<User[]> {
    if (page.locationId != null && !isUuid(page.locationId)) return [];
    const rows = await this.db.query<Row>(
      `SELECT ${COLUMNS} FROM users u WHERE org_id = $1 AND ($2::uuid IS NULL OR id > $2::uuid)
         AND ($4::uuid IS NULL OR EXISTS (
           SELECT 1 FROM assignments a JOIN locations l ON l.org_id = a.org_id AND l.id = a.location_id
            WHERE a.org_id = u.org_id AND a.user_id = u.id AND l.path @> ARRAY[$4::uuid]))
       ORDER BY id LIMIT $3`,
      [orgId, page.after && isUuid(page.after) ? page.after : null, page.first, page.locationId ?? null],
    );
    return rows.map(fromRow);
  }

  /** A page of the active users (neither locked nor deleted) holding `flag`, in id order after `after`. */
  async withFlag(
    orgId: string,
    flag: string,
    page: { first: number; after?: string | null },
  ): Promise<User[]> {
    const rows = await this.db.query<Row>(
      `SELECT ${COLUMNS} FROM users WHERE org_id = $1 AND ($2::uuid IS NULL OR id > $2::uuid)
          AND flags @> ARRAY[$4::text] AND NOT locked AND deleted_at IS NULL
        ORDER BY id LIMIT $3`,
      [orgId, page.after && isUuid(page.after) ? page.after : null, page.first, flag],
    );
    return rows.map(fromRow);
  }

  /**
   * A page of each team's members, in user id order after each page's `after`: one query for any
   * number of teams (a list of teams asking for their members), one list per page in key order.
   */
  async membersOfTeams(
    orgId: string,
    pages: readonly { teamId: string; after?: string | null; first: number }[],
  ): Promise<User[][]> {
    const valid = pages.filter((p) => isUuid(p.teamId) && (p.after == null || isUuid(p.after)));
    const rows = valid.length
      ? await this.db.query<Row & { ord: string }>(
          `SELECT k.ord, u.id, u.email, u.name, u.flags, u.locked, u.deleted_at, u.created_at
             FROM unnest($2::uuid[], $3::uuid[], $4::int[]) WITH ORDINALITY AS k(team_id, after_id, n, ord)
             CROSS JOIN LATERAL (
               SELECT us.* FROM team_members m JOIN users us ON us.org_id = m.org_id AND us.id = m.user_id
                WHERE m.org_id = $1 AND m.team_id = k.team_id AND (k.after_id IS NULL OR m.user_id > k.after_id)
                ORDER BY m.user_id LIMIT k.n
             ) u
            ORDER BY k.ord, u.id`,
          [orgId, valid.map((p) => p.teamId), valid.map((p) => p.after ?? null), valid.map((p) => p.first)],
        )
      : [];
    const byPage = valid.map((): User[] => []);
    for (const r of rows) byPage[Number(r.ord) - 1]!.push(fromRow(r));
    const found = new Map(valid.map((p, i) => [p, byPage[i]!]));
    return pages.map((p) => found.get(p) ?? []);
  }

  /** Which of `flags` no active (unlocked, undeleted) user of the organization holds. */
  async flagsWithoutHolder(orgId: string, flags: readonly string[]): Promise<string[]> {
    if (!flags.length) return [];
    const rows = await this.db.query<{ flag: string }>(
      `SELECT f.flag FROM unnest($2::text[]) AS f(flag)
        WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.org_id = $1 AND f.flag = ANY(u.flags)
                            AND NOT u.locked AND u.deleted_at IS NULL)
        ORDER BY f.flag`,
      [orgId, flags],
    );
    return rows.map((r) => r.flag);
  }

  private setState(
    ctx: WriteContext,
    action: string,
    id: string,
    assignment: string,
  ): Promise<Written<User>> {
    // `assignment` is one of the fixed strings above, never input.
    return this.change(ctx, action, id, (tx) =>
      tx.query<Row>(`UPDATE users SET ${assignment} WHERE org_id = $1 AND id = $2 RETURNING ${COLUMNS}`, [
        ctx.orgId,
        id,
      ]),
    );
  }

  /** A write to one user row, with its before and after in the audit entry. */
  private change(
    ctx: WriteContext,
    action: string,
    id: string,
    update: (tx: Queryable) => Promise<Row[]>,
  ): Promise<Written<User>> {
    return this.write(ctx, action, async (tx) => {
      const [before] = isUuid(id)
        ? await tx.query<Row>(`SELECT ${COLUMNS} FROM users WHERE org_id = $1 AND id = $2 FOR UPDATE`, [
            ctx.orgId,
            id,
          ])
        : [];
      if (!before) throw notFound('user', id);
      const [after] = await update(tx);
      const user = fromRow(after!);
      return { target: `user:${id}`, before: fromRow(before), after: user, result: user };
    });
  }
}

/** Inserts one user inside a write (also used by imports and organization setup). */
export async function insertUser(
  tx: Queryable,
  orgId: string,
  input: { email: string; name?: string | null; flags?: readonly string[] },
): Promise<User> {
  if (!EMAIL.test(input.email))
    throw new StoreError('INVALID', 'email must be an address like name@example.com');
  const [row] = await tx.query<Row>(
    `INSERT INTO users (org_id, id, email, name, flags) VALUES ($1, $2, $3, $4, $5::text[]) RETURNING ${COLUMNS}`,
    [orgId, newId(), input.email, input.name ?? null, [...new Set(input.flags ?? [])].sort()],
  );
  return fromRow(row!);
}
