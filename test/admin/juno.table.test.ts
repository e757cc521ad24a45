import { describeTable, type Row, type WorldSpec } from './fixtures';

/**
 * Juno administration decision table (issue 9; SPEC "Administration rules"). Juno's specific roles are
 * org roles, and every user keeps a non-expiring one of a live role (requireOrgRole); team roles are
 * summed within a team. The Administrator holds settings_roles:edit, which guards transferOwnership:
 * only an effective owner (org-wide, unrestricted, non-expiring, active) may transfer, so an
 * Administrator holding a restricted or expiring owner assignment must be refused. Such assignments
 * cannot be given through the API (owner is an org role): they are store fixtures.
 *
 * Juno guards: settings_user:edit (updateUser, setUserFlags, assignRole, revokeAssignment),
 * settings_user:lock / unlock / delete / undelete / create, settings_roles:* (roles),
 * settings_roles:edit (transferOwnership). An Administrator lacks project:delete, docs_space:delete
 * and settings_billing:*, which an Owner holds.
 */

const OWNER_ONLY = [
  'project:delete',
  'docs_space:delete',
  'settings_billing:view',
  'settings_billing:create',
  'settings_billing:edit',
  'settings_billing:cancel',
];
const BILLING = [
  'settings_billing:view',
  'settings_billing:create',
  'settings_billing:edit',
  'settings_billing:cancel',
];

const BASE: WorldSpec = {
  teams: ['web'],
  roles: [
    { key: 'auditor', kind: 'org', grants: ['project:view'] },
    { key: 'reviewer', kind: 'org', grants: ['project:view'] },
    { key: 'retired', kind: 'org', grants: ['project:view'], deleted: true },
    { key: 'billing_viewer', kind: 'org', grants: ['settings_billing:view'] },
    // Creates and edits users, holds project:edit and the issues module, nothing more.
    {
      key: 'seat_admin',
      kind: 'org',
      grants: [
        'settings_user:view',
        'settings_user:create',
        'settings_user:edit',
        'project:edit',
        'project_issues:view',
        'project_issues:edit',
      ],
    },
    { key: 'editor_only', kind: 'team', grants: ['project:edit'] },
    { key: 'prio_only', kind: 'team', grants: ['project_priority:create'] },
  ],
  users: {
    coOwner: { roles: ['owner'] },
    lockedOwner: { roles: ['owner'], locked: true },
    deletedOwner: { roles: ['owner'], deleted: true },
    admin: { roles: ['administrator'] },
    member: { roles: ['member'] },
    // Administrators holding an owner assignment that does not make them an owner.
    personOwner: { roles: ['administrator', { role: 'owner', personId: 'staff-1' }] },
    groupOwner: { roles: ['administrator', { role: 'owner', groupIds: ['group-1'] }] },
    expiringOwner: { roles: ['administrator', { role: 'owner', expiresInDays: 30 }] },
    expiredOwner: { roles: ['administrator', { role: 'owner', expiresInDays: -1 }] },
    // The last specific role.
    expiringOnly: {
      roles: [
        { role: 'member', as: 'expiringOnly.member' },
        { role: 'administrator', expiresInDays: 30 },
      ],
    },
    twoRoles: { roles: [{ role: 'member', as: 'twoRoles.member' }, 'billing_manager'] },
    retiredBacked: { roles: [{ role: 'member', as: 'retiredBacked.member' }, 'retired'] },
    retiredDeleted: { roles: ['retired'], deleted: true },
    auditorOnly: { roles: ['auditor'] },
    reviewerPlus: { roles: ['reviewer', 'member'] },
    // Team roles summed: triager's project_priority:* wait for project:edit in the same team.
    seatAdmin: { roles: ['member', 'seat_admin'] },
    triager: { roles: ['member', { role: 'triager', team: 'web' }] },
  },
};

const WORLDS: Record<string, WorldSpec> = { base: BASE };

