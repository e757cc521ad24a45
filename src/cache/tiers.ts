import { decodeGrants, encodeGrants, UserGrants, type CompiledCatalog } from '../engine';
import type { Metrics } from '../metrics/metrics';
import { asError } from '../store/errors';
import type { L1Cache } from './l1';
import { SharedCache } from './redis';

/** What the tiers cache per organization version: compiled grants by user, location paths by location. */
export type Kind = 'grants' | 'path';

/** Where misses are read from: the store, one call per kind for any number of ids. */
export interface Sources {
  grants(ids: string[]): Promise<(UserGrants | null)[]>;
  paths(ids: string[]): Promise<(string[] | null)[]>;
}

/** The version of an organization a request reads at. */
export interface TierScope {
  orgId: string;
  version: string;
  catalog: CompiledCatalog;
  now: number;
}

type Value = UserGrants | string[];

/**
 * The cache levels behind a request's loaders, shared by every request of the process: the in-process
 * LRU (level 1), then Redis (level 2, when configured), then the store. One batch costs at most one
 * Redis round trip (MGET) and one store call per kind for what neither level had. A miss another
 * request is already loading is not loaded twice: it waits for that load (its key carries the same
 * organization and version, so the answer is the same).
 */
export class Tiers {
  private readonly inflight = new Map<string, Promise<Value | null>>();

  constructor(
    readonly l1?: L1Cache,
    readonly shared?: SharedCache,
    private readonly metrics?: Metrics,
  ) {}

  /** One entry per key (`kind` and `id`), in order: a value, null when it names nothing, or an Error. */
  async load(
    scope: TierScope,
    keys: readonly { kind: Kind; id: string }[],
    sources: Sources,
  ): Promise<(Value | null | Error)[]> {
    const { orgId, version } = scope;
    const out: (Value | null | Error | undefined)[] = keys.map(({ kind, id }) =>
      this.fromL1(scope, kind, id),
    );
    this.count('l1', out.filter((v) => v !== undefined).length, out.filter((v) => v === undefined).length);

    // Misses: join another request's load, or load here (and let others join this one).
    const joined: { i: number; promise: Promise<Value | null> }[] = [];
    const mine = new Map<string, { kind: Kind; id: string; at: number[]; settle: Settle }>();
    keys.forEach(({ kind, id }, i) => {
      if (out[i] !== undefined) return;
      const flight = `${orgId}\0${version}\0${kind}\0${id}`;
      const own = mine.get(flight);
      if (own) return void own.at.push(i);
      const running = this.inflight.get(flight);
      if (running) return void joined.push({ i, promise: running });
      let settle!: Settle;
      const promise = new Promise<Value | null>((resolve, reject) => (settle = { resolve, reject }));
      promise.catch(() => {}); // rejections reach the joiners; this copy must not be unhandled
      this.inflight.set(flight, promise);
      mine.set(flight, { kind, id, at: [i], settle });
    });

    if (mine.size) {
      const entries = [...mine.entries()];
      try {
        const found = await this.fromL2(
          scope,
          entries.map(([, e]) => e),
        );
        const toStore: { kind: Kind; id: string; flight: string }[] = [];
        entries.forEach(([flight, e], j) => {
          const value = found[j];
          if (value === undefined) return void toStore.push({ kind: e.kind, id: e.id, flight });
          this.toL1(scope, e.kind, e.id, value);
          finish(e, value);
        });
        await this.fromStore(scope, toStore, sources, (flight, value) => finish(mine.get(flight)!, value));
      } catch (err) {
        for (const e of mine.values()) finish(e, asError(err));
      } finally {
        for (const flight of mine.keys()) this.inflight.delete(flight);
      }
    }
    await Promise.all(
      joined.map(async ({ i, promise }) => {
        out[i] = await promise.catch(asError);
      }),
    );
    // Grants compiled for another request count assignments at its instant: one that expired since,
    // before this request's instant, must not count here. Those are compiled again, for this request.
    const stale = joined.filter(({ i }) => {
      const v = out[i];
      return v instanceof UserGrants && scope.now >= v.validUntil;
    });
    if (stale.length) {
      try {
        const fresh = await sources.grants(stale.map(({ i }) => keys[i]!.id));
        stale.forEach(({ i }, j) => (out[i] = fresh[j] ?? null));
      } catch (err) {
        for (const { i } of stale) out[i] = asError(err);
      }
    }
    return out as (Value | null | Error)[];

    function finish(e: { at: number[]; settle: Settle }, value: Value | null | Error): void {
      for (const i of e.at) out[i] = value;
      if (value instanceof Error) e.settle.reject(value);
      else e.settle.resolve(value);
    }
  }

