import { andInto, clearBit, emptyBits, hasAll, hasBit, isEmpty, orInto, type Bits } from './bitset';
import type { CompiledCatalog, CompiledRole } from './compile';
import type { Assignment, CheckRequest, Subject } from './types';

/**
 * A restricted assignment's grants (rule 5): they count only for a matching resource, and for pages and
 * navigation modules (not resources). Its own pages and modules are in the scope's unrestricted bucket.
 */
export interface RestrictedGrant {
  locationId: string | null;
  teamId: string | null;
  personId: string | null;
  groupIds: ReadonlySet<string>;
  /** The role's grants, its own pages and navigation modules left out. */
  bits: Bits;
  /** The role's `ownPersonGrants`: for resources of `personId` only; null without a person or none. */
  ownBits: Bits | null;
}

/** Everything a compiled `UserGrants` holds: what the shared cache stores, restored without the subject. */
export type GrantParts = Pick<
  UserGrants,
  | 'userId'
  | 'locked'
  | 'deleted'
  | 'active'
  | 'flags'
  | 'memberOf'
  | 'validUntil'
  | 'org'
  | 'byLocation'
  | 'byTeam'
  | 'restricted'
  | 'flagAdd'
  | 'flagKeep'
>;

/** Where a check is asked, and about which resource: a request without its permission. */
export type CheckScope = Omit<CheckRequest, 'permission'>;

/** Effective sets memoized per location, for checks that name no resource. Cleared when full. */
const MEMO_LIMIT = 1024;

/**
 * One user's grants, compiled against one catalog at one instant: every counted assignment's role
 * closure, bucketed by scope, plus the user's flag masks. Answering a check then costs a few bitset
 * operations. Built for one version of the organization (its tree, roles, the user's assignments and
 * team memberships); rebuild it when the version changes or at `validUntil`, when the next assignment
 * expires.
 */
export class UserGrants {
  readonly userId: string;
  readonly locked: boolean;
  readonly deleted: boolean;
  /** False for a locked or deleted user, who holds nothing (rule 8). */
  readonly active: boolean;
  /** The user's flags as stored (unknown ones included): what `capabilities` reports. */
  readonly flags: readonly string[];
  /** The teams the user is a member of (team roles elsewhere were left out when compiling). */
  readonly memberOf: readonly string[];
  /** Earliest expiry (epoch ms) among the assignments counted; Infinity when none expires. */
  readonly validUntil: number;

  // The compiled parts below are read by `codec.ts` (the shared cache's encoding) and nothing else.
  readonly org: Bits;
  readonly byLocation = new Map<string, Bits>();
  /** Team-role grants by team, members' teams only. */
  readonly byTeam = new Map<string, Bits>();
  readonly restricted: RestrictedGrant[] = [];
  /** Permissions the user's flags grant on their own. */
  readonly flagAdd: Bits;
  /** Permissions roles may grant given the user's flags: all but those gated on a flag the user lacks. */
  readonly flagKeep: Bits;
  private readonly memo = new Map<string, Bits>();
  /** The same, for pages and navigation modules (restricted assignments count: rule 5). */
  private readonly uiMemo = new Map<string, Bits>();
  /** Two working sets for checks naming teams or a resource, so that those allocate nothing either. */
  private scratch?: [Bits, Bits];

