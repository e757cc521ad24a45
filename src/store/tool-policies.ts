import type { ToolMode } from '../catalog';
import type { Db } from './db';
import type { Write, WriteContext, Written } from './write';

export class ToolPolicies {
  constructor(
    private readonly db: Db,
    private readonly write: Write,
  ) {}

  /** Sets the organization's policy for a tool (the caller checks the tool is in the catalog). */
  set(ctx: WriteContext, tool: string, mode: ToolMode): Promise<Written<{ tool: string; mode: ToolMode }>> {
    return this.write(ctx, 'setToolPolicy', async (tx) => {
      const [before] = await tx.query<{ mode: ToolMode }>(
        'SELECT mode FROM tool_policies WHERE org_id = $1 AND tool = $2 FOR UPDATE',
        [ctx.orgId, tool],
      );
      await tx.query(
        'INSERT INTO tool_policies (org_id, tool, mode) VALUES ($1, $2, $3) ON CONFLICT (org_id, tool) DO UPDATE SET mode = EXCLUDED.mode',
        [ctx.orgId, tool, mode],
      );
      const policy = { tool, mode };
      return {
        target: `tool:${tool}`,
        before: before ? { tool, mode: before.mode } : null,
        after: policy,
        result: policy,
      };
    });
  }

  /** The organization's overrides of the catalog's default policies. */
  async get(orgId: string): Promise<Record<string, ToolMode>> {
    const rows = await this.db.query<{ tool: string; mode: ToolMode }>(
      'SELECT tool, mode FROM tool_policies WHERE org_id = $1',
      [orgId],
    );
    return Object.fromEntries(rows.map((r) => [r.tool, r.mode]));
  }
}
