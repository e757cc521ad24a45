import { preset, user } from '../support/engine';

/**
 * JRNI (shared/seeds/002). The configuration matrix is copied cell for cell from the seed; the role
 * lists and the company-hierarchy examples follow.
 */
const { check } = preset('jrni');

const ROLES = ['owner', 'administrator', 'user', 'user_plus', 'manager', 'call_center'] as const;

// "Configuration management by role", as in the seed (❌* / ✅* keep their mark, see catalogs/jrni.yaml).
//                                   Owner Admin User User Plus Manager Call Center
const MATRIX = `
customer:manage        | ✅ | ✅ | ✅ | ✅ | ✅ | ✅
booking:manage         | ✅ | ✅ | ✅ | ✅ | ✅ | ✅
checkin:manage         | ✅ | ✅ | ✅ | ✅ | ✅ | ❌
resource:manage        | ✅ | ✅ | ❌ | ❌ | ❌ | ❌
service:view           | ✅ | ✅ | ❌ | ✅ | ✅ | ❌
service:edit           | ✅ | ✅ | ❌ | ❌ | ❌ | ❌
staff:view             | ✅ | ✅ | ❌ | ✅ | ✅ | ❌
staff:edit_what_where  | ✅ | ✅ | ❌ | ❌ | ✅ | ❌
schedule:edit          | ✅ | ✅ | ❌ | ✅ | ✅ | ❌
event:manage           | ✅ | ✅ | ❌ | ❌ | ❌ | ❌
integration:manage     | ✅ | ❌ | ❌ | ❌ | ❌ | ❌
user:create            | ✅ | ❌ | ❌ | ❌ | ❌ | ❌
`;

const cells = MATRIX.trim()
  .split('\n')
  .flatMap((line) => {
    const [permission, ...marks] = line.split('|').map((s) => s.trim());
    return ROLES.map((role, i) => ({
      permission: permission!,
      role,
      expected: marks[i] === '✅' ? 'ALLOW' : 'DENY',
    }));
  });

describe('configuration matrix', () => {
  it('has every cell of the seed', () => expect(cells).toHaveLength(12 * 6));

  test.each(cells)('$role / $permission → $expected (company-wide)', ({ role, permission, expected }) => {
    expect(check(user([{ role }]), { permission })).toBe(expected);
    expect(check(user([{ role }]), { permission, locationPath: ['child', 'parent'] })).toBe(expected);
  });

  test.each(cells)(
    '$role / $permission → $expected (given at the parent, checked at a child)',
    ({ role, permission, expected }) => {
      const u = user([{ role, locationId: 'parent' }]);
      expect(check(u, { permission, locationPath: ['child', 'parent'] })).toBe(expected);
      expect(check(u, { permission, locationPath: ['grandchild', 'child', 'parent'] })).toBe(expected);
      // …and nothing anywhere else.
      expect(check(u, { permission, locationPath: ['other_child', 'other_parent'] })).toBe('DENY');
      expect(check(u, { permission })).toBe('DENY');
    },
  );
});

// The role lists: abilities beyond the matrix. ALLOW for the listed roles, DENY for every other.
const LISTS: [string, string[]][] = [
  ['calendar:view', ['owner', 'administrator', 'user', 'user_plus', 'manager']],
  ['agenda:view', ['owner', 'administrator', 'user', 'user_plus', 'manager']],
  ['category:manage', ['owner', 'administrator', 'user']],
  ['staff:manage', ['owner', 'administrator']],
  ['user:manage', ['owner']],
  ['business:manage', ['owner']],
  ['settings:basic', ['owner']],
  ['settings:advanced', ['owner']],
  ['payment:manage', ['owner']],
  ['call_center:access', ['owner', 'administrator', 'call_center']],
  ['page:services', ['owner', 'administrator', 'user_plus', 'manager']],
  ['page:staff', ['owner', 'administrator', 'user_plus', 'manager']],
  ['page:call_center', ['owner', 'administrator', 'call_center']],
  ['page:business', ['owner']],
  ['nav:home', ['owner', 'administrator', 'user', 'user_plus', 'manager']],
  ['nav:your_business', ['owner', 'administrator', 'user', 'user_plus', 'manager']],
  ['nav:call_center', ['owner', 'administrator', 'call_center']],
  ['nav:settings', ['owner']],
];

test.each(
  LISTS.flatMap(([permission, allowed]) =>
    ROLES.map((role) => ({ permission, role, expected: allowed.includes(role) ? 'ALLOW' : 'DENY' })),
  ),
)('role list: $role / $permission → $expected', ({ role, permission, expected }) => {
  expect(check(user([{ role, locationId: 'loc' }]), { permission, locationPath: ['loc'] })).toBe(expected);
});