  private fromL1(scope: TierScope, kind: Kind, id: string): Value | undefined {
    if (!this.l1) return undefined;
    if (kind === 'path') return this.l1.paths.get(scope.orgId, scope.version, id);
    const g = this.l1.grants.get(scope.orgId, scope.version, id);
    return g && scope.now < g.validUntil ? g : undefined;
  }

  private toL1(scope: TierScope, kind: Kind, id: string, value: Value | null): void {
    if (!this.l1 || value === null) return;
    if (kind === 'path') this.l1.paths.set(scope.orgId, scope.version, id, value as string[]);
    else this.l1.grants.set(scope.orgId, scope.version, id, value as UserGrants);
  }

  /** One MGET; undefined for a miss (or for everything when Redis does not answer). */
  private async fromL2(scope: TierScope, keys: { kind: Kind; id: string }[]): Promise<(Value | undefined)[]> {
    if (!this.shared?.up) return keys.map(() => undefined);
    let found: (Buffer | null)[];
    try {
      found = await this.shared.getMany(keys.map((k) => l2Key(scope, k.kind, k.id)));
    } catch {
      return keys.map(() => undefined); // counted as a Redis error; the store answers
    }
    const values = keys.map(({ kind, id }, i): Value | undefined => {
      const bytes = found[i];
      if (!bytes) return undefined;
      if (kind === 'path') return bytes.length ? bytes.toString('latin1').split(',') : [];
      const g = decodeGrants(scope.catalog, id, bytes);
      return g && scope.now < g.validUntil ? g : undefined;
    });
    this.count(
      'l2',
      values.filter((v) => v !== undefined).length,
      values.filter((v) => v === undefined).length,
    );
    return values;
  }

  /** One store call per kind; what it finds goes to both levels. */
  private async fromStore(
    scope: TierScope,
    keys: { kind: Kind; id: string; flight: string }[],
    sources: Sources,
    done: (flight: string, value: Value | null | Error) => void,
  ): Promise<void> {
    const byKind = (kind: Kind) => keys.filter((k) => k.kind === kind);
    const toL2: { key: string; value: Buffer; ttlMs?: number }[] = [];
    await Promise.all(
      (['grants', 'path'] as const).map(async (kind) => {
        const wanted = byKind(kind);
        if (!wanted.length) return;
        let values: (Value | null)[];
        try {
          values =
            kind === 'grants'
              ? await sources.grants(wanted.map((k) => k.id))
              : await sources.paths(wanted.map((k) => k.id));
        } catch (err) {
          for (const k of wanted) done(k.flight, asError(err));
          return;
        }
        wanted.forEach((k, i) => {
          const value = values[i] ?? null;
          this.toL1(scope, kind, k.id, value);
          if (value !== null && this.shared) {
            if (kind === 'path') {
              toL2.push({
                key: l2Key(scope, kind, k.id),
                value: Buffer.from((value as string[]).join(','), 'latin1'),
              });
            } else {
              const g = value as UserGrants;
              const ttlMs = g.validUntil === Infinity ? undefined : g.validUntil - scope.now;
              toL2.push({ key: l2Key(scope, kind, k.id), value: encodeGrants(g), ttlMs });
            }
          }
          done(k.flight, value);
        });
      }),
    );
    this.shared?.setMany(toL2);
  }

  private count(level: 'l1' | 'l2', hits: number, misses: number): void {
    if (!this.metrics) return;
    if (hits) this.metrics.cache.inc({ level, result: 'hit' }, hits);
    if (misses) this.metrics.cache.inc({ level, result: 'miss' }, misses);
  }
}

interface Settle {
  resolve(value: Value | null): void;
  reject(err: Error): void;
}

function l2Key(scope: TierScope, kind: Kind, id: string): string {
  return SharedCache.entryKey(scope.orgId, scope.version, kind, id);
}
