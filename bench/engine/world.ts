/**
 * The JRNI-style world every engine is given: one organization, a location tree under the org root,
 * the six JRNI role types, users holding roles at locations. Everything is drawn from a seeded PRNG,
 * so two runs build the same world and the same samples.
 */
import type { Assignment } from '../../src';

/** mulberry32: small, fast, good enough for workload generation. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}

export const ROLES = ['owner', 'administrator', 'user', 'user_plus', 'manager', 'call_center'] as const;
/** How often each role is handed out (owners are rare, plain users common). */
export const ROLE_WEIGHTS = [0.05, 0.15, 0.3, 0.2, 0.15, 0.15] as const;

/** The configuration-matrix rows (plus user:create) that checks are sampled from. */
export const PERMISSIONS = [
  'customer:manage',
  'booking:manage',
  'checkin:manage',
  'resource:manage',
  'service:view',
  'service:edit',
  'staff:view',
  'staff:edit_what_where',
  'schedule:edit',
  'event:manage',
  'integration:manage',
  'user:create',
] as const;

export interface WorldParams {
  seed: number;
  /** Locations per level below the org root (level 1 first); the sum is the tree's size. */
  levels: readonly number[];
  users: number;
  /** Assignments per user: uniform in [min, max]. */
  minAssignments: number;
  maxAssignments: number;
  /** Depth of the separate branch used by the cold-build measurement. */
  coldDepth: number;
  /** Assignments of the cold-build user. */
  coldAssignments: number;
}

export const DEFAULT_PARAMS: WorldParams = {
  seed: 20240611,
  levels: [8, 40, 200, 900, 2852, 6000],
  users: 100_000,
  minAssignments: 1,
  maxAssignments: 3,
  coldDepth: 8,
  coldAssignments: 20,
};

export interface World {
  params: WorldParams;
  /** Location ids by index: the main tree first (`L0`…), then the cold branch (`B1`…`B8`, B8 deepest). */
  locIds: string[];
  /** Number of locations in the main tree (the cold branch comes after). */
  mainLocations: number;
  /** Parent index, -1 for a top-level location (whose parent is the org root). */
  parent: Int32Array;
  depth: Uint8Array;
  children: number[][];
  /** Each location and its ancestors up to (not including) the org root, nearest first, as ids. */
  paths: string[][];
  /** The cold branch, shallowest first; its last entry is the depth-`coldDepth` location. */
  branch: number[];
  userIds: string[];
  /** Assignments of user u are `assignLoc/assignRole[userStart[u] .. userStart[u+1])`. */
  userStart: Int32Array;
  assignLoc: Int32Array;
  /** Index into ROLES. */
  assignRole: Uint8Array;
}

function pickRole(rng: Rng): number {
  let r = rng.next();
  for (let i = 0; i < ROLE_WEIGHTS.length; i++) {
    r -= ROLE_WEIGHTS[i]!;
    if (r < 0) return i;
  }
  return ROLE_WEIGHTS.length - 1;
}

export function buildWorld(params: WorldParams = DEFAULT_PARAMS): World {
  const rng = new Rng(params.seed);
  const main = params.levels.reduce((a, b) => a + b, 0);
  const total = main + params.coldDepth;
  const locIds: string[] = [];
  const parent = new Int32Array(total);
  const depth = new Uint8Array(total);
  const children: number[][] = [];
  let prevStart = -1;
  let prevCount = 0;
  let next = 0;
  for (const count of params.levels) {
    const start = next;
    for (let i = 0; i < count; i++, next++) {
      locIds.push(`L${next}`);
      children.push([]);
      // Every level-k location hangs under a random level-(k-1) one (level 1 under the org root).
      const p = prevStart < 0 ? -1 : prevStart + rng.int(prevCount);
      parent[next] = p;
      depth[next] = p < 0 ? 1 : depth[p]! + 1;
      if (p >= 0) children[p]!.push(next);
    }
    prevStart = start;
    prevCount = count;
  }
  const branch: number[] = [];
  for (let d = 1; d <= params.coldDepth; d++, next++) {
    locIds.push(`B${d}`);
    children.push([]);
    const p = d === 1 ? -1 : next - 1;
    parent[next] = p;
    depth[next] = d;
    if (p >= 0) children[p]!.push(next);
    branch.push(next);
  }
  const paths: string[][] = [];
  for (let l = 0; l < total; l++) {
    const path: string[] = [];
    for (let x = l; x >= 0; x = parent[x]!) path.push(locIds[x]!);
    paths.push(path);
  }

  const userIds: string[] = [];
  const userStart = new Int32Array(params.users + 1);
  const locs: number[] = [];
  const roles: number[] = [];
  for (let u = 0; u < params.users; u++) {
    userIds.push(`u${u}`);
    userStart[u] = locs.length;
    const k = params.minAssignments + rng.int(params.maxAssignments - params.minAssignments + 1);
    for (let i = 0; i < k; i++) {
      locs.push(rng.int(main));
      roles.push(pickRole(rng));
    }
  }
  userStart[params.users] = locs.length;

  return {
    params,
    locIds,
    mainLocations: main,
    parent,
    depth,
    children,
    paths,
    branch,
    userIds,
    userStart,
    assignLoc: Int32Array.from(locs),
    assignRole: Uint8Array.from(roles),
  };
}

