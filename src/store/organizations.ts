import { appendAudit } from './audit';
import type { Db } from './db';
import { newId, isUuid } from './ids';
import type { Written } from './write';

export interface Organization {
  id: string;
  name: string;
  /** The catalog's `catalog:` name, e.g. `jrni`. */
  catalogName: string;
  /** The catalog document (YAML) the organization runs on. */
  catalogSource: string;
  version: string;
  createdAt: Date;
}

interface Row {
  id: string;
  name: string;
  catalog_name: string;
  catalog_source: string;
  version: string;
  created_at: Date;
}

const COLUMNS = 'id, name, catalog_name, catalog_source, version::text AS version, created_at';

const fromRow = (r: Row): Organization => ({
  id: r.id,
  name: r.name,
  catalogName: r.catalog_name,
  catalogSource: r.catalog_source,
  version: r.version,
  createdAt: r.created_at,
});

export class Organizations {
  constructor(private readonly db: Db) {}

  /** Creates an organization at version 1, whose first audit entry records its creation. */
  async create(
    input: { name: string; catalogName: string; catalogSource: string },
    actor: string,
    requestId?: string,
  ): Promise<Written<Organization>> {
    const id = newId();
    return this.db.transaction(async (tx) => {
      const [row] = await tx.query<Row>(
        `INSERT INTO organizations (id, name, catalog_name, catalog_source, version, audit_seq) VALUES ($1, $2, $3, $4, 1, 1) RETURNING ${COLUMNS}`,
        [id, input.name, input.catalogName, input.catalogSource],
      );
      const org = fromRow(row!);
      await appendAudit(tx, {
        orgId: id,
        seq: 1,
        actor,
        action: 'createOrganization',
        target: `organization:${id}`,
        before: null,
        after: { id, name: org.name, catalogName: org.catalogName },
        requestId: requestId ?? null,
      });
      return { result: org, version: org.version };
    });
  }

  async get(id: string): Promise<Organization | null> {
    if (!isUuid(id)) return null;
    const [row] = await this.db.query<Row>(`SELECT ${COLUMNS} FROM organizations WHERE id = $1`, [id]);
    return row ? fromRow(row) : null;
  }

  async list(): Promise<Organization[]> {
    return (await this.db.query<Row>(`SELECT ${COLUMNS} FROM organizations ORDER BY created_at, id`)).map(
      fromRow,
    );
  }

  /** Current versions, one entry per id in key order; null for an organization that does not exist. */
  async versions(ids: readonly string[]): Promise<(string | null)[]> {
    const valid = ids.filter(isUuid);
    const rows = valid.length
      ? await this.db.query<{ id: string; version: string }>(
          'SELECT id, version::text AS version FROM organizations WHERE id = ANY($1::uuid[])',
          [valid],
        )
      : [];
    const byId = new Map(rows.map((r) => [r.id, r.version]));
    return ids.map((id) => byId.get(id) ?? null);
  }
}
