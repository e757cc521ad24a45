import type { Operation } from '../catalog';
import {
  bitIndexes,
  emptyBits,
  fitsScope,
  hasBit,
  orInto,
  UserGrants,
  type Bits,
  type CheckRequest,
  type CompiledCatalog,
  type Subject,
} from '../engine';
import type { Viewer } from '../identity/tokens';
import { isActiveOwner, notFound, StoreError, type ApprovalRequest } from '../store';
import type { Authz } from './authz';
import { ForbiddenError } from './errors';
import type { Loaders } from './loaders';

/**
 * Where an administrative operation acts: the organization root, a location (a grant at one of its
 * ancestors counts: cascade), or a team (with what is organization-wide).
 */
export type Scope = { type: 'org' } | { type: 'location'; id: string } | { type: 'team'; id: string };

export const ROOT: Scope = { type: 'org' };

/** The scope of an assignment, or of an input naming a location or a team (neither: the root). */
export function scopeOf(a: { locationId?: string | null; teamId?: string | null }): Scope {
  if (a.teamId) return { type: 'team', id: a.teamId };
  if (a.locationId) return { type: 'location', id: a.locationId };
  return ROOT;
}

/** How every refusal names a scope. */
export function describeScope(scope: Scope): string {
  return scope.type === 'org' ? 'the organization' : `${scope.type} ${scope.id}`;
}

const scopeKey = (s: Scope) => (s.type === 'org' ? '' : `${s.type[0]}:${s.id}`);

/**
 * Who may do what, for the guards and the administration alike: "does the viewer hold X at scope S",
 * "does the viewer cover user U", "would this change give anyone more than the viewer holds". The one
 * place that builds a FORBIDDEN refusal. One per request; answers are memoized for the request.
 *
 * The viewer's grants at a scope never include their restricted (person or group) assignments, but
 * for their pages and navigation modules (not resources, rule 5): the rest counts only for a resource,
 * and administration names none.
 */
export class Access {
  private readonly sets = new Map<string, Promise<Bits>>();
  private readonly views = new Map<string, Promise<boolean>>();
  private owner?: Promise<boolean>;

  constructor(
    private readonly authz: Authz,
    private readonly loaders: Loaders,
    readonly viewer: Viewer,
  ) {}

  private get catalog(): CompiledCatalog {
    return this.authz.catalog;
  }

  /** A refusal naming the permission and the scope. */
  static forbidden(permission: string, scope: Scope, message?: string): ForbiddenError {
    const where = describeScope(scope);
    return new ForbiddenError(permission, where, message ?? `forbidden: requires ${permission} at ${where}`);
  }

  /** The permission that guards an operation in this catalog (undefined: refused for everyone). */
  permissionOf(operation: Operation): string | undefined {
    return this.catalog.operationPermission(operation);
  }

  /** The viewer's effective permissions at a scope; NOT_FOUND when the scope does not exist here. */
  viewerSet(scope: Scope): Promise<Bits> {
    const key = scopeKey(scope);
    let set = this.sets.get(key);
    if (!set) {
      set = this.viewerSetUncached(scope);
      this.sets.set(key, set);
    }
    return set;
  }

  private async viewerSetUncached(scope: Scope): Promise<Bits> {
    const [grants, request] = await Promise.all([
      this.viewer.kind === 'user' ? this.loaders.grants.load(this.viewer.userId) : null,
      this.requestAt(scope),
    ]);
    return grants ? grants.effective(request) : emptyBits(this.catalog.words);
  }

  /**
   * The viewer's effective permissions at a scope at a later instant: what of them has not expired by
   * then (`at` FOREVER: only what never expires).
   */
  private viewerSetAt(scope: Scope, at: number): Promise<Bits> {
    if (at <= this.authz.now) return this.viewerSet(scope);
    const key = `${scopeKey(scope)}@${at}`;
    let set = this.sets.get(key);
    if (!set) {
      set = Promise.all([
        this.viewer.kind === 'user' ? this.loaders.subjects.load(this.viewer.userId) : null,
        this.requestAt(scope),
      ]).then(([subject, request]) =>
        subject
          ? new UserGrants(this.catalog, subject, at).effective(request)
          : emptyBits(this.catalog.words),
      );
      this.sets.set(key, set);
    }
    return set;
  }

