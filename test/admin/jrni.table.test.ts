import { describeTable, type Row, type WorldSpec } from './fixtures';

/**
 * JRNI administration decision table (issue 9; SPEC "Administration rules"): every administrative
 * operation is decided at the scope it acts on. The seed's example: an Owner assigned at "Parent
 * company" manages users, assignments and locations of that subtree, and nothing outside it.
 *
 * JRNI guards: user:create (createUser), user:manage (users, assignRole, revokeAssignment, updateUser,
 * lockUser, …, transferOwnership), business:manage (createLocation, moveLocation, deleteLocation).
 *
 *   (root) ─┬─ Parent company    parentOwner (owner), parentAdmin (administrator)
 *           │    ├─ London       londonUser, lockedLondon, deletedLondon, lateUser, ghost, formerUser (user)
 *           │    ├─ Leeds        straddler (user)
 *           │    └─ Bristol      (empty)
 *           └─ Other
 *                ├─ Other child  otherUser, lockedOther, straddler (user); ghost (placeholder: an empty
 *                │               role); lateUser (placeholder, expired); formerUser (retired: a deleted role)
 *                └─ Other empty  emptyMover (mover)
 *
 * Org-wide: owner, admin (administrator: no user:create), recruiter (custom: user:create only),
 * mover (custom: business:manage only); unassigned holds nothing.
 */

const BASE: WorldSpec = {
  locations: [
    ['parent', null],
    ['london', 'parent'],
    ['leeds', 'parent'],
    ['bristol', 'parent'],
    ['other', null],
    ['otherChild', 'other'],
    ['otherEmpty', 'other'],
  ],
  roles: [
    // An empty role: giving or taking it changes nobody's permissions, so only the scope decides.
    { key: 'placeholder', kind: 'location', grants: [] },
    { key: 'recruiter', kind: 'location', grants: ['user:create'] },
    { key: 'mover', kind: 'location', grants: ['business:manage'] },
    { key: 'retired', kind: 'location', grants: ['customer:manage'], deleted: true },
  ],
  users: {
    parentOwner: { roles: [{ role: 'owner', at: 'parent', as: 'parentOwner@parent' }] },
    parentAdmin: { roles: [{ role: 'administrator', at: 'parent' }] },
    londonUser: { roles: [{ role: 'user', at: 'london', as: 'londonUser@london' }] },
    otherUser: { roles: [{ role: 'user', at: 'otherChild', as: 'otherUser@otherChild' }] },
    // Holds a role in Parent's subtree and one in Other's.
    straddler: {
      roles: [
        { role: 'user', at: 'leeds', as: 'straddler@leeds' },
        { role: 'user', at: 'otherChild', as: 'straddler@otherChild' },
      ],
    },
    // Lives at London; an expired (empty) role in Other's subtree is all that is left there.
    lateUser: {
      roles: [
        { role: 'user', at: 'london' },
        { role: 'placeholder', at: 'otherChild', expiresInDays: -1, as: 'lateUser@otherChild' },
      ],
    },
    // Lives at London; holds a role of a deleted custom role at Other child.
    formerUser: {
      roles: [
        { role: 'user', at: 'london' },
        { role: 'retired', at: 'otherChild' },
      ],
    },
    lockedLondon: { roles: [{ role: 'user', at: 'london' }], locked: true },
    deletedLondon: { roles: [{ role: 'user', at: 'london' }], deleted: true },
    lockedOther: { roles: [{ role: 'user', at: 'otherChild' }], locked: true },
    // Lives at London, and holds an empty role at Other child: nothing there but the role itself.
    ghost: {
      roles: [
        { role: 'user', at: 'london' },
        { role: 'placeholder', at: 'otherChild' },
      ],
    },
    unassigned: { roles: [] },
    admin: { roles: ['administrator'] },
    recruiter: { roles: ['recruiter'] },
    mover: { roles: ['mover'] },
    emptyMover: { roles: [{ role: 'mover', at: 'otherEmpty' }] },
  },
};

const WORLDS: Record<string, WorldSpec> = { base: BASE };

const ADMIN_PERMISSIONS = ['customer:manage', 'booking:manage', 'checkin:manage', 'resource:manage'];

