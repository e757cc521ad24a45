import { CatalogError, type RoleKind, type RoleSpec, type ToolMode } from '../catalog';
import { bitIndexes, compileCatalog, hasBit, type Bits } from '../engine';
import { fitsScope } from '../engine/grants';
import { ForbiddenError, InvalidInputError } from '../authz/errors';
import type { Authz } from '../authz/authz';
import type { Loaders } from '../authz/loaders';
import type { Viewer } from '../auth/tokens';
import { transferOwnership } from '../store/assignments';
import { StoreError, type Store, type WriteContext } from '../store';
import { keepsAnOrgRole, keepsAnOwner } from './invariants';

/**
 * The administration API's rules, on top of the guards (which already checked the viewer may run the
 * operation at all): nobody gives what they do not hold, the organization keeps an active owner,
 * ownership moves by adding before removing, and catalogs that require an org role get one.
 */
/** What each role kind's assignments must name, for refusals. */
const SCOPE_RULE: Record<RoleKind, string> = {
  org: 'is an organization-wide role: give neither a location nor a team',
  location: 'is a location role: give a location (or none for the whole organization), not a team',
  team: 'is a team role: give the team, and no location',
};

export class Admin {
  constructor(
    private readonly store: Store,
    private readonly authz: Authz,
    private readonly loaders: Loaders,
    private readonly viewer: Viewer,
    private readonly requestId: string,
  ) {}

  private get orgId() {
    return this.viewer.orgId;
  }

  private get catalog() {
    return this.authz.catalog;
  }

  /** Every write carries who and why, and the organization-wide rules. */
  private ctx(extra: WriteContext['invariants'] = []): WriteContext {
    const actor = this.viewer.kind === 'user' ? this.viewer.userId : `apikey:${this.viewer.keyId}`;
    return {
      orgId: this.orgId,
      actor,
      requestId: this.requestId,
      invariants: [keepsAnOwner(this.orgId, this.catalog.ownerRole), ...extra],
    };
  }

  // Locations.
  createLocation(input: { name: string; parentId?: string | null }) {
    return this.store.locations.create(this.ctx(), input);
  }
  moveLocation(input: { id: string; parentId?: string | null }) {
    return this.store.locations.move(this.ctx(), { id: input.id, parentId: input.parentId ?? null });
  }
  deleteLocation(id: string) {
    return this.store.locations.delete(this.ctx(), id);
  }

  // Users.
  async createUser(input: { email: string; name?: string | null; roles?: readonly string[] | null }) {
    const roles = [...new Set(input.roles ?? [])];
    for (const key of roles) {
      const role = this.catalog.roles.get(key);
      if (!role) throw new InvalidInputError(`unknown role "${key}"`);
      if (role.kind !== 'org')
        throw new InvalidInputError(
          `roles given at creation are organization-wide: "${key}" is a ${role.kind} role`,
        );
      await this.mustHold(role.closure, {});
    }
    if (this.catalog.catalog.document.requireOrgRole && !roles.length) {
      throw new InvalidInputError(
        'this catalog requires every user to hold an organization-wide role: give one in roles',
      );
    }
    return this.store.users.create(this.ctx(), { email: input.email, name: input.name ?? null, roles });
  }
  updateUser(input: { id: string; email?: string | null; name?: string | null }) {
    return this.store.users.update(this.ctx(), {
      id: input.id,
      ...(input.email != null ? { email: input.email } : {}),
      ...(input.name !== undefined ? { name: input.name } : {}),
    });
  }
  deleteUser(id: string) {
    return this.store.users.delete(this.ctx(), id);
  }
  undeleteUser(id: string) {
    return this.store.users.undelete(this.ctx(), id);
  }
  lockUser(id: string) {
    if (this.viewer.kind === 'user' && id === this.viewer.userId)
      throw new InvalidInputError('you cannot lock yourself out');
    return this.store.users.lock(this.ctx(), id);
  }
  unlockUser(id: string) {
    return this.store.users.unlock(this.ctx(), id);
  }
  setUserFlags(userId: string, flags: readonly string[]) {
    const known = new Set(Object.keys(this.catalog.catalog.document.flags ?? {}));
    const unknown = flags.filter((f) => !known.has(f));
    if (unknown.length)
      throw new InvalidInputError(
        `unknown flag${unknown.length > 1 ? 's' : ''} ${unknown.map((f) => `"${f}"`).join(', ')}; the catalog has: ${[...known].join(', ') || 'none'}`,
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
  undeleteTeam(id: string) {
    return this.store.teams.undelete(this.ctx(), id);
  }
  addTeamMember(teamId: string, userId: string) {
    return this.store.teams.addMember(this.ctx(), teamId, userId);
  }
  removeTeamMember(teamId: string, userId: string) {
    return this.store.teams.removeMember(this.ctx(), teamId, userId);
  }

  // Roles.
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
    const spec: RoleSpec = {
      name: input.name,
      kind: input.kind,
      grants: input.grants,
      inherits: input.inherits ?? [],
      ...(input.description ? { description: input.description } : {}),
    };
    const closure = this.compileRole(input.key, spec);
    await this.mustHold(closure, {});
    return this.store.roles.create(this.ctx(), { ...input, inherits: input.inherits ?? [] }, action);
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
        `"${input.key}" is not a custom role: built-in roles come from the catalog`,
      );
    const spec: RoleSpec = {
      name: input.name,
      kind: current.kind,
      grants: input.grants,
      inherits: input.inherits ?? [],
    };
    const closure = this.compileRole(input.key, spec);
    await this.mustHold(closure, {});
    await this.mustHold(current.closure, {});
    return this.store.roles.update(this.ctx(), input.key, { ...input, inherits: input.inherits ?? [] });
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
    if (role) await this.mustHold(role.closure, {});
    return this.store.roles.delete(this.ctx(), key);
  }
  undeleteRole(key: string) {
    return this.store.roles.undelete(this.ctx(), key);
  }