describe('company hierarchy', () => {
  const tree = {
    parent: ['parent'],
    child1: ['child1', 'parent'],
    child2: ['child2', 'parent'],
    deep: ['deep', 'child2', 'parent'],
    elsewhere: ['elsewhere', 'other_parent'],
  };

  it('an Owner at the Parent company is Owner at every Child location', () => {
    const u = user([{ role: 'owner', locationId: 'parent' }]);
    for (const at of [tree.parent, tree.child1, tree.child2, tree.deep]) {
      expect(check(u, { permission: 'user:create', locationPath: at })).toBe('ALLOW');
      expect(check(u, { permission: 'integration:manage', locationPath: at })).toBe('ALLOW');
    }
    expect(check(u, { permission: 'user:create', locationPath: tree.elsewhere })).toBe('DENY');
  });

  it('Owner at one location, Administrator at another, User at a third', () => {
    const u = user([
      { role: 'owner', locationId: 'child1' },
      { role: 'administrator', locationId: 'child2' },
      { role: 'user', locationId: 'elsewhere' },
    ]);
    const at = (locationPath: string[], permission: string) => check(u, { permission, locationPath });
    expect(
      [tree.child1, tree.child2, tree.deep, tree.elsewhere, tree.parent].map((p) =>
        at(p, 'integration:manage'),
      ),
    ).toEqual(['ALLOW', 'DENY', 'DENY', 'DENY', 'DENY']);
    expect(
      [tree.child1, tree.child2, tree.deep, tree.elsewhere, tree.parent].map((p) => at(p, 'resource:manage')),
    ).toEqual(['ALLOW', 'ALLOW', 'ALLOW', 'DENY', 'DENY']);
    expect(
      [tree.child1, tree.child2, tree.deep, tree.elsewhere, tree.parent].map((p) => at(p, 'customer:manage')),
    ).toEqual(['ALLOW', 'ALLOW', 'ALLOW', 'ALLOW', 'DENY']);
  });

  it('roles at an ancestor and at the location itself add up', () => {
    const u = user([
      { role: 'user', locationId: 'parent' },
      { role: 'call_center', locationId: 'child1' },
    ]);
    expect(check(u, { permission: 'category:manage', locationPath: tree.child1 })).toBe('ALLOW');
    expect(check(u, { permission: 'call_center:access', locationPath: tree.child1 })).toBe('ALLOW');
    expect(check(u, { permission: 'call_center:access', locationPath: tree.child2 })).toBe('DENY');
  });
});

describe('Person and Group limits', () => {
  it('a user limited to one staff member gets their grants for that staff member only', () => {
    const u = user([{ role: 'user_plus', locationId: 'loc', personId: 'staff_1' }]);
    expect(check(u, { permission: 'staff:view', locationPath: ['loc'], personId: 'staff_1' })).toBe('ALLOW');
    expect(check(u, { permission: 'staff:view', locationPath: ['loc'], personId: 'staff_2' })).toBe('DENY');
    expect(check(u, { permission: 'staff:view', locationPath: ['loc'] })).toBe('DENY');
    expect(check(u, { permission: 'booking:manage', locationPath: ['loc'], personId: 'staff_1' })).toBe(
      'ALLOW',
    );
  });

  it('a user limited to staff groups gets their grants for staff in those groups only', () => {
    const u = user([{ role: 'manager', locationId: 'loc', groupIds: ['g1', 'g2'] }]);
    expect(check(u, { permission: 'schedule:edit', locationPath: ['loc'], groupIds: ['g2', 'g9'] })).toBe(
      'ALLOW',
    );
    expect(check(u, { permission: 'schedule:edit', locationPath: ['loc'], groupIds: ['g9'] })).toBe('DENY');
    expect(check(u, { permission: 'schedule:edit', locationPath: ['loc'], personId: 'staff_1' })).toBe(
      'DENY',
    );
  });

  it('an unrestricted assignment beside a restricted one still counts everywhere in its scope', () => {
    const u = user([
      { role: 'user', locationId: 'loc' },
      { role: 'manager', locationId: 'loc', personId: 'staff_1' },
    ]);
    expect(check(u, { permission: 'customer:manage', locationPath: ['loc'] })).toBe('ALLOW');
    expect(check(u, { permission: 'staff:edit_what_where', locationPath: ['loc'] })).toBe('DENY');
    expect(
      check(u, { permission: 'staff:edit_what_where', locationPath: ['loc'], personId: 'staff_1' }),
    ).toBe('ALLOW');
  });
});
