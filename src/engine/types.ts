import type { ToolMode } from '../catalog/schema';

/**
 * The engine's input: plain data, fed by the store and the cache in the gateway, or written by hand
 * in tests. Nothing here refers to GraphQL, SQL or Redis.
 */

export type Outcome = 'ALLOW' | 'DENY' | 'REQUIRES_APPROVAL';

/** Someone the engine decides for. */
export interface Subject {
  userId: string;
  /** A locked user holds no permission (rule 8). Default false. */
  locked?: boolean;
  /** A (soft-)deleted user holds no permission (rule 8). Default false. */
  deleted?: boolean;
  /** The user's flags, e.g. `billing_admin`. Unknown flags are ignored. */
  flags?: readonly string[];
  /**
   * The teams the user is a member of: team roles count only in these (rule 3). Default: none, so a
   * team role of someone with no membership counts for nothing.
   */
  memberOf?: readonly string[];
  assignments: readonly Assignment[];
}

/**
 * A role given to a user at a scope. The scope is the organization root when neither `locationId` nor
 * `teamId` is set, a location (and, by cascade, all below it) with `locationId`, a team with `teamId`.
 * An assignment that does not fit its role (an unknown role, a team role outside a team, an org role at
 * a location, both a location and a team) counts for nothing.
 */
export interface Assignment {
  id: string;
  /** The role's key, built-in or custom. */
  role: string;
  locationId?: string | null;
  teamId?: string | null;
  /** Restricted to one staff person: counts only for resources of that person (rule 5). */
  personId?: string | null;
  /** Restricted to staff groups: counts only for resources in one of these groups (rule 5). */
  groupIds?: readonly string[] | null;
  /** Counts for nothing from this instant on (epoch milliseconds). */
  expiresAt?: number | null;
}

/** What is being asked: may the subject do `permission` here, to this resource? */
export interface CheckRequest {
  /** `module:action`, `page:x`, `nav:x`, or `tool:name` for an agent tool. */
  permission: string;
  /**
   * The location and its ancestors up to (not including) the organization root, nearest first.
   * Empty or omitted: the organization root itself.
   */
  locationPath?: readonly string[];
  /**
   * Teams a team-based resource belongs to (rule 3): the permission holds if it holds in one of them,
   * judged on the organization and location grants plus that one team's grants (never summed across).
   */
  teamIds?: readonly string[];
  /** The staff person of the resource (rule 5). */
  personId?: string | null;
  /** The staff groups of the resource (rule 5). */
  groupIds?: readonly string[];
}

/** The organization's tool policies, overriding the catalog's defaults (rule 9). */
export type ToolPolicies = Readonly<Record<string, ToolMode>>;
