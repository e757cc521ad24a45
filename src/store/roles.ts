import type { RoleKind, RoleSpec } from '../catalog';
import type { Db } from './db';
import { notFound } from './errors';
import type { Write, WriteContext, Written } from './write';

/** A custom role: created at run time, checked against the organization's catalog by the caller. */
export interface CustomRole {
  key: string;
  name: string;
  description: string | null;
  kind: RoleKind;
  inherits: string[];
  grants: string[];
  deletedAt: Date | null;
  createdAt: Date;
}

interface Row {
  key: string;
  name: string;
  description: string | null;
  kind: RoleKind;
  inherits: string[];
  grants: string[];
  deleted_at: Date | null;
  created_at: Date;
}

const COLUMNS = 'key, name, description, kind, inherits, grants, deleted_at, created_at';
const fromRow = (r: Row): CustomRole => ({
  key: r.key,
  name: r.name,
  description: r.description,
  kind: r.kind,
  inherits: r.inherits,
  grants: r.grants,
  deletedAt: r.deleted_at,
  createdAt: r.created_at,
});

/** The engine's view of a custom role. */
export function roleSpec(role: CustomRole): RoleSpec {
  return {
    name: role.name,
    kind: role.kind,
    inherits: role.inherits,
    grants: role.grants,
    ...(role.description ? { description: role.description } : {}),
  };
}

export interface RoleInput {
  key: string;
  name: string;
  description?: string | null;
  kind: RoleKind;
  inherits?: string[];
  grants: string[];
}

export class Roles {
  constructor(
    private readonly db: Db,
    private readonly write: Write,
  ) {}

  /** Creates a custom role (`action` says why: createRole, or cloneRole for a copy). */
  create(
    ctx: WriteContext,
    input: RoleInput,
    action: 'createRole' | 'cloneRole' = 'createRole',
  ): Promise<Written<CustomRole>> {
    return this.write(ctx, action, async (tx) => {
      const [row] = await tx.query<Row>(
        `INSERT INTO roles (org_id, key, name, description, kind, inherits, grants)
         VALUES ($1, $2, $3, $4, $5, $6::text[], $7::text[]) RETURNING ${COLUMNS}`,
        [
          ctx.orgId,
          input.key,
          input.name,
          input.description ?? null,
          input.kind,
          input.inherits ?? [],
          input.grants,
        ],
      );
      const role = fromRow(row!);
      return { target: `role:${role.key}`, after: role, result: role };
    });
  }

  /** Replaces a custom role's name, description, inheritance and grants (its key and kind stay). */
  update(
    ctx: WriteContext,
    key: string,
    input: Omit<RoleInput, 'key' | 'kind'>,
  ): Promise<Written<CustomRole>> {
    return this.change(
      ctx,
      'updateRole',
      key,
      'name = $3, description = $4, inherits = $5::text[], grants = $6::text[]',
      [input.name, input.description ?? null, input.inherits ?? [], input.grants],
    );
  }

  /** Soft delete: assignments of a deleted role count for nothing until it is restored. */
  delete(ctx: WriteContext, key: string): Promise<Written<CustomRole>> {
    return this.change(ctx, 'deleteRole', key, 'deleted_at = now()', []);
  }

  undelete(ctx: WriteContext, key: string): Promise<Written<CustomRole>> {
    return this.change(ctx, 'undeleteRole', key, 'deleted_at = NULL', []);
  }

  /** The organization's custom roles, live ones only unless asked. */
  async list(orgId: string, options: { includeDeleted?: boolean } = {}): Promise<CustomRole[]> {
    const rows = await this.db.query<Row>(
      `SELECT ${COLUMNS} FROM roles WHERE org_id = $1 AND ($2 OR deleted_at IS NULL) ORDER BY key`,
      [orgId, !!options.includeDeleted],
    );
    return rows.map(fromRow);
  }

  private change(
    ctx: WriteContext,
    action: string,
    key: string,
    set: string,
    params: unknown[],
  ): Promise<Written<CustomRole>> {
    // `set` is one of the fixed strings above, never input.
    return this.write(ctx, action, async (tx) => {
      const [before] = await tx.query<Row>(
        `SELECT ${COLUMNS} FROM roles WHERE org_id = $1 AND key = $2 FOR UPDATE`,
        [ctx.orgId, key],
      );
      if (!before) throw notFound('custom role', key);
      const [after] = await tx.query<Row>(
        `UPDATE roles SET ${set} WHERE org_id = $1 AND key = $2 RETURNING ${COLUMNS}`,
        [ctx.orgId, key, ...params],
      );
      const role = fromRow(after!);
      return { target: `role:${key}`, before: fromRow(before), after: role, result: role };
    });
  }
}
