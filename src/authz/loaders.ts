import DataLoader from 'dataloader';
import { L1Cache } from '../cache/l1';
import { UserGrants, type CompiledCatalog, type Subject } from '../engine';
import type { Assignment, Location, Store, Team, User } from '../store';

/** What a request knows about its organization when it builds its loaders. */
export interface LoaderScope {
  orgId: string;
  /** The version the request read first: the cache key for everything it loads. */
  version: string;
  catalog: CompiledCatalog;
  now: number;
  cache?: L1Cache;
}

/**
 * The request's loaders: fresh for every request, never shared, each bound to the viewer's
 * organization. A batch returns exactly one entry per key, null for an id that names nothing here.
 * Subjects, grants and location paths go through the in-process cache, keyed by the version the
 * request read; the misses of a batch cost one store call.
 */
export function createLoaders(store: Store, scope: LoaderScope) {
  const { orgId, version, catalog, now, cache } = scope;
  const key = (id: string) => L1Cache.key(orgId, version, id);

  /** One batch: cached entries first, the misses from `load` in one call, then cached. */
  const through =
    <T>(
      lru: { get(k: string): T | undefined; set(k: string, v: T): unknown } | undefined,
      load: (ids: string[]) => Promise<(T | null)[]>,
    ) =>
    async (ids: readonly string[]): Promise<(T | null)[]> => {
      const out: (T | null | undefined)[] = ids.map((id) => lru?.get(key(id)));
      const missing = [...new Set(ids.filter((_, i) => out[i] === undefined))];
      if (missing.length) {
        const loaded = await load(missing);
        const byId = new Map(missing.map((id, i) => [id, loaded[i] ?? null]));
        ids.forEach((id, i) => {
          if (out[i] !== undefined) return;
          const value = byId.get(id) ?? null;
          out[i] = value;
          if (value !== null) lru?.set(key(id), value);
        });
      }
      return out as (T | null)[];
    };

  const subjects = new DataLoader<string, Subject | null>(
    through<Subject>(cache?.subjects, (ids) => store.subjects(orgId, ids)),
  );

  return {
    users: new DataLoader<string, User | null>((ids) => store.users.getMany(orgId, ids)),
    assignmentsOf: new DataLoader<string, Assignment[]>((ids) => store.assignments.forUsers(orgId, ids)),
    locations: new DataLoader<string, Location | null>((ids) => store.locations.getMany(orgId, ids)),
    teams: new DataLoader<string, Team | null>((ids) => store.teams.getMany(orgId, ids)),
    /** Child locations of many parents in one query (a list of locations asking for theirs). */
    children: new DataLoader<string, Location[]>((ids) => store.locations.childrenOfMany(orgId, ids)),
    subjects,
    /** A user's compiled grants (null: no such user); reused until the next assignment expires. */
    grants: new DataLoader<string, UserGrants | null>(async (ids) => {
      const found = await subjects.loadMany(ids);
      return found.map((s, i) => {
        if (s instanceof Error || !s) return s;
        const k = key(ids[i]!);
        const kept = cache?.grants.get(k);
        if (kept && now < kept.validUntil) return kept;
        const grants = new UserGrants(catalog, s, now);
        cache?.grants.set(k, grants);
        return grants;
      });
    }),
    /** A location and its ancestors, nearest first, for the engine (null: no such location). */
    paths: new DataLoader<string, string[] | null>(
      through<string[]>(cache?.paths, (ids) => store.locations.paths(orgId, ids)),
    ),
  };
}

export type Loaders = ReturnType<typeof createLoaders>;
