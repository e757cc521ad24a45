import { L1Cache } from '../cache/l1';
import { ReadThrough, type Kind, type Levels, type VersionKey } from '../cache/read-through';
import type { SharedCache } from '../cache/redis';
import { decodeGrants, encodeGrants, UserGrants, type CompiledCatalog, type Subject } from '../engine';
import type { Metrics } from '../metrics/metrics';
import type { Store } from '../store';

/** What a request reads at: its organization's version, that version's catalog, and its instant. */
export interface RequestScope extends VersionKey {
  catalog: CompiledCatalog;
  now: number;
}

/** How many entries of each kind the gateway keeps in process, and for how long. */
export interface CacheSizes {
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

/** The in-process level for the kinds below, sized by `CacheSizes`. */
export function inProcessLevel(sizes: CacheSizes = {}): L1Cache {
  const max = sizes.subjects ?? 100_000;
  return new L1Cache({
    max: { subjects: max, grants: max, path: sizes.paths ?? 100_000, org: sizes.orgStates ?? 1_000 },
    ttlMs: sizes.ttlMs,
  });
}

/** The levels the process shares between requests: in process (optional), Redis (optional). */
export interface CacheLevels {
  l1?: L1Cache;
  shared?: SharedCache;
  metrics?: Metrics;
}

/** Per request, what is cached by organization version: compiled grants, location paths, subjects. */
export type RequestKinds = {
  /** A user's compiled grants; reused until the next of their assignments expires. */
  grants: UserGrants;
  /** A location and its ancestors, nearest first. */
  path: string[];
  /** A user's state, flags and assignments as stored (explanations); kept in process only. */
  subjects: Subject;
  /** Where a grant at a location reaches: a digest of its subtree (grants versions, src/engine/digest.ts). */
  extent: { digest: string };
};

export type RequestCache = ReadThrough<RequestKinds, RequestScope>;

/** The read-through cache of the request kinds over `store`, at the given levels. */
export function requestCache(store: Store, levels: Levels = {}): RequestCache {
  const grants: Kind<UserGrants, RequestScope> = {
    source: async (ids, { orgId, catalog, now }) =>
      (await store.subjects(orgId, ids)).map((s) => (s ? new UserGrants(catalog, s, now) : null)),
    codec: {
      encode: (g) => encodeGrants(g),
      decode: (bytes, id, { catalog }) => decodeGrants(catalog, id, bytes),
    },
    usable: (g, { now }) => now < g.validUntil,
    ttlMs: (g, { now }) => (g.validUntil === Infinity ? undefined : g.validUntil - now),
    counted: true,
  };
  const path: Kind<string[], RequestScope> = {
    source: (ids, { orgId }) => store.locations.paths(orgId, ids),
    codec: {
      encode: (p) => Buffer.from(p.join(','), 'latin1'),
      decode: (bytes) => (bytes.length ? bytes.toString('latin1').split(',') : []),
    },
    counted: true,
  };
  const subjects: Kind<Subject, RequestScope> = {
    source: (ids, { orgId }) => store.subjects(orgId, ids),
  };
  const extent: Kind<{ digest: string }, RequestScope> = {
    source: async (ids, { orgId }) =>
      (await store.locations.extents(orgId, ids)).map((digest) => (digest === null ? null : { digest })),
    codec: {
      encode: (e) => Buffer.from(e.digest, 'latin1'),
      decode: (bytes) => ({ digest: bytes.toString('latin1') }),
    },
  };
  return new ReadThrough<RequestKinds, RequestScope>({ grants, path, subjects, extent }, levels);
}
