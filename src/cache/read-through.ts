import type { Metrics } from '../metrics/metrics';
import { asError } from '../store';
import type { L1Cache, VersionedLru } from './l1';
import { SharedCache } from './redis';

/** The organization and version a request reads at: every cached entry is keyed by both. */
export interface VersionKey {
  orgId: string;
  version: string;
}

/** One kind of cached entry: where it comes from, and how it is kept at each level. */
export interface Kind<V, S extends VersionKey> {
  /** Loads entries: one call for any number of ids, one entry per id, null for an id naming nothing. */
  source(ids: string[], scope: S): Promise<(V | null)[]>;
  /** How the entry is kept in Redis; without one, the kind is kept in process only. */
  codec?: {
    encode(value: V, scope: S): Buffer;
    /** null: an entry this release cannot read (a miss). */
    decode(bytes: Buffer, id: string, scope: S): V | null;
  };
  /**
   * Whether a kept entry may answer `scope` (default: always). Compiled grants count the assignments
   * live at the instant they were compiled: they answer only until the next one expires.
   */
  usable?(value: V, scope: S): boolean;
  /** How long the entry may be kept from the scope's instant, ms (default: the level's lifetime). */
  ttlMs?(value: V, scope: S): number | undefined;
  /** Counted in `rolegate_cache_lookups_total` (default false). */
  counted?: boolean;
}

/** The levels behind a read-through: in process, then Redis (each optional), then the source. */
export interface Levels {
  l1?: L1Cache;
  shared?: SharedCache;
  metrics?: Metrics;
}

type Loaded<V> = V | null | Error;

interface Settle {
  resolve(value: unknown): void;
  reject(err: Error): void;
}

/**
 * A read-through cache for several kinds of entries, shared by every request of the process: the
 * in-process LRU (level 1), then Redis (level 2, signed entries), then the kind's source. One `load`
 * costs at most one Redis round trip (MGET) for every kind it asks, and one source call per kind for
 * what neither level had. A miss another request is already loading is not loaded twice: it waits for
 * that load (its key carries the same organization and version, so the answer is the same), unless
 * the answer is not usable at this request's instant, which is then loaded again.
 */
export class ReadThrough<K extends Record<string, object>, S extends VersionKey> {
  private readonly inflight = new Map<string, Promise<unknown>>();
  /** Whether a miss may join another request's load: with no level at all, every load reads the source. */
  private readonly joinable: boolean;
  /** Each kind's in-process LRU (none without an in-process level). */
  private readonly l1 = new Map<string, VersionedLru<object>>();

  constructor(
    private readonly kinds: { [N in keyof K & string]: Kind<K[N], S> },
    private readonly levels: Levels = {},
  ) {
    if (levels.l1) for (const kind of Object.keys(kinds)) this.l1.set(kind, levels.l1.kind(kind));
    this.joinable = Boolean(levels.l1 || levels.shared);
  }

  /** One entry of one kind: the value, or null when the id names nothing. Throws what the source threw. */
  async get<N extends keyof K & string>(scope: S, kind: N, id: string): Promise<K[N] | null> {
    const [value] = await this.load(scope, [{ kind, id }]);
    if (value instanceof Error) throw value;
    return value as K[N] | null;
  }

  /** One entry per key, in order: a value, null when it names nothing, or an Error. */
  async load(
    scope: S,
    keys: readonly { kind: keyof K & string; id: string }[],
  ): Promise<Loaded<K[keyof K]>[]> {
    const out: (Loaded<object> | undefined)[] = new Array(keys.length);
    let hits = 0;
    let misses = 0;
    let missing = false;
    for (let i = 0; i < keys.length; i++) {
      const { kind, id } = keys[i]!;
      const value = this.fromL1(scope, kind, id);
      out[i] = value;
      if (value === undefined) missing = true;
      if (!this.kinds[kind].counted) continue;
      if (value === undefined) misses++;
      else hits++;
    }
    this.count('l1', hits, misses);
    // Everything in process: the common case once warm, answered without more work.
    if (!missing) return out as Loaded<K[keyof K]>[];

    // Misses: join another request's load, or load here (and let others join this one).
    const joined: { i: number; promise: Promise<unknown> }[] = [];
    const mine = new Map<string, { kind: keyof K & string; id: string; at: number[]; settle: Settle }>();
    keys.forEach(({ kind, id }, i) => {
      if (out[i] !== undefined) return;
      const flight = `${scope.orgId}\0${scope.version}\0${kind}\0${id}`;
      const own = mine.get(flight);
      if (own) return void own.at.push(i);
      const running = this.joinable ? this.inflight.get(flight) : undefined;
      if (running) return void joined.push({ i, promise: running });
      let settle!: Settle;
      const promise = new Promise((resolve, reject) => (settle = { resolve, reject }));
      promise.catch(() => {}); // rejections reach the joiners; this copy must not be unhandled
      if (this.joinable) this.inflight.set(flight, promise);
      mine.set(flight, { kind, id, at: [i], settle });
    });

    if (mine.size) {
      const entries = [...mine.values()];
      const finish = (e: (typeof entries)[number], value: Loaded<object>) => {
        for (const i of e.at) out[i] = value;
        if (value instanceof Error) e.settle.reject(value);
        else e.settle.resolve(value);
      };
      try {
        const found = await this.fromL2(scope, entries);
        const toSource: typeof entries = [];
        entries.forEach((e, j) => {
          const value = found[j];
          if (value === undefined) return void toSource.push(e);
          this.toL1(scope, e.kind, e.id, value);
          finish(e, value);
        });
        await this.fromSource(scope, toSource, finish);
      } catch (err) {
        for (const e of entries) finish(e, asError(err));
      } finally {
        for (const flight of mine.keys()) this.inflight.delete(flight);
      }
    }
    await Promise.all(
      joined.map(async ({ i, promise }) => {
        out[i] = (await promise.catch(asError)) as Loaded<object>;
      }),
    );
    // An answer loaded for another request may not be usable at this one's instant (grants compiled
    // before an assignment expired): those are loaded again, for this request, from the source.
    const stale = joined.filter(({ i }) => {
      const value = out[i];
      return value != null && !(value instanceof Error) && !this.usable(keys[i]!.kind, value, scope);
    });
    for (const kind of new Set(stale.map(({ i }) => keys[i]!.kind))) {
      const again = stale.filter(({ i }) => keys[i]!.kind === kind);
      try {
        const fresh = await this.kinds[kind].source(
          again.map(({ i }) => keys[i]!.id),
          scope,
        );
        again.forEach(({ i }, j) => (out[i] = fresh[j] ?? null));
      } catch (err) {
        for (const { i } of again) out[i] = asError(err);
      }
    }
    return out as Loaded<K[keyof K]>[];
  }

