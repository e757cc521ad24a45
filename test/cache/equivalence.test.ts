import { randomBytes, randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { Authz, type CheckInput, type DecisionResult } from '../../src/decisions/authz';
import { createLoaders } from '../../src/decisions/loaders';
import { OrgStates } from '../../src/decisions/org-state';
import { L1Cache } from '../../src/cache/l1';
import { SharedCache } from '../../src/cache/redis';
import type { Levels } from '../../src/cache/read-through';
import { requestCache, type RequestCache } from '../../src/decisions/caches';
import { decide, UserGrants, type CheckRequest, type Outcome } from '../../src/engine';
import { Metrics } from '../../src/metrics/metrics';
import type { Store } from '../../src/store';
import type { Viewer } from '../../src/identity/tokens';
import { referenceDecide, ReferenceUnknownPermission } from '../engine/reference-evaluator';
import { NOW, unknownNames, worldArbitrary, type World } from '../engine/world-arbitrary';
import { openTestStore } from '../support/stores';
import { compileWorld, writeWorld, type StoredWorld } from './world-store';

/**
 * The cached path and the uncached path give identical decisions on the random worlds of the
 * engine's property test, through the real store (PostgreSQL) and the real shared cache (Redis).
 *
 * Each world becomes an organization; every check of the world (plus unknown names, a user and a
 * location that do not exist) is decided by `Authz` four ways, at the world's NOW:
 *   (a) uncached: loaders straight on the store;
 *   (b) through Tiers(new L1, Redis) with Redis cold for this organization (it fills it);
 *   (b') a second request through the same Tiers: everything from the in-process cache;
 *   (c) through Tiers(new L1, the same Redis): every grants, path and organization state from Redis
 *       (counted: the store is not asked for them, the L2 hit counter grows by that much);
 * and all four must agree with each other, with the engine on the world as generated and with the
 * naive reference evaluator. Then, at the same version but 2 ms later (after the assignments that
 * expire "just after NOW"), (d) the uncached path, the warm process of (b) and a new process on the
 * same Redis must agree with the reference at that instant: cached grants past their `validUntil`
 * are not reused.
 *
 * A second test pins a case the random worlds cannot reach (one request per pass): two concurrent
 * requests at different instants sharing one load.
 *
 * Replay a failure with the seed and path fast-check prints: EQUIVALENCE_SEED=… EQUIVALENCE_PATH=…
 */

const RUNS = Number(process.env.EQUIVALENCE_RUNS ?? 30);
const SEED = process.env.EQUIVALENCE_SEED === undefined ? undefined : Number(process.env.EQUIVALENCE_SEED);
const PATH = process.env.EQUIVALENCE_PATH;
/** A found failure is shrunk for at most this long (each attempt writes a world into PostgreSQL). */
const SHRINK_MS = Number(process.env.EQUIVALENCE_SHRINK_MS ?? 20_000);
/** A cached entry that lives at least this long is certainly still in Redis for pass (c). */
const SURELY_CACHED_MS = 60_000;
/** A later instant, at the same version: after the world's "just after NOW" expiries. */
const LATER = NOW + 2;

let store: Store;
let closeStore: () => Promise<void>;
let shared: SharedCache;
const metrics = new Metrics();

beforeAll(async () => {
  ({ store, close: closeStore } = await openTestStore('postgres'));
  const url = process.env.ROLEGATE_TEST_REDIS_URL;
  if (!url) throw new Error('ROLEGATE_TEST_REDIS_URL is not set: run the tests through jest (globalSetup)');
  shared = new SharedCache(url, { macKey: randomBytes(32) });
  await shared.connect();
  // Without Redis every "cached" pass would quietly read the store: the comparison would prove nothing.
  expect(shared.up).toBe(true);
});

afterAll(async () => {
  await shared?.close();
  await closeStore?.();
});

afterEach(() => jest.restoreAllMocks());

/** What a decision says, for comparing paths: the outcome, and the error's code when there is one. */
interface Said {
  outcome: Outcome;
  allowed: boolean;
  error: string | null;
  version: string;
}
const said = (r: DecisionResult): Said => ({
  outcome: r.outcome,
  allowed: r.allowed,
  error: r.error?.code ?? null,
  version: r.version,
});

async function lookups(level: 'l1' | 'l2', result: 'hit' | 'miss'): Promise<number> {
  const { values } = await metrics.cache.get();
  return values.find((v) => v.labels.level === level && v.labels.result === result)?.value ?? 0;
}

/** One process's cache levels (in process, Redis) and the read-through over them. */
interface Tiers {
  levels: Levels;
  cache: RequestCache;
}
function newTiers(l1: L1Cache, sharedCache: SharedCache, m: Metrics): Tiers {
  const levels = { l1, shared: sharedCache, metrics: m };
  return { levels, cache: requestCache(store, levels) };
}

/** Decides every input as one request at `now` would: one organization state, loaders and Authz. */
async function decideAll(orgId: string, inputs: CheckInput[], now: number, tiers?: Tiers): Promise<Said[]> {
  const state = await new OrgStates(store, { levels: tiers?.levels }).load(orgId);
  if (!state) throw new Error(`organization ${orgId} not found`);
  const loaders = createLoaders(store, tiers?.cache ?? requestCache(store), {
    orgId,
    version: state.org.version,
    catalog: state.catalog,
    now,
  });
  const viewer: Viewer = { kind: 'service', orgId, keyId: 'test', scopes: [] };
  const authz = new Authz(state, viewer, loaders, now);
  return (await Promise.all(inputs.map((i) => authz.decide(i)))).map(said);
}

/** What the naive reference says of a world check at `now` (an unknown name: DENY, BAD_USER_INPUT). */
function referenceSays(
  world: World,
  user: number,
  request: CheckRequest,
  now: number,
): Omit<Said, 'version'> {
  try {
    const outcome = referenceDecide(
      world.doc,
      world.customRoles,
      world.users[user]!,
      request,
      now,
      world.policies,
    );
    return { outcome, allowed: outcome === 'ALLOW', error: null };
  } catch (err) {
    if (err instanceof ReferenceUnknownPermission)
      return { outcome: 'DENY', allowed: false, error: 'BAD_USER_INPUT' };
    throw err;
  }
}

const tally = {
  worlds: 0,
  checks: 0,
  ALLOW: 0,
  DENY: 0,
  REQUIRES_APPROVAL: 0,
  /** Checks allowed only thanks to a location, team or restricted grant (more than org bits cached). */
  scoped: 0,
  /** Checks whose answer changed between NOW and LATER (an assignment expired in between). */
  expiredSince: 0,
  l2Hits: 0,
  /** Assignments naming both a location and a team, left out (see `writeWorld`). */
  skipped: 0,
};

/** Throws a report naming the first input on which the paths or the reference disagree. */
function expectAgreement(
  world: World,
  checks: World['checks'],
  inputs: CheckInput[],
  expected: Omit<Said, 'version'>[],
  paths: Record<string, Said[]>,
): void {
  for (let i = 0; i < inputs.length; i++) {
    const want = expected[i]!;
    const got = Object.fromEntries(Object.entries(paths).map(([name, results]) => [name, results[i]!]));
    const same = Object.values(got).every(
      (g) => g.outcome === want.outcome && g.allowed === want.allowed && g.error === want.error,
    );
    const versions = new Set(Object.values(got).map((g) => g.version));
    if (same && versions.size === 1) continue;
    const check = checks[i];
    throw new Error(
      [
        `disagreement on input ${i}: ${JSON.stringify({ reference: want, ...got })}`,
        `input: ${JSON.stringify(inputs[i])}`,
        check ? `world check: ${JSON.stringify(check)}` : 'not a world check',
        check ? `subject: ${JSON.stringify(world.users[check.user])}` : '',
        `policies: ${JSON.stringify(world.policies)}`,
        `locations: ${JSON.stringify(world.locations)}`,
        `customRoles: ${JSON.stringify(world.customRoles)}`,
        `catalog:\n${stringify(world.doc)}`,
      ].join('\n'),
    );
  }
}

/** Writes one world and decides it every way; throws a report at the first disagreement. */
async function checkWorld(world: World): Promise<void> {
  const stored: StoredWorld = await writeWorld(store, world, `equivalence ${tally.worlds}`);
  const { orgId } = stored;
  tally.worlds++;
  tally.skipped += stored.skipped;

  // The world's checks, then unknown names, then a user and a location that do not exist.
  const checks = [
    ...world.checks,
    ...unknownNames(world).map((permission) => ({ user: 0, request: { permission } })),
  ];
  const inputs: CheckInput[] = [
    ...checks.map((c) => stored.input(c)),
    { userId: randomUUID(), permission: world.checks[0]!.request.permission },
    { ...stored.input(world.checks[0]!), locationId: randomUUID() },
  ];
  const expectedAt = (now: number): Omit<Said, 'version'>[] => [
    ...checks.map((c) => referenceSays(world, c.user, c.request, now)),
    { outcome: 'DENY', allowed: false, error: 'NOT_FOUND' },
    { outcome: 'DENY', allowed: false, error: 'NOT_FOUND' },
  ];
  const expected = expectedAt(NOW);
  // The engine on the world as generated (its own ids, no store) agrees with the reference.
  const catalog = compileWorld(world);
  const grants = world.users.map((u) => new UserGrants(catalog, u, NOW));
  world.checks.forEach(({ user, request }, i) => {
    expect(decide(catalog, grants[user]!, request, world.policies)).toBe(expected[i]!.outcome);
  });

  // What the requests load: grants by user, paths by location; and which of them exist (only those
  // are cached: "no such user" and "no such location" are read from the store every time).
  // A check of an unknown name is refused before anything is loaded: its user and location count
  // only if another input loads them (user 0 may appear in those checks alone).
  const loading = inputs.filter((_, i) => i >= checks.length || i < world.checks.length);
  const userIdsLoaded = new Set(loading.map((i) => i.userId));
  const locationIdsLoaded = new Set(loading.flatMap((i) => (i.locationId ? [i.locationId] : [])));
  const existing = new Set(stored.userIds);
  const storedLocations = new Set(
    (await store.locations.getMany(orgId, [...locationIdsLoaded])).flatMap((l) => (l ? [l.id] : [])),
  );
  const loadedExisting = [...userIdsLoaded].filter((id) => existing.has(id)).length + storedLocations.size;
  const loadedMissing = userIdsLoaded.size + locationIdsLoaded.size - loadedExisting;
  expect(loadedMissing).toBe(2);

  // (a) uncached.
  const uncached = await decideAll(orgId, inputs, NOW);

  // (b) cold Redis: every lookup misses both levels, and fills them.
  const l2HitsBefore = await lookups('l2', 'hit');
  const tiers = newTiers(new L1Cache(), shared, metrics);
  const cold = await decideAll(orgId, inputs, NOW, tiers);
  expect(await lookups('l2', 'hit')).toBe(l2HitsBefore);

  // (b') the same process again: everything that exists from the in-process cache.
  const l1HitsBefore = await lookups('l1', 'hit');
  const l1MissesBefore = await lookups('l1', 'miss');
  const warm = await decideAll(orgId, inputs, NOW, tiers);
  expect((await lookups('l1', 'hit')) - l1HitsBefore).toBe(loadedExisting);
  expect((await lookups('l1', 'miss')) - l1MissesBefore).toBe(loadedMissing);

  // (c) a new process sharing the Redis: grants, paths and the organization's state come from Redis.
  await shared.ping(); // the entries (b) wrote went out before this, on the same connection
  // Grants that expire within a minute of NOW were cached for that long at most: they may be gone.
  const surelyCached = new Set(
    stored.userIds.filter((_, i) => grants[i]!.validUntil - NOW > SURELY_CACHED_MS),
  );
  const subjects = jest.spyOn(store, 'subjects');
  const paths = jest.spyOn(store.locations, 'paths');
  const orgReads = jest.spyOn(store.organizations, 'get');
  const hitsBefore = await lookups('l2', 'hit');
  const missesBefore = await lookups('l2', 'miss');
  const fromRedis = await decideAll(orgId, inputs, NOW, newTiers(new L1Cache(), shared, metrics));
  const hits = (await lookups('l2', 'hit')) - hitsBefore;
  const misses = (await lookups('l2', 'miss')) - missesBefore;
  const askedOfStore = subjects.mock.calls.flatMap(([, ids]) => [...ids]);
  const pathsOfStore = paths.mock.calls.flatMap(([, ids]) => [...ids]);
  const orgReadCount = orgReads.mock.calls.length;
  jest.restoreAllMocks();

  expectAgreement(world, checks, inputs, expected, { uncached, cold, warm, fromRedis });

  // (c) really read Redis: only what does not exist (never cached) and grants about to expire may
  // have been read from the store, and the L2 hit counter grew by at least the rest.
  for (const id of askedOfStore) expect(surelyCached.has(id)).toBe(false);
  for (const id of pathsOfStore) expect(storedLocations.has(id)).toBe(false);
  expect(orgReadCount).toBe(0);
  expect(hits + misses).toBe(userIdsLoaded.size + locationIdsLoaded.size);
  expect(hits).toBeGreaterThanOrEqual(
    [...userIdsLoaded].filter((id) => surelyCached.has(id)).length + storedLocations.size,
  );
  expect(hits).toBeLessThanOrEqual(loadedExisting);
  tally.l2Hits += hits;

  // (d) later, at the same version: assignments expiring at NOW + 1 no longer count. The grants the
  // process (b) and Redis hold were compiled at NOW; they must be recompiled, not reused.
  const expectedLater = expectedAt(LATER);
  const laterUncached = await decideAll(orgId, inputs, LATER);
  const laterWarm = await decideAll(orgId, inputs, LATER, tiers);
  const laterFromRedis = await decideAll(orgId, inputs, LATER, newTiers(new L1Cache(), shared, metrics));
  expectAgreement(world, checks, inputs, expectedLater, {
    uncached: laterUncached,
    warm: laterWarm,
    fromRedis: laterFromRedis,
  });

  for (const [i, c] of world.checks.entries()) {
    const outcome = expected[i]!.outcome;
    tally.checks++;
    tally[outcome]++;
    const { permission } = c.request;
    if (outcome !== 'DENY' && decide(catalog, grants[c.user]!, { permission }, world.policies) === 'DENY')
      tally.scoped++;
    if (expectedLater[i]!.outcome !== outcome) tally.expiredSince++;
  }
}

/** fc.check, with a found failure shrunk for at most SHRINK_MS; the report has the seed and path. */
async function assertProperty<T>(property: fc.IAsyncProperty<T>, params: fc.Parameters<T>): Promise<void> {
  const found = await fc.check(property, { ...params, endOnFailure: true });
  if (!found.failed) return;
  const shrunk = await fc.check(property, {
    seed: found.seed,
    path: found.counterexamplePath!,
    interruptAfterTimeLimit: SHRINK_MS,
  });
  const details = shrunk.failed ? shrunk : found;
  const cause =
    details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
  throw new Error(`${fc.defaultReportMessage(details)}\n\n${cause}`, { cause: details.errorInstance });
}

describe('cached and uncached decisions (PostgreSQL + Redis)', () => {
  test('the cached path and the uncached path give identical decisions on the random worlds of the engine property test', async () => {
    await assertProperty(
      fc.asyncProperty(worldArbitrary, (world) => checkWorld(world)),
      {
        numRuns: RUNS,
        ...(SEED !== undefined ? { seed: SEED } : {}),
        ...(PATH ? { path: PATH } : {}),
      },
    );
    if (process.env.EQUIVALENCE_STATS) console.log(JSON.stringify(tally));
    if (PATH) return; // replaying one counterexample
    // Not vacuous: many checks, both outcomes often, scoped grants deciding, Redis answering.
    expect(tally.worlds).toBeGreaterThanOrEqual(RUNS);
    expect(tally.checks).toBeGreaterThanOrEqual(RUNS * 20);
    expect(tally.ALLOW).toBeGreaterThan(tally.checks * 0.05);
    expect(tally.DENY).toBeGreaterThan(tally.checks * 0.05);
    expect(tally.scoped).toBeGreaterThan(0);
    expect(tally.expiredSince).toBeGreaterThan(0);
    expect(tally.l2Hits).toBeGreaterThanOrEqual(RUNS * 2);
  }, 120_000);

  test("a request that joins another request's load, at a later instant, gets grants valid at its own instant", async () => {
    // One assignment, expiring at NOW + 1: counted at NOW, not at LATER (= NOW + 2).
    const world: World = {
      doc: {
        catalog: 'expiry',
        name: 'Expiry',
        owner: { role: 'owner' },
        permissions: { m0: { a0: { description: 'a0' } } },
        roles: { owner: { name: 'Owner', kind: 'org', grants: ['m0:a0'] } },
      },
      customRoles: {},
      locations: [],
      users: [{ userId: 'u0', assignments: [{ id: 'a0', role: 'owner', expiresAt: NOW + 1 }] }],
      policies: {},
      checks: [{ user: 0, request: { permission: 'm0:a0' } }],
    };
    const stored = await writeWorld(store, world, 'equivalence: joined load');
    const input = stored.input(world.checks[0]!);
    expect(referenceSays(world, 0, world.checks[0]!.request, NOW).outcome).toBe('ALLOW');
    expect(referenceSays(world, 0, world.checks[0]!.request, LATER).outcome).toBe('DENY');
    expect((await decideAll(stored.orgId, [input], NOW))[0]!.outcome).toBe('ALLOW');
    expect((await decideAll(stored.orgId, [input], LATER))[0]!.outcome).toBe('DENY');

    // Two requests of one process, at NOW and 2 ms later, ask for the same user's grants at once (the
    // same version, Redis cold): the later one joins the earlier one's load (the read-through's in-flight map).
    const tiers = newTiers(new L1Cache(), shared, metrics);
    const state = (await new OrgStates(store, { levels: tiers.levels }).load(stored.orgId))!;
    const viewer: Viewer = { kind: 'service', orgId: stored.orgId, keyId: 'test', scopes: [] };
    const authzAt = (now: number) => {
      const scope = { orgId: stored.orgId, version: state.org.version, catalog: state.catalog, now };
      return new Authz(state, viewer, createLoaders(store, tiers.cache, scope), now);
    };
    // Both batches are dispatched in the same tick, the earlier request's first: the later one finds
    // the earlier one's load in flight (src/cache/read-through.ts) and waits for its grants, compiled at NOW.
    const [early, late] = await Promise.all([authzAt(NOW).decide(input), authzAt(LATER).decide(input)]);
    expect(early.outcome).toBe('ALLOW');
    // Uncached, at LATER, the assignment has expired: DENY. Grants whose validUntil is past the
    // request's instant must not be used, wherever they come from (L1 and L2 check it; a join must too).
    expect(late.outcome).toBe('DENY');
  });
});
