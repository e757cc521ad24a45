/**
 * The cache levels in process, through the gateway's own read-through (`requestCache`, src/cache/read-through.ts), `L1Cache` and
 * `SharedCache` over the benchmark's PostgreSQL and Redis — what HTTP cannot separate or configure:
 *
 * - `tierLatencies`: one check (its user's compiled grants loaded through the read-through, then the engine's
 *   `decide`) answered from the store, from Redis and from L1, sequentially;
 * - `simulate`: two replicas (each its own `L1Cache` of a chosen size and its own Redis connections,
 *   one Redis) fed the Zipf stream, for an L1 smaller than the hot set (`startGateway` has no option
 *   for L1's size).
 */
import { randomBytes } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import Redis from 'ioredis';
import type { OrgState } from '../../src/decisions/org-state';
import { L1Cache } from '../../src/cache/l1';
import { SharedCache } from '../../src/cache/redis';
import {
  inProcessLevel,
  requestCache,
  type RequestCache,
  type RequestScope,
} from '../../src/decisions/caches';
import { decide, UserGrants } from '../../src/engine';
import { Metrics } from '../../src/metrics/metrics';
import type { Store } from '../../src/store';
import { dist, type Dist } from '../http/stats';
import { collect, gcMeter, type Counts, type GcStats } from './harness';
import type { Workload } from './world';

/**
 * The key that signs Redis entries (the gateway keeps one in the store, shared by its replicas; these
 * runs use their own Redis, so one of their own).
 */
const MAC_KEY = randomBytes(32);

const scopeOf = (state: OrgState): RequestScope => ({
  orgId: state.org.id,
  version: state.org.version,
  catalog: state.catalog,
  now: Date.now(),
});

/** A small L1 for one sample: nothing in it, cheap to make (lru-cache allocates `max` slots up front). */
const freshL1 = () => new L1Cache({ max: { grants: 8, path: 8, subjects: 8, org: 1 } });

async function cacheCounts(
  metrics: Metrics,
): Promise<Omit<Counts, 'fields' | 'storeQueries' | 'versionReads'>> {
  const values = (await metrics.cache.get()).values;
  const v = (level: string, result: string) =>
    values.find((x) => x.labels.level === level && x.labels.result === result)?.value ?? 0;
  const errors = (await metrics.redisErrors.get()).values.reduce((a, x) => a + x.value, 0);
  return {
    l1Hit: v('l1', 'hit'),
    l1Miss: v('l1', 'miss'),
    l2Hit: v('l2', 'hit'),
    l2Miss: v('l2', 'miss'),
    redisErrors: errors,
  };
}

export interface Probe {
  userId: string;
  permission: string;
  locationPath: string[];
}

export interface TierLatencies {
  n: number;
  /** ms per check: the load through the read-through and `decide`. */
  store: Dist;
  l2: Dist;
  l1: Dist;
  /** ms of a bare MGET of one entry (Redis's round trip, for reference). */
  mget: Dist;
  /** Share of the Redis-answered checks, and of the bare MGETs, over 1 ms. */
  overOneMs: { l2: number; mget: number };
  /** What the levels counted, to show each sample came from the level it is filed under. */
  counted: Awaited<ReturnType<typeof cacheCounts>>;
  outcomes: Record<string, number>;
  /** This process's GC pauses during the measured samples (a full collection ran just before). */
  gc: GcStats;
}

/**
 * For each probe, one after another: its L2 entry deleted and an empty L1 (a check from the store:
 * L1 miss, Redis miss, two store queries, compiling); then another empty L1 (from Redis: L1 miss,
 * MGET, decoding); then that L1 again (from L1). `warmup` probes first, not counted.
 */
