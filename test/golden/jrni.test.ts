import { explain } from '../../src';
import { NOW, preset, user } from '../support/engine';

/**
 * JRNI (shared/seeds/002). The configuration matrix is copied cell for cell from the seed; the role
 * lists and the company-hierarchy examples follow.
 */
const { check, catalog } = preset('jrni');

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
  ['page:customers', ['owner', 'administrator', 'user', 'user_plus', 'manager']],
  ['page:check_in', ['owner', 'administrator', 'user', 'user_plus', 'manager']],
  ['page:calendar', ['owner', 'administrator', 'user', 'user_plus', 'manager']],
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

// The matrix's asterisk: View Staff is ❌* for User and ✅* for User Plus, "*depends on if the user is
// assigned to a staff member" (SPEC.md rule 5). Limited to: person:<id>, groups:<id>, or - (not
// limited); the resource's person (- none) and groups.
//  role      | limited to      | resource person | resource groups | expected
const ASTERISK = `
user      | person:staff_1  | staff_1 | -  | ALLOW
user      | person:staff_1  | staff_2 | -  | DENY
user      | person:staff_1  | -       | -  | DENY
user      | person:staff_1  | staff_2 | g1 | DENY
user      | -               | staff_1 | -  | DENY
user      | -               | -       | -  | DENY
user      | groups:g1       | staff_1 | g1 | DENY
user_plus | person:staff_1  | staff_1 | -  | ALLOW
user_plus | person:staff_1  | staff_2 | -  | DENY
user_plus | person:staff_1  | -       | -  | DENY
user_plus | -               | staff_1 | -  | ALLOW
user_plus | -               | staff_2 | -  | ALLOW
user_plus | -               | -       | -  | ALLOW
user_plus | groups:g1       | staff_2 | g1 | ALLOW
user_plus | groups:g1       | staff_2 | g2 | DENY
manager   | person:staff_1  | staff_2 | -  | DENY
`;

const limited = (cell: string) =>
  cell === '-'
    ? {}
    : cell.startsWith('person:')
      ? { personId: cell.slice(7) }
      : { groupIds: cell.slice(7).split(',') };
const ASTERISK_ROWS = ASTERISK.trim()
  .split('\n')
  .map((line) => {
    const [role, limit, person, groups, expected] = line.split('|').map((c) => c.trim()) as [
      string,
      string,
      string,
      string,
      string,
    ];
    return { role, limit, person, groups, expected };
  });

describe("the matrix's asterisk: View Staff for the staff member the user is assigned to", () => {
  it('has the rows both ways (restricted and not, own and other person)', () =>
    expect(ASTERISK_ROWS).toHaveLength(16));

  test.each(ASTERISK_ROWS)(
    '$role limited to $limit, staff:view of person $person (groups $groups) → $expected',
    ({ role, limit, person, groups, expected }) => {
      const u = user([{ role, locationId: 'loc', ...limited(limit) }]);
      const resource = {
        ...(person === '-' ? {} : { personId: person }),
        ...(groups === '-' ? {} : { groupIds: groups.split(',') }),
      };
      expect(check(u, { permission: 'staff:view', locationPath: ['child', 'loc'], ...resource })).toBe(
        expected,
      );
      // Nowhere outside the assignment's location.
      expect(check(u, { permission: 'staff:view', locationPath: ['elsewhere'], ...resource })).toBe('DENY');
    },
  );

  it("the explanation says the grant is the assignment's own person's", () => {
    const u = user([{ role: 'user', locationId: 'loc', personId: 'staff_1' }]);
    const own = explain(
      catalog,
      u,
      { permission: 'staff:view', locationPath: ['loc'], personId: 'staff_1' },
      { now: NOW },
    );
    expect(own.summary).toBe('allowed: staff:view granted by role user at loc');
    expect(own.detail.grantedBy).toEqual([
      expect.objectContaining({
        grantedAs: 'ownPersonGrants: staff:view',
        restriction: { personId: 'staff_1' },
      }),
    ]);
    const other = explain(
      catalog,
      u,
      { permission: 'staff:view', locationPath: ['loc'], personId: 'staff_2' },
      { now: NOW },
    );
    expect(other.summary).toBe(
      "denied: no grant of staff:view counts here; role user at loc does not: granted only for staff_1, the person the assignment is restricted to, which is not the resource's",
    );
    const unlimited = explain(
      catalog,
      user([{ role: 'user', locationId: 'loc' }]),
      { permission: 'staff:view', locationPath: ['loc'], personId: 'staff_1' },
      { now: NOW },
    );
    expect(unlimited.detail.ignored).toEqual([
      expect.objectContaining({
        why: 'granted only for the staff person an assignment is restricted to, and this one names none',
      }),
    ]);
  });
});

