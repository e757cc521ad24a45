/**
 * The cache benchmark's data and workload.
 *
 * Data: one JRNI organization (created as bench/store creates it, `store.organizations.create` with the
 * shipped preset), bulk-loaded with bench/store's generator and COPY loader (`loadPostgres`): a location
 * tree, 100,000 users and their assignments; then an owner (one `owner` assignment, org-wide) inserted
 * with plain SQL after the load (the loader truncates `users`), whose token asks the checks: `check` on
 * another user needs CHECK_OTHERS, which the owner holds.
 *
 * Workload: checks on users drawn by Zipf rank. Rank r (0 = hottest) is a fixed random user (a seeded
 * permutation), so the hot users are spread over the id space; each check names a random JRNI
 * permission and, four times in five, the user's "home" location (a fixed location per user), else
 * the organization root. The same seed gives the same sequence of checks.
 */
import type { Store } from '../../src/store';
import { loadPreset } from '../../src/catalog';
import { JRNI_PERMISSIONS } from '../http/world';
import { loadPostgres, type LoadReport } from '../store/load';
import { newAssignmentStats, Rng, Tree, userId, type WorldSize } from '../store/world';

export interface CacheWorld {
  orgId: string;
  ownerId: string;
  size: WorldSize;
  tree: Tree;
  load: LoadReport;
  seconds: number;
}

const OWNER_ID = '0b5e55ed-0000-4000-8000-00000000c0de';

/** Creates the organization and bulk-loads it into the PostgreSQL at `url` (already migrated). */
export async function buildWorld(
  store: Store,
  url: string,
  size: WorldSize,
  seed: number,
  log: (m: string) => void,
): Promise<CacheWorld> {
  const t0 = performance.now();
  const { result: org } = await store.organizations.create(
    { name: 'Cache bench', catalogName: 'jrni', catalogSource: loadPreset('jrni').text },
    'bench',
  );
  const tree = new Tree(size.locations, new Rng(seed));
  const load = await loadPostgres(url, org.id, size, tree, newAssignmentStats(size), seed, log);
  await store.db.query(`INSERT INTO users (org_id, id, email, name) VALUES ($1, $2, $3, $4)`, [
    org.id,
    OWNER_ID,
    'owner@cache-bench.example',
    'Bench Owner',
  ]);
  await store.db.query(
    `INSERT INTO assignments (org_id, id, user_id, role_key, location_id) VALUES ($1, $2, $3, 'owner', NULL)`,
    [org.id, '0b5e55ed-0000-4000-8000-00000000a551', OWNER_ID],
  );
  await store.db.query('ANALYZE users, assignments');
  return { orgId: org.id, ownerId: OWNER_ID, size, tree, load, seconds: (performance.now() - t0) / 1000 };
}

/** Zipf(s) over ranks 0..n-1: P(rank r) ∝ 1 / (r+1)^s. */
export class Zipf {
  private readonly cdf: Float64Array;

  constructor(
    readonly n: number,
    readonly s: number,
  ) {
    this.cdf = new Float64Array(n);
    let sum = 0;
    for (let r = 0; r < n; r++) this.cdf[r] = sum += 1 / (r + 1) ** s;
    for (let r = 0; r < n; r++) this.cdf[r] = this.cdf[r]! / sum;
  }

  /** The probability of rank r. */
  p(r: number): number {
    return this.cdf[r]! - (r ? this.cdf[r - 1]! : 0);
  }

  /** The rank of a uniform draw u ∈ [0, 1). */
  rank(u: number): number {
    let lo = 0;
    let hi = this.n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cdf[mid]! > u) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** How many of the hottest ranks carry `share` of the requests. */
  hotSet(share: number): number {
    return this.rank(share) + 1;
  }
}

export interface CheckInput {
  userId: string;
  permission: string;
  locationId: string | null;
}

/** The check workload over a loaded world: Zipf-ranked users, their home location or the root. */
export class Workload {
  readonly zipf: Zipf;
  /** User index of each rank. */
  private readonly byRank: Int32Array;

  constructor(
    private readonly world: CacheWorld,
    readonly s: number,
    seed = 4242,
  ) {
    const n = world.size.users;
    this.zipf = new Zipf(n, s);
    this.byRank = new Int32Array(n);
    for (let i = 0; i < n; i++) this.byRank[i] = i;
    const rng = new Rng(seed);
    for (let i = n - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      const t = this.byRank[i]!;
      this.byRank[i] = this.byRank[j]!;
      this.byRank[j] = t;
    }
  }

  userOfRank(r: number): number {
    return this.byRank[r]!;
  }

  /** A user's fixed "home" location (index into the tree). */
  home(user: number): number {
    return (Math.imul(user + 1, 0x9e3779b1) >>> 0) % this.world.tree.size;
  }

  /** `count` checks drawn from the stream with this seed (the same seed, the same checks). */
  *stream(seed: number, count: number): Generator<CheckInput> {
    const rng = new Rng(seed);
    for (let k = 0; k < count; k++) {
      const user = this.byRank[this.zipf.rank(rng.float())]!;
      const permission = JRNI_PERMISSIONS[rng.int(JRNI_PERMISSIONS.length)]!;
      const atHome = rng.float() < 0.8;
      yield {
        userId: userId(user),
        permission,
        locationId: atHome ? this.world.tree.ids[this.home(user)]! : null,
      };
    }
  }

  /** Just the user ids of a stream (for the in-process runs, which look up grants only). */
  *users(seed: number, count: number): Generator<string> {
    for (const c of this.stream(seed, count)) yield c.userId;
  }
}
