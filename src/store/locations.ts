import type { Db } from './db';
import { notFound, StoreError } from './errors';
import { isUuid, newId } from './ids';
import type { Write, WriteContext, Written } from './write';

export interface Location {
  id: string;
  /** null: directly under the organization root. */
  parentId: string | null;
  name: string;
  /** Ids from the top of the tree down to this location itself. */
  path: string[];
  createdAt: Date;
}

interface Row {
  id: string;
  parent_id: string | null;
  name: string;
  path: string[];
  created_at: Date;
}

const COLUMNS = 'id, parent_id, name, path, created_at';
const fromRow = (r: Row): Location => ({
  id: r.id,
  parentId: r.parent_id,
  name: r.name,
  path: r.path,
  createdAt: r.created_at,
});

export class Locations {
  constructor(
    private readonly db: Db,
    private readonly write: Write,
  ) {}

  create(ctx: WriteContext, input: { name: string; parentId?: string | null }): Promise<Written<Location>> {
    return this.write(ctx, 'createLocation', async (tx) => {
      let prefix: string[] = [];
      if (input.parentId != null) {
        const [parent] = isUuid(input.parentId)
          ? await tx.query<Row>('SELECT path FROM locations WHERE org_id = $1 AND id = $2', [
              ctx.orgId,
              input.parentId,
            ])
          : [];
        if (!parent) throw notFound('location', input.parentId);
        prefix = parent.path;
      }
      const id = newId();
      const [row] = await tx.query<Row>(
        `INSERT INTO locations (org_id, id, parent_id, name, path) VALUES ($1, $2, $3, $4, $5::uuid[]) RETURNING ${COLUMNS}`,
        [ctx.orgId, id, input.parentId ?? null, input.name, [...prefix, id]],
      );
      const location = fromRow(row!);
      return { target: `location:${id}`, after: location, result: location };
    });
  }

  /** Moves a location, with everything below it, under another parent (null: the root). */
  move(ctx: WriteContext, input: { id: string; parentId: string | null }): Promise<Written<Location>> {
    return this.write(ctx, 'moveLocation', async (tx) => {
      const ids = [input.id, input.parentId].filter((x): x is string => x != null);
      const rows = ids.every(isUuid)
        ? await tx.query<Row>(
            `SELECT ${COLUMNS} FROM locations WHERE org_id = $1 AND id = ANY($2::uuid[]) FOR UPDATE`,
            [ctx.orgId, ids],
          )
        : [];
      const moving = rows.find((r) => r.id === input.id);
      if (!moving) throw notFound('location', input.id);
      let prefix: string[] = [];
      if (input.parentId != null) {
        const parent = rows.find((r) => r.id === input.parentId);
        if (!parent) throw notFound('location', input.parentId);
        if (parent.path.includes(input.id)) {
          throw new StoreError(
            'INVALID',
            'a location cannot be moved under itself or one of its descendants',
          );
        }
        prefix = parent.path;
      }
      const depth = moving.path.length;
      // Every row of the subtree keeps its path below the moved location and gets the new prefix.
      await tx.query(
        `UPDATE locations SET path = $3::uuid[] || path[$4::int:],
                parent_id = CASE WHEN id = $2 THEN $5::uuid ELSE parent_id END
          WHERE org_id = $1 AND path @> ARRAY[$2::uuid]`,
        [ctx.orgId, input.id, prefix, depth, input.parentId ?? null],
      );
      const [row] = await tx.query<Row>(`SELECT ${COLUMNS} FROM locations WHERE org_id = $1 AND id = $2`, [
        ctx.orgId,
        input.id,
      ]);
      const moved = fromRow(row!);
      return { target: `location:${input.id}`, before: fromRow(moving), after: moved, result: moved };
    });
  }

  /** Deletes a location that has no child locations and no assignments left. */
  delete(ctx: WriteContext, id: string): Promise<Written<Location>> {
    return this.write(ctx, 'deleteLocation', async (tx) => {
      const [row] = isUuid(id)
        ? await tx.query<Row>(`SELECT ${COLUMNS} FROM locations WHERE org_id = $1 AND id = $2 FOR UPDATE`, [
            ctx.orgId,
            id,
          ])
        : [];
      if (!row) throw notFound('location', id);
      const [use] = await tx.query<{ children: string; assignments: string }>(
        `SELECT (SELECT count(*) FROM locations WHERE org_id = $1 AND parent_id = $2)::text AS children,
                (SELECT count(*) FROM assignments WHERE org_id = $1 AND location_id = $2)::text AS assignments`,
        [ctx.orgId, id],
      );
      if (use!.children !== '0')
        throw new StoreError('CONFLICT', 'the location has child locations: move or delete them first');
      if (use!.assignments !== '0')
        throw new StoreError('CONFLICT', 'roles are assigned at the location: revoke them first');
      await tx.query('DELETE FROM locations WHERE org_id = $1 AND id = $2', [ctx.orgId, id]);
      const before = fromRow(row);
      return { target: `location:${id}`, before, result: before };
    });
  }

