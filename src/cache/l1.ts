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
  /** Subjects (a user's flags, state and assignments) kept. Default 100,000. */
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
  readonly subjects: LRUCache<string, Subject>;
  /** Compiled grants; each also expires at its own `validUntil` (the next assignment expiry). */
  readonly grants: LRUCache<string, UserGrants>;
  readonly paths: LRUCache<string, string[]>;
  readonly orgStates: LRUCache<string, OrgState>;
  /** Verified JWTs: the token's own expiry bounds each entry (never beyond `ttlMs`). */
  readonly tokens: LRUCache<string, Viewer>;

  constructor(options: L1Options = {}) {
    const ttl = options.ttlMs ?? 10 * 60_000;
    this.subjects = new LRUCache({ max: options.subjects ?? 100_000, ttl, updateAgeOnGet: false });
    this.grants = new LRUCache({ max: options.subjects ?? 100_000, ttl, updateAgeOnGet: false });
    this.paths = new LRUCache({ max: options.paths ?? 100_000, ttl, updateAgeOnGet: false });
    this.orgStates = new LRUCache({ max: options.orgStates ?? 1_000, ttl, updateAgeOnGet: false });
    this.tokens = new LRUCache({ max: options.tokens ?? 10_000, ttl, updateAgeOnGet: false });
  }

  static key(orgId: string, version: string, id: string): string {
    return `${orgId}\0${version}\0${id}`;
  }
}