/** User u's assignments in rolegate's input shape. */
export function assignmentsOf(world: World, u: number): Assignment[] {
  const out: Assignment[] = [];
  for (let i = world.userStart[u]!; i < world.userStart[u + 1]!; i++) {
    out.push({
      id: `a${i}`,
      role: ROLES[world.assignRole[i]!]!,
      locationId: world.locIds[world.assignLoc[i]!]!,
    });
  }
  return out;
}

/** How a sampled check's location relates to the user's assignments. */
export type SampleKind = 'at-or-below' | 'above' | 'random';

/** Checks as parallel arrays of indexes (user, location, permission), plus what kind each is. */
export interface Workload {
  size: number;
  user: Int32Array;
  loc: Int32Array;
  perm: Uint8Array;
  /** Index into SAMPLE_KINDS, per check. */
  kind: Uint8Array;
  kinds: Record<SampleKind, number>;
}

export const SAMPLE_KINDS: readonly SampleKind[] = ['at-or-below', 'above', 'random'];

/**
 * A location for a check by user u, with a healthy ALLOW/DENY mix: 45% at or below one of the user's
 * assignment locations (ALLOW when the role grants the permission), 15% strictly above one (cascade
 * never goes up: DENY unless another assignment covers it), 40% uniformly random (mostly DENY).
 */
function sampleLocation(world: World, rng: Rng, u: number): [number, SampleKind] {
  const from = world.userStart[u]!;
  const a = world.assignLoc[from + rng.int(world.userStart[u + 1]! - from)]!;
  const r = rng.next();
  if (r < 0.45) {
    // Walk down from the assignment's location, stopping at each step with probability 0.4.
    let l = a;
    while (world.children[l]!.length && rng.next() >= 0.4) l = rng.pick(world.children[l]!);
    return [l, 'at-or-below'];
  }
  if (r < 0.6 && world.parent[a]! >= 0) {
    const ancestors: number[] = [];
    for (let x = world.parent[a]!; x >= 0; x = world.parent[x]!) ancestors.push(x);
    return [rng.pick(ancestors), 'above'];
  }
  return [rng.int(world.mainLocations), 'random'];
}

function emptyWorkload(size: number): Workload {
  return {
    size,
    user: new Int32Array(size),
    loc: new Int32Array(size),
    perm: new Uint8Array(size),
    kind: new Uint8Array(size),
    kinds: { 'at-or-below': 0, above: 0, random: 0 },
  };
}

function put(w: Workload, i: number, u: number, [l, kind]: [number, SampleKind], p: number): void {
  w.user[i] = u;
  w.loc[i] = l;
  w.perm[i] = p;
  w.kind[i] = SAMPLE_KINDS.indexOf(kind);
  w.kinds[kind]++;
}

/** Independent checks: a random user, a location drawn as in `sampleLocation`, a random permission. */
export function sampleWorkload(world: World, size: number, seed: number): Workload {
  const rng = new Rng(seed);
  const w = emptyWorkload(size);
  for (let i = 0; i < size; i++) {
    const u = rng.int(world.params.users);
    put(w, i, u, sampleLocation(world, rng, u), rng.int(PERMISSIONS.length));
  }
  return w;
}

/**
 * Request-shaped checks, as a gateway sees them: each block of `perRequest` checks is one request of
 * one random user, at `locations` locations (drawn as in `sampleLocation`), random permissions.
 */
export function requestWorkload(
  world: World,
  requests: number,
  perRequest: number,
  locations: number,
  seed: number,
): Workload {
  const rng = new Rng(seed);
  const w = emptyWorkload(requests * perRequest);
  for (let r = 0; r < requests; r++) {
    const u = rng.int(world.params.users);
    const locs = Array.from({ length: locations }, () => sampleLocation(world, rng, u));
    for (let i = 0; i < perRequest; i++)
      put(w, r * perRequest + i, u, locs[i % locations]!, rng.int(PERMISSIONS.length));
  }
  return w;
}

/** One user of the cold-build measurement: fresh id, 20 assignments, some along the deep branch. */
export interface ColdCase {
  userId: string;
  locs: number[];
  roles: number[];
  assignments: Assignment[];
}

/**
 * Cold-build users: one assignment at each location of the depth-8 branch (so the effective set at its
 * deepest location folds 8 path entries) and the rest at random locations of the main tree.
 */
export function coldCases(world: World, count: number, seed: number): ColdCase[] {
  const rng = new Rng(seed);
  const out: ColdCase[] = [];
  for (let c = 0; c < count; c++) {
    const locs: number[] = [];
    const roles: number[] = [];
    for (let i = 0; i < world.params.coldAssignments; i++) {
      locs.push(i < world.branch.length ? world.branch[i]! : rng.int(world.mainLocations));
      roles.push(pickRole(rng));
    }
    out.push({
      userId: `cold${c}`,
      locs,
      roles,
      assignments: locs.map((l, i) => ({
        id: `c${c}.${i}`,
        role: ROLES[roles[i]!]!,
        locationId: world.locIds[l]!,
      })),
    });
  }
  return out;
}
