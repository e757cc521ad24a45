import { describeTable, type Row, type WorldSpec } from './fixtures';

/**
 * Junto administration decision table (issue 9; SPEC "Administration rules"). Junto is one ladder of
 * org roles (Owner > Admin > Manager > Operator > Technician), so every scope is the root: the rows are
 * about covering (an Admin never acts on an Owner), flags (nobody sets their own; no role grants a
 * flag's permission), restores, no escalation through roles, and the owner's lifecycle.
 *
 * Junto guards: user:update_role (updateUser, assignRole, revokeAssignment), user:remove (deleteUser,
 * lockUser, unlockUser), user:invite (createUser, undeleteUser), user:manage_flags (setUserFlags),
 * settings:manage (roles), organization:transfer_ownership (transferOwnership). Flag-only
 * permissions: finance:agent_tools (billing_admin), escalation:approve and
 * escalation:receive_notifications (escalation_approver).
 */

/** What an Admin lacks and an Owner holds. */
const OWNER_ONLY = ['billing:manage', 'organization:transfer_ownership'];
const TECHNICIAN = ['ticket:view', 'ticket:interact', 'runbook:view', 'runbook:execute', 'workflow:execute'];

const BASE: WorldSpec = {
  // The owner holds both flags: a role granting a flag's permission would not be an escalation for them.
  ownerFlags: ['billing_admin', 'escalation_approver'],
  roles: [
    { key: 'helper', kind: 'org', grants: ['ticket:view'] },
    { key: 'biller', kind: 'org', grants: ['billing:manage'] },
    { key: 'inviter', kind: 'org', grants: ['user:invite'] },
    // Deleted by the owner.
    { key: 'old_biller', kind: 'org', grants: ['billing:manage'], deleted: true },
    { key: 'old_helper', kind: 'org', grants: ['ticket:view'], deleted: true },
  ],
  users: {
    coOwner: { roles: ['owner'], flags: ['escalation_approver'] },
    lockedOwner: { roles: ['owner'], flags: ['escalation_approver'], locked: true },
    deletedOwner: { roles: ['owner'], deleted: true },
    admin: { roles: ['admin'] },
    admin2: { roles: ['admin'] },
    billingAdmin: { roles: ['admin'], flags: ['billing_admin'] },
    manager: { roles: ['manager'] },
    operator: { roles: [{ role: 'operator', as: 'operator' }] },
    flaggedOperator: { roles: ['operator'], flags: ['billing_admin', 'escalation_approver'] },
    lockedOperator: { roles: ['operator'], locked: true },
    deletedOperator: { roles: ['operator'], deleted: true },
    inviter: { roles: ['inviter'] },
  },
};

const WORLDS: Record<string, WorldSpec> = {
  base: BASE,
  // The tenant's owner alone.
  sole: {},
  // Two owners, both active: the owner invariant's rows.
  twoOwners: {
    users: { coOwner: { roles: [{ role: 'owner', as: 'coOwner' }], flags: ['escalation_approver'] } },
  },
  // The co-owner's owner assignment expires: it does not make them an owner.
  expiringCoOwner: { users: { coOwner: { roles: [{ role: 'owner', expiresInDays: 30 }] } } },
  // The owner is the only active user with Escalation Approver (a locked holder does not count).
  lastApprover: {
    users: {
      bareOwner: { roles: ['owner'] },
      lockedApprover: { roles: ['operator'], flags: ['escalation_approver'], locked: true },
      operator: { roles: ['operator'] },
    },
  },
};

