import { LRUCache } from 'lru-cache';
import type { Viewer } from '../auth/tokens';
import type { Subject, UserGrants } from '../engine';
import type { OrgState } from '../authz/org-state';

/**
 * The in-process cache (level 1). Every key carries the organization and the version a request read
 * from the store *before* loading anything, so an entry never holds data older than its version:
 * once a write has returned (and bumped the version), no later request reads its key, and the state
 * before the write is never used again. An entry's lifetime is fixed when it is written; reads do not
 * extend it.
 */
export interface L1Options {
  /** Subjects and compiled grants kept (each). Default 100,000. */
  subjects?: number;
  /** Location paths kept. Default 100,000. */
  paths?: number;
  /** Organization states (compiled catalog, custom roles, tool policies) kept. Default 1,000. */
  orgStates?: number;
  /** Verified tokens kept. Default 10,000. */
  tokens?: number;
  /** How long an entry lives, ms. Default 10 minutes. */
  ttlMs?: number;
}

export class L1Cache {
  readonly subjects: VersionedLru<Subject>;
  /** Compiled grants; each also expires at its own `validUntil` (the next assignment expiry). */
  readonly grants: VersionedLru<UserGrants>;
  readonly paths: VersionedLru<string[]>;
  readonly orgStates: VersionedLru<OrgState>;
  /** Verified JWTs: the token's own expiry bounds each entry (never beyond `ttlMs`). */
  readonly tokens: LRUCache<string, Viewer>;

  constructor(options: L1Options = {}) {
    const ttl = options.ttlMs ?? 10 * 60_000;
    this.subjects = new VersionedLru(options.subjects ?? 100_000, ttl);
    this.grants = new VersionedLru(options.subjects ?? 100_000, ttl);
    this.paths = new VersionedLru(options.paths ?? 100_000, ttl);
    this.orgStates = new VersionedLru(options.orgStates ?? 1_000, ttl);
    this.tokens = new LRUCache({ max: options.tokens ?? 10_000, ttl, updateAgeOnGet: false });
  }

  /** A write reached `version` (heard over pub/sub): entries of older versions are never read again. */
  dropOlder(orgId: string, version: string): void {
    const v = BigInt(version);
    for (const lru of [this.subjects, this.grants, this.paths, this.orgStates]) lru.dropOlder(orgId, v);
  }

  /** Drops everything versioned (Redis came back: invalidations may have been missed). */
  clear(): void {
    for (const lru of [this.subjects, this.grants, this.paths, this.orgStates]) lru.clear();
  }
}

/**
 * A bounded LRU whose entries are keyed by (organization, version, id), with an index by organization
 * so that the entries of older versions can be dropped when a newer one is heard of.
 */
export class VersionedLru<T extends object> {
  private readonly lru: LRUCache<string, T>;
  /** Keys held per organization, with their version. */
  private readonly byOrg = new Map<string, Map<string, bigint>>();

  constructor(max: number, ttl: number) {
    this.lru = new LRUCache<string, T>({
      max,
      ttl,
      updateAgeOnGet: false,
      dispose: (_value, key, reason) => {
        if (reason !== 'set') this.unindex(key);
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
    let keys = this.byOrg.get(orgId);
    if (!keys) this.byOrg.set(orgId, (keys = new Map()));
    keys.set(k, BigInt(version));
  }

  dropOlder(orgId: string, version: bigint): void {
    const keys = this.byOrg.get(orgId);
    if (!keys) return;
    for (const [k, v] of keys) if (v < version) this.lru.delete(k);
  }

  clear(): void {
    this.lru.clear();
    this.byOrg.clear();
  }

  get size(): number {
    return this.lru.size;
  }

  private unindex(k: string): void {
    const orgId = k.slice(0, k.indexOf('\0'));
    const keys = this.byOrg.get(orgId);
    if (!keys) return;
    keys.delete(k);
    if (!keys.size) this.byOrg.delete(orgId);
  }
}

function key(orgId: string, version: string, id: string): string {
  return `${orgId}\0${version}\0${id}`;
}
