import { CatalogError, type RoleKind, type RoleSpec, type ToolMode } from '../catalog';
import { compileRole, emptyBits, orInto, type Bits, type CompiledRole, type Subject } from '../engine';
import { Access, ROOT, scopeOf, type Scope } from '../decisions/access';
import { InvalidInputError } from '../decisions/errors';
import type { Authz } from '../decisions/authz';
import type { Loaders } from '../decisions/loaders';
import type { Viewer } from '../identity/tokens';
import {
  isOwnerAssignment,
  notFound,
  toEngineAssignment,
  type AssignInput,
  type Store,
  type WriteContext,
} from '../store';
import {
  holdersKeepAnOrgRole,
  inheritsLiveRoles,
  keepsAnOrgRole,
  keepsAnOwner,
  noLiveHeirs,
} from './invariants';
import { checkAssignment, engineAssignment, type AssignmentRequest } from './assignment-request';
import { importUsers, type ImportProgress, type ImportReport, type ImportRequest } from './import';

/** Who an administration service records as the actor, when it is not the viewer. */
export interface AdminOptions {
  /** The audit log's actor (default: the viewer): `cli` for the command line acting with an owner's rights. */
  actor?: string;
  /** Added to an import's audit summary (the command line: whose rights it used). */
  audit?: Record<string, unknown>;
}

/**
 * The administration API's rules, on top of the guards (which already checked, through `Access`, that
 * the viewer may run the operation at the scopes it names and covers the user it acts on): nobody
 * gives what they do not hold, the organization keeps an active owner, ownership moves by adding
 * before removing, catalogs that require an org role get one, and owners get the owner's flags.
 */
export class Admin {
  constructor(
    private readonly store: Store,
    private readonly authz: Authz,
    private readonly access: Access,
    private readonly loaders: Loaders,
    private readonly viewer: Viewer,
    private readonly requestId: string,
    private readonly options: AdminOptions = {},
  ) {}

  private get orgId() {
    return this.viewer.orgId;
  }

  private get catalog() {
    return this.authz.catalog;
  }

  private get doc() {
    return this.catalog.catalog.document;
  }

  /** Every write carries who and why, and the organization-wide rules. */
  private ctx(extra: WriteContext['invariants'] = []): WriteContext {
    const actor =
      this.options.actor ??
      (this.viewer.kind === 'user' ? this.viewer.userId : `apikey:${this.viewer.keyId}`);
    return {
      orgId: this.orgId,
      actor,
      requestId: this.requestId,
      invariants: [keepsAnOwner(this.orgId, this.catalog.ownerRole), ...extra],
    };
  }

  /** Warnings about the organization after a write: flags the catalog wants held that nobody holds. */
  async warnings(): Promise<string[]> {
    const wanted = Object.entries(this.doc.flags ?? {})
      .filter(([, f]) => f.atLeastOne)
      .map(([key]) => key);
    const missing = await this.store.users.flagsWithoutHolder(this.orgId, wanted);
    return missing.map(
      (flag) =>
        `no active user has the flag ${flag} (${this.doc.flags?.[flag]?.name ?? flag}); the catalog asks for at least one`,
    );
  }

  // Locations.
  createLocation(input: { name: string; parentId?: string | null }) {
    return this.store.locations.create(this.ctx(), input);
  }
  /**
   * Moving a location under a new parent makes the roles given at the new parent's ancestors cascade to
   * it: the viewer must hold, at the location, everything those roles grant (no escalation by moving).
   */
  async moveLocation(input: { id: string; parentId?: string | null }) {
    const location = await this.loaders.locations.load(input.id);
    if (!location) throw notFound('location', input.id);
    const parent = input.parentId != null ? await this.loaders.locations.load(input.parentId) : null;
    if (input.parentId != null && !parent) throw notFound('location', input.parentId);
    const above = new Set(location.path);
    const added = parent ? parent.path.filter((id) => !above.has(id)) : [];
    const arriving = await this.store.assignments.atLocations(this.orgId, added);
    await this.access.requireCanGive(this.closures(arriving.map(toEngineAssignment)), {
      type: 'location',
      id: location.id,
    });
    return this.store.locations.move(this.ctx(), { id: input.id, parentId: input.parentId ?? null });
  }
  deleteLocation(id: string) {
    return this.store.locations.delete(this.ctx(), id);
  }