  /** Compiles a subject's grants at `now`; or restores grants compiled before (`GrantParts`, the codec's). */
  constructor(catalog: CompiledCatalog, subject: Subject, now: number);
  constructor(catalog: CompiledCatalog, parts: GrantParts);
  constructor(
    readonly catalog: CompiledCatalog,
    source: Subject | GrantParts,
    now = 0,
  ) {
    if (!('assignments' in source)) {
      const p = source;
      this.userId = p.userId;
      this.locked = p.locked;
      this.deleted = p.deleted;
      this.active = p.active;
      this.flags = p.flags;
      this.memberOf = p.memberOf;
      this.validUntil = p.validUntil;
      this.org = p.org;
      this.flagAdd = p.flagAdd;
      this.flagKeep = p.flagKeep;
      for (const [k, v] of p.byLocation) this.byLocation.set(k, v);
      for (const [k, v] of p.byTeam) this.byTeam.set(k, v);
      this.restricted.push(...p.restricted);
      return;
    }
    const subject = source;
    const words = catalog.words;
    this.userId = subject.userId;
    this.locked = !!subject.locked;
    this.deleted = !!subject.deleted;
    this.active = !subject.locked && !subject.deleted;
    this.flags = [...(subject.flags ?? [])];
    this.memberOf = [...new Set(subject.memberOf ?? [])];
    this.org = emptyBits(words);
    this.flagAdd = emptyBits(words);
    this.flagKeep = emptyBits(words).fill(0xffffffff);
    let validUntil = Infinity;

    if (this.active) {
      const flagUnlocked = emptyBits(words);
      for (const flag of subject.flags ?? []) {
        const granted = catalog.grantedByFlag.get(flag);
        if (granted) orInto(this.flagAdd, granted);
        const unlocked = catalog.requiredFlags.get(flag);
        if (unlocked) orInto(flagUnlocked, unlocked);
      }
      for (let i = 0; i < words; i++) this.flagKeep[i] = ~catalog.flagGated[i]! | flagUnlocked[i]!;

      for (const a of subject.assignments) {
        if (a.expiresAt != null && a.expiresAt <= now) continue;
        const role = catalog.roles.get(a.role);
        if (!role || !fitsScope(role, a)) continue;
        // Team roles count only while the user is a member of the team (rule 3).
        if (a.teamId && !this.memberOf.includes(a.teamId)) continue;
        if (a.expiresAt != null && a.expiresAt < validUntil) validUntil = a.expiresAt;
        const restricted = isRestricted(a);
        // Pages and navigation modules are not resources: a restricted assignment grants them as any
        // other does (rule 5); the rest of its grants wait for a matching resource.
        const scoped = restricted ? role.uiGrants : role.closure;
        if (!restricted || !isEmpty(scoped)) {
          if (a.teamId) addTo(this.byTeam, a.teamId, scoped, words);
          else if (a.locationId) addTo(this.byLocation, a.locationId, scoped, words);
          else orInto(this.org, scoped);
        }
        if (restricted) {
          this.restricted.push({
            locationId: a.locationId ?? null,
            teamId: a.teamId ?? null,
            personId: a.personId ?? null,
            groupIds: new Set(a.groupIds ?? []),
            bits: role.resourceGrants,
            ownBits: a.personId != null && !isEmpty(role.ownPerson) ? role.ownPerson : null,
          });
        }
      }
    }
    this.validUntil = validUntil;
  }

  /**
   * The set of effective permissions for a request's scope and resource (rules 1–8): for a resource
   * naming teams, what holds in at least one of them (each judged alone, rule 3). With `ui`, the set
   * for pages and navigation modules, which are not resources: restricted assignments count as if the
   * resource were theirs (rule 5). The request's `permission` is ignored. The result is shared: do not
   * modify it.
   */
  effective(req: CheckScope, ui = false): Bits {
    if (ui && !this.restricted.length) ui = false; // the same set
    const plain = isPlain(req);
    const path = req.locationPath ?? [];
    const memoKey = path.length ? path[0]! : '';
    const memo = ui ? this.uiMemo : this.memo;
    if (plain) {
      const hit = memo.get(memoKey);
      if (hit) return hit;
    }

    const set = emptyBits(this.catalog.words);
    if (this.active) {
      const [base, work] = this.working();
      this.baseInto(base, req, ui);
      for (const team of req.teamIds ?? []) {
        work.set(base);
        if (!this.teamInto(work, team, req, ui)) continue;
        this.settle(work);
        orInto(set, work);
      }
      this.settle(base);
      orInto(set, base);
    }

    if (plain) {
      if (memo.size >= MEMO_LIMIT) memo.clear();
      memo.set(memoKey, set);
    }
    return set;
  }