  /** Whether the viewer (a user) holds `permission` at a scope. */
  async holds(permission: string, scope: Scope = ROOT): Promise<boolean> {
    const bit = this.catalog.bitOf(permission);
    return bit !== undefined && hasBit(await this.viewerSet(scope), bit);
  }

  /**
   * Guards: the viewer may run `operation` (or hold `permission`) at every scope given. A service key
   * passes only with `serviceScope`.
   */
  async require(
    what: { operation: Operation } | { permission: string },
    scopes: readonly Scope[] = [ROOT],
    serviceScope?: string | null,
    options: { unknownScopeAtRoot?: boolean } = {},
  ): Promise<void> {
    const permission = 'operation' in what ? this.permissionOf(what.operation) : what.permission;
    const name = 'operation' in what ? what.operation : what.permission;
    const first = scopes[0] ?? ROOT;
    if (this.viewer.kind === 'service') {
      if (serviceScope && this.viewer.scopes.includes(serviceScope)) return;
      throw Access.forbidden(
        permission ?? name,
        first,
        `forbidden: this API key lacks the scope ${serviceScope ?? name}`,
      );
    }
    if (!permission)
      throw Access.forbidden(
        name,
        first,
        `forbidden: ${name} is not available in this organization's catalog`,
      );
    // Held at the root is held everywhere (cascade, and a wider set meets every dependency): no
    // location needs loading. Whether a named scope exists is the operation's own question.
    if (await this.holds(permission, ROOT)) return;
    // Every scope at once (their locations load in one batch), refused at the first in order that fails.
    const refusals = await Promise.all(
      scopes.map(async (scope): Promise<Scope | null> => {
        if (options.unknownScopeAtRoot && !(await this.exists(scope))) {
          // A read naming a location that is not there: decided at the root, so that a check's input
          // gets its own NOT_FOUND (and someone who may not ask at the root learns nothing).
          return (await this.holds(permission, ROOT)) ? null : ROOT;
        }
        return (await this.holds(permission, scope)) ? null : scope;
      }),
    );
    const refused = refusals.find((r) => r !== null);
    if (refused) throw Access.forbidden(permission, refused);
  }

  /**
   * Guards of an operation whose scopes are inside its input where a guard cannot read them (an
   * imported file's rows): the viewer holds the operation's permission somewhere, at the root or at a
   * scope of one of their own live, unrestricted assignments (wherever else it is held, it is held
   * there too: a location's grants are those of its nearest such ancestor's). The operation then
   * requires it at each item's scopes.
   */
  async requireSomewhere(operation: Operation): Promise<void> {
    const permission = this.permissionOf(operation);
    if (this.viewer.kind !== 'user' || !permission) return this.require({ operation }); // refuses, with the reason
    if (await this.holds(permission, ROOT)) return;
    const subject = await this.loaders.subjects.load(this.viewer.userId);
    const scopes = new Map<string, Scope>();
    for (const a of subject ? this.liveAssignments(subject) : [])
      if (a.personId == null && !a.groupIds?.length) scopes.set(scopeKey(scopeOf(a)), scopeOf(a));
    for (const scope of scopes.values())
      if ((await this.exists(scope)) && (await this.holds(permission, scope))) return;
    throw Access.forbidden(
      permission,
      ROOT,
      `forbidden: requires ${permission} at the organization, or at a location or team where you hold a role`,
    );
  }