  // Users.
  /**
   * A new user with their roles in the same write: org-wide `roles`, `assignments` at any scope, or the
   * catalog's default roles when neither is given. Each is checked like `assignRole`, at its scope.
   */
  async createUser(input: {
    email: string;
    name?: string | null;
    roles?: readonly string[] | null;
    assignments?: readonly AssignmentRequest[] | null;
  }) {
    const given: { request: AssignmentRequest; where: string }[] = [
      ...[...new Set(input.roles ?? [])].map((role, i) => ({ request: { role }, where: `roles[${i}]` })),
      ...(input.assignments ?? []).map((request, i) => ({ request, where: `assignments[${i}]` })),
    ];
    const wanted = given.length
      ? given
      : (this.doc.defaultRoles ?? []).map((role) => ({ request: { role }, where: 'defaultRoles' }));
    const assignments = wanted.map(({ request, where }) => this.checkedAssignment(request, where));
    const scopes = assignments.length ? assignments.map(scopeOf) : [ROOT];
    await this.access.require({ operation: 'createUser' }, unique(scopes));
    // One user: the role's closure where it is given, then the user's exact gain (requireNoGain below).
    for (const a of assignments)
      await this.access.requireHoldsAll(
        this.catalog.roles.get(a.roleKey)!.closure,
        scopeOf(a),
        a.expiresAt?.getTime() ?? null,
      );
    if (
      this.doc.requireOrgRole &&
      !assignments.some((a) => this.catalog.roles.get(a.roleKey)!.kind === 'org' && !a.expiresAt)
    ) {
      throw new InvalidInputError(
        'this catalog requires every user to hold an organization-wide role that does not expire: give one in roles',
      );
    }
    const subject: Subject = {
      userId: 'new',
      // A team role makes its holder a member of the team in the same write.
      memberOf: teamsOf(assignments),
      assignments: assignments.map((a, i) => engineAssignment(a, `new-${i}`)),
    };
    await this.access.requireNoGain(null, subject);
    return this.store.users.create(this.ctx(), {
      email: input.email,
      name: input.name ?? null,
      flags: subject.assignments.some((a) => isOwnerAssignment(a, this.catalog.ownerRole))
        ? [...(this.doc.owner.flags ?? [])]
        : [],
      assignments,
    });
  }
  /**
   * Users from a CSV or XLSX file, all or nothing, each row under createUser's rules (or, for an
   * existing user with onExisting UPDATE, those of changing them): see ./import.ts.
   */
  importUsers(request: ImportRequest, progress?: ImportProgress): Promise<ImportReport> {
    return importUsers(
      {
        store: this.store,
        catalog: this.catalog,
        access: this.access,
        loaders: this.loaders,
        viewer: this.viewer,
        context: () => this.ctx(),
        audit: this.options.audit,
      },
      request,
      progress,
    );
  }
  updateUser(input: { id: string; email?: string | null; name?: string | null }) {
    return this.store.users.update(this.ctx(), {
      id: input.id,
      ...(input.email != null ? { email: input.email } : {}),
      ...(input.name !== undefined ? { name: input.name } : {}),
    });
  }
  deleteUser(id: string) {
    this.notYourself(id, 'you cannot delete yourself');
    return this.store.users.delete(this.ctx(), id);
  }
  undeleteUser(id: string) {
    // A user restored after their only organization-wide role was deleted would hold none.
    const extra = this.doc.requireOrgRole
      ? [
          keepsAnOrgRole(
            this.orgId,
            id,
            this.orgRoles(),
            `user ${id} would be restored without an organization-wide role (theirs was deleted since), and this catalog requires one`,
          ),
        ]
      : [];
    return this.store.users.undelete(this.ctx(extra), id);
  }
  lockUser(id: string) {
    this.notYourself(id, 'you cannot lock yourself out');
    return this.store.users.lock(this.ctx(), id);
  }
  unlockUser(id: string) {
    return this.store.users.unlock(this.ctx(), id);
  }
  setUserFlags(userId: string, flags: readonly string[]) {
    if (this.viewer.kind === 'user' && userId === this.viewer.userId)
      throw Access.forbidden(
        this.access.permissionOf('setUserFlags') ?? 'setUserFlags',
        ROOT,
        'forbidden: nobody changes their own flags; ask another administrator',
      );
    const known = new Set(Object.keys(this.doc.flags ?? {}));
    const unknown = flags.filter((f) => !known.has(f));
    if (unknown.length)
      throw new InvalidInputError(
        `unknown flag${unknown.length > 1 ? 's' : ''} ${unknown.map((f) => `"${f.slice(0, 100)}"`).join(', ')}; the catalog has: ${[...known].join(', ') || 'none'}`,
      );
    return this.store.users.setFlags(this.ctx(), userId, flags);
  }