// Rule 5: pages and navigation modules are not resources. A restricted assignment still grants them,
// wherever it applies (its location and below), whatever resource is named.
//  role      | limited to      | entries allowed (every other page and module: DENY)
const PAGES = `
user      | person:staff_1  | nav:home nav:your_business page:calendar page:agenda page:check_in page:customers page:staff
user      | groups:g1       | nav:home nav:your_business page:calendar page:agenda page:check_in page:customers
user      | -               | nav:home nav:your_business page:calendar page:agenda page:check_in page:customers
user_plus | person:staff_1  | nav:home nav:your_business page:calendar page:agenda page:check_in page:customers page:services page:staff
manager   | groups:g1       | nav:home nav:your_business page:calendar page:agenda page:check_in page:customers page:services page:staff
`;

describe('pages and navigation modules of restricted assignments', () => {
  const entries = [
    ...Object.keys(catalog.catalog.document.pages ?? {}).map((k) => `page:${k}`),
    ...Object.keys(catalog.catalog.document.navigation ?? {}).map((k) => `nav:${k}`),
  ];
  const rows = PAGES.trim()
    .split('\n')
    .flatMap((line) => {
      const [role, limit, allowed] = line.split('|').map((c) => c.trim()) as [string, string, string];
      const yes = new Set(allowed.split(/\s+/));
      return entries.map((entry) => ({ role, limit, entry, expected: yes.has(entry) ? 'ALLOW' : 'DENY' }));
    });

  test.each(rows)('$role limited to $limit: $entry → $expected', ({ role, limit, entry, expected }) => {
    const u = user([{ role, locationId: 'loc', ...limited(limit) }]);
    expect(check(u, { permission: entry, locationPath: ['child', 'loc'] })).toBe(expected);
    expect(check(u, { permission: entry, locationPath: ['loc'], personId: 'staff_9' })).toBe(expected);
    expect(check(u, { permission: entry, locationPath: ['elsewhere'] })).toBe('DENY');
  });

  it('the permissions behind them stay limited to the resource', () => {
    const u = user([{ role: 'user', locationId: 'loc', personId: 'staff_1' }]);
    expect(check(u, { permission: 'page:calendar', locationPath: ['loc'] })).toBe('ALLOW');
    expect(check(u, { permission: 'calendar:view', locationPath: ['loc'] })).toBe('DENY');
    expect(check(u, { permission: 'calendar:view', locationPath: ['loc'], personId: 'staff_1' })).toBe(
      'ALLOW',
    );
  });
});

describe('Call Center: "Access to dedicated Call Center page only"', () => {
  const entries = [
    ...Object.keys(catalog.catalog.document.pages ?? {}).map((k) => `page:${k}`),
    ...Object.keys(catalog.catalog.document.navigation ?? {}).map((k) => `nav:${k}`),
  ];
  const only = new Set(['page:call_center', 'nav:call_center']);

  test.each(entries.map((entry) => ({ entry, expected: only.has(entry) ? 'ALLOW' : 'DENY' })))(
    'call_center: $entry → $expected',
    ({ entry, expected }) => {
      expect(check(user([{ role: 'call_center' }]), { permission: entry })).toBe(expected);
      expect(
        check(user([{ role: 'call_center', locationId: 'loc' }]), {
          permission: entry,
          locationPath: ['loc'],
        }),
      ).toBe(expected);
    },
  );

  it('still manages customers and bookings from that page (the matrix)', () => {
    const u = user([{ role: 'call_center', locationId: 'loc' }]);
    for (const permission of ['customer:manage', 'booking:manage', 'call_center:access'])
      expect(check(u, { permission, locationPath: ['loc'] })).toBe('ALLOW');
  });
});
