import DataLoader from 'dataloader';
import type { Tiers } from '../cache/tiers';
import { UserGrants, type CompiledCatalog, type Subject } from '../engine';
import type { Assignment, Location, Store, Team, User } from '../store';

/** What a request knows about its organization when it builds its loaders. */
export interface LoaderScope {
  orgId: string;
  /** The version the request read first: the cache key for everything it loads. */
  version: string;
  catalog: CompiledCatalog;
  now: number;
  /** The cache levels (in process, Redis); absent: every load reads the store. */
  tiers?: Tiers;
}

/**
 * The request's loaders: fresh for every request, never shared, each bound to the viewer's
 * organization. A batch returns exactly one entry per key, null for an id that names nothing here.
 * Compiled grants and location paths go through the cache levels, keyed by the version the request
 * read; one batch of both costs at most one Redis round trip and one store call per kind.
 */
export function createLoaders(store: Store, scope: LoaderScope) {
  const { orgId, version, catalog, now, tiers } = scope;

  const subjects = new DataLoader<string, Subject | null>(async (ids) => {
    const l1 = tiers?.l1?.subjects;
    const out = ids.map((id) => l1?.get(orgId, version, id));
    const missing = ids.filter((_, i) => out[i] === undefined);
    if (missing.length) {
      const loaded = await store.subjects(orgId, missing);
      let j = 0;
      ids.forEach((id, i) => {
        if (out[i] !== undefined) return;
        const s = loaded[j++] ?? null;
        out[i] = s ?? undefined;
        if (s) l1?.set(orgId, version, id, s);
      });
    }
    return out.map((s) => s ?? null);
  });

  const sources = {
    grants: async (ids: string[]) =>
      (await store.subjects(orgId, ids)).map((s) => (s ? new UserGrants(catalog, s, now) : null)),
    paths: (ids: string[]) => store.locations.paths(orgId, ids),
  };
  /** Grants and paths asked for in the same tick share one batch (`kind` tells them apart). */
  const cached = new DataLoader<string, UserGrants | string[] | null>(
    async (keys) => {
      const wanted = keys.map((k) => ({
        kind: k[0] === 'g' ? ('grants' as const) : ('path' as const),
        id: k.slice(2),
      }));
      if (tiers) return tiers.load({ orgId, version, catalog, now }, wanted, sources);
      const [grants, paths] = await Promise.all([
        sources.grants(wanted.filter((w) => w.kind === 'grants').map((w) => w.id)),
        sources.paths(wanted.filter((w) => w.kind === 'path').map((w) => w.id)),
      ]);
      let g = 0;
      let p = 0;
      return wanted.map((w) => (w.kind === 'grants' ? grants[g++] : paths[p++]) ?? null);
    },
    { cacheKeyFn: (k) => k },
  );

  return {
    users: new DataLoader<string, User | null>((ids) => store.users.getMany(orgId, ids)),
    assignmentsOf: new DataLoader<string, Assignment[]>((ids) => store.assignments.forUsers(orgId, ids)),
    assignments: new DataLoader<string, Assignment | null>((ids) => store.assignments.getMany(orgId, ids)),
    locations: new DataLoader<string, Location | null>((ids) => store.locations.getMany(orgId, ids)),
    teams: new DataLoader<string, Team | null>((ids) => store.teams.getMany(orgId, ids)),
    /** Child locations of many parents in one query (a list of locations asking for theirs). */
    children: new DataLoader<string, Location[]>((ids) => store.locations.childrenOfMany(orgId, ids)),
    /** A user's state, flags and assignments as stored (for explanations). */
    subjects,
    /** A user's compiled grants (null: no such user); reused until the next assignment expires. */
    grants: {
      load: (userId: string) => cached.load(`g:${userId}`) as Promise<UserGrants | null>,
    },
    /** A location and its ancestors, nearest first, for the engine (null: no such location). */
    paths: {
      load: (locationId: string) => cached.load(`p:${locationId}`) as Promise<string[] | null>,
    },
  };
}

export type Loaders = ReturnType<typeof createLoaders>;