  private usable(kind: keyof K & string, value: object, scope: S): boolean {
    const usable = this.kinds[kind].usable;
    return !usable || usable(value as K[typeof kind], scope);
  }

  private fromL1(scope: S, kind: keyof K & string, id: string): object | undefined {
    const value = this.l1.get(kind)?.get(scope.orgId, scope.version, id);
    return value && this.usable(kind, value, scope) ? value : undefined;
  }

  private toL1(scope: S, kind: keyof K & string, id: string, value: object | null): void {
    if (value === null) return;
    this.l1.get(kind)?.set(scope.orgId, scope.version, id, value);
  }

  /** One MGET for the kinds kept in Redis; undefined for a miss (or for everything when Redis does not answer). */
  private async fromL2(
    scope: S,
    keys: readonly { kind: keyof K & string; id: string }[],
  ): Promise<(object | undefined)[]> {
    const shared = this.levels.shared;
    const asked = keys.flatMap((k, i) => (this.kinds[k.kind].codec ? [i] : []));
    const out: (object | undefined)[] = keys.map(() => undefined);
    if (!shared?.up || !asked.length) return out;
    let found: (Buffer | null)[];
    try {
      found = await shared.getMany(asked.map((i) => entryKey(scope, keys[i]!.kind, keys[i]!.id)));
    } catch {
      return out; // counted as a Redis error; the source answers
    }
    let hits = 0;
    let misses = 0;
    asked.forEach((i, j) => {
      const { kind, id } = keys[i]!;
      const bytes = found[j];
      const value = bytes ? this.kinds[kind].codec!.decode(bytes, id, scope) : null;
      if (value !== null && this.usable(kind, value, scope)) out[i] = value;
      if (!this.kinds[kind].counted) return;
      if (out[i] === undefined) misses++;
      else hits++;
    });
    this.count('l2', hits, misses);
    return out;
  }

  /** One source call per kind; what it finds goes to both levels. */
  private async fromSource<E extends { kind: keyof K & string; id: string }>(
    scope: S,
    keys: E[],
    done: (e: E, value: Loaded<object>) => void,
  ): Promise<void> {
    const shared = this.levels.shared;
    const toL2: { key: string; value: Buffer; ttlMs?: number }[] = [];
    const kinds = [...new Set(keys.map((k) => k.kind))];
    await Promise.all(
      kinds.map(async (kind) => {
        const spec = this.kinds[kind];
        const wanted = keys.filter((k) => k.kind === kind);
        let values: (K[typeof kind] | null)[];
        try {
          values = await spec.source(
            wanted.map((k) => k.id),
            scope,
          );
        } catch (err) {
          for (const k of wanted) done(k, asError(err));
          return;
        }
        wanted.forEach((k, i) => {
          const value = values[i] ?? null;
          this.toL1(scope, kind, k.id, value);
          if (value !== null && shared && spec.codec)
            toL2.push({
              key: entryKey(scope, kind, k.id),
              value: spec.codec.encode(value, scope),
              ttlMs: spec.ttlMs?.(value, scope),
            });
          done(k, value);
        });
      }),
    );
    shared?.setMany(toL2);
  }

  private count(level: 'l1' | 'l2', hits: number, misses: number): void {
    const metrics = this.levels.metrics;
    if (!metrics) return;
    if (hits) metrics.cache.inc({ level, result: 'hit' }, hits);
    if (misses) metrics.cache.inc({ level, result: 'miss' }, misses);
  }
}

function entryKey(scope: VersionKey, kind: string, id: string): string {
  return SharedCache.entryKey(scope.orgId, scope.version, kind, id);
}