  /** Locations by id, one entry per id in key order; null where there is none in this organization. */
  async getMany(orgId: string, ids: readonly string[]): Promise<(Location | null)[]> {
    const valid = ids.filter(isUuid);
    const rows = valid.length
      ? await this.db.query<Row>(
          `SELECT ${COLUMNS} FROM locations WHERE org_id = $1 AND id = ANY($2::uuid[])`,
          [orgId, valid],
        )
      : [];
    const byId = new Map(rows.map((r) => [r.id, fromRow(r)]));
    return ids.map((id) => byId.get(id) ?? null);
  }

  /**
   * What the engine needs for a check at each location: the location then its ancestors, nearest
   * first (the root excluded). One indexed query for any number of locations; null where none exists.
   */
  async paths(orgId: string, ids: readonly string[]): Promise<(string[] | null)[]> {
    return (await this.getMany(orgId, ids)).map((l) => (l ? [...l.path].reverse() : null));
  }

  /**
   * Where a grant given at each location reaches (rule 2): a digest (MD5, hex) of the ids of every
   * location at or below it, one entry per id in key order; null where none exists. One query for any
   * number of locations (the path's GIN index finds each subtree).
   */
  async extents(orgId: string, ids: readonly string[]): Promise<(string | null)[]> {
    const valid = [...new Set(ids.filter(isUuid))];
    const rows = valid.length
      ? await this.db.query<{ id: string; digest: string }>(
          `SELECT a.id, md5(string_agg(l.id::text, ',' ORDER BY l.id)) AS digest
             FROM unnest($2::uuid[]) AS a(id)
             JOIN locations l ON l.org_id = $1 AND l.path @> ARRAY[a.id]
            GROUP BY a.id`,
          [orgId, valid],
        )
      : [];
    const byId = new Map(rows.map((r) => [r.id, r.digest]));
    return ids.map((id) => byId.get(id) ?? null);
  }

  /**
   * The locations whose name is one of `names` (compared without case), with every ancestor of each
   * whose name is one of them too: enough to follow a path of names from the top of the tree.
   */
  async byNames(orgId: string, names: readonly string[]): Promise<Location[]> {
    if (!names.length) return [];
    const rows = await this.db.query<Row>(
      `SELECT ${COLUMNS} FROM locations WHERE org_id = $1 AND lower(name) = ANY($2::text[])`,
      [orgId, [...new Set(names.map((n) => n.toLowerCase()))]],
    );
    return rows.map(fromRow);
  }

  /**
   * A page of the organization's locations in id order, after the cursor `after` (an id); with `under`,
   * only those at or below one of these locations (their subtrees, found through the path's GIN index
   * when they are small, or read in id order when they are most of the tree: the planner's choice).
   */
  async list(
    orgId: string,
    page: { first: number; after?: string | null; under?: readonly string[] },
  ): Promise<Location[]> {
    const under = page.under?.filter(isUuid);
    if (under && !under.length) return [];
    const rows = await this.db.query<Row>(
      `SELECT ${COLUMNS} FROM locations WHERE org_id = $1 AND ($2::uuid IS NULL OR id > $2::uuid)
         ${under ? 'AND path && $4::uuid[]' : ''} ORDER BY id LIMIT $3`,
      [
        orgId,
        page.after && isUuid(page.after) ? page.after : null,
        page.first,
        ...(under ? [[...new Set(under)]] : []),
      ],
    );
    return rows.map(fromRow);
  }

  /**
   * The children of many locations in one query, by name: one list per parent id in key order, at
   * most `limit` each.
   */
  async childrenOfMany(orgId: string, parentIds: readonly string[], limit = 1000): Promise<Location[][]> {
    const valid = parentIds.filter(isUuid);
    const rows = valid.length
      ? await this.db.query<Row>(
          `SELECT ${COLUMNS} FROM (
             SELECT *, row_number() OVER (PARTITION BY parent_id ORDER BY name, id) AS n
               FROM locations WHERE org_id = $1 AND parent_id = ANY($2::uuid[])
           ) ranked WHERE n <= $3 ORDER BY name, id`,
          [orgId, valid, limit],
        )
      : [];
    const byParent = new Map<string, Location[]>();
    for (const r of rows) byParent.set(r.parent_id!, [...(byParent.get(r.parent_id!) ?? []), fromRow(r)]);
    return parentIds.map((id) => byParent.get(id) ?? []);
  }

  /** Children of a location (null: the top level), by name. */
  async children(orgId: string, parentId: string | null, limit = 1000): Promise<Location[]> {
    const rows =
      parentId === null
        ? await this.db.query<Row>(
            `SELECT ${COLUMNS} FROM locations WHERE org_id = $1 AND parent_id IS NULL ORDER BY name, id LIMIT $2`,
            [orgId, limit],
          )
        : isUuid(parentId)
          ? await this.db.query<Row>(
              `SELECT ${COLUMNS} FROM locations WHERE org_id = $1 AND parent_id = $2 ORDER BY name, id LIMIT $3`,
              [orgId, parentId, limit],
            )
          : [];
    return rows.map(fromRow);
  }
}
