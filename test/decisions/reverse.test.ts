import fc from 'fast-check';
import { Authz } from '../../src/decisions/authz';
import { requestCache } from '../../src/decisions/caches';
import { createLoaders } from '../../src/decisions/loaders';
import { OrgStates } from '../../src/decisions/org-state';
import { Scans } from '../../src/decisions/scans';
import type { Viewer } from '../../src/identity/tokens';
import type { Location, Store } from '../../src/store';
import { writeWorld } from '../cache/world-store';
import { referenceDecide } from '../engine/reference-evaluator';
import { locationPath, NOW, worldArbitrary, type World } from '../engine/world-arbitrary';
import { BACKENDS, openTestStore, type Backend } from '../support/stores';

/**
 * whoCan and whereCan start from candidates (src/decisions/scans.ts); they must still equal the
 * brute-force answer: the naive reference evaluator (test/engine/reference-evaluator.ts) asked about
 * every user, or every location, of the property test's random worlds (restrictions, expiry, flags,
 * dependencies, locked and deleted users, team roles and memberships included), written into a real
 * store. Pages are small, so that every answer is read through several cursors.
 *
 * Replay a failure with the seed fast-check prints: REVERSE_SEED=… REVERSE_RUNS=1
 */

const RUNS: Record<Backend, number> = {
  postgres: Number(process.env.REVERSE_RUNS ?? 25),
  pglite: Number(process.env.REVERSE_RUNS ?? 8),
};
const SEED = process.env.REVERSE_SEED === undefined ? undefined : Number(process.env.REVERSE_SEED);
const PAGE = 2;
const TEAMS = ['T0', 'T1', 'T2', 'T3'];

/** The reverse queries of one request at the world's NOW, over `store`. */
async function scansOf(store: Store, orgId: string): Promise<Scans> {
  const state = await new OrgStates(store).load(orgId);
  if (!state) throw new Error(`organization ${orgId} not found`);
  const loaders = createLoaders(store, requestCache(store), {
    orgId,
    version: state.org.version,
    catalog: state.catalog,
    now: NOW,
  });
  const viewer: Viewer = { kind: 'service', orgId, keyId: 'test', scopes: [] };
  return new Scans(new Authz(state, viewer, loaders, NOW), loaders, store);
}

/** Every page of a list, `PAGE` at a time, following the last id as the cursor. */
async function allPages<T extends { id: string }>(
  read: (page: { limit: number; after: string | null }) => Promise<T[]>,
): Promise<string[]> {
  const out: string[] = [];
  let after: string | null = null;
  for (let guard = 0; guard < 10_000; guard++) {
    // One more than the page, as the resolvers ask: it says whether a next page exists.
    const items = await read({ limit: PAGE + 1, after });
    out.push(...items.slice(0, PAGE).map((i) => i.id));
    if (items.length <= PAGE) return out;
    after = items[PAGE - 1]!.id;
  }
  throw new Error('pagination did not end');
}

function checkable(world: World): string[] {
  const { doc } = world;
  return [
    ...Object.entries(doc.permissions).flatMap(([m, actions]) =>
      Object.keys(actions).map((a) => `${m}:${a}`),
    ),
    ...Object.keys(doc.pages ?? {}).map((k) => `page:${k}`),
    ...Object.keys(doc.navigation ?? {}).map((k) => `nav:${k}`),
    ...Object.keys(doc.tools ?? {}).map((t) => `tool:${t}`),
  ];
}

const allows = (world: World, user: number, permission: string, path: string[], teamIds: string[]) =>
  referenceDecide(
    world.doc,
    world.customRoles,
    world.users[user]!,
    { permission, locationPath: path, ...(teamIds.length ? { teamIds } : {}) },
    NOW,
    world.policies,
  ) === 'ALLOW';

const tally = { worlds: 0, whoCan: 0, whereCan: 0, nonEmpty: 0 };