// prettier-ignore
const ROWS: Row[] = [
  // transferOwnership: only an effective owner.
  { actor: 'personOwner', op: 'transferOwnership', target: 'member', scope: 'root', outcome: 'FORBIDDEN',
    input: { toUserId: '$u.member' }, at: 'root' },
  { actor: 'groupOwner', op: 'transferOwnership', target: 'member', scope: 'root', outcome: 'FORBIDDEN',
    input: { toUserId: '$u.member' }, at: 'root' },
  { actor: 'expiringOwner', op: 'transferOwnership', target: 'member', scope: 'root', outcome: 'FORBIDDEN',
    input: { toUserId: '$u.member' }, at: 'root' },
  { actor: 'expiredOwner', op: 'transferOwnership', target: 'member', scope: 'root', outcome: 'FORBIDDEN',
    input: { toUserId: '$u.member' }, at: 'root' },
  { actor: 'admin', op: 'transferOwnership', target: 'member', scope: 'root', outcome: 'FORBIDDEN',
    input: { toUserId: '$u.member' }, at: 'root' },
  { actor: 'owner', op: 'transferOwnership', target: 'member', scope: 'root', outcome: 'allowed',
    input: { toUserId: '$u.member' },
    then: async (x, w) => {
      expect(await x.held(w, 'member')).toEqual(['member@root', 'owner@root']);
      expect(await x.held(w, 'owner')).toEqual(['administrator@root']); // formerRole
    } },

  // Every user keeps a non-expiring assignment of a live org role.
  { actor: 'owner', op: 'revokeAssignment', target: "expiringOnly's member (administrator expires)", scope: 'root', outcome: 'CONFLICT',
    input: { id: '$a.expiringOnly.member' } },
  { actor: 'owner', op: 'revokeAssignment', target: "retiredBacked's member (retired is deleted)", scope: 'root', outcome: 'CONFLICT',
    input: { id: '$a.retiredBacked.member' } },
  { actor: 'owner', op: 'revokeAssignment', target: "twoRoles's member (billing_manager stays)", scope: 'root', outcome: 'allowed',
    input: { id: '$a.twoRoles.member' },
    then: async (x, w) => expect(await x.held(w, 'twoRoles')).toEqual(['billing_manager@root']) },
  { actor: 'owner', op: 'undeleteUser', target: 'retiredDeleted (their only org role, retired, is deleted)', scope: 'root', outcome: 'CONFLICT',
    input: { id: '$u.retiredDeleted' }, message: /restored without an organization-wide role/ },
  { actor: 'owner', op: 'deleteRole', target: "auditor (auditorOnly's last)", scope: 'root', outcome: 'CONFLICT',
    input: { key: 'auditor' }, message: /\b1 user\b/ },
  { actor: 'owner', op: 'deleteRole', target: 'reviewer (reviewerPlus keeps member)', scope: 'root', outcome: 'allowed',
    input: { key: 'reviewer' } },
  { actor: 'owner', op: 'createUser', target: 'a new user with no role', scope: 'root', outcome: 'BAD_USER_INPUT',
    input: { email: 'n@x.test' } },
  { actor: 'owner', op: 'createUser', target: 'a new user with an expiring member', scope: 'root', outcome: 'BAD_USER_INPUT',
    input: { email: 'n@x.test', assignments: [{ role: 'member', expiresAt: '$days.30' }] } },
  { actor: 'owner', op: 'createUser', target: 'a new user with a team role only', scope: 'team web', outcome: 'BAD_USER_INPUT',
    input: { email: 'n@x.test', assignments: [{ role: 'developer', teamId: '$t.web' }] } },
  { actor: 'owner', op: 'createUser', target: 'a new member', scope: 'root', outcome: 'allowed',
    input: { email: 'n@x.test', roles: ['member'] },
    then: async (x, w, d) => expect(await x.held(w, d.user.id)).toEqual(['member@root']) },

  // An Administrator against an Owner: never covered.
  { actor: 'admin', op: 'updateUser', target: 'owner', scope: 'root', outcome: 'FORBIDDEN',
    input: { id: '$u.owner', email: 'mine@x.test' }, permission: OWNER_ONLY, at: 'root' },
  { actor: 'admin', op: 'lockUser', target: 'owner', scope: 'root', outcome: 'FORBIDDEN',
    input: { id: '$u.owner' }, permission: OWNER_ONLY, at: 'root' },
  { actor: 'admin', op: 'deleteUser', target: 'coOwner', scope: 'root', outcome: 'FORBIDDEN',
    input: { id: '$u.coOwner' }, permission: OWNER_ONLY, at: 'root' },
  { actor: 'admin', op: 'unlockUser', target: 'lockedOwner', scope: 'root', outcome: 'FORBIDDEN',
    input: { id: '$u.lockedOwner' }, permission: OWNER_ONLY, at: 'root' },
  { actor: 'admin', op: 'undeleteUser', target: 'deletedOwner', scope: 'root', outcome: 'FORBIDDEN',
    input: { id: '$u.deletedOwner' }, permission: OWNER_ONLY, at: 'root' },
  { actor: 'admin', op: 'setUserFlags', target: 'owner', scope: 'root', outcome: 'FORBIDDEN',
    input: { userId: '$u.owner', flags: [] }, permission: OWNER_ONLY, at: 'root' },
  { actor: 'admin', op: 'assignRole', target: 'owner (member)', scope: 'root', outcome: 'FORBIDDEN',
    input: { userId: '$u.owner', role: 'member' }, permission: OWNER_ONLY, at: 'root' },
  { actor: 'admin', op: 'revokeAssignment', target: "owner's owner role", scope: 'root', outcome: 'FORBIDDEN',
    input: { id: '$a.owner' }, permission: OWNER_ONLY, at: 'root' },
  // Covering counts a restricted assignment as if it applied, and not an expired one.
  { actor: 'admin', op: 'updateUser', target: 'personOwner (owner for one person)', scope: 'root', outcome: 'FORBIDDEN',
    input: { id: '$u.personOwner', name: 'Renamed' }, permission: OWNER_ONLY, at: 'root' },
  { actor: 'admin', op: 'lockUser', target: 'expiringOwner (owner until next month)', scope: 'root', outcome: 'FORBIDDEN',
    input: { id: '$u.expiringOwner' }, permission: OWNER_ONLY, at: 'root' },
  { actor: 'admin', op: 'updateUser', target: 'expiredOwner (owner until yesterday)', scope: 'root', outcome: 'allowed',
    input: { id: '$u.expiredOwner', name: 'Renamed' } },
  { actor: 'admin', op: 'updateUser', target: 'member', scope: 'root', outcome: 'allowed',
    input: { id: '$u.member', name: 'Renamed' },
    then: async (x, w) => expect((await x.user(w, 'member')).name).toBe('Renamed') },

  // No escalation through roles given or defined.
  { actor: 'admin', op: 'assignRole', target: 'member (owner)', scope: 'root', outcome: 'FORBIDDEN',
    input: { userId: '$u.member', role: 'owner' }, permission: OWNER_ONLY, at: 'root' },
  { actor: 'admin', op: 'createUser', target: 'a new Billing manager', scope: 'root', outcome: 'FORBIDDEN',
    input: { email: 'n@x.test', roles: ['billing_manager'] }, permission: BILLING, at: 'root' },
  { actor: 'admin', op: 'deleteRole', target: 'billing_viewer', scope: 'root', outcome: 'FORBIDDEN',
    input: { key: 'billing_viewer' }, permission: 'settings_billing:view', at: 'root' },
  { actor: 'admin', op: 'updateRole', target: 'reviewer → settings_billing:view', scope: 'root', outcome: 'FORBIDDEN',
    input: { key: 'reviewer', name: 'Reviewer', grants: ['project:view', 'settings_billing:view'] },
    permission: 'settings_billing:view', at: 'root' },
  // The whole closure of a role given: prio_only's project_priority:create, though it would not take
  // effect (it requires project:edit, which member lacks in web).
  { actor: 'seatAdmin', op: 'assignRole', target: 'member (prio_only)', scope: 'team web', outcome: 'FORBIDDEN',
    input: { userId: '$u.member', role: 'prio_only', teamId: '$t.web' }, permission: 'project_priority:create',
    at: 'web' },
  { actor: 'seatAdmin', op: 'createUser', target: 'a new member with prio_only', scope: 'root + team web', outcome: 'FORBIDDEN',
    input: { email: 'n@x.test', assignments: [{ role: 'member' }, { role: 'prio_only', teamId: '$t.web' }] },
    permission: 'project_priority:create', at: 'web' },
  { actor: 'seatAdmin', op: 'createUser', target: 'a new member with editor_only', scope: 'root + team web', outcome: 'allowed',
    input: { email: 'n@x.test', assignments: [{ role: 'member' }, { role: 'editor_only', teamId: '$t.web' }] },
    then: async (x, w, d) => expect(await x.held(w, d.user.id)).toEqual(['editor_only@team web', 'member@root']) },
  // What the user gains, dependencies included: project:edit in web completes triager's project_priority:*.
  { actor: 'seatAdmin', op: 'assignRole', target: 'triager (editor_only)', scope: 'team web', outcome: 'FORBIDDEN',
    input: { userId: '$u.triager', role: 'editor_only', teamId: '$t.web' },
    permission: ['project_priority:create', 'project_priority:edit'], at: 'web' },
  { actor: 'seatAdmin', op: 'assignRole', target: 'member (editor_only)', scope: 'team web', outcome: 'allowed',
    input: { userId: '$u.member', role: 'editor_only', teamId: '$t.web' },
    then: async (x, w) => expect(await x.held(w, 'member')).toEqual(['editor_only@team web', 'member@root']) },
];

describeTable('Juno administration table', 'juno', WORLDS, ROWS);