export async function tierLatencies(
  store: Store,
  redisUrl: string,
  state: OrgState,
  probes: Probe[],
  warmup: number,
): Promise<TierLatencies> {
  const metrics = new Metrics();
  const shared = new SharedCache(redisUrl, { metrics, macKey: MAC_KEY });
  const raw = new Redis(redisUrl, { lazyConnect: true });
  await Promise.all([shared.connect(), raw.connect()]);
  if (!shared.up) throw new Error('in-process tiers: Redis is not up');
  const time = async (fn: () => Promise<unknown>) => {
    const t0 = performance.now();
    await fn();
    return performance.now() - t0;
  };
  const out = { store: [] as number[], l2: [] as number[], l1: [] as number[], mget: [] as number[] };
  const outcomes: Record<string, number> = {};
  let before = await cacheCounts(metrics);
  let gc = gcMeter();
  try {
    for (let i = 0; i < probes.length; i++) {
      if (i === warmup) {
        before = await cacheCounts(metrics);
        gc();
        collect();
        // The forced collection's own entry arrives a moment later: not this meter's to count.
        await new Promise((res) => setTimeout(res, 100));
        gc = gcMeter();
      }
      const p = probes[i]!;
      const key = SharedCache.entryKey(state.org.id, state.org.version, 'grants', p.userId);
      await raw.del(key);
      const scope = scopeOf(state);
      const check = (tiers: RequestCache) => async () => {
        const [g] = await tiers.load(scope, [{ kind: 'grants', id: p.userId }]);
        if (!(g instanceof UserGrants)) throw new Error(`in-process tiers: no grants for ${p.userId}`);
        const outcome = decide(
          state.catalog,
          g,
          { permission: p.permission, locationPath: p.locationPath },
          state.policies,
        );
        if (i >= warmup) outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
      };
      const fromStore = await time(check(requestCache(store, { l1: freshL1(), shared, metrics })));
      // The store's answer goes to Redis in a pipeline nobody waits for: let it land before reading it.
      await shared.ping();
      const warm = requestCache(store, { l1: freshL1(), shared, metrics });
      const fromL2 = await time(check(warm));
      const fromL1 = await time(check(warm));
      const mget = await time(() => shared.getMany([key]));
      if (i < warmup) continue;
      out.store.push(fromStore);
      out.l2.push(fromL2);
      out.l1.push(fromL1);
      out.mget.push(mget);
    }
    const gcStats = gc();
    const after = await cacheCounts(metrics);
    return {
      gc: gcStats,
      n: out.l1.length,
      store: dist(out.store),
      l2: dist(out.l2),
      l1: dist(out.l1),
      mget: dist(out.mget),
      overOneMs: {
        l2: out.l2.filter((x) => x > 1).length / out.l2.length,
        mget: out.mget.filter((x) => x > 1).length / out.mget.length,
      },
      counted: {
        l1Hit: after.l1Hit - before.l1Hit,
        l1Miss: after.l1Miss - before.l1Miss,
        l2Hit: after.l2Hit - before.l2Hit,
        l2Miss: after.l2Miss - before.l2Miss,
        redisErrors: after.redisErrors - before.redisErrors,
      },
      outcomes,
    };
  } finally {
    await shared.close();
    raw.disconnect();
  }
}

export interface SimResult {
  l1Size: number | null;
  replicas: Omit<Counts, 'fields' | 'storeQueries' | 'versionReads'>[];
  /** ms per lookup in the measured part (concurrent: includes waiting for the event loop). */
  lookupMs: Dist;
  prefixSeconds: number;
  measureSeconds: number;
  /** Compiled grants held in each replica's L1 at the end, and the heap they take (after a full GC). */
  entries: number[];
  heapBytes: number;
  /**
   * Each replica's L1 dropping them all (`L1Cache.dropOlder`, what a write's invalidation does): ms in
   * the call itself, ms until the L1 is empty, and the event loop's longest stall meanwhile.
   */
  drops: { callMs: number; totalMs: number; stallMs: number }[];
}

/**
 * Two replicas over one Redis, emptied first (FLUSHALL: the sim runs after the gateways are closed).
 * The prefix (`prefix` checks of the stream `prefixSeed`) goes in batches of `batch`, alternately to
 * each replica, as `checks` calls would; then the measured part (`measure` checks of `measureSeed`)
 * one lookup at a time, `concurrency` in flight, alternately to each replica, as `check` requests.
 * Only users' grants are looked up (no location paths): the counts are those of compiled grants.
 */