describe.each(BACKENDS)('reverse queries on %s equal the brute-force answer', (backend) => {
  let store: Store;
  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ store, close } = await openTestStore(backend));
  });
  afterAll(async () => {
    await close?.();
    if (tally.worlds) process.stderr.write(`reverse queries: ${JSON.stringify(tally)}\n`);
  });

  test('whoCan and whereCan on random worlds', async () => {
    await fc.assert(
      fc.asyncProperty(worldArbitrary, async (world) => {
        const stored = await writeWorld(store, world, `reverse ${backend}`);
        const scans = await scansOf(store, stored.orgId);
        tally.worlds++;
        const userOf = new Map(stored.userIds.map((id, i) => [id, i]));
        // Every location the store holds (the world's and those assignments name without defining), by
        // world id: locations are named after it.
        const rows: Location[] = await store.locations.list(stored.orgId, { first: 1000 });
        const worldIdOf = new Map(rows.map((l) => [l.id, l.name]));
        const worldPath = (l: Location) => [...l.path].reverse().map((id) => worldIdOf.get(id)!);

        const permissions = checkable(world);
        const teamSets = [[], ...TEAMS.map((t) => [t]), ['T0', 'T2']];
        for (const permission of permissions) {
          for (const here of [null, ...world.locations.map((l) => l.id)]) {
            for (const teams of teamSets) {
              const path = locationPath(world.locations, here);
              const expected = world.users
                .map((_, i) => i)
                .filter((i) => allows(world, i, permission, path, teams))
                .map((i) => stored.userIds[i]!)
                .sort();
              const got = await allPages((page) =>
                scans.whoCan(
                  permission,
                  here === null ? null : stored.location(here),
                  teams.map((t) => stored.team(t)),
                  page,
                ),
              );
              expect({ permission, here, teams, users: got.map((id) => userOf.get(id)) }).toEqual({
                permission,
                here,
                teams,
                users: expected.map((id) => userOf.get(id)),
              });
              tally.whoCan++;
              if (expected.length) tally.nonEmpty++;
            }
          }
          for (const [i, userId] of stored.userIds.entries()) {
            const expected = rows
              .filter((l) => allows(world, i, permission, worldPath(l), []))
              .map((l) => l.id)
              .sort();
            const got = await allPages((page) => scans.whereCan(userId, permission, page));
            expect({ permission, user: i, locations: got.map((id) => worldIdOf.get(id)) }).toEqual({
              permission,
              user: i,
              locations: expected.map((id) => worldIdOf.get(id)),
            });
            tally.whereCan++;
          }
        }
      }),
      { numRuns: RUNS[backend], seed: SEED, endOnFailure: true },
    );
  }, 600_000);
});

