import { BACKENDS, newOrg, openTestStore } from '../support/stores';

/**
 * The import's write at its largest, on both stores: 10,000 users changed in one statement right after
 * bulk inserts, when the planner's statistics are stale (PGlite runs no autovacuum). Without its hash
 * join this UPDATE was a 10,000 × 10,000 nested loop over the JSON rows that ran past the write
 * deadline (31 s on PGlite, refused as UNAVAILABLE) once two organizations of 10,000 users existed.
 */
describe.each(BACKENDS)('the import write on %s', (backend) => {
  test('10,000 users updated right after 20,000 were inserted: one write, well within the deadline', async () => {
    const { store, close } = await openTestStore(backend);
    try {
      let last: { ctx: { orgId: string; actor: string }; ids: string[] } | undefined;
      for (let k = 0; k < 2; k++) {
        const { ctx } = await newOrg(store);
        const created = Array.from({ length: 10_000 }, (_, i) => ({
          email: `bulk${i}@store.test`,
          name: null,
          flags: [],
          assignments: [],
        }));
        const { result } = await store.users.importUsers(ctx, { created, updated: [], summary: {} });
        last = { ctx, ids: result.created };
      }
      const started = Date.now();
      const { result } = await store.users.importUsers(last!.ctx, {
        created: [],
        updated: last!.ids.map((id) => ({ id, name: 'Renamed', addFlags: ['x'], assignments: [] })),
        summary: {},
      });
      expect(result.updated).toHaveLength(10_000);
      expect(Date.now() - started).toBeLessThan(8_000);
      const [count] = await store.db.query<{ n: string }>(
        `SELECT count(*)::text AS n FROM users WHERE org_id = $1 AND name = 'Renamed' AND flags = '{x}'`,
        [last!.ctx.orgId],
      );
      expect(count!.n).toBe('10000');
    } finally {
      await close();
    }
  }, 120_000);
});