  /**
   * No escalation: the viewer holds every permission of `bits` at the scope (or wider), now and, when
   * what is given lasts (`until`: an instant, or null for ever), for as long as it lasts: a role that
   * expires cannot make a lasting one (an owner until tomorrow cannot make anyone, themselves
   * included, an owner for good).
   */
  async requireHoldsAll(bits: Bits, scope: Scope, until?: number | null): Promise<void> {
    if (this.viewer.kind !== 'user')
      throw Access.forbidden('administration', scope, 'forbidden: API keys cannot administer roles');
    const where = describeScope(scope);
    const missing = this.missing(bits, await this.viewerSet(scope));
    if (missing.length) {
      throw Access.forbidden(
        missing[0]!,
        scope,
        `forbidden: you cannot give permissions you do not hold at ${where}: ${list(missing)}`,
      );
    }
    if (until === undefined) return;
    const lasting = this.missing(bits, await this.viewerSetAt(scope, lastInstant(until)));
    if (lasting.length) {
      throw Access.forbidden(
        lasting[0]!,
        scope,
        `forbidden: you hold ${list(lasting)} at ${where} for a shorter time than you would give ${lasting.length === 1 ? 'it' : 'them'}: give an assignment that expires no later than yours`,
      );
    }
  }

  /**
   * No escalation by giving to everyone who holds a role (changing or restoring a role, restoring a
   * team, moving a location): the viewer holds at the scope every permission of `bits`, and every
   * permission that requires one of them, since giving a requirement can make effective a permission
   * someone already has (Juno's "Edit project permission is required"). Giving to one user is checked
   * exactly instead, on that user's outcome (`requireNoGain`).
   */
  requireCanGive(bits: Bits, scope: Scope): Promise<void> {
    return this.requireHoldsAll(this.catalog.withDependents(bits), scope, null);
  }

  /** Whether the viewer is an active owner (organization-wide, unrestricted, not expiring). */
  viewerIsOwner(): Promise<boolean> {
    if (this.viewer.kind !== 'user') return Promise.resolve(false);
    const userId = this.viewer.userId;
    this.owner ??= this.loaders.subjects
      .load(userId)
      .then((s) => !!s && isActiveOwner(s, this.catalog.ownerRole));
    return this.owner;
  }

  async requireOwner(action: string): Promise<void> {
    if (!(await this.viewerIsOwner())) {
      const role = this.catalog.ownerRole;
      throw Access.forbidden(
        `role ${role}`,
        ROOT,
        `forbidden: only an owner (role ${role} organization-wide, unrestricted and not expiring) can ${action}`,
      );
    }
  }

  /**
   * Covering: to act on an existing user with `operation`, the viewer must hold, at every scope where
   * that user holds a live assignment, the operation's permission and every permission the user holds
   * there (as if the user were active, a member of the teams of their team roles and their
   * restrictions matched; what only flags grant does not count: flags are managed per user, never
   * through roles). A user with no live assignment needs the operation at the root. An active owner
   * covers everyone.
   */
  async requireCovers(userId: string, operation: Operation): Promise<void> {
    const permission = this.permissionOf(operation);
    if (this.viewer.kind !== 'user' || !permission) {
      await this.require({ operation }); // refuses, with the reason
      return;
    }
    const subject = await this.loaders.subjects.load(userId);
    if (!subject) throw notFound('user', userId);
    if (await this.viewerIsOwner()) return;
    const live = this.liveAssignments(subject);
    if (!live.length) {
      await this.require({ operation }, [ROOT]);
      return;
    }
    const potential = new UserGrants(
      this.catalog,
      {
        ...subject,
        locked: false,
        deleted: false,
        // As a member of every team they hold a role in (as the store keeps them).
        memberOf: [
          ...new Set([...(subject.memberOf ?? []), ...live.flatMap((a) => (a.teamId ? [a.teamId] : []))]),
        ],
        assignments: live.map((a) => ({ ...a, personId: null, groupIds: [] })),
      },
      this.authz.now,
    );
    const flagOnly = flagOnlyBits(this.catalog);
    const seen = new Set<string>();
    for (const a of live) {
      const scope = scopeOf(a);
      if (seen.has(scopeKey(scope))) continue;
      seen.add(scopeKey(scope));
      const [mine, request] = await Promise.all([this.viewerSet(scope), this.requestAt(scope)]);
      const where = describeScope(scope);
      if (!hasBit(mine, this.catalog.bitOf(permission)!)) {
        throw Access.forbidden(
          permission,
          scope,
          `forbidden: requires ${permission} at ${where}, where this user holds a role`,
        );
      }
      const theirs = Uint32Array.from(potential.effective(request));
      for (let i = 0; i < theirs.length; i++) theirs[i]! &= ~flagOnly[i]!;
      const missing = this.missing(theirs, mine);
      if (missing.length) {
        throw Access.forbidden(
          missing[0]!,
          scope,
          `forbidden: this user holds ${list(missing)} at ${where}, which you do not: you can act only on users whose permissions you hold`,
        );
      }
    }
  }

