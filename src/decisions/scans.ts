import { decide, grantLocations, UserGrants } from '../engine';
import { StoreError, type HolderQuery, type Location, type Store, type User } from '../store';
import type { Authz } from './authz';
import type { Loaders } from './loaders';

/** Locations read per step of a whereCan walk. */
const LOCATION_BATCH = 500;
/** Candidates read per step of a whoCan: the first step reads a little more than the page, then doubling. */
const MIN_CANDIDATES = 32;
const MAX_CANDIDATES = 1000;

/** What the reverse queries read from the store. */
export type ScanSources = Pick<Store, 'assignments' | 'locations' | 'users' | 'usersWithSubjects'>;

/**
 * The reverse questions (who can, where can), answered from candidates rather than by scanning the
 * organization: whoCan reads the holders of the roles and flags that may grant the permission, at the
 * scopes where they count; whereCan walks the subtrees of the user's own assignments. The engine
 * confirms each candidate with `decide`, as a check would (rules 5–8 still apply), and pages are in id
 * order after an id cursor, so a page is exact and complete, and paging while writes happen never
 * lists anyone twice nor skips anyone present throughout. One per request, over the request's decision
 * service.
 */
export class Scans {
  constructor(
    private readonly authz: Authz,
    private readonly loaders: Loaders,
    private readonly store: ScanSources,
    /** Called between the steps of a long query: throws to stop it (the request's deadline). */
    private readonly checkpoint?: () => void,
  ) {}

  private get orgId(): string {
    return this.authz.viewer.orgId;
  }

  /**
   * Every user holding `permission` at a location (default: the root), for a resource of `teamIds`
   * (held in one of them, rule 3), in id order after `after`: `limit` of them at most. The cost follows
   * the candidates (the holders of the roles that grant it there, and of the flags that grant it), not
   * the organization.
   */
  async whoCan(
    permission: string,
    locationId: string | null | undefined,
    teamIds: readonly string[],
    page: { limit: number; after?: string | null },
  ): Promise<User[]> {
    const { catalog } = this.authz;
    const { bit, ui } = catalog.resolve(permission);
    const locationPath = await this.authz.pathOf(locationId);
    if (!locationPath) throw new StoreError('NOT_FOUND', `location ${locationId} does not exist`);
    const { roles, flags } = catalog.grantersOf(bit);
    const keys = (kinds: readonly string[]) => roles.filter((r) => kinds.includes(r.kind)).map((r) => r.key);
    const query: HolderQuery = {
      // An assignment counts only at a scope its role's kind fits (`fitsScope`): org and location roles
      // at the root, location roles at locations, team roles in teams.
      orgRoles: keys(['org', 'location']),
      locationRoles: keys(['location']),
      locationIds: locationPath,
      teamRoles: keys(['team']),
      teamIds,
      flags,
      // With no resource named, a restricted assignment grants only pages and modules (rule 5).
      restricted: ui,
      at: new Date(this.authz.now),
    };
    const req = { permission, locationPath, teamIds };
    const found: User[] = [];
    let cursor = page.after ?? null;
    let batch = Math.min(MAX_CANDIDATES, Math.max(MIN_CANDIDATES, page.limit + (page.limit >> 2)));
    for (;;) {
      const { userIds: ids, done } = await this.store.assignments.holders(this.orgId, query, {
        first: batch,
        after: cursor,
      });
      const loaded = ids.length ? await this.store.usersWithSubjects(this.orgId, ids) : [];
      for (const entry of loaded) {
        if (!entry) continue; // gone since the candidates were read
        const grants = new UserGrants(catalog, entry.subject, this.authz.now);
        if (decide(catalog, grants, req, this.authz.state.policies) !== 'ALLOW') continue;
        found.push(entry.user);
        if (found.length >= page.limit) return found;
      }
      if (done || !ids.length) return found;
      cursor = ids[ids.length - 1]!;
      batch = Math.min(MAX_CANDIDATES, batch * 2);
      // A long query lets other requests (and /healthz) run between steps, and stops at the deadline.
      await new Promise<void>((resolve) => setImmediate(resolve));
      this.checkpoint?.();
    }
  }

  /** Every active user with `flag` set, in id order after `after`: `limit` at most. */
  async withFlag(flag: string, page: { limit: number; after?: string | null }): Promise<User[]> {
    return this.store.users.withFlag(this.orgId, flag, { first: page.limit, after: page.after });
  }

  /**
   * Every location where a user holds `permission`, in id order after `after`: `limit` at most. Held at
   * the root, it is held everywhere below (a location's grants are the root's and more: rules 2 and 7
   * are monotone), so every location is listed; otherwise only the subtrees of the locations where the
   * user holds an assignment can gain it, and only those are walked.
   */
  async whereCan(
    userId: string,
    permission: string,
    page: { limit: number; after?: string | null },
  ): Promise<Location[]> {
    const { catalog } = this.authz;
    const { bit, ui } = catalog.resolve(permission);
    const grants = await this.loaders.grants.load(userId);
    if (!grants) throw new StoreError('NOT_FOUND', `user ${userId} does not exist`);
    if (!grants.active) return [];
    const policies = this.authz.state.policies;
    const atRoot = decide(catalog, grants, { permission, locationPath: [] }, policies) === 'ALLOW';
    // Held at the root but not allowed (a tool's policy, rule 9): the same everywhere.
    if (!atRoot && grants.holds({ locationPath: [] }, bit, ui)) return [];
    const under = atRoot ? undefined : grantLocations(grants);
    if (under && !under.length) return [];
    const found: Location[] = [];
    let cursor = page.after ?? null;
    for (;;) {
      const locations = await this.store.locations.list(this.orgId, {
        first: LOCATION_BATCH,
        after: cursor,
        under,
      });
      for (const l of locations) {
        const locationPath = [...l.path].reverse();
        if (!atRoot && decide(catalog, grants, { permission, locationPath }, policies) !== 'ALLOW') continue;
        found.push(l);
        if (found.length >= page.limit) return found;
      }
      if (locations.length < LOCATION_BATCH) return found;
      cursor = locations[locations.length - 1]!.id;
      await new Promise<void>((resolve) => setImmediate(resolve));
      this.checkpoint?.();
    }
  }
}
