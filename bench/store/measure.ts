/**
 * Measuring what the gateway loads to decide for a user it has not seen, through the real store API,
 * and proving each load usable by deciding a check on it with the real engine.
 */
import { isDeepStrictEqual } from 'node:util';
import { parseCatalog, type RoleSpec } from '../../src/catalog';
import { compileCatalog, decide, UserGrants, type CompiledCatalog, type Outcome } from '../../src/engine';
import { roleSpec, Store, type Db, type Queryable } from '../../src/store';
import { cpuMeter, type CpuShare } from './cpu';
import { EPOCH, Rng, userId, type AssignmentStats, type Tree } from './world';

/** A Db that counts (and optionally records) the queries sent through it; everything else is passed on. */
export class CountingDb implements Db {
  readonly kind: Db['kind'];
  count = 0;
  record: { sql: string; params: readonly unknown[] }[] | null = null;

  constructor(readonly inner: Db) {
    this.kind = inner.kind;
  }

  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<R[]> {
    this.count++;
    this.record?.push({ sql, params: params ?? [] });
    return this.inner.query<R>(sql, params);
  }

  exec(sql: string): Promise<void> {
    return this.inner.exec(sql);
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.inner.transaction(fn);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

export interface Stats {
  n: number;
  p50: number;
  p99: number;
  mean: number;
  max: number;
}

export function stats(values: number[]): Stats {
  const s = [...values].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
  return {
    n: s.length,
    p50: at(0.5),
    p99: at(0.99),
    mean: s.reduce((a, b) => a + b, 0) / s.length,
    max: s[s.length - 1]!,
  };
}

/** Users and locations never drawn before in this run (locations are reused only once all were drawn). */
export class Samples {
  private readonly users = new Set<number>();
  private readonly locations = new Set<number>();
  private readonly rng: Rng;
  locationsReused = 0;

  constructor(
    readonly userCount: number,
    readonly locationCount: number,
    seed: number,
  ) {
    this.rng = new Rng(seed);
  }

  next(): { user: number; location: number } {
    let user: number;
    do user = this.rng.int(this.userCount);
    while (this.users.has(user));
    this.users.add(user);
    if (this.locations.size >= this.locationCount) {
      this.locations.clear();
      this.locationsReused++;
    }
    let location: number;
    do location = this.rng.int(this.locationCount);
    while (this.locations.has(location));
    this.locations.add(location);
    return { user, location };
  }
}

/** What the world looks like, to check every load against. */
export interface Expected {
  orgId: string;
  version: string;
  customRoles: number;
  tree: Tree;
  assignments: AssignmentStats;
}

export type LoadKind = 'full' | 'perUser';

export const LOAD_DESCRIPTION: Record<LoadKind, string> = {
  full: 'everything: `subjects` (user + assignments) ‖ `locations.paths` ‖ `organizations.versions` ‖ `roles.list` ‖ `toolPolicies.get`',
  perUser:
    'per user, org state cached by version: `subjects` (user + assignments) ‖ `locations.paths` ‖ `organizations.versions`',
};

export interface RunResult {
  kind: LoadKind;
  latency: Stats;
  /** Queries per load, as counted at the Db (constant across loads, or a range). */
  queries: string;
  outcomes: Record<Outcome, number>;
  engineMicros: Stats;
  assignmentsLoaded: Stats;
  samples: number;
  /** Who used the machine's CPU during the run. */
  cpu: CpuShare | null;
}

/** The organization's compiled catalog (its catalog document plus its custom roles), as the gateway builds it. */
export async function compileOrgCatalog(store: Store, orgId: string): Promise<CompiledCatalog> {
  const org = await store.organizations.get(orgId);
  if (!org) throw new Error(`organization ${orgId} not found`);
  const custom: Record<string, RoleSpec> = {};
  for (const r of await store.roles.list(orgId)) custom[r.key] = roleSpec(r);
  return compileCatalog(parseCatalog(org.catalogSource, `organization ${orgId}`), custom);
}

/**
 * `n` loads, one after another, each for a user and a location never drawn before; the independent
 * store calls of one load run concurrently. Each load is checked against the generated data and
 * decided on by the engine.
 */
export async function runLoads(
  store: Store,
  db: CountingDb,
  catalog: CompiledCatalog,
  expected: Expected,
  samples: Samples,
  n: number,
  kind: LoadKind,
  seed: number,
  serverPid: number | null = null,
): Promise<RunResult> {
  const meter = cpuMeter(serverPid);
  const { orgId } = expected;
  const rng = new Rng(seed);
  const permissions = catalog.keys;
  const latency: number[] = [];
  const engine: number[] = [];
  const loaded: number[] = [];
  const queries = new Set<number>();
  const outcomes: Record<Outcome, number> = { ALLOW: 0, DENY: 0, REQUIRES_APPROVAL: 0 };
  const problems: string[] = [];
  for (let i = 0; i < n; i++) {
    const s = samples.next();
    const uid = userId(s.user);
    const lid = expected.tree.ids[s.location]!;
    const before = db.count;
    const t0 = performance.now();
    const [[subject], [path], [version], roles, policies] = await Promise.all([
      store.subjects(orgId, [uid]),
      store.locations.paths(orgId, [lid]),
      store.organizations.versions([orgId]),
      kind === 'full' ? store.roles.list(orgId) : null,
      kind === 'full' ? store.toolPolicies.get(orgId) : {},
    ]);
    const t1 = performance.now();
    latency.push(t1 - t0);
    queries.add(db.count - before);

    if (!subject || subject.userId !== uid) problems.push(`user ${uid}: not loaded`);
    else if (subject.assignments.length !== expected.assignments.perUser[s.user])
      problems.push(
        `user ${uid}: ${subject.assignments.length} assignments, expected ${expected.assignments.perUser[s.user]}`,
      );
    if (!isDeepStrictEqual(path, expected.tree.expectedPath(s.location)))
      problems.push(`location ${lid}: wrong path`);
    if (version !== expected.version) problems.push(`version ${version}, expected ${expected.version}`);
    if (roles && roles.length !== expected.customRoles) problems.push(`${roles.length} custom roles`);
    if (!subject || !path) continue;

    const t2 = performance.now();
    const grants = new UserGrants(catalog, subject, EPOCH);
    const outcome = decide(
      catalog,
      grants,
      { permission: permissions[rng.int(permissions.length)]!, locationPath: path },
      policies ?? {},
    );
    engine.push((performance.now() - t2) * 1000);
    outcomes[outcome]++;
    loaded.push(subject.assignments.length);
  }
  if (problems.length) {
    throw new Error(
      `${problems.length} loads did not match the generated data, e.g.:\n  ${problems.slice(0, 10).join('\n  ')}`,
    );
  }
  const q = [...queries].sort((a, b) => a - b);
  return {
    kind,
    latency: stats(latency),
    queries: q.length === 1 ? String(q[0]) : `${q[0]}–${q[q.length - 1]}`,
    outcomes,
    engineMicros: stats(engine),
    assignmentsLoaded: stats(loaded),
    samples: n,
    cpu: meter(),
  };
}

export const QUERY_NAMES = [
  'users.getMany',
  'assignments.forUsers',
  'locations.paths',
  'organizations.versions',
  'roles.list',
  'toolPolicies.get',
] as const;
export type QueryName = (typeof QUERY_NAMES)[number];

/** Each store call of a load alone, one after another, `n` fresh samples each. */
export async function runBreakdown(
  store: Store,
  expected: Expected,
  samples: Samples,
  n: number,
): Promise<Record<QueryName, Stats>> {
  const { orgId } = expected;
  const calls: Record<QueryName, (u: string, l: string) => Promise<unknown>> = {
    'users.getMany': (u) => store.users.getMany(orgId, [u]),
    'assignments.forUsers': (u) => store.assignments.forUsers(orgId, [u]),
    'locations.paths': (_u, l) => store.locations.paths(orgId, [l]),
    'organizations.versions': () => store.organizations.versions([orgId]),
    'roles.list': () => store.roles.list(orgId),
    'toolPolicies.get': () => store.toolPolicies.get(orgId),
  };
  const out = {} as Record<QueryName, Stats>;
  for (const name of QUERY_NAMES) {
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      const s = samples.next();
      const t0 = performance.now();
      await calls[name](userId(s.user), expected.tree.ids[s.location]!);
      times.push(performance.now() - t0);
    }
    out[name] = stats(times);
  }
  return out;
}

/** Warms the pool (opens its connections) and the JIT with loads over fresh samples, not measured. */
export async function warmUp(
  store: Store,
  db: CountingDb,
  catalog: CompiledCatalog,
  expected: Expected,
  samples: Samples,
  n: number,
): Promise<void> {
  await Promise.all(Array.from({ length: 10 }, () => db.inner.query('SELECT 1')));
  if (n > 0) await runLoads(store, db, catalog, expected, samples, n, 'full', 1);
}

export interface Plan {
  query: string;
  sql: string;
  plan: string;
}

/**
 * EXPLAIN (ANALYZE, BUFFERS) of the exact statements one full load sends (recorded at the Db), run with
 * a fresh user and location, so the buffer counts show a first touch.
 */
export async function explainLoad(
  store: Store,
  db: CountingDb,
  expected: Expected,
  samples: Samples,
  run: (sql: string, params: readonly unknown[]) => Promise<Record<string, unknown>[]>,
): Promise<Plan[]> {
  const { orgId } = expected;
  const recordedFor = samples.next();
  const ru = userId(recordedFor.user);
  const rl = expected.tree.ids[recordedFor.location]!;
  db.record = [];
  await Promise.all([
    store.users.getMany(orgId, [ru]),
    store.assignments.forUsers(orgId, [ru]),
    store.locations.paths(orgId, [rl]),
    store.organizations.versions([orgId]),
    store.roles.list(orgId),
    store.toolPolicies.get(orgId),
  ]);
  const recorded = db.record;
  db.record = null;
  const fresh = samples.next();
  const fu = userId(fresh.user);
  const fl = expected.tree.ids[fresh.location]!;
  const swap = (v: unknown): unknown => (Array.isArray(v) ? v.map(swap) : v === ru ? fu : v === rl ? fl : v);
  const plans: Plan[] = [];
  for (const [i, q] of recorded.entries()) {
    // Plan it once first (not executed), so the planning time shown is not the connection's first
    // look at these tables' catalog entries.
    await run(`EXPLAIN ${q.sql}`, q.params);
    const rows = await run(`EXPLAIN (ANALYZE, BUFFERS) ${q.sql}`, q.params.map(swap));
    plans.push({
      query: QUERY_NAMES[i] ?? `query ${i + 1}`,
      sql: q.sql.replace(/\s+/g, ' ').trim(),
      plan: rows.map((r) => String(r['QUERY PLAN'])).join('\n'),
    });
  }
  return plans;
}
