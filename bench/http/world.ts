/**
 * The HTTP benchmark's data: one JRNI organization (created through `createOrganization`, so it has its
 * owner and catalog exactly as `rolegate init` makes them), then a location tree, users and
 * assignments inserted in bulk with plain parameterized SQL (a few statements instead of thousands of
 * audited writes: the data is what a real organization would hold, its audit log is not).
 *
 * Tree: HQ (depth 1) → 6 regions (2) → 8 areas each (3) → 5 branches each (4): 295 locations; plus
 * "Depot" (depth 2, under HQ) with 1,000 child locations (depth 3), the list the guarded-query
 * measurement reads (`locations(parentId: Depot)`). 1,295 + 1 = 1,296 locations in all.
 *
 * Users: 3,000 with 1–3 assignments each at random locations (JRNI's six role types), plus 64
 * "probe" users who each hold exactly one Manager assignment at an area, whose self-checks at a
 * branch below that area (depth 4) have a known answer.
 */
import { randomUUID } from 'node:crypto';
import { createOrganization } from '../../src/cli/setup';
import type { Store } from '../../src/store';
import { Rng } from '../store/world';

export const WORLD = {
  regions: 6,
  areasPerRegion: 8,
  branchesPerArea: 5,
  depotChildren: 1000,
  users: 3000,
  probes: 64,
} as const;

const ROLE_WEIGHTS: readonly (readonly [string, number])[] = [
  ['owner', 0.02],
  ['administrator', 0.1],
  ['user', 0.35],
  ['user_plus', 0.2],
  ['manager', 0.18],
  ['call_center', 0.15],
];

/** The permissions a Manager holds (user_plus's and staff:edit_what_where) and some it does not. */
export const MANAGER_HOLDS = [
  'customer:manage',
  'booking:manage',
  'checkin:manage',
  'service:view',
  'staff:view',
  'schedule:edit',
  'calendar:view',
  'agenda:view',
  'staff:edit_what_where',
] as const;
export const MANAGER_LACKS = [
  'service:edit',
  'resource:manage',
  'user:create',
  'settings:basic',
  'event:manage',
] as const;

/** Every JRNI permission, for the `checks` mix. */
export const JRNI_PERMISSIONS = [...MANAGER_HOLDS, ...MANAGER_LACKS, 'integration:manage', 'payment:manage'];

export interface Probe {
  userId: string;
  /** The area the probe is Manager at (depth 3) and a branch below it (depth 4). */
  areaId: string;
  branchId: string;
  permission: string;
  expected: 'ALLOW' | 'DENY';
}

export interface World {
  orgId: string;
  ownerId: string;
  hqId: string;
  depotId: string;
  /** Every location id (the tree and the depot's children). */
  locationIds: string[];
  userIds: string[];
  probes: Probe[];
  counts: { locations: number; users: number; assignments: number; maxDepth: number };
  seconds: number;
}

interface LocationRow {
  id: string;
  parentId: string | null;
  name: string;
  path: string[];
}