  // Assignments.
  async assignRole(input: {
    userId: string;
    role: string;
    locationId?: string | null;
    teamId?: string | null;
    personId?: string | null;
    groupIds?: readonly string[] | null;
    expiresAt?: Date | null;
  }) {
    const role = this.catalog.roles.get(input.role);
    if (!role) throw new InvalidInputError(`unknown role "${input.role}"`);
    // The engine's rule: an assignment that does not fit its role counts for nothing, so refuse it here.
    if (!fitsScope(role, input)) throw new InvalidInputError(`"${role.key}" ${SCOPE_RULE[role.kind]}`);
    if (input.expiresAt && input.expiresAt.getTime() <= Date.now())
      throw new InvalidInputError('expiresAt is in the past');
    await this.mustHold(role.closure, { locationId: input.locationId, teamId: input.teamId });
    return this.store.assignments.assign(this.ctx(), { ...input, roleKey: role.key });
  }
  async revokeAssignment(id: string) {
    const assignment = await this.store.assignments.get(this.orgId, id);
    if (!assignment) throw new StoreError('NOT_FOUND', `assignment ${id} does not exist`);
    const role = this.catalog.roles.get(assignment.roleKey);
    if (role)
      await this.mustHold(role.closure, { locationId: assignment.locationId, teamId: assignment.teamId });
    const extra =
      this.catalog.catalog.document.requireOrgRole && role?.kind === 'org'
        ? [keepsAnOrgRole(this.orgId, assignment.userId, this.orgRoles())]
        : [];
    return this.store.assignments.revoke(this.ctx(extra), id);
  }

  // The organization.
  async transferOwnership(toUserId: string) {
    if (this.viewer.kind !== 'user')
      throw new ForbiddenError(
        this.catalog.ownerRole,
        'the organization',
        'forbidden: only an owner can transfer ownership',
      );
    const owner = this.catalog.ownerRole;
    const mine = (await this.loaders.assignmentsOf.load(this.viewer.userId)).some(
      (a) => a.roleKey === owner && !a.locationId && !a.teamId,
    );
    if (!mine)
      throw new ForbiddenError(
        `role ${owner}`,
        'the organization',
        `forbidden: only an owner (role ${owner}) can transfer ownership`,
      );
    if (toUserId === this.viewer.userId) throw new InvalidInputError('you are already the owner');
    return transferOwnership(this.store.write, this.ctx(), {
      fromUserId: this.viewer.userId,
      toUserId,
      ownerRole: owner,
      ownerFlags: this.catalog.catalog.document.owner.flags ?? [],
    });
  }
  setToolPolicy(tool: string, mode: ToolMode) {
    if (!this.catalog.tools.has(tool))
      throw new InvalidInputError(
        `unknown tool "${tool}"; the catalog has: ${[...this.catalog.tools.keys()].join(', ') || 'none'}`,
      );
    return this.store.toolPolicies.set(this.ctx(), tool, mode);
  }

  /**
   * No escalation: the viewer must hold every permission of `closure` at the scope (a location with
   * what cascades to it, a team with what is org-wide), or wider.
   */
  private async mustHold(
    closure: Bits,
    scope: { locationId?: string | null; teamId?: string | null },
  ): Promise<void> {
    const where = scope.teamId
      ? `team ${scope.teamId}`
      : scope.locationId
        ? `location ${scope.locationId}`
        : 'the organization';
    if (this.viewer.kind !== 'user')
      throw new ForbiddenError('administration', where, 'forbidden: API keys cannot administer roles');
    const [grants, locationPath] = await Promise.all([
      this.loaders.grants.load(this.viewer.userId),
      this.authz.pathOf(scope.locationId),
    ]);
    if (!locationPath) throw new StoreError('NOT_FOUND', `location ${scope.locationId} does not exist`);
    const set = grants
      ? grants.effective({ locationPath, teamIds: scope.teamId ? [scope.teamId] : [] })
      : undefined;
    const missing = bitIndexes(closure)
      .filter((b) => !set || !hasBit(set, b))
      .map((b) => this.catalog.keys[b]!);
    if (missing.length) {
      throw new ForbiddenError(
        missing[0]!,
        where,
        `forbidden: you cannot give permissions you do not hold at ${where}: ${missing.join(', ')}`,
      );
    }
  }

  /** The closure a custom role would have; CatalogError (BAD_USER_INPUT) when it does not fit the catalog. */
  private compileRole(key: string, spec: RoleSpec): Bits {
    const others = Object.fromEntries(
      [...this.catalog.roles.values()].filter((r) => r.custom && r.key !== key).map((r) => [r.key, r.spec]),
    );
    try {
      return compileCatalog(this.catalog.catalog, { ...others, [key]: spec }).roles.get(key)!.closure;
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
    const closure = this.compileRole(role.key, {
      name: role.name,
      kind: role.kind,
      grants: role.grants,
      inherits: role.inherits,
    });
    return bitIndexes(closure).map((b) => this.catalog.keys[b]!);
  }

  private orgRoles(): string[] {
    return [...this.catalog.roles.values()].filter((r) => r.kind === 'org').map((r) => r.key);
  }
}