describe('paging while writes happen (PostgreSQL)', () => {
  let store: Store;
  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ store, close } = await openTestStore('postgres'));
  });
  afterAll(() => close?.());

  /** Pages through a list, `size` at a time, each page a new request (a new Scans at the current version). */
  async function pageThrough<T extends { id: string }>(
    read: (scans: Scans, page: { limit: number; after: string | null }) => Promise<T[]>,
    orgId: string,
    size: number,
  ): Promise<string[]> {
    const out: string[] = [];
    let after: string | null = null;
    for (;;) {
      const scans = await scansOf(store, orgId);
      const items = await read(scans, { limit: size + 1, after });
      out.push(...items.slice(0, size).map((i) => i.id));
      if (items.length <= size) return out;
      after = items[size - 1]!.id;
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  test('whoCan: every user who holds the permission throughout is listed exactly once', async () => {
    const { result: org } = await store.organizations.create(
      {
        name: 'reverse under writes',
        catalogName: 'jrni',
        catalogSource: (await import('../../src/catalog')).loadPreset('jrni').text,
      },
      'test',
    );
    const ctx = { orgId: org.id, actor: 'test', requestId: 'reverse-writes' };
    const { result: region } = await store.locations.create(ctx, { name: 'Region' });
    const { result: shop } = await store.locations.create(ctx, { name: 'Shop', parentId: region.id });
    // Stable holders: managers at the root or at the region, never touched.
    const stable = new Set<string>();
    const churn: string[] = [];
    for (let i = 0; i < 120; i++) {
      const { result: u } = await store.users.create(ctx, { email: `s${i}@x.example` });
      if (i % 3 === 0) {
        churn.push(u.id);
        continue;
      }
      await store.assignments.assign(ctx, {
        userId: u.id,
        roleKey: 'manager',
        locationId: i % 2 ? region.id : null,
      });
      stable.add(u.id);
    }
    const permission = 'staff:edit_what_where';
    const scans0 = await scansOf(store, org.id);
    const before = await allPages((p) => scans0.whoCan(permission, shop.id, [], p));
    expect(new Set(before)).toEqual(stable);

    // Writes meanwhile: churning users gain and lose the role, get locked and unlocked, new users
    // arrive with it, some of them deleted again.
    let writing = true;
    const writer = (async () => {
      let n = 0;
      while (writing) {
        const id = churn[n % churn.length]!;
        const { result: a } = await store.assignments.assign(ctx, {
          userId: id,
          roleKey: 'manager',
          locationId: shop.id,
        });
        const { result: fresh } = await store.users.create(ctx, {
          email: `new${n}@x.example`,
          roles: ['manager'],
        });
        if (n % 2) await store.users.lock(ctx, id);
        if (n % 3 === 0) await store.users.delete(ctx, fresh.id);
        await store.assignments.revoke(ctx, a.id);
        if (n % 2) await store.users.unlock(ctx, id);
        n++;
      }
      return n;
    })();
    const seen: string[][] = [];
    try {
      for (let round = 0; round < 4; round++)
        seen.push(await pageThrough((s, p) => s.whoCan(permission, shop.id, [], p), org.id, 7));
    } finally {
      writing = false;
    }
    expect(await writer).toBeGreaterThan(0);
    for (const list of seen) {
      expect(new Set(list).size).toBe(list.length); // nobody twice
      expect([...list].sort()).toEqual(list); // in id order
      const missing = [...stable].filter((id) => !list.includes(id));
      expect(missing).toEqual([]); // nobody present throughout skipped
    }
  }, 120_000);

  test('whereCan: every location where the permission holds throughout is listed exactly once', async () => {
    const { result: org } = await store.organizations.create(
      {
        name: 'reverse where under writes',
        catalogName: 'jrni',
        catalogSource: (await import('../../src/catalog')).loadPreset('jrni').text,
      },
      'test',
    );
    const ctx = { orgId: org.id, actor: 'test', requestId: 'reverse-where-writes' };
    const { result: region } = await store.locations.create(ctx, { name: 'Region' });
    const { result: other } = await store.locations.create(ctx, { name: 'Other' });
    const stable = new Set<string>([region.id]);
    for (let i = 0; i < 60; i++) {
      const { result: l } = await store.locations.create(ctx, {
        name: `L${i}`,
        parentId: i % 4 === 0 ? other.id : region.id,
      });
      if (i % 4) stable.add(l.id);
    }
    const { result: user } = await store.users.create(ctx, { email: 'where@x.example' });
    await store.assignments.assign(ctx, { userId: user.id, roleKey: 'manager', locationId: region.id });

    let writing = true;
    const writer = (async () => {
      let n = 0;
      while (writing) {
        // Locations come and go in both subtrees; the user gains and loses the role in the other one.
        const { result: l } = await store.locations.create(ctx, {
          name: `new${n}`,
          parentId: n % 2 ? region.id : other.id,
        });
        const { result: a } = await store.assignments.assign(ctx, {
          userId: user.id,
          roleKey: 'manager',
          locationId: other.id,
        });
        await store.assignments.revoke(ctx, a.id);
        await store.locations.delete(ctx, l.id);
        n++;
      }
      return n;
    })();
    const seen: string[][] = [];
    try {
      for (let round = 0; round < 4; round++)
        seen.push(
          await pageThrough<Location>((s, p) => s.whereCan(user.id, 'staff:edit_what_where', p), org.id, 5),
        );
    } finally {
      writing = false;
    }
    expect(await writer).toBeGreaterThan(0);
    for (const list of seen) {
      expect(new Set(list).size).toBe(list.length);
      expect([...list].sort()).toEqual(list);
      expect([...stable].filter((id) => !list.includes(id))).toEqual([]);
    }
  }, 120_000);
});