export async function buildWorld(store: Store, seed = 20261123): Promise<World> {
  const t0 = performance.now();
  const rng = new Rng(seed);
  const { orgId, ownerId } = await createOrganization(store, {
    preset: 'jrni',
    name: 'JRNI bench',
    ownerEmail: 'owner@bench.example',
    ownerName: 'Bench Owner',
  });

  // The tree, level by level (a parent row exists before its children are inserted).
  const levels: LocationRow[][] = [];
  const loc = (name: string, parent: LocationRow | null): LocationRow => {
    const id = randomUUID();
    return { id, parentId: parent?.id ?? null, name, path: [...(parent?.path ?? []), id] };
  };
  const hq = loc('HQ', null);
  const regions = Array.from({ length: WORLD.regions }, (_, r) => loc(`Region ${r + 1}`, hq));
  const depot = loc('Depot', hq);
  const areas = regions.flatMap((region, r) =>
    Array.from({ length: WORLD.areasPerRegion }, (_, a) => loc(`Area ${r + 1}.${a + 1}`, region)),
  );
  const depotChildren = Array.from({ length: WORLD.depotChildren }, (_, i) =>
    loc(`Depot bay ${String(i + 1).padStart(4, '0')}`, depot),
  );
  const branches = areas.flatMap((area) =>
    Array.from({ length: WORLD.branchesPerArea }, (_, b) => loc(`${area.name} branch ${b + 1}`, area)),
  );
  levels.push([hq], [...regions, depot], [...areas, ...depotChildren], branches);
  for (const rows of levels) {
    for (let i = 0; i < rows.length; i += 1000) {
      const chunk = rows.slice(i, i + 1000);
      await store.db.query(
        `INSERT INTO locations (org_id, id, parent_id, name, path)
         SELECT $1, t.id, t.parent_id, t.name, t.path::uuid[]
           FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::text[]) AS t(id, parent_id, name, path)`,
        [
          orgId,
          chunk.map((l) => l.id),
          chunk.map((l) => l.parentId),
          chunk.map((l) => l.name),
          chunk.map((l) => `{${l.path.join(',')}}`),
        ],
      );
    }
  }

  // Users and their assignments.
  const treeLocations = [hq, ...regions, ...areas, ...branches];
  const pickRole = () => {
    let x = rng.float();
    for (const [role, w] of ROLE_WEIGHTS) if ((x -= w) < 0) return role;
    return 'user';
  };
  const pickLocation = () => {
    const x = rng.float();
    if (x < 0.1) return depotChildren[rng.int(depotChildren.length)]!;
    return treeLocations[rng.int(treeLocations.length)]!;
  };
  const users: { id: string; email: string; name: string }[] = [];
  const assignments: { userId: string; role: string; locationId: string; personId: string | null }[] = [];
  for (let i = 0; i < WORLD.users; i++) {
    const id = randomUUID();
    users.push({ id, email: `user${i}@bench.example`, name: `User ${i}` });
    const n = 1 + rng.int(3);
    for (let k = 0; k < n; k++) {
      const role = pickRole();
      assignments.push({
        userId: id,
        role,
        locationId: pickLocation().id,
        personId: role === 'user_plus' && rng.float() < 0.1 ? `staff-${i}` : null,
      });
    }
  }
  const probes: Probe[] = [];
  for (let i = 0; i < WORLD.probes; i++) {
    const id = randomUUID();
    users.push({ id, email: `probe${i}@bench.example`, name: `Probe ${i}` });
    const a = i % areas.length;
    const area = areas[a]!;
    const branch = branches[a * WORLD.branchesPerArea + (i % WORLD.branchesPerArea)]!;
    assignments.push({ userId: id, role: 'manager', locationId: area.id, personId: null });
    // Three in four ask about a permission the Manager role grants (ALLOW by cascade), one in four not.
    const allow = i % 4 !== 3;
    const list = allow ? MANAGER_HOLDS : MANAGER_LACKS;
    probes.push({
      userId: id,
      areaId: area.id,
      branchId: branch.id,
      permission: list[i % list.length]!,
      expected: allow ? 'ALLOW' : 'DENY',
    });
  }
  for (let i = 0; i < users.length; i += 1000) {
    const chunk = users.slice(i, i + 1000);
    await store.db.query(
      `INSERT INTO users (org_id, id, email, name)
       SELECT $1, t.id, t.email, t.name FROM unnest($2::uuid[], $3::text[], $4::text[]) AS t(id, email, name)`,
      [orgId, chunk.map((u) => u.id), chunk.map((u) => u.email), chunk.map((u) => u.name)],
    );
  }
  for (let i = 0; i < assignments.length; i += 1000) {
    const chunk = assignments.slice(i, i + 1000);
    await store.db.query(
      `INSERT INTO assignments (org_id, id, user_id, role_key, location_id, person_id)
       SELECT $1, t.id, t.user_id, t.role_key, t.location_id, t.person_id
         FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::uuid[], $6::text[])
           AS t(id, user_id, role_key, location_id, person_id)`,
      [
        orgId,
        chunk.map(() => randomUUID()),
        chunk.map((a) => a.userId),
        chunk.map((a) => a.role),
        chunk.map((a) => a.locationId),
        chunk.map((a) => a.personId),
      ],
    );
  }
  await store.db.exec('ANALYZE');

  const all = levels.flat();
  return {
    orgId,
    ownerId,
    hqId: hq.id,
    depotId: depot.id,
    locationIds: all.map((l) => l.id),
    userIds: users.map((u) => u.id),
    probes,
    counts: {
      locations: all.length,
      users: users.length + 1,
      assignments: assignments.length + 1,
      maxDepth: Math.max(...all.map((l) => l.path.length)),
    },
    seconds: (performance.now() - t0) / 1000,
  };
}