  /**
   * Whether the viewer (a user) is a member of every one of these live teams; false for none, and for a
   * service key. Memberships come with the viewer's compiled grants (cached by version).
   */
  async isMemberOfAll(teamIds: readonly string[]): Promise<boolean> {
    if (this.viewer.kind !== 'user' || !teamIds.length) return false;
    const grants = await this.loaders.grants.load(this.viewer.userId);
    return !!grants && grants.active && teamIds.every((t) => grants.memberOf.includes(t));
  }

  /**
   * Whether the viewer holds `permission` over a user (`User.viewerCan`): at every live location and
   * team where that user holds a live assignment, or at the root when there is none. False for a
   * missing user and for a service key, which is nobody.
   */
  async holdsOver(userId: string, permission: string): Promise<boolean> {
    if (this.viewer.kind !== 'user') return false;
    const subject = await this.loaders.subjects.load(userId);
    if (!subject) return false;
    const scopes = new Map(this.liveAssignments(subject).map((a) => [scopeKey(scopeOf(a)), scopeOf(a)]));
    const live = (
      await Promise.all([...scopes.values()].map(async (s) => ((await this.exists(s)) ? s : null)))
    ).filter((s): s is Scope => s !== null);
    const answers = await Promise.all((live.length ? live : [ROOT]).map((s) => this.holds(permission, s)));
    return answers.every(Boolean);
  }

  /** Acting on an assignment (revoking it): the operation at its scope, and its user covered. */
  async requireAssignment(assignmentId: string, operation: Operation): Promise<void> {
    const assignment = await this.loaders.assignments.load(assignmentId);
    if (!assignment) throw notFound('assignment', assignmentId);
    await this.require({ operation }, [scopeOf(assignment)]);
    await this.requireCovers(assignment.userId, operation);
  }

  /**
   * Whether the viewer may see a user's details: themselves; a user holding the catalog's viewUsers
   * permission at the root or at a scope where that user holds a live assignment; an API key with the
   * scope `directory:read`.
   */
  mayView(userId: string): Promise<boolean> {
    let answer = this.views.get(userId);
    if (!answer) {
      answer = this.mayViewUncached(userId);
      this.views.set(userId, answer);
    }
    return answer;
  }

  private async mayViewUncached(userId: string): Promise<boolean> {
    if (this.viewer.kind === 'service') return this.viewer.scopes.includes('directory:read');
    if (userId === this.viewer.userId) return true;
    const permission = this.permissionOf('viewUsers');
    if (!permission) return false;
    if (await this.holds(permission, ROOT)) return true;
    const subject = await this.loaders.subjects.load(userId);
    if (!subject) return false;
    for (const a of this.liveAssignments(subject)) {
      const scope = scopeOf(a);
      if (scope.type !== 'org' && (await this.holds(permission, scope))) return true;
    }
    return false;
  }

  async requireView(userId: string): Promise<void> {
    if (await this.mayView(userId)) return;
    const permission = this.permissionOf('viewUsers') ?? 'viewUsers';
    if (this.viewer.kind === 'service')
      throw Access.forbidden(permission, ROOT, 'forbidden: this API key lacks the scope directory:read');
    throw Access.forbidden(
      permission,
      ROOT,
      `forbidden: requires ${permission} at the organization or where this user holds a role`,
    );
  }