export async function simulate(opts: {
  store: Store;
  redisUrl: string;
  state: OrgState;
  workload: Workload;
  l1Size: number | null;
  prefixSeed: number;
  prefix: number;
  batch: number;
  measureSeed: number;
  measure: number;
  concurrency: number;
}): Promise<SimResult> {
  const { store, redisUrl, state, workload } = opts;
  const raw = new Redis(redisUrl, { lazyConnect: true });
  await raw.connect();
  await raw.flushall();
  raw.disconnect();
  collect();
  const heap0 = process.memoryUsage().heapUsed;
  const replicas = [0, 1].map(() => {
    const metrics = new Metrics();
    const shared = new SharedCache(redisUrl, { metrics, macKey: MAC_KEY });
    const l1 = inProcessLevel(opts.l1Size ? { subjects: opts.l1Size } : {});
    return { metrics, shared, l1, tiers: requestCache(store, { l1, shared, metrics }) };
  });
  try {
    await Promise.all(replicas.map((r) => r.shared.connect()));
    if (!replicas.every((r) => r.shared.up)) throw new Error('simulate: Redis is not up');
    const t0 = performance.now();
    let scope = scopeOf(state);
    let batch: { kind: 'grants'; id: string }[] = [];
    let k = 0;
    const flush = async () => {
      scope = scopeOf(state);
      const r = replicas[k++ % 2]!;
      const got = await r.tiers.load(scope, batch);
      if (got.some((g) => g instanceof Error)) throw new Error('simulate: a load failed');
      batch = [];
    };
    for (const id of workload.users(opts.prefixSeed, opts.prefix)) {
      batch.push({ kind: 'grants', id });
      if (batch.length === opts.batch) await flush();
    }
    if (batch.length) await flush();
    await Promise.all(replicas.map((r) => r.shared.ping()));
    const prefixSeconds = (performance.now() - t0) / 1000;

    const before = await Promise.all(replicas.map((r) => cacheCounts(r.metrics)));
    const ids = [...workload.users(opts.measureSeed, opts.measure)];
    const ms: number[] = [];
    let next = 0;
    const t1 = performance.now();
    await Promise.all(
      Array.from({ length: opts.concurrency }, async () => {
        for (let j = next++; j < ids.length; j = next++) {
          const s = scopeOf(state);
          const r = replicas[j % 2]!;
          const t = performance.now();
          const [g] = await r.tiers.load(s, [{ kind: 'grants', id: ids[j]! }]);
          ms.push(performance.now() - t);
          if (!(g instanceof UserGrants)) throw new Error(`simulate: no grants for ${ids[j]}`);
        }
      }),
    );
    const measureSeconds = (performance.now() - t1) / 1000;
    const after = await Promise.all(replicas.map((r) => cacheCounts(r.metrics)));
    const lookupMs = dist(ms);
    ids.length = 0;
    ms.length = 0;
    collect();
    const heapBytes = process.memoryUsage().heapUsed - heap0;
    const entries = replicas.map((r) => r.l1.kind('grants').size);
    const newer = String(BigInt(state.org.version) + 1n);
    const drops: SimResult['drops'] = [];
    for (const r of replicas) {
      const h = monitorEventLoopDelay({ resolution: 1 });
      h.enable();
      const t = performance.now();
      r.l1.dropOlder(state.org.id, newer);
      const callMs = performance.now() - t;
      while (r.l1.kind('grants').size > 0 && performance.now() - t < 30_000)
        await new Promise((res) => setImmediate(res));
      const totalMs = performance.now() - t;
      h.disable();
      drops.push({ callMs, totalMs, stallMs: Math.max(callMs, h.max / 1e6) });
    }
    return {
      entries,
      heapBytes,
      drops,
      l1Size: opts.l1Size,
      replicas: after.map((a, i) => {
        const b = before[i]!;
        return {
          l1Hit: a.l1Hit - b.l1Hit,
          l1Miss: a.l1Miss - b.l1Miss,
          l2Hit: a.l2Hit - b.l2Hit,
          l2Miss: a.l2Miss - b.l2Miss,
          redisErrors: a.redisErrors - b.redisErrors,
        };
      }),
      lookupMs,
      prefixSeconds,
      measureSeconds,
    };
  } finally {
    await Promise.all(replicas.map((r) => r.shared.close()));
  }
}