  /**
   * Whether the permission at `bit` is effective for the request: `effective(req, ui)` has it. A check
   * naming no resource reads the memo; one naming teams or a resource is worked out in two reused
   * sets, team by team, and stops at the first team where it holds.
   */
  holds(req: CheckScope, bit: number, ui = false): boolean {
    if (!this.active) return false;
    if (isPlain(req)) return hasBit(this.effective(req, ui), bit);
    const [base, work] = this.working();
    this.baseInto(base, req, ui);
    for (const team of req.teamIds ?? []) {
      work.set(base);
      if (!this.teamInto(work, team, req, ui)) continue;
      this.settle(work);
      if (hasBit(work, bit)) return true;
    }
    // A team with no grants of the user's is judged on the rest alone, as is a request naming none.
    this.settle(base);
    return hasBit(base, bit);
  }

  private working(): [Bits, Bits] {
    return (this.scratch ??= [emptyBits(this.catalog.words), emptyBits(this.catalog.words)]);
  }

  /** The organization's and the locations' grants (rules 1, 2, 5), before flags and dependencies. */
  private baseInto(set: Bits, req: CheckScope, ui: boolean): void {
    const path = req.locationPath ?? [];
    set.set(this.org);
    for (const loc of path) {
      const b = this.byLocation.get(loc);
      if (b) orInto(set, b);
    }
    for (const r of this.restricted) {
      if (!r.teamId && (!r.locationId || path.includes(r.locationId))) addRestricted(set, r, req, ui);
    }
  }

  /** Adds one team's grants (rule 3); false when the user has none there (the set is unchanged). */
  private teamInto(set: Bits, team: string, req: CheckScope, ui: boolean): boolean {
    let added = false;
    const b = this.byTeam.get(team);
    if (b) {
      orInto(set, b);
      added = true;
    }
    for (const r of this.restricted) {
      if (r.teamId !== team) continue;
      addRestricted(set, r, req, ui);
      added = true;
    }
    return added;
  }

  /** Flags (rule 6), then dependencies (rule 7), in place. */
  private settle(set: Bits): void {
    andInto(set, this.flagKeep);
    orInto(set, this.flagAdd);
    // Dependencies come in order (requirements first), so one pass reaches the fixpoint.
    for (const dep of this.catalog.dependencies) {
      if (hasBit(set, dep.bit) && !hasAll(set, dep.requires)) clearBit(set, dep.bit);
    }
  }
}

/** Whether an assignment's scope suits its role's kind; one that does not counts for nothing. */
export function fitsScope(
  role: Pick<CompiledRole, 'kind'>,
  a: Pick<Assignment, 'locationId' | 'teamId'>,
): boolean {
  if (a.locationId && a.teamId) return false;
  switch (role.kind) {
    case 'org':
      return !a.locationId && !a.teamId;
    case 'location':
      return !a.teamId;
    case 'team':
      return !!a.teamId;
  }
}

/** An assignment is restricted when it names a person or at least one group. */
export function isRestricted(a: Assignment): boolean {
  return a.personId != null || (a.groupIds?.length ?? 0) > 0;
}

/** A request naming no team and no resource: its effective set depends on the location alone. */
function isPlain(req: CheckScope): boolean {
  return !req.teamIds?.length && req.personId == null && !req.groupIds?.length;
}

/**
 * A restricted assignment's grants, where it applies (rule 5): its grants for a resource it matches,
 * its own-person grants for a resource of its person; both for a page or navigation module (`ui`).
 */
function addRestricted(set: Bits, r: RestrictedGrant, req: CheckScope, ui: boolean): void {
  if (ui || matchesResource(r, req)) orInto(set, r.bits);
  if (r.ownBits && (ui || (req.personId != null && req.personId === r.personId))) orInto(set, r.ownBits);
}

function matchesResource(r: RestrictedGrant, req: CheckScope): boolean {
  if (r.personId != null && req.personId === r.personId) return true;
  for (const g of req.groupIds ?? []) if (r.groupIds.has(g)) return true;
  return false;
}

function addTo(map: Map<string, Bits>, key: string, bits: Bits, words: number): void {
  let b = map.get(key);
  if (!b) map.set(key, (b = emptyBits(words)));
  orInto(b, bits);
}
