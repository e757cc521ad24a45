import DataLoader from 'dataloader';
import { UserGrants, type CompiledCatalog, type Subject } from '../engine';
import {
  toEngineAssignment,
  type Assignment,
  type Location,
  type Store,
  type Team,
  type User,
} from '../store';

/**
 * The request's loaders: fresh for every request, never shared, each bound to the viewer's
 * organization. A batch returns exactly one entry per key, null for an id that names nothing here.
 */
export function createLoaders(store: Store, orgId: string, catalog: CompiledCatalog, now: number) {
  const users = new DataLoader<string, User | null>((ids) => store.users.getMany(orgId, ids));
  const assignmentsOf = new DataLoader<string, Assignment[]>((ids) => store.assignments.forUsers(orgId, ids));
  const locations = new DataLoader<string, Location | null>((ids) => store.locations.getMany(orgId, ids));
  const teams = new DataLoader<string, Team | null>((ids) => store.teams.getMany(orgId, ids));

  const subjects = new DataLoader<string, Subject | null>(async (ids) => {
    const [found, given] = await Promise.all([users.loadMany(ids), assignmentsOf.loadMany(ids)]);
    return ids.map((_, i) => {
      const u = found[i];
      const a = given[i];
      if (u instanceof Error) return u;
      if (a instanceof Error) return a;
      if (!u) return null;
      return {
        userId: u.id,
        locked: u.locked,
        deleted: u.deletedAt !== null,
        flags: u.flags,
        assignments: a!.map(toEngineAssignment),
      };
    });
  });

  return {
    users,
    assignmentsOf,
    locations,
    teams,
    subjects,
    /** A user's compiled grants (null: no such user). */
    grants: new DataLoader<string, UserGrants | null>(async (ids) => {
      const found = await subjects.loadMany(ids);
      return found.map((s) => (s instanceof Error ? s : s ? new UserGrants(catalog, s, now) : null));
    }),
    /** A location and its ancestors, nearest first, for the engine (null: no such location). */
    paths: new DataLoader<string, string[] | null>(async (ids) =>
      (await locations.loadMany(ids)).map((l) => (l instanceof Error ? l : l ? [...l.path].reverse() : null)),
    ),
  };
}

export type Loaders = ReturnType<typeof createLoaders>;