  /**
   * No escalation, checked on the outcome: after a change of one user's assignments (`before` null: a
   * new user), the user holds nowhere a permission they lacked before unless the viewer holds it there.
   * Compared at the root and at every scope of the user's assignments, before and after (a location
   * without assignments of the user holds what its nearest such ancestor holds). Flags are not part
   * of the change: they are compared with the flags the user had.
   */
  async requireNoGain(before: Subject | null, after: Subject): Promise<void> {
    const flags = before?.flags ?? [];
    const scopes = new Map<string, Scope>([['', ROOT]]);
    for (const a of [...(before?.assignments ?? []), ...after.assignments])
      scopes.set(scopeKey(scopeOf(a)), scopeOf(a));
    // Now, for ever, and at the last instant of each assignment the change gives.
    const instants = new Set([this.authz.now, FOREVER]);
    for (const a of after.assignments)
      if (a.expiresAt != null && a.expiresAt > this.authz.now) instants.add(lastInstant(a.expiresAt));
    for (const at of instants) {
      const was = before ? new UserGrants(this.catalog, before, at) : null;
      const will = new UserGrants(this.catalog, { ...after, flags }, at);
      for (const scope of scopes.values()) {
        const [mine, request] = await Promise.all([this.viewerSetAt(scope, at), this.requestAt(scope)]);
        const gained = Uint32Array.from(will.effective(request));
        if (was) {
          const had = was.effective(request);
          for (let i = 0; i < gained.length; i++) gained[i]! &= ~had[i]!;
        }
        const missing = this.missing(gained, mine);
        if (missing.length) {
          throw Access.forbidden(
            missing[0]!,
            scope,
            `forbidden: this would give ${list(missing)} at ${describeScope(scope)}, which you do not hold there${at > this.authz.now ? ' for as long' : ''}`,
          );
        }
      }
    }
  }

  /** Who the viewer is in an audit entry and as a requester: a user id, or `apikey:<id>`. */
  get actor(): string {
    return this.viewer.kind === 'user' ? this.viewer.userId : `apikey:${this.viewer.keyId}`;
  }

  /**
   * Whether the viewer holds what approves requests of `kind` (its `approvedBy`: a permission, or
   * `flag:<key>`) at `locationId` (null: the root). A location that no longer exists: held only if held
   * at the root. False for a service key and for a kind the catalog lacks.
   */
  async holdsApproval(kind: string, locationId: string | null): Promise<boolean> {
    const spec = this.catalog.approval(kind);
    if (!spec || this.viewer.kind !== 'user') return false;
    if (spec.approvedBy.startsWith('flag:')) {
      const grants = await this.loaders.grants.load(this.viewer.userId);
      return !!grants && grants.active && grants.flags.includes(spec.approvedBy.slice(5));
    }
    return this.holdsAtRequestScope(spec.approvedBy, locationId);
  }

  /** Whether the viewer opened the request or is its subject. */
  isParty(request: ApprovalRequest): boolean {
    return (
      request.requestedBy === this.actor ||
      (this.viewer.kind === 'user' && request.subjectId === this.viewer.userId)
    );
  }

  /** Whether the viewer holds the kind's `managedBy` at `locationId`: sees its requests, may cancel them. */
  async managesKind(kind: string, locationId: string | null): Promise<boolean> {
    const managedBy = this.catalog.approval(kind)?.managedBy;
    if (!managedBy || this.viewer.kind !== 'user') return false;
    return this.holdsAtRequestScope(managedBy, locationId);
  }

  /** `permission` at a request's location (null: the root); a location gone since: at the root only. */
  private async holdsAtRequestScope(permission: string, locationId: string | null): Promise<boolean> {
    const scope = scopeOf({ locationId });
    if (scope.type !== 'org' && !(await this.exists(scope))) return this.holds(permission, ROOT);
    return this.holds(permission, scope);
  }

  /**
   * Whether the viewer may see a request: its subject, its requester, someone who may approve its kind
   * there, or who manages its kind there.
   */
  async maySeeRequest(request: ApprovalRequest): Promise<boolean> {
    return (
      this.isParty(request) ||
      (await this.holdsApproval(request.kind, request.locationId)) ||
      this.managesKind(request.kind, request.locationId)
    );
  }