  // Teams.
  createTeam(name: string) {
    return this.store.teams.create(this.ctx(), { name });
  }
  updateTeam(id: string, name: string) {
    return this.store.teams.update(this.ctx(), { id, name });
  }
  deleteTeam(id: string) {
    return this.store.teams.delete(this.ctx(), id);
  }
  /** Restoring a team restores its team roles: the viewer must hold what they grant (no escalation). */
  async undeleteTeam(id: string) {
    const restored = await this.store.assignments.inTeam(this.orgId, id);
    await this.access.requireCanGive(this.closures(restored.map(toEngineAssignment)), ROOT);
    return this.store.teams.undelete(this.ctx(), id);
  }
  /** A member holds nothing more by joining: a team role counts only where it was given, to a member. */
  addTeamMember(teamId: string, userId: string) {
    return this.store.teams.addMember(this.ctx(), teamId, userId);
  }
  /**
   * Leaving a team takes the member's roles in it (rule 3), so it is also a revocation of each: the
   * viewer needs what `revokeAssignment` needs for every one of them.
   */
  async removeTeamMember(teamId: string, userId: string) {
    const inTeam = (await this.loaders.assignmentsOf.load(userId)).filter((a) => a.teamId === teamId);
    if (inTeam.length) {
      const scope: Scope = { type: 'team', id: teamId };
      await this.access.require({ operation: 'revokeAssignment' }, [scope]);
      await this.access.requireCovers(userId, 'revokeAssignment');
      for (const a of inTeam) {
        const role = this.catalog.roles.get(a.roleKey);
        if (role) await this.access.requireHoldsAll(role.closure, scope);
      }
    }
    return this.store.teams.removeMember(this.ctx(), teamId, userId);
  }