// prettier-ignore
const ROWS: Row[] = [
  // An Admin against the Owner, for every user operation: never covered (billing:manage,
  // organization:transfer_ownership).
  { actor: 'admin', op: 'updateUser', target: 'owner (name)', scope: 'root', outcome: 'FORBIDDEN',
    input: { id: '$u.owner', name: 'Renamed' }, permission: OWNER_ONLY, at: 'root' },
  { actor: 'admin', op: 'updateUser', target: 'owner (email)', scope: 'root', outcome: 'FORBIDDEN',
    input: { id: '$u.owner', email: 'mine@x.test' }, permission: OWNER_ONLY, at: 'root' },
  { actor: 'admin', op: 'lockUser', target: 'owner', scope: 'root', outcome: 'FORBIDDEN',
    input: { id: '$u.owner' }, permission: OWNER_ONLY, at: 'root' },
  { actor: 'admin', op: 'unlockUser', target: 'owner', scope: 'root', outcome: 'FORBIDDEN',
    input: { id: '$u.owner' }, permission: OWNER_ONLY, at: 'root' },
  { actor: 'admin', op: 'deleteUser', target: 'owner', scope: 'root', outcome: 'FORBIDDEN',
    input: { id: '$u.owner' }, permission: OWNER_ONLY, at: 'root' },
  { actor: 'admin', op: 'undeleteUser', target: 'owner', scope: 'root', outcome: 'FORBIDDEN',
    input: { id: '$u.owner' }, permission: OWNER_ONLY, at: 'root' },
  { actor: 'admin', op: 'setUserFlags', target: 'owner (strip escalation_approver)', scope: 'root', outcome: 'FORBIDDEN',
    input: { userId: '$u.owner', flags: ['billing_admin'] }, permission: OWNER_ONLY, at: 'root' },
  { actor: 'admin', op: 'assignRole', target: 'owner', scope: 'root', outcome: 'FORBIDDEN',
    input: { userId: '$u.owner', role: 'technician' }, permission: OWNER_ONLY, at: 'root' },
  { actor: 'admin', op: 'revokeAssignment', target: "owner's owner role", scope: 'root', outcome: 'FORBIDDEN',
    input: { id: '$a.owner' }, permission: OWNER_ONLY, at: 'root' },
  { actor: 'admin', op: 'lockUser', target: 'coOwner', scope: 'root', outcome: 'FORBIDDEN',
    input: { id: '$u.coOwner' }, permission: OWNER_ONLY, at: 'root' },
  { actor: 'admin', op: 'deleteUser', target: 'coOwner', scope: 'root', outcome: 'FORBIDDEN',
    input: { id: '$u.coOwner' }, permission: OWNER_ONLY, at: 'root' },
  // Restores are covered as if the user were active again.
  { actor: 'admin', op: 'unlockUser', target: 'lockedOwner', scope: 'root', outcome: 'FORBIDDEN',
    input: { id: '$u.lockedOwner' }, permission: OWNER_ONLY, at: 'root' },
  { actor: 'admin', op: 'undeleteUser', target: 'deletedOwner', scope: 'root', outcome: 'FORBIDDEN',
    input: { id: '$u.deletedOwner' }, permission: OWNER_ONLY, at: 'root' },

  // The same Admin against an Operator: covered.
  { actor: 'admin', op: 'updateUser', target: 'operator (email)', scope: 'root', outcome: 'allowed',
    input: { id: '$u.operator', email: 'op2@x.test' },
    then: async (x, w) => expect((await x.user(w, 'operator')).email).toBe('op2@x.test') },
  { actor: 'admin', op: 'lockUser', target: 'operator', scope: 'root', outcome: 'allowed',
    input: { id: '$u.operator' }, then: async (x, w) => expect((await x.user(w, 'operator')).locked).toBe(true) },
  { actor: 'admin', op: 'unlockUser', target: 'lockedOperator', scope: 'root', outcome: 'allowed',
    input: { id: '$u.lockedOperator' },
    then: async (x, w) => expect((await x.user(w, 'lockedOperator')).locked).toBe(false) },
  { actor: 'admin', op: 'deleteUser', target: 'operator', scope: 'root', outcome: 'allowed',
    input: { id: '$u.operator' },
    then: async (x, w) => expect((await x.user(w, 'operator')).deletedAt).not.toBeNull() },
  { actor: 'admin', op: 'undeleteUser', target: 'deletedOperator', scope: 'root', outcome: 'allowed',
    input: { id: '$u.deletedOperator' },
    then: async (x, w) => expect((await x.user(w, 'deletedOperator')).deletedAt).toBeNull() },
  // Flags are the Admins' per-user switch: a covered user may get one the Admin lacks.
  { actor: 'admin', op: 'setUserFlags', target: 'operator (billing_admin)', scope: 'root', outcome: 'allowed',
    input: { userId: '$u.operator', flags: ['billing_admin'] },
    then: async (x, w) => expect((await x.user(w, 'operator')).flags).toEqual(['billing_admin']) },
  { actor: 'admin', op: 'assignRole', target: 'operator (manager)', scope: 'root', outcome: 'allowed',
    input: { userId: '$u.operator', role: 'manager' },
    then: async (x, w) => expect(await x.held(w, 'operator')).toEqual(['manager@root', 'operator@root']) },
  { actor: 'admin', op: 'revokeAssignment', target: "operator's operator role", scope: 'root', outcome: 'allowed',
    input: { id: '$a.operator' }, then: async (x, w) => expect(await x.held(w, 'operator')).toEqual([]) },
  // What only flags grant is not part of covering.
  { actor: 'admin', op: 'updateUser', target: 'flaggedOperator (both flags)', scope: 'root', outcome: 'allowed',
    input: { id: '$u.flaggedOperator', name: 'Renamed' } },
  { actor: 'admin', op: 'lockUser', target: 'admin2 (a peer)', scope: 'root', outcome: 'allowed',
    input: { id: '$u.admin2' } },
  { actor: 'manager', op: 'updateUser', target: 'operator', scope: 'root', outcome: 'FORBIDDEN',
    input: { id: '$u.operator', name: 'Renamed' }, permission: 'user:update_role', at: 'root' },

  // Nobody changes their own flags, nor locks or deletes themselves.
  { actor: 'admin', op: 'setUserFlags', target: 'self (billing_admin)', scope: 'root', outcome: 'FORBIDDEN',
    input: { userId: '$u.admin', flags: ['billing_admin'] }, at: 'root' },
  { actor: 'admin', op: 'setUserFlags', target: 'self (escalation_approver)', scope: 'root', outcome: 'FORBIDDEN',
    input: { userId: '$u.admin', flags: ['escalation_approver'] }, at: 'root' },
  { actor: 'owner', op: 'setUserFlags', target: 'self (none)', scope: 'root', outcome: 'FORBIDDEN',
    input: { userId: '$u.owner', flags: [] }, at: 'root' },
  { actor: 'admin', op: 'lockUser', target: 'self', scope: 'root', outcome: 'BAD_USER_INPUT',
    input: { id: '$u.admin' } },
  { actor: 'admin', op: 'deleteUser', target: 'self', scope: 'root', outcome: 'BAD_USER_INPUT',
    input: { id: '$u.admin' } },

  // No role grants a flag's permission, whoever asks (even holding it through the flag).
  { actor: 'billingAdmin', op: 'createRole', target: 'role granting finance:agent_tools', scope: 'root', outcome: 'BAD_USER_INPUT',
    input: { key: 'fin', name: 'Fin', kind: 'ORG', grants: ['finance:agent_tools'] }, message: /finance:agent_tools/ },
  { actor: 'owner', op: 'createRole', target: 'role granting finance:agent_tools', scope: 'root', outcome: 'BAD_USER_INPUT',
    input: { key: 'fin', name: 'Fin', kind: 'ORG', grants: ['finance:agent_tools', 'ticket:view'] },
    message: /finance:agent_tools/ },
  { actor: 'owner', op: 'createRole', target: 'role granting escalation:approve', scope: 'root', outcome: 'BAD_USER_INPUT',
    input: { key: 'esc', name: 'Esc', kind: 'ORG', grants: ['escalation:approve'] }, message: /escalation:approve/ },
  { actor: 'billingAdmin', op: 'updateRole', target: 'helper + finance:agent_tools', scope: 'root', outcome: 'BAD_USER_INPUT',
    input: { key: 'helper', name: 'Helper', grants: ['ticket:view', 'finance:agent_tools'] },
    message: /finance:agent_tools/ },
  { actor: 'owner', op: 'updateRole', target: 'helper + finance:agent_tools', scope: 'root', outcome: 'BAD_USER_INPUT',
    input: { key: 'helper', name: 'Helper', grants: ['ticket:view', 'finance:agent_tools'] },
    message: /finance:agent_tools/ },
  // A wildcard skips what only a flag grants.
  { actor: 'owner', op: 'createRole', target: 'role granting escalation:*', scope: 'root', outcome: 'allowed',
    input: { key: 'esc', name: 'Esc', kind: 'ORG', grants: ['escalation:*'] },
    then: async (_x, _w, d) => expect(d.role.permissions).toEqual(['escalation:manage']) },

  // Roles: only by someone holding all they grant, before and after; restoring is creating again.
  { actor: 'admin', op: 'createRole', target: 'role granting billing:manage', scope: 'root', outcome: 'FORBIDDEN',
    input: { key: 'b2', name: 'B2', kind: 'ORG', grants: ['billing:manage'] }, permission: 'billing:manage',
    at: 'root' },
  { actor: 'admin', op: 'updateRole', target: 'helper → billing:manage', scope: 'root', outcome: 'FORBIDDEN',
    input: { key: 'helper', name: 'Helper', grants: ['billing:manage'] }, permission: 'billing:manage', at: 'root' },
  { actor: 'admin', op: 'updateRole', target: 'helper → inherits owner', scope: 'root', outcome: 'FORBIDDEN',
    input: { key: 'helper', name: 'Helper', grants: [], inherits: ['owner'] }, permission: OWNER_ONLY, at: 'root' },
  { actor: 'admin', op: 'updateRole', target: 'biller (billing:manage) → ticket:view', scope: 'root', outcome: 'FORBIDDEN',
    input: { key: 'biller', name: 'Biller', grants: ['ticket:view'] }, permission: 'billing:manage', at: 'root' },
  { actor: 'admin', op: 'updateRole', target: 'helper → ticket:view, ticket:interact', scope: 'root', outcome: 'allowed',
    input: { key: 'helper', name: 'Helper', grants: ['ticket:view', 'ticket:interact'] },
    then: async (_x, _w, d) => expect(d.role.permissions).toEqual(['ticket:view', 'ticket:interact']) },
  { actor: 'admin', op: 'deleteRole', target: 'biller (billing:manage)', scope: 'root', outcome: 'FORBIDDEN',
    input: { key: 'biller' }, permission: 'billing:manage', at: 'root' },
  { actor: 'admin', op: 'deleteRole', target: 'helper', scope: 'root', outcome: 'allowed',
    input: { key: 'helper' } },
  { actor: 'admin', op: 'undeleteRole', target: 'old_biller (billing:manage, deleted by the owner)', scope: 'root', outcome: 'FORBIDDEN',
    input: { key: 'old_biller' }, permission: 'billing:manage', at: 'root' },
  { actor: 'admin', op: 'undeleteRole', target: 'old_helper', scope: 'root', outcome: 'allowed',
    input: { key: 'old_helper' } },
  { actor: 'owner', op: 'undeleteRole', target: 'old_biller', scope: 'root', outcome: 'allowed',
    input: { key: 'old_biller' } },
  { actor: 'admin', op: 'cloneRole', target: 'owner', scope: 'root', outcome: 'FORBIDDEN',
    input: { key: 'owner', newKey: 'owner_two' }, permission: OWNER_ONLY, at: 'root' },

  // createUser: default roles, no escalation, owner flags.
  { actor: 'admin', op: 'createUser', target: 'a new user with no role', scope: 'root', outcome: 'allowed',
    input: { email: 'n@x.test' },
    then: async (x, w, d) => {
      expect(await x.held(w, d.user.id)).toEqual(['technician@root']); // defaultRoles
      expect((await x.user(w, d.user.id)).flags).toEqual([]);
    } },
  // The default roles are given like any other: inviter holds user:invite and nothing of a Technician.
  { actor: 'inviter', op: 'createUser', target: 'a new user with no role', scope: 'root', outcome: 'FORBIDDEN',
    input: { email: 'n@x.test' }, permission: TECHNICIAN, at: 'root' },
  { actor: 'admin', op: 'createUser', target: 'a new Manager', scope: 'root', outcome: 'allowed',
    input: { email: 'n@x.test', roles: ['manager'] },
    then: async (x, w, d) => expect(await x.held(w, d.user.id)).toEqual(['manager@root']) },
  { actor: 'admin', op: 'createUser', target: 'a new Owner (roles)', scope: 'root', outcome: 'FORBIDDEN',
    input: { email: 'n@x.test', roles: ['owner'] }, permission: OWNER_ONLY, at: 'root' },
  { actor: 'admin', op: 'createUser', target: 'a new Owner (assignments)', scope: 'root', outcome: 'FORBIDDEN',
    input: { email: 'n@x.test', assignments: [{ role: 'owner' }] }, permission: OWNER_ONLY, at: 'root' },
  { actor: 'owner', op: 'createUser', target: 'a new Owner (roles)', scope: 'root', outcome: 'allowed',
    input: { email: 'n@x.test', roles: ['owner'] },
    then: async (x, w, d) => {
      expect(await x.held(w, d.user.id)).toEqual(['owner@root']);
      expect((await x.user(w, d.user.id)).flags).toEqual(['escalation_approver']);
    } },
  { actor: 'owner', op: 'createUser', target: 'a new Owner (assignments)', scope: 'root', outcome: 'allowed',
    input: { email: 'n@x.test', assignments: [{ role: 'owner' }] },
    then: async (x, w, d) => expect((await x.user(w, d.user.id)).flags).toEqual(['escalation_approver']) },
  { actor: 'owner', op: 'assignRole', target: 'operator (owner)', scope: 'root', outcome: 'allowed',
    input: { userId: '$u.operator', role: 'owner' },
    then: async (x, w) => {
      expect(await x.held(w, 'operator')).toEqual(['operator@root', 'owner@root']);
      expect((await x.user(w, 'operator')).flags).toEqual(['escalation_approver']);
    } },
  { actor: 'admin', op: 'assignRole', target: 'operator (owner)', scope: 'root', outcome: 'FORBIDDEN',
    input: { userId: '$u.operator', role: 'owner' }, permission: OWNER_ONLY, at: 'root' },

  // Ownership moves whole: the new owner gets the owner flags, the previous one keeps Admin.
  { actor: 'owner', op: 'transferOwnership', target: 'operator', scope: 'root', outcome: 'allowed',
    input: { toUserId: '$u.operator' },
    then: async (x, w) => {
      expect(await x.held(w, 'operator')).toEqual(['operator@root', 'owner@root']);
      expect((await x.user(w, 'operator')).flags).toEqual(['escalation_approver']);
      expect(await x.held(w, 'owner')).toEqual(['admin@root']); // formerRole
    } },
  { actor: 'admin', op: 'transferOwnership', target: 'operator', scope: 'root', outcome: 'FORBIDDEN',
    input: { toUserId: '$u.operator' }, at: 'root' },

  // At least one active holder of Escalation Approver: a warning, not a refusal.
  { actor: 'bareOwner', op: 'setUserFlags', target: 'owner (the last active escalation_approver)', scope: 'root', outcome: 'allowed', world: 'lastApprover',
    input: { userId: '$u.owner', flags: [] },
    then: async (x, w, d) => {
      expect(d.warnings).toEqual([expect.stringContaining('escalation_approver')]);
      const org = await x.query(w, 'bareOwner', '{ organization { warnings } }');
      expect(org.data!.organization.warnings).toEqual([expect.stringContaining('escalation_approver')]);
      // …and it stays until someone holds the flag again.
      const back = await x.must(w, 'bareOwner', 'setUserFlags', {
        userId: '$u.operator',
        flags: ['escalation_approver'],
      });
      expect(back.warnings).toEqual([]);
    } },
  { actor: 'coOwner', op: 'setUserFlags', target: 'owner (coOwner still approves)', scope: 'root', outcome: 'allowed',
    input: { userId: '$u.owner', flags: [] }, then: async (_x, _w, d) => expect(d.warnings).toEqual([]) },

  // The organization keeps an effective owner: org-wide, unrestricted, non-expiring, of an active user.
  { actor: 'owner', op: 'assignRole', target: 'self (owner, expiring)', scope: 'root', outcome: 'allowed', world: 'sole',
    input: { userId: '$u.owner', role: 'owner', expiresAt: '$days.30' } },
  { actor: 'owner', op: 'revokeAssignment', target: 'own owner role, keeping an expiring one', scope: 'root', outcome: 'CONFLICT', world: 'sole',
    input: { id: '$a.owner' },
    before: (x, w) =>
      x.must(w, 'owner', 'assignRole', { userId: '$u.owner', role: 'owner', expiresAt: '$days.30' }) },
  { actor: 'owner', op: 'revokeAssignment', target: "own owner role (coOwner's expires)", scope: 'root', outcome: 'CONFLICT', world: 'expiringCoOwner',
    input: { id: '$a.owner' } },
  { actor: 'owner', op: 'revokeAssignment', target: 'own owner role (coOwner active)', scope: 'root', outcome: 'allowed', world: 'twoOwners',
    input: { id: '$a.owner' }, then: async (x, w) => expect(await x.held(w, 'owner')).toEqual([]) },
  { actor: 'owner', op: 'revokeAssignment', target: 'own owner role, after locking coOwner', scope: 'root', outcome: 'CONFLICT', world: 'twoOwners',
    input: { id: '$a.owner' }, before: (x, w) => x.must(w, 'owner', 'lockUser', { id: '$u.coOwner' }) },
  { actor: 'owner', op: 'revokeAssignment', target: 'own owner role, after deleting coOwner', scope: 'root', outcome: 'CONFLICT', world: 'twoOwners',
    input: { id: '$a.owner' }, before: (x, w) => x.must(w, 'owner', 'deleteUser', { id: '$u.coOwner' }) },
  { actor: 'owner', op: 'lockUser', target: 'coOwner', scope: 'root', outcome: 'allowed', world: 'twoOwners',
    input: { id: '$u.coOwner' } },
];

describeTable('Junto administration table', 'junto', WORLDS, ROWS);