  /**
   * Guards of the approval transitions. `approver`: the viewer may decide the request (holds its kind's
   * approval at its scope, and is neither its subject nor its requester). `party`: the viewer is its
   * subject or its requester (execute). `canceller`: a party, or someone who manages its kind there.
   * A request the viewer may not see is NOT_FOUND.
   */
  async requireOnRequest(id: string, role: 'approver' | 'party' | 'canceller'): Promise<ApprovalRequest> {
    const request = await this.loaders.approvals.load(id);
    if (!request || !(await this.maySeeRequest(request))) throw notFound('approval request', id);
    const scope = scopeOf({ locationId: request.locationId });
    if (role === 'canceller' && (await this.managesKind(request.kind, request.locationId))) return request;
    if (role === 'party' || role === 'canceller') {
      if (!this.isParty(request))
        throw Access.forbidden(
          'approval request',
          scope,
          `forbidden: only the requester or the subject of approval request ${id} can do this`,
        );
      return request;
    }
    const permission = this.catalog.approval(request.kind)?.approvedBy ?? `approval kind ${request.kind}`;
    if (!(await this.holdsApproval(request.kind, request.locationId)))
      throw Access.forbidden(permission, scope);
    if (this.isParty(request))
      throw Access.forbidden(
        permission,
        scope,
        'forbidden: nobody approves a request they opened or that is about them',
      );
    return request;
  }

  /** Whether a scope exists in the organization (a live team, a location). */
  async exists(scope: Scope): Promise<boolean> {
    try {
      await this.requestAt(scope);
      return true;
    } catch (err) {
      if (err instanceof StoreError && err.code === 'NOT_FOUND') return false;
      throw err;
    }
  }

  /** The engine's request for a scope; NOT_FOUND when the location or team does not exist here. */
  async requestAt(scope: Scope): Promise<Omit<CheckRequest, 'permission'>> {
    if (scope.type === 'org') return { locationPath: [], teamIds: [] };
    if (scope.type === 'location') {
      const path = await this.authz.pathOf(scope.id);
      if (!path) throw notFound('location', scope.id);
      return { locationPath: path, teamIds: [] };
    }
    const team = await this.loaders.teams.load(scope.id);
    if (!team || team.deletedAt) throw notFound('team', scope.id);
    return { locationPath: [], teamIds: [scope.id] };
  }

  /** Assignments that count now: not expired, of a role the catalog has, fitting the role's kind. */
  private liveAssignments(subject: Subject): Subject['assignments'][number][] {
    return subject.assignments.filter((a) => {
      if (a.expiresAt != null && a.expiresAt <= this.authz.now) return false;
      const role = this.catalog.roles.get(a.role);
      return !!role && fitsScope(role, a);
    });
  }

  private missing(wanted: Bits, held: Bits): string[] {
    return bitIndexes(wanted)
      .filter((b) => !hasBit(held, b))
      .map((b) => this.catalog.keys[b]!);
  }
}

/** An instant after every expiry: what holds then holds for ever. */
const FOREVER = Number.MAX_SAFE_INTEGER;

/** The last instant something that lasts `until` (null: for ever) is alive. */
function lastInstant(until: number | null): number {
  return until == null ? FOREVER : until - 1;
}

/** Every permission a flag alone grants (what covering leaves to the flags). */
const flagOnlyCache = new WeakMap<CompiledCatalog, Bits>();
function flagOnlyBits(catalog: CompiledCatalog): Bits {
  let bits = flagOnlyCache.get(catalog);
  if (!bits) {
    bits = emptyBits(catalog.words);
    for (const granted of catalog.grantedByFlag.values()) orInto(bits, granted);
    flagOnlyCache.set(catalog, bits);
  }
  return bits;
}

function list(permissions: string[]): string {
  return permissions.length > 8
    ? `${permissions.slice(0, 8).join(', ')} and ${permissions.length - 8} more`
    : permissions.join(', ');
}
