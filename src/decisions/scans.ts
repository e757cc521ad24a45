import { decide, UserGrants } from '../engine';
import { StoreError, type Location, type Store, type User } from '../store';
import type { Authz } from './authz';
import type { Loaders } from './loaders';

/** Rows read per step when a query must scan users or locations. */
const SCAN_BATCH = 500;

/** The store's listings a scan reads, in id order (the organization's users and locations). */
export type ScanSources = Pick<Store, 'users' | 'locations' | 'subjects'>;

/**
 * The questions answered by scanning the organization (who can, where can): every user or location in
 * id order, each decided by the engine, so a page is exact and complete. One per request, over the
 * request's decision service; the cost grows with the organization (see the notes: candidates by role
 * next).
 */
export class Scans {
  constructor(
    private readonly authz: Authz,
    private readonly loaders: Loaders,
    private readonly store: ScanSources,
    /** Called between the batches of a long scan: throws to stop it (the request's deadline). */
    private readonly checkpoint?: () => void,
  ) {}

  private get orgId(): string {
    return this.authz.viewer.orgId;
  }

  /**
   * Every user holding `permission` at a location (default: the root), for a resource of `teamIds`
   * (held in one of them, rule 3), in id order after `after`: `limit` of them at most. Scans users in id
   * order and asks the engine about each, so a page is exact and complete; the cost grows with the
   * organization (see the notes: candidates by role next).
   */
  async whoCan(
    permission: string,
    locationId: string | null | undefined,
    teamIds: readonly string[],
    page: { limit: number; after?: string | null },
  ): Promise<User[]> {
    this.authz.catalog.resolve(permission);
    const locationPath = await this.authz.pathOf(locationId);
    if (!locationPath) throw new StoreError('NOT_FOUND', `location ${locationId} does not exist`);
    return scanMatches(
      (after) => this.store.users.list(this.orgId, { first: SCAN_BATCH, after }),
      async (users) => {
        const subjects = await this.store.subjects(
          this.orgId,
          users.map((u) => u.id),
        );
        return users.map((_, i) => {
          const subject = subjects[i];
          if (!subject) return false; // gone since the page was read
          const grants = new UserGrants(this.authz.catalog, subject, this.authz.now);
          return (
            decide(
              this.authz.catalog,
              grants,
              { permission, locationPath, teamIds },
              this.authz.state.policies,
            ) === 'ALLOW'
          );
        });
      },
      page,
      this.checkpoint,
    );
  }

  /** Every active user with `flag` set, in id order after `after`: `limit` at most. */
  async withFlag(flag: string, page: { limit: number; after?: string | null }): Promise<User[]> {
    return scanMatches(
      (after) => this.store.users.list(this.orgId, { first: SCAN_BATCH, after }),
      async (users) => users.map((u) => !u.locked && !u.deletedAt && u.flags.includes(flag)),
      page,
      this.checkpoint,
    );
  }

  /** Every location where a user holds `permission`, in id order after `after`: `limit` at most. */
  async whereCan(
    userId: string,
    permission: string,
    page: { limit: number; after?: string | null },
  ): Promise<Location[]> {
    this.authz.catalog.resolve(permission);
    const grants = await this.loaders.grants.load(userId);
    if (!grants) throw new StoreError('NOT_FOUND', `user ${userId} does not exist`);
    return scanMatches(
      (after) => this.store.locations.list(this.orgId, { first: SCAN_BATCH, after }),
      async (locations) =>
        locations.map(
          (l) =>
            decide(
              this.authz.catalog,
              grants,
              { permission, locationPath: [...l.path].reverse() },
              this.authz.state.policies,
            ) === 'ALLOW',
        ),
      page,
      this.checkpoint,
    );
  }
}

/**
 * The first `limit` items, in id order after `page.after`, that `matches` accepts: reads pages of
 * SCAN_BATCH until it has them or runs out, so a page of results is exact and complete.
 */
async function scanMatches<T extends { id: string }>(
  read: (after: string | null) => Promise<T[]>,
  matches: (items: T[]) => Promise<boolean[]>,
  page: { limit: number; after?: string | null },
  checkpoint?: () => void,
): Promise<T[]> {
  const found: T[] = [];
  let cursor = page.after ?? null;
  for (;;) {
    const items = await read(cursor);
    const accepted = await matches(items);
    for (let i = 0; i < items.length && found.length < page.limit; i++)
      if (accepted[i]) found.push(items[i]!);
    if (found.length >= page.limit || items.length < SCAN_BATCH) return found;
    cursor = items[items.length - 1]!.id;
    // A long scan lets other requests (and /healthz) run between batches, and stops at the deadline.
    await new Promise<void>((resolve) => setImmediate(resolve));
    checkpoint?.();
  }
}
