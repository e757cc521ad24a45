import DataLoader from 'dataloader';
import type { UserGrants, Subject } from '../engine';
import type {
  ApprovalRequest,
  Assignment,
  Location,
  Notification,
  NotificationAddresses,
  Store,
  Team,
  User,
} from '../store';
import type { RequestCache, RequestKinds, RequestScope } from './caches';

/**
 * The request's loaders: fresh for every request, never shared, each bound to the viewer's
 * organization. A batch returns exactly one entry per key, null for an id that names nothing here.
 * Compiled grants, location paths and subjects go through the read-through cache (`cache`), keyed by
 * the version the request read; one batch of grants and paths costs at most one Redis round trip and
 * one store call per kind.
 */
export function createLoaders(store: Store, cache: RequestCache, scope: RequestScope) {
  const { orgId } = scope;
  /** Cached kinds asked for in the same tick share one batch (`kind:id` keys). */
  const cached = new DataLoader<string, RequestKinds[keyof RequestKinds] | null>(
    (keys) =>
      cache.load(
        scope,
        keys.map((k) => {
          const at = k.indexOf(':');
          return { kind: k.slice(0, at) as keyof RequestKinds, id: k.slice(at + 1) };
        }),
      ),
    { cacheKeyFn: (k) => k },
  );
  const load =
    <N extends keyof RequestKinds>(kind: N) =>
    (id: string) =>
      cached.load(`${kind}:${id}`) as Promise<RequestKinds[N] | null>;

  return {
    users: new DataLoader<string, User | null>((ids) => store.users.getMany(orgId, ids)),
    assignmentsOf: new DataLoader<string, Assignment[]>((ids) => store.assignments.forUsers(orgId, ids)),
    assignments: new DataLoader<string, Assignment | null>((ids) => store.assignments.getMany(orgId, ids)),
    locations: new DataLoader<string, Location | null>((ids) => store.locations.getMany(orgId, ids)),
    teams: new DataLoader<string, Team | null>((ids) => store.teams.getMany(orgId, ids)),
    /** The live teams each user is a member of (ids). */
    teamsOf: new DataLoader<string, string[]>((ids) => store.teams.membershipsOf(orgId, ids)),
    /** A page of a team's members, for many teams in one query. */
    members: new DataLoader<{ teamId: string; after: string | null; first: number }, User[], string>(
      (pages) => store.users.membersOfTeams(orgId, pages),
      { cacheKeyFn: (p) => `${p.teamId}|${p.after ?? ''}|${p.first}` },
    ),
    /** Approval requests, as of the database's clock (a PENDING one past its expiry reads EXPIRED). */
    approvals: new DataLoader<string, ApprovalRequest | null>((ids) => store.approvals.getMany(orgId, ids)),
    /** Each approval request's notifications (the outbox), oldest first. */
    notificationsOf: new DataLoader<string, Notification[]>((ids) =>
      store.notifications.forRequests(orgId, ids),
    ),
    /** Where each user is notified (Slack member id, Teams address). */
    addresses: new DataLoader<string, NotificationAddresses | null>((ids) =>
      store.notifications.addresses(orgId, ids),
    ),
    /** Child locations of many parents in one query (a list of locations asking for theirs). */
    children: new DataLoader<string, Location[]>((ids) => store.locations.childrenOfMany(orgId, ids)),
    /** A user's state, flags and assignments as stored (for explanations). */
    subjects: { load: load('subjects') as (userId: string) => Promise<Subject | null> },
    /** A user's compiled grants (null: no such user); reused until the next assignment expires. */
    grants: { load: load('grants') as (userId: string) => Promise<UserGrants | null> },
    /** A location and its ancestors, nearest first, for the engine (null: no such location). */
    paths: { load: load('path') as (locationId: string) => Promise<string[] | null> },
    /** Where a grant at a location reaches, as a digest of its subtree (null: no such location). */
    extents: { load: load('extent') as (locationId: string) => Promise<{ digest: string } | null> },
  };
}

export type Loaders = ReturnType<typeof createLoaders>;