// prettier-ignore
const ROWS: Row[] = [
  // createUser: user:create at each assignment's scope (none: the root).
  { actor: 'parentOwner', op: 'createUser', target: 'a new user', scope: 'London', outcome: 'allowed',
    input: { email: 'n@x.test', assignments: [{ role: 'user', locationId: '$l.london' }] },
    then: async (x, w, d) => expect(await x.held(w, d.user.id)).toEqual(['user@london']) },
  { actor: 'parentOwner', op: 'createUser', target: 'a new Owner of the subtree', scope: 'Parent', outcome: 'allowed',
    input: { email: 'n@x.test', assignments: [{ role: 'owner', locationId: '$l.parent' }] },
    then: async (x, w, d) => expect(await x.held(w, d.user.id)).toEqual(['owner@parent']) },
  { actor: 'parentOwner', op: 'createUser', target: 'a new user', scope: 'Other child', outcome: 'FORBIDDEN',
    input: { email: 'n@x.test', assignments: [{ role: 'user', locationId: '$l.otherChild' }] },
    permission: 'user:create', at: 'otherChild' },
  { actor: 'parentOwner', op: 'createUser', target: 'a new user', scope: 'London and Other child', outcome: 'FORBIDDEN',
    input: { email: 'n@x.test', assignments: [{ role: 'user', locationId: '$l.london' }, { role: 'user', locationId: '$l.otherChild' }] },
    permission: 'user:create', at: 'otherChild' },
  { actor: 'parentOwner', op: 'createUser', target: 'a new user with no role', scope: 'root', outcome: 'FORBIDDEN',
    input: { email: 'n@x.test' }, permission: 'user:create', at: 'root' },
  { actor: 'parentOwner', op: 'createUser', target: 'a new user (roles: org-wide)', scope: 'root', outcome: 'FORBIDDEN',
    input: { email: 'n@x.test', roles: ['user'] }, permission: 'user:create', at: 'root' },
  { actor: 'parentOwner', op: 'createUser', target: 'a new org-wide Owner', scope: 'root', outcome: 'FORBIDDEN',
    input: { email: 'n@x.test', assignments: [{ role: 'owner' }] }, permission: 'user:create', at: 'root' },
  { actor: 'admin', op: 'createUser', target: 'a new user', scope: 'London', outcome: 'FORBIDDEN',
    input: { email: 'n@x.test', assignments: [{ role: 'user', locationId: '$l.london' }] }, permission: 'user:create',
    at: 'london' },
  { actor: 'admin', op: 'createUser', target: 'a new user with no role', scope: 'root', outcome: 'FORBIDDEN',
    input: { email: 'n@x.test' }, permission: 'user:create', at: 'root' },
  { actor: 'parentAdmin', op: 'createUser', target: 'a new user', scope: 'London', outcome: 'FORBIDDEN',
    input: { email: 'n@x.test', assignments: [{ role: 'user', locationId: '$l.london' }] }, permission: 'user:create',
    at: 'london' },
  // No escalation at creation: recruiter holds user:create everywhere, and nothing else.
  { actor: 'recruiter', op: 'createUser', target: 'a new Administrator', scope: 'London', outcome: 'FORBIDDEN',
    input: { email: 'n@x.test', assignments: [{ role: 'administrator', locationId: '$l.london' }] },
    permission: ADMIN_PERMISSIONS, at: 'london' },
  { actor: 'recruiter', op: 'createUser', target: 'a new recruiter', scope: 'London', outcome: 'allowed',
    input: { email: 'n@x.test', assignments: [{ role: 'recruiter', locationId: '$l.london' }] },
    then: async (x, w, d) => expect(await x.held(w, d.user.id)).toEqual(['recruiter@london']) },
  { actor: 'owner', op: 'createUser', target: 'a new user', scope: 'Other child', outcome: 'allowed',
    input: { email: 'n@x.test', assignments: [{ role: 'user', locationId: '$l.otherChild' }] },
    then: async (x, w, d) => expect(await x.held(w, d.user.id)).toEqual(['user@otherChild']) },

  // assignRole: user:manage at the assignment's scope, covering the user, giving only what one holds there.
  { actor: 'parentOwner', op: 'assignRole', target: 'londonUser', scope: 'London', outcome: 'allowed',
    input: { userId: '$u.londonUser', role: 'manager', locationId: '$l.london' },
    then: async (x, w) => expect(await x.held(w, 'londonUser')).toEqual(['manager@london', 'user@london']) },
  { actor: 'parentOwner', op: 'assignRole', target: 'otherUser (Other child)', scope: 'London', outcome: 'FORBIDDEN',
    input: { userId: '$u.otherUser', role: 'user', locationId: '$l.london' }, permission: 'user:manage',
    at: 'otherChild' },
  { actor: 'parentOwner', op: 'assignRole', target: 'straddler (Leeds + Other child)', scope: 'Leeds', outcome: 'FORBIDDEN',
    input: { userId: '$u.straddler', role: 'manager', locationId: '$l.leeds' }, permission: 'user:manage',
    at: 'otherChild' },
  { actor: 'parentOwner', op: 'assignRole', target: 'londonUser', scope: 'Other child', outcome: 'FORBIDDEN',
    input: { userId: '$u.londonUser', role: 'user', locationId: '$l.otherChild' }, permission: 'user:manage',
    at: 'otherChild' },
  { actor: 'parentOwner', op: 'assignRole', target: 'londonUser (an empty role)', scope: 'Other child', outcome: 'FORBIDDEN',
    input: { userId: '$u.londonUser', role: 'placeholder', locationId: '$l.otherChild' }, permission: 'user:manage',
    at: 'otherChild' },
  { actor: 'parentOwner', op: 'assignRole', target: 'londonUser', scope: 'root', outcome: 'FORBIDDEN',
    input: { userId: '$u.londonUser', role: 'user' }, permission: 'user:manage', at: 'root' },

  // revokeAssignment: user:manage at the assignment's scope, covering its user.
  { actor: 'parentOwner', op: 'revokeAssignment', target: "londonUser's user", scope: 'London', outcome: 'allowed',
    input: { id: '$a.londonUser@london' }, then: async (x, w) => expect(await x.held(w, 'londonUser')).toEqual([]) },
  { actor: 'parentOwner', op: 'revokeAssignment', target: "otherUser's user", scope: 'Other child', outcome: 'FORBIDDEN',
    input: { id: '$a.otherUser@otherChild' }, permission: 'user:manage', at: 'otherChild' },
  { actor: 'parentOwner', op: 'revokeAssignment', target: "straddler's user (also at Other child)", scope: 'Leeds', outcome: 'FORBIDDEN',
    input: { id: '$a.straddler@leeds' }, permission: 'user:manage', at: 'otherChild' },
  { actor: 'parentOwner', op: 'revokeAssignment', target: "lateUser's expired empty role", scope: 'Other child', outcome: 'FORBIDDEN',
    input: { id: '$a.lateUser@otherChild' }, permission: 'user:manage', at: 'otherChild' },

  // users(locationId): user:manage there; capabilities agrees (the Manage Users page).
  { actor: 'parentOwner', op: 'users', target: 'the subtree', scope: 'Parent', outcome: 'allowed',
    input: { locationId: '$l.parent' }, page: 'manage_users',
    then: async (_x, w, d) => {
      const ids = d.edges.map((e: any) => e.node.id);
      expect(ids).toEqual(
        expect.arrayContaining([w.users.parentOwner, w.users.londonUser, w.users.straddler]),
      );
      for (const outside of ['otherUser', 'owner', 'admin']) expect(ids).not.toContain(w.users[outside]);
    } },
  { actor: 'parentOwner', op: 'users', target: 'a child', scope: 'London', outcome: 'allowed',
    input: { locationId: '$l.london' }, page: 'manage_users',
    then: async (_x, w, d) =>
      expect(d.edges.map((e: any) => e.node.id)).toEqual(expect.arrayContaining([w.users.londonUser])) },
  { actor: 'parentOwner', op: 'users', target: 'the organization', scope: 'root', outcome: 'FORBIDDEN',
    input: {}, page: 'manage_users', permission: 'user:manage', at: 'root' },
  { actor: 'parentOwner', op: 'users', target: 'the sibling subtree', scope: 'Other', outcome: 'FORBIDDEN',
    input: { locationId: '$l.other' }, page: 'manage_users', permission: 'user:manage', at: 'other' },
  { actor: 'parentAdmin', op: 'users', target: 'the subtree', scope: 'Parent', outcome: 'FORBIDDEN',
    input: { locationId: '$l.parent' }, page: 'manage_users', permission: 'user:manage', at: 'parent' },

  // Locations: business:manage at the parent (createLocation), at the location and the new parent (move).
  { actor: 'parentOwner', op: 'createLocation', target: 'Manchester', scope: 'Parent', outcome: 'allowed',
    input: { name: 'Manchester', parentId: '$l.parent' },
    then: async (x, w, d) => {
      const [loc] = await x.t.store.locations.getMany(w.orgId, [d.location.id]);
      expect(loc!.path).toEqual([w.locations.parent, d.location.id]);
    } },
  { actor: 'parentOwner', op: 'createLocation', target: 'Manchester', scope: 'Other', outcome: 'FORBIDDEN',
    input: { name: 'Manchester', parentId: '$l.other' }, permission: 'business:manage', at: 'other' },
  { actor: 'parentOwner', op: 'createLocation', target: 'Manchester', scope: 'root', outcome: 'FORBIDDEN',
    input: { name: 'Manchester' }, permission: 'business:manage', at: 'root' },
  { actor: 'parentOwner', op: 'moveLocation', target: 'Leeds', scope: 'Parent → London', outcome: 'allowed',
    input: { id: '$l.leeds', parentId: '$l.london' },
    then: async (x, w) => {
      const [loc] = await x.t.store.locations.getMany(w.orgId, [w.locations.leeds!]);
      expect(loc!.path).toEqual([w.locations.parent, w.locations.london, w.locations.leeds]);
    } },
  { actor: 'parentOwner', op: 'moveLocation', target: 'Leeds', scope: 'Parent → Other', outcome: 'FORBIDDEN',
    input: { id: '$l.leeds', parentId: '$l.other' }, permission: 'business:manage', at: 'other' },
  { actor: 'parentOwner', op: 'moveLocation', target: 'Leeds', scope: 'Parent → root', outcome: 'FORBIDDEN',
    input: { id: '$l.leeds', parentId: null }, permission: 'business:manage', at: 'root' },
  { actor: 'parentOwner', op: 'moveLocation', target: 'Other child', scope: 'Other → Parent', outcome: 'FORBIDDEN',
    input: { id: '$l.otherChild', parentId: '$l.parent' }, permission: 'business:manage', at: 'otherChild' },
  // mover may move anything, but Parent's Owner and Administrator would then reach Other child's users.
  { actor: 'mover', op: 'moveLocation', target: 'Other child', scope: 'Other → Parent', outcome: 'FORBIDDEN',
    input: { id: '$l.otherChild', parentId: '$l.parent' }, at: 'otherChild' },
  { actor: 'mover', op: 'moveLocation', target: 'Bristol', scope: 'Parent → Other', outcome: 'allowed',
    input: { id: '$l.bristol', parentId: '$l.other' } },
  // emptyMover holds business:manage at Other empty only (which would then cascade to Other child).
  { actor: 'emptyMover', op: 'moveLocation', target: 'Other child', scope: 'Other → Other empty', outcome: 'FORBIDDEN',
    input: { id: '$l.otherChild', parentId: '$l.otherEmpty' }, permission: 'business:manage', at: 'otherChild' },
  { actor: 'owner', op: 'moveLocation', target: 'Other child', scope: 'Other → Parent', outcome: 'allowed',
    input: { id: '$l.otherChild', parentId: '$l.parent' } },
  { actor: 'parentOwner', op: 'deleteLocation', target: 'Bristol', scope: 'Bristol', outcome: 'allowed',
    input: { id: '$l.bristol' },
    then: async (x, w) =>
      expect(await x.t.store.locations.getMany(w.orgId, [w.locations.bristol!])).toEqual([null]) },
  { actor: 'parentOwner', op: 'deleteLocation', target: 'Other empty', scope: 'Other empty', outcome: 'FORBIDDEN',
    input: { id: '$l.otherEmpty' }, permission: 'business:manage', at: 'otherEmpty' },

  // Acting on users: covering (user:manage and all they hold, at every scope where they hold a role).
  { actor: 'parentOwner', op: 'updateUser', target: 'londonUser', scope: 'London', outcome: 'allowed',
    input: { id: '$u.londonUser', name: 'Renamed' },
    then: async (x, w) => expect((await x.user(w, 'londonUser')).name).toBe('Renamed') },
  { actor: 'parentOwner', op: 'updateUser', target: 'parentAdmin', scope: 'Parent', outcome: 'allowed',
    input: { id: '$u.parentAdmin', name: 'Renamed' } },
  { actor: 'parentOwner', op: 'lockUser', target: 'londonUser', scope: 'London', outcome: 'allowed',
    input: { id: '$u.londonUser' }, then: async (x, w) => expect((await x.user(w, 'londonUser')).locked).toBe(true) },
  { actor: 'parentOwner', op: 'unlockUser', target: 'lockedLondon', scope: 'London', outcome: 'allowed',
    input: { id: '$u.lockedLondon' },
    then: async (x, w) => expect((await x.user(w, 'lockedLondon')).locked).toBe(false) },
  { actor: 'parentOwner', op: 'undeleteUser', target: 'deletedLondon', scope: 'London', outcome: 'allowed',
    input: { id: '$u.deletedLondon' },
    then: async (x, w) => expect((await x.user(w, 'deletedLondon')).deletedAt).toBeNull() },
  { actor: 'parentOwner', op: 'updateUser', target: 'owner (org-wide)', scope: 'root', outcome: 'FORBIDDEN',
    input: { id: '$u.owner', name: 'Renamed' }, permission: 'user:manage', at: 'root' },
  { actor: 'parentOwner', op: 'lockUser', target: 'owner (org-wide)', scope: 'root', outcome: 'FORBIDDEN',
    input: { id: '$u.owner' }, permission: 'user:manage', at: 'root' },
  { actor: 'parentOwner', op: 'lockUser', target: 'otherUser', scope: 'Other child', outcome: 'FORBIDDEN',
    input: { id: '$u.otherUser' }, permission: 'user:manage', at: 'otherChild' },
  { actor: 'parentOwner', op: 'deleteUser', target: 'straddler', scope: 'Leeds + Other child', outcome: 'FORBIDDEN',
    input: { id: '$u.straddler' }, permission: 'user:manage', at: 'otherChild' },
  { actor: 'parentOwner', op: 'unlockUser', target: 'lockedOther', scope: 'Other child', outcome: 'FORBIDDEN',
    input: { id: '$u.lockedOther' }, permission: 'user:manage', at: 'otherChild' },
  // Covering needs user:manage wherever the user holds a role, even one that grants nothing.
  { actor: 'parentOwner', op: 'updateUser', target: 'ghost (an empty role at Other child)', scope: 'London + Other child', outcome: 'FORBIDDEN',
    input: { id: '$u.ghost', name: 'Renamed' }, permission: 'user:manage', at: 'otherChild' },
  // …but not where the role has expired or is deleted: those count for nothing.
  { actor: 'parentOwner', op: 'updateUser', target: 'lateUser (an expired role at Other child)', scope: 'London', outcome: 'allowed',
    input: { id: '$u.lateUser', name: 'Renamed' } },
  { actor: 'parentOwner', op: 'updateUser', target: 'formerUser (a deleted role at Other child)', scope: 'London', outcome: 'allowed',
    input: { id: '$u.formerUser', name: 'Renamed' } },
  // A user with no role anywhere is the organization's to manage.
  { actor: 'parentOwner', op: 'lockUser', target: 'unassigned', scope: 'root', outcome: 'FORBIDDEN',
    input: { id: '$u.unassigned' }, permission: 'user:manage', at: 'root' },

  // Ownership.
  { actor: 'parentOwner', op: 'transferOwnership', target: 'londonUser', scope: 'root', outcome: 'FORBIDDEN',
    input: { toUserId: '$u.londonUser' }, at: 'root' },
  { actor: 'owner', op: 'transferOwnership', target: 'parentOwner', scope: 'root', outcome: 'allowed',
    input: { toUserId: '$u.parentOwner' },
    then: async (x, w) => {
      expect(await x.held(w, 'parentOwner')).toEqual(['owner@parent', 'owner@root']);
      expect(await x.held(w, 'owner')).toEqual(['administrator@root']); // formerRole
    } },
  { actor: 'owner', op: 'revokeAssignment', target: 'own owner role, keeping an expiring one', scope: 'root', outcome: 'CONFLICT',
    input: { id: '$a.owner' },
    before: (x, w) =>
      x.must(w, 'owner', 'assignRole', { userId: '$u.owner', role: 'owner', expiresAt: '$days.30' }) },
];

describeTable('JRNI administration table', 'jrni', WORLDS, ROWS);
