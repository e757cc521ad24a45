import { LRUCache } from 'lru-cache';

/**
 * The in-process cache (level 1): a bounded LRU per kind of entry (compiled grants, location paths, …).
 * Every key carries the organization and the version a request read from the store *before* loading
 * anything, so an entry never holds data older than its version: once a write has returned (and bumped
 * the version), no later request reads its key, and the state before the write is never used again.
 * An entry's lifetime is fixed when it is written; reads do not extend it.
 */
export interface L1Options {
  /** Entries kept per kind (by the kind's name); a kind not named keeps DEFAULT_MAX. */
  max?: Record<string, number>;
  /** How long an entry lives, ms. Default 10 minutes. */
  ttlMs?: number;
}

const DEFAULT_MAX = 100_000;

export class L1Cache {
  private readonly kinds = new Map<string, VersionedLru<object>>();
  readonly ttlMs: number;

  constructor(private readonly options: L1Options = {}) {
    this.ttlMs = options.ttlMs ?? 10 * 60_000;
  }

  /** The LRU of one kind of entry, made on first use. */
  kind<T extends object>(name: string): VersionedLru<T> {
    let lru = this.kinds.get(name);
    if (!lru)
      this.kinds.set(name, (lru = new VersionedLru(this.options.max?.[name] ?? DEFAULT_MAX, this.ttlMs)));
    return lru as unknown as VersionedLru<T>;
  }

  /** A write reached `version` (heard over pub/sub): entries of older versions are never read again. */
  dropOlder(orgId: string, version: string): void {
    const v = BigInt(version);
    for (const lru of this.kinds.values()) lru.dropOlder(orgId, v);
  }

  /** Drops everything (Redis came back: invalidations may have been missed). */
  clear(): void {
    for (const lru of this.kinds.values()) lru.clear();
  }
}

/** Entries dropped per turn of the event loop when a newer version is heard of. */
const DROP_CHUNK = 1_000;

/**
 * A bounded LRU whose entries are keyed by (organization, version, id), with an index by organization
 * and version so that the entries of older versions can be dropped when a newer one is heard of.
 * Dropping is spread over turns of the event loop (DROP_CHUNK entries at a time): those entries are
 * never read again (their version is past), so there is no hurry, and a large cache must not stall
 * the requests in flight.
 */
export class VersionedLru<T extends object> {
  private readonly lru: LRUCache<string, T>;
  /** Keys held per organization and version. */
  private readonly byOrg = new Map<string, Map<string, Set<string>>>();

  constructor(max: number, ttl: number) {
    this.lru = new LRUCache<string, T>({
      max,
      ttl,
      updateAgeOnGet: false,
      dispose: (_value, k, reason) => {
        if (reason !== 'set') this.unindex(k);
      },
    });
  }

  get(orgId: string, version: string, id: string): T | undefined {
    return this.lru.get(key(orgId, version, id));
  }

  /** Stores an entry; `ttlMs` shortens its lifetime (never lengthens it past the default). */
  set(orgId: string, version: string, id: string, value: T, ttlMs?: number): void {
    const k = key(orgId, version, id);
    this.lru.set(k, value, ttlMs !== undefined ? { ttl: Math.max(1, Math.min(ttlMs, this.lru.ttl)) } : {});
    let versions = this.byOrg.get(orgId);
    if (!versions) this.byOrg.set(orgId, (versions = new Map()));
    let keys = versions.get(version);
    if (!keys) versions.set(version, (keys = new Set()));
    keys.add(k);
  }

  /** Drops the organization's entries of versions before `version`, a chunk per turn of the event loop. */
  dropOlder(orgId: string, version: bigint): void {
    const versions = this.byOrg.get(orgId);
    if (!versions) return;
    const doomed: Set<string>[] = [];
    for (const [v, keys] of versions) {
      if (BigInt(v) >= version) continue;
      versions.delete(v); // unindexed now: the deletes below do not touch these sets
      doomed.push(keys);
    }
    if (!versions.size) this.byOrg.delete(orgId);
    if (!doomed.length) return;
    const keys = (function* () {
      for (const set of doomed) yield* set;
    })();
    const step = () => {
      for (let i = 0; i < DROP_CHUNK; i++) {
        const next = keys.next();
        if (next.done) return;
        this.lru.delete(next.value);
      }
      setImmediate(step);
    };
    step();
  }

  clear(): void {
    this.lru.clear();
    this.byOrg.clear();
  }

  get size(): number {
    return this.lru.size;
  }

  private unindex(k: string): void {
    const [orgId, version] = k.split('\0', 2) as [string, string];
    const versions = this.byOrg.get(orgId);
    const keys = versions?.get(version);
    if (!keys) return;
    keys.delete(k);
    if (!keys.size) versions!.delete(version);
    if (!versions!.size) this.byOrg.delete(orgId);
  }
}

function key(orgId: string, version: string, id: string): string {
  return `${orgId}\0${version}\0${id}`;
}