  // Roles: created, changed, deleted and restored only by someone holding all they grant.
  async createRole(
    input: {
      key: string;
      name: string;
      description?: string | null;
      kind: RoleKind;
      grants: string[];
      inherits?: string[] | null;
    },
    action: 'createRole' | 'cloneRole' = 'createRole',
  ) {
    const { closure } = this.compileRole(
      input.key,
      this.specOf({ ...input, inherits: input.inherits ?? [] }),
    );
    await this.access.requireCanGive(closure, ROOT);
    return this.store.roles.create(
      this.ctx([this.inheritsLive(input.key)]),
      { ...input, inherits: input.inherits ?? [] },
      action,
    );
  }
  async updateRole(input: {
    key: string;
    name: string;
    description?: string | null;
    grants: string[];
    inherits?: string[] | null;
  }) {
    const current = this.catalog.roles.get(input.key);
    if (!current || !current.custom)
      throw new InvalidInputError(
        `"${input.key}" is not a live custom role: built-in roles come from the catalog`,
      );
    const { closure } = this.compileRole(
      input.key,
      this.specOf({ ...input, kind: current.kind, inherits: input.inherits ?? [] }),
    );
    await this.access.requireHoldsAll(closure, ROOT);
    await this.access.requireHoldsAll(current.closure, ROOT);
    // What the role newly grants is given to everyone holding it (and roles inheriting it).
    const added = Uint32Array.from(closure);
    for (let i = 0; i < added.length; i++) added[i]! &= ~current.closure[i]!;
    await this.access.requireCanGive(added, ROOT);
    return this.store.roles.update(this.ctx([this.inheritsLive(input.key)]), input.key, {
      ...input,
      inherits: input.inherits ?? [],
    });
  }
  async cloneRole(input: { key: string; newKey: string; name?: string | null }) {
    const source = this.catalog.roles.get(input.key);
    if (!source) throw new InvalidInputError(`unknown role "${input.key}"`);
    const s = source.spec;
    return this.createRole(
      {
        key: input.newKey,
        name: input.name ?? `${s.name} (copy)`,
        description: s.description ?? null,
        kind: s.kind,
        grants: [...(s.grants ?? [])],
        inherits: [...(s.inherits ?? [])],
      },
      'cloneRole',
    );
  }
  async deleteRole(key: string) {
    const role = this.catalog.roles.get(key);
    if (role && !role.custom)
      throw new InvalidInputError(`"${key}" is a built-in role of the catalog and cannot be deleted`);
    if (role) await this.access.requireHoldsAll(role.closure, ROOT);
    const extra = [noLiveHeirs(this.orgId, key)];
    if (this.doc.requireOrgRole && role?.kind === 'org')
      extra.push(
        holdersKeepAnOrgRole(
          this.orgId,
          key,
          this.orgRoles().filter((r) => r !== key),
        ),
      );
    return this.store.roles.delete(this.ctx(extra), key);
  }
  /** Restoring a role gives back what its assignments grant: the same rule as creating it. */
  async undeleteRole(key: string) {
    const deleted = (await this.store.roles.list(this.orgId, { includeDeleted: true })).find(
      (r) => r.key === key && r.deletedAt,
    );
    if (!deleted) {
      if (this.catalog.roles.has(key)) throw new InvalidInputError(`role "${key}" is not deleted`);
      throw notFound('deleted custom role', key);
    }
    await this.access.requireCanGive(this.compileRole(key, this.specOf(deleted)).closure, ROOT);
    return this.store.roles.undelete(this.ctx([this.inheritsLive(key)]), key);
  }

  // Assignments.
  async assignRole(input: AssignmentRequest & { userId: string }) {
    const assignment = this.checkedAssignment(input);
    const role = this.catalog.roles.get(assignment.roleKey)!;
    // One user: the role's closure where it is given, then the user's exact gain, dependencies included.
    await this.access.requireHoldsAll(
      role.closure,
      scopeOf(assignment),
      assignment.expiresAt?.getTime() ?? null,
    );
    const before = await this.loaders.subjects.load(input.userId);
    if (!before) throw notFound('user', input.userId);
    const added = engineAssignment(assignment, 'new');
    await this.access.requireNoGain(before, {
      ...before,
      // Given in a team, the role makes its holder a member in the same write.
      memberOf: [...new Set([...(before.memberOf ?? []), ...teamsOf([assignment])])],
      assignments: [...before.assignments, added],
    });
    return this.store.assignments.assign(this.ctx(), {
      ...assignment,
      userId: input.userId,
      // Whoever becomes an owner gets the owner's flags (Junto: Escalation Approver).
      flags: isOwnerAssignment(added, this.catalog.ownerRole) ? (this.doc.owner.flags ?? []) : [],
    });
  }
  async revokeAssignment(id: string) {
    const assignment = await this.loaders.assignments.load(id);
    if (!assignment) throw notFound('assignment', id);
    const role = this.catalog.roles.get(assignment.roleKey);
    if (role) await this.access.requireHoldsAll(role.closure, scopeOf(assignment));
    const extra =
      this.doc.requireOrgRole && role?.kind === 'org'
        ? [keepsAnOrgRole(this.orgId, assignment.userId, this.orgRoles())]
        : [];
    return this.store.assignments.revoke(this.ctx(extra), id);
  }

