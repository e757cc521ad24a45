import { andInto, emptyBits, hasAll, hasBit, clearBit, orInto, type Bits } from './bitset';
import type { CompiledCatalog, CompiledRole } from './compile';
import type { Assignment, CheckRequest, Subject } from './types';

/** A restricted assignment's grants (rule 5): they count only for a matching resource. */
export interface RestrictedGrant {
  locationId: string | null;
  teamId: string | null;
  personId: string | null;
  groupIds: ReadonlySet<string>;
  bits: Bits;
}

/** Everything a compiled `UserGrants` holds: what the shared cache stores, restored without the subject. */
export type GrantParts = Pick<
  UserGrants,
  | 'userId'
  | 'locked'
  | 'deleted'
  | 'active'
  | 'flags'
  | 'validUntil'
  | 'org'
  | 'byLocation'
  | 'byTeam'
  | 'restricted'
  | 'flagAdd'
  | 'flagKeep'
>;

/** Effective sets memoized per location, for checks that name no resource. Cleared when full. */
const MEMO_LIMIT = 1024;

/**
 * One user's grants, compiled against one catalog at one instant: every counted assignment's role
 * closure, bucketed by scope, plus the user's flag masks. Answering a check then costs a few bitset
 * operations. Built for one version of the organization (its tree, roles and the user's assignments);
 * rebuild it when the version changes or at `validUntil`, when the next assignment expires.
 */
export class UserGrants {
  readonly userId: string;
  readonly locked: boolean;
  readonly deleted: boolean;
  /** False for a locked or deleted user, who holds nothing (rule 8). */
  readonly active: boolean;
  /** The user's flags as stored (unknown ones included): what `capabilities` reports. */
  readonly flags: readonly string[];
  /** Earliest expiry (epoch ms) among the assignments counted; Infinity when none expires. */
  readonly validUntil: number;

  // The compiled parts below are read by `codec.ts` (the shared cache's encoding) and nothing else.
  readonly org: Bits;
  readonly byLocation = new Map<string, Bits>();
  readonly byTeam = new Map<string, Bits>();
  readonly restricted: RestrictedGrant[] = [];
  /** Permissions the user's flags grant on their own. */
  readonly flagAdd: Bits;
  /** Permissions roles may grant given the user's flags: all but those gated on a flag the user lacks. */
  readonly flagKeep: Bits;
  private readonly memo = new Map<string, Bits>();

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
        if (a.expiresAt != null && a.expiresAt < validUntil) validUntil = a.expiresAt;
        if (isRestricted(a)) {
          this.restricted.push({
            locationId: a.locationId ?? null,
            teamId: a.teamId ?? null,
            personId: a.personId ?? null,
            groupIds: new Set(a.groupIds ?? []),
            bits: role.closure,
          });
        } else if (a.teamId) {
          addTo(this.byTeam, a.teamId, role.closure, words);
        } else if (a.locationId) {
          addTo(this.byLocation, a.locationId, role.closure, words);
        } else {
          orInto(this.org, role.closure);
        }
      }
    }
    this.validUntil = validUntil;
  }

  /**
   * The set of effective permissions for a request's scope and resource (rules 1–8). The request's
   * `permission` is ignored. The result is shared: do not modify it.
   */
  effective(req: Omit<CheckRequest, 'permission'>): Bits {
    const path = req.locationPath ?? [];
    const plain = !req.teamIds?.length && req.personId == null && !req.groupIds?.length;
    const memoKey = path.length ? path[0]! : '';
    if (plain) {
      const hit = this.memo.get(memoKey);
      if (hit) return hit;
    }

    const set = emptyBits(this.catalog.words);
    if (this.active) {
      orInto(set, this.org);
      for (const loc of path) {
        const b = this.byLocation.get(loc);
        if (b) orInto(set, b);
      }
      for (const team of req.teamIds ?? []) {
        const b = this.byTeam.get(team);
        if (b) orInto(set, b);
      }
      for (const r of this.restricted) {
        if (appliesAt(r, path, req.teamIds) && matchesResource(r, req)) orInto(set, r.bits);
      }
      andInto(set, this.flagKeep);
      orInto(set, this.flagAdd);
      // Dependencies come in order (requirements first), so one pass reaches the fixpoint.
      for (const dep of this.catalog.dependencies) {
        if (hasBit(set, dep.bit) && !hasAll(set, dep.requires)) clearBit(set, dep.bit);
      }
    }

    if (plain) {
      if (this.memo.size >= MEMO_LIMIT) this.memo.clear();
      this.memo.set(memoKey, set);
    }
    return set;
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

function appliesAt(r: RestrictedGrant, path: readonly string[], teamIds?: readonly string[]): boolean {
  if (r.teamId) return !!teamIds?.includes(r.teamId);
  if (r.locationId) return path.includes(r.locationId);
  return true;
}

function matchesResource(r: RestrictedGrant, req: Omit<CheckRequest, 'permission'>): boolean {
  if (r.personId != null && req.personId === r.personId) return true;
  for (const g of req.groupIds ?? []) if (r.groupIds.has(g)) return true;
  return false;
}

function addTo(map: Map<string, Bits>, key: string, bits: Bits, words: number): void {
  let b = map.get(key);
  if (!b) map.set(key, (b = emptyBits(words)));
  orInto(b, bits);
}