  // The organization.
  /** Only an active owner hands over ownership; they keep the catalog's `formerRole`. */
  async transferOwnership(toUserId: string) {
    await this.access.requireOwner('transfer ownership');
    if (this.viewer.kind !== 'user') throw new Error('unreachable: only users own');
    if (toUserId === this.viewer.userId) throw new InvalidInputError('you are already the owner');
    return this.store.assignments.transferOwnership(this.ctx(), {
      fromUserId: this.viewer.userId,
      toUserId,
      ownerRole: this.catalog.ownerRole,
      ownerFlags: this.doc.owner.flags ?? [],
      formerRole: this.doc.owner.formerRole,
    });
  }
  setToolPolicy(tool: string, mode: ToolMode) {
    if (!this.catalog.tools.has(tool))
      throw new InvalidInputError(
        `unknown tool "${tool.slice(0, 100)}"; the catalog has: ${[...this.catalog.tools.keys()].join(', ') || 'none'}`,
      );
    return this.store.toolPolicies.set(this.ctx(), tool, mode);
  }

  /** An assignment request checked against the catalog: the role exists, suits its scope, and lasts. */
  private checkedAssignment(input: AssignmentRequest, where?: string): Omit<AssignInput, 'userId'> {
    return checkAssignment(this.catalog, input, where);
  }

  private notYourself(userId: string, message: string) {
    if (this.viewer.kind === 'user' && userId === this.viewer.userId) throw new InvalidInputError(message);
  }

  /** Everything the (live, defined) roles of these assignments grant. */
  private closures(assignments: readonly { role: string; expiresAt?: number | null }[]): Bits {
    const bits = emptyBits(this.catalog.words);
    for (const a of assignments) {
      if (a.expiresAt != null && a.expiresAt <= this.authz.now) continue;
      const role = this.catalog.roles.get(a.role);
      if (role) orInto(bits, role.closure);
    }
    return bits;
  }

  private specOf(role: {
    name: string;
    description?: string | null;
    kind: RoleKind;
    grants: readonly string[];
    inherits: readonly string[];
  }): RoleSpec {
    return {
      name: role.name,
      kind: role.kind,
      grants: [...role.grants],
      inherits: [...role.inherits],
      ...(role.description ? { description: role.description } : {}),
    };
  }

  /** The custom role as `spec` would make it; BAD_USER_INPUT when it does not fit the catalog. */
  private compileRole(key: string, spec: RoleSpec): CompiledRole {
    try {
      return compileRole(this.catalog, key, spec);
    } catch (err) {
      if (err instanceof CatalogError)
        throw new InvalidInputError(
          err.issues.map((i) => `${i.path.replace(/^customRoles\./, 'role ')}: ${i.message}`).join('; '),
        );
      throw err;
    }
  }

  /** Everything a custom role grants, inheritance included. */
  permissionsOf(role: {
    key: string;
    name: string;
    kind: RoleKind;
    grants: string[];
    inherits: string[];
  }): string[] {
    return [...this.compileRole(role.key, this.specOf(role)).permissions];
  }

  /** A custom role's parents must stay defined: checked in the write, against concurrent deletes. */
  private inheritsLive(key: string) {
    return inheritsLiveRoles(this.orgId, key, Object.keys(this.doc.roles));
  }

  /** The live org roles: built-in and custom (deleted custom roles are not compiled). */
  private orgRoles(): string[] {
    return [...this.catalog.roles.values()].filter((r) => r.kind === 'org').map((r) => r.key);
  }
}

/** The teams that assignments are given in. */
function teamsOf(assignments: readonly { teamId?: string | null }[]): string[] {
  return [...new Set(assignments.flatMap((a) => (a.teamId ? [a.teamId] : [])))];
}

function unique(scopes: Scope[]): Scope[] {
  return [...new Map(scopes.map((s) => [s.type === 'org' ? '' : `${s.type}:${s.id}`, s])).values()];
}
