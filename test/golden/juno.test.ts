import { explain } from '../../src';
import type { Assignment } from '../../src';
import { NOW, preset, user } from '../support/engine';

/**
 * Juno (shared/seeds/001): specific (org) roles, team roles summed within a team, and the seed's
 * permission dependencies. The seed lists permissions, not roles; the roles here are the preset's
 * examples plus custom roles made for the test.
 */
const custom = {
  page_creator: { name: 'Page creator', kind: 'team' as const, grants: ['docs_page:create'] },
  topic_reader: { name: 'Topic reader', kind: 'team' as const, grants: ['docs_topic:view'] },
  space_editor: { name: 'Space editor', kind: 'team' as const, grants: ['docs_space:edit'] },
  linker: {
    name: 'Linker',
    kind: 'team' as const,
    grants: ['test_space:link_test_plans', 'test_space:link_test_cases', 'test_space:edit'],
  },
  plan_editor: { name: 'Plan editor', kind: 'team' as const, grants: ['test_plan:edit'] },
  // Edit project alone, in a team or organization-wide: what meets a Triager's priorities.
  project_editor: { name: 'Project editor', kind: 'team' as const, grants: ['project:edit'] },
  project_settings: { name: 'Project settings', kind: 'org' as const, grants: ['project:edit'] },
};
const { check, catalog } = preset('juno', custom);

// Every "(… permission is required)" of the seed, and what it requires.
const DEPENDENCIES: [string, string[]][] = [
  ['project_priority:create', ['project:edit']],
  ['project_priority:edit', ['project:edit']],
  ['project_priority:delete', ['project:edit']],
  ['docs_topic:create', ['docs_topic:view']],
  ['docs_page:create', ['docs_space:edit', 'docs_topic:view']],
  ['test_space:link_test_plans', ['test_space:edit', 'test_plan:edit']],
  ['test_space:link_test_cases', ['test_space:edit', 'test_case:edit']],
];

describe('the catalog', () => {
  it('requires at least one specific role per user', () =>
    expect(catalog.catalog.document.requireOrgRole).toBe(true));

  test.each(DEPENDENCIES)('%s requires %j', (permission, requires) => {
    const [module, action] = permission.split(':') as [string, string];
    expect(catalog.catalog.document.permissions[module]?.[action]?.requires).toEqual(requires);
  });

  it('has every permission the seed lists, specific and team', () => {
    const specific = {
      project: ['view', 'create', 'archive', 'delete'],
      docs_space: ['view', 'create', 'delete'],
      timesheet_activity: ['approve_all'],
      settings_user: ['view', 'create', 'edit', 'import', 'delete', 'undelete', 'lock', 'unlock'],
      settings_team: ['view', 'create', 'edit', 'delete', 'undelete'],
      settings_roles: ['view', 'create', 'edit', 'delete', 'undelete', 'clone'],
      settings_broadcast_messages: ['view', 'create', 'edit', 'delete'],
      settings_billing: ['view', 'create', 'edit', 'cancel'],
      settings_integrations: ['view', 'edit'],
    };
    const team = {
      project: ['edit'],
      project_dashboard: ['view', 'edit'],
      project_roadmap: ['view', 'create', 'edit', 'delete'],
      project_issues: ['view', 'create', 'edit', 'delete'],
      project_priority: ['create', 'edit', 'delete'],
      docs_space: ['edit'],
      docs_topic: ['view', 'create', 'edit', 'delete'],
      docs_page: ['view', 'create', 'edit', 'delete'],
      test_space: ['view', 'create', 'edit', 'delete'],
      test_plan: ['view', 'create', 'edit', 'delete'],
      test_case: ['view', 'create', 'edit', 'delete', 'import', 'execute', 'clone'],
    };
    for (const list of [specific, team]) {
      for (const [module, actions] of Object.entries(list)) {
        for (const action of actions) expect(catalog.keys).toContain(`${module}:${action}`);
      }
    }
  });
});

describe('specific (org) roles', () => {
  it('the owner holds every global setting', () => {
    const owner = user([{ role: 'owner' }]);
    for (const module of [
      'settings_user',
      'settings_team',
      'settings_roles',
      'settings_broadcast_messages',
      'settings_billing',
      'settings_integrations',
    ]) {
      for (const key of catalog.keys.filter((k) => k.startsWith(`${module}:`)))
        expect(check(owner, { permission: key })).toBe('ALLOW');
    }
  });

  it('the administrator holds everything but billing', () => {
    const admin = user([{ role: 'administrator' }]);
    expect(check(admin, { permission: 'settings_user:lock' })).toBe('ALLOW');
    expect(check(admin, { permission: 'settings_roles:clone' })).toBe('ALLOW');
    expect(check(admin, { permission: 'settings_billing:view' })).toBe('DENY');
    expect(check(admin, { permission: 'settings_billing:cancel' })).toBe('DENY');
  });

  test.each([
    ['member', ['projects', 'docs_spaces', 'timesheets']],
    ['billing_manager', ['settings']],
    ['owner', ['projects', 'docs_spaces', 'timesheets', 'settings']],
  ] as const)('%s sees the navigation modules %j and no others', (role, modules) => {
    for (const nav of ['projects', 'docs_spaces', 'timesheets', 'settings']) {
      expect(check(user([{ role }]), { permission: `nav:${nav}` })).toBe(
        (modules as readonly string[]).includes(nav) ? 'ALLOW' : 'DENY',
      );
    }
  });

  it('seeing a module does not allow changing anything inside it', () => {
    const billing = user([{ role: 'billing_manager' }]);
    expect(check(billing, { permission: 'nav:settings' })).toBe('ALLOW');
    expect(check(billing, { permission: 'settings_user:create' })).toBe('DENY');
    expect(check(billing, { permission: 'settings_billing:edit' })).toBe('ALLOW');
  });

  it('several specific roles add up', () => {
    const u = user([{ role: 'member' }, { role: 'billing_manager' }]);
    expect(check(u, { permission: 'project:view' })).toBe('ALLOW');
    expect(check(u, { permission: 'settings_billing:cancel' })).toBe('ALLOW');
  });
});

describe('team roles are summed within a team', () => {
  it("two roles in one team give the union of their permissions on that team's project", () => {
    const u = user([
      { role: 'member' },
      { role: 'developer', teamId: 'web' },
      { role: 'tester', teamId: 'web' },
    ]);
    const onWeb = (permission: string) => check(u, { permission, teamIds: ['web'] });
    expect(onWeb('project_issues:edit')).toBe('ALLOW'); // developer
    expect(onWeb('test_case:execute')).toBe('ALLOW'); // tester
    expect(onWeb('project_roadmap:create')).toBe('DENY'); // neither
    expect(check(u, { permission: 'project_issues:edit', teamIds: ['mobile'] })).toBe('DENY');
  });

  it('team grants count only for resources of that team; a resource of several teams needs one of them to grant it', () => {
    const u = user([
      { role: 'developer', teamId: 'web' },
      { role: 'tester', teamId: 'qa' },
    ]);
    expect(check(u, { permission: 'test_case:execute', teamIds: ['web'] })).toBe('DENY');
    expect(check(u, { permission: 'test_case:execute', teamIds: ['web', 'qa'] })).toBe('ALLOW'); // qa alone
    expect(check(u, { permission: 'project_issues:edit' })).toBe('DENY'); // names no team
  });

  it('an org-wide role does not make a team role count outside its team', () => {
    const u = user([{ role: 'member' }, { role: 'viewer', teamId: 'web' }]);
    expect(check(u, { permission: 'project_issues:view', teamIds: ['web'] })).toBe('ALLOW');
    expect(check(u, { permission: 'project_issues:view', teamIds: ['ops'] })).toBe('DENY');
  });
});

// Rule 3 (SPEC.md): summed within one team, never across teams. A permission holds on a resource if it
// holds in at least one of its teams, judged on the org (and location) grants plus that team's roles,
// with the dependencies (rule 7) applied to that set. A team role counts only while the user is a member.
// roles: role@team, or role alone for organization-wide; members: the teams the user is a member of
// ("-" for none; blank: the teams of their roles, as the store keeps it); teams: the resource's.
//  case                                                            | roles                                            | members | permission              | teams      | expected
const TEAM_TABLE = `
two roles in one team add up                                        | developer@web tester@web                         |         | test_case:execute       | web        | ALLOW
…and the other role of the pair too                                 | developer@web tester@web                         |         | project_issues:edit     | web        | ALLOW
a role in another team does not count for this one                  | developer@web tester@qa                          |         | test_case:execute       | web        | DENY
a resource of two teams: one of them grants it alone                | developer@web tester@qa                          |         | test_case:execute       | web qa     | ALLOW
same team: Triager + Project manager, create priority               | triager@web project_manager@web                  |         | project_priority:create | web        | ALLOW
same team: Triager + Project editor, create priority                | triager@web project_editor@web                   |         | project_priority:create | web        | ALLOW
Triager alone: create priority needs Edit project                   | triager@web                                      |         | project_priority:create | web        | DENY
other team: Triager in Web, Project editor in Mobile, Web resource  | triager@web project_editor@mobile                |         | project_priority:create | web        | DENY
other team: …on a Web+Mobile resource (ALLOW when teams were summed) | triager@web project_editor@mobile               |         | project_priority:create | web mobile | DENY
other team: …on a Mobile resource                                   | triager@web project_editor@mobile                |         | project_priority:create | mobile     | DENY
other team: Triager in Web, Project manager in Mobile, Web resource | triager@web project_manager@mobile               |         | project_priority:create | web        | DENY
other team: …Web+Mobile resource: Mobile's Project manager alone    | triager@web project_manager@mobile               |         | project_priority:create | web mobile | ALLOW
docs: create page needs its two requirements in the same team       | page_creator@docs topic_reader@docs space_editor@wiki |    | docs_page:create        | docs wiki  | DENY
docs: all three in one team                                         | page_creator@docs topic_reader@docs space_editor@docs |    | docs_page:create        | docs wiki  | ALLOW
org grant: Edit project organization-wide meets the Web dependency  | member project_settings triager@web              |         | project_priority:create | web        | ALLOW
org grant: …on a Mobile+Web resource too                            | member project_settings triager@web              |         | project_priority:create | mobile web | ALLOW
org grant: …not on a Mobile resource: nothing grants create there   | member project_settings triager@web              |         | project_priority:create | mobile     | DENY
non-member: their team roles count for nothing                      | triager@web project_manager@web                  | -       | project_priority:create | web        | DENY
non-member: not even a plain team permission                        | member viewer@web                                | -       | project_issues:view     | web        | DENY
member of another team only                                         | viewer@web                                       | mobile  | project_issues:view     | web mobile | DENY
member (control)                                                    | member viewer@web                                | web     | project_issues:view     | web        | ALLOW
non-member still holds their org grants on a team resource          | owner viewer@web                                 | -       | project_priority:create | web        | ALLOW
`;

const words = (cell: string) => cell.split(/\s+/).filter(Boolean);
const TEAM_ROWS = TEAM_TABLE.trim()
  .split('\n')
  .map((line) => {
    const [name, roles, members, permission, teams, expected] = line.split('|').map((c) => c.trim()) as [
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    const assignments: Omit<Assignment, 'id'>[] = words(roles).map((r) => {
      const [role, teamId] = r.split('@') as [string, string | undefined];
      return teamId ? { role, teamId } : { role };
    });
    const memberOf = members === '' ? undefined : members === '-' ? [] : words(members);
    return { name, assignments, memberOf, permission, teamIds: words(teams), expected };
  });

describe('rule 3: summed within one team, never across teams', () => {
  it('has every row', () => expect(TEAM_ROWS).toHaveLength(22));

  test.each(TEAM_ROWS)('$name → $expected', ({ assignments, memberOf, permission, teamIds, expected }) => {
    const u = user(assignments, memberOf === undefined ? {} : { memberOf });
    expect(check(u, { permission, teamIds })).toBe(expected);
  });

  it('the explanation names the team that granted it', () => {
    const u = user([
      { role: 'triager', teamId: 'web' },
      { role: 'project_manager', teamId: 'mobile' },
    ]);
    const why = explain(
      catalog,
      u,
      { permission: 'project_priority:create', teamIds: ['web', 'mobile'] },
      { now: NOW },
    );
    expect(why.team).toBe('mobile');
    expect(why.summary).toBe(
      'allowed: project_priority:create granted by role project_manager in team mobile',
    );
    expect(why.detail.grantedBy).toEqual([
      expect.objectContaining({ role: 'project_manager', scope: { type: 'team', teamId: 'mobile' } }),
    ]);
    expect(why.detail.ignored).toEqual([
      expect.objectContaining({
        role: 'triager',
        why: 'given in team web, and this is judged in team mobile: roles in different teams are not summed',
      }),
    ]);
  });

  it('a denial says each team is judged alone, and a non-member why their role does not count', () => {
    const apart = user([
      { role: 'triager', teamId: 'web' },
      { role: 'project_editor', teamId: 'mobile' },
    ]);
    const why = explain(
      catalog,
      apart,
      { permission: 'project_priority:create', teamIds: ['web', 'mobile'] },
      { now: NOW },
    );
    expect(why).toMatchObject({ outcome: 'DENY', team: 'web' });
    expect(why.summary).toBe(
      'denied: project_priority:create requires project:edit, which is not effective in any one of the teams web, mobile (each is judged alone)',
    );
    const outsider = user([{ role: 'viewer', teamId: 'web' }], { memberOf: [] });
    const no = explain(
      catalog,
      outsider,
      { permission: 'project_issues:view', teamIds: ['web'] },
      { now: NOW },
    );
    expect(no.summary).toBe(
      'denied: no grant of project_issues:view counts here; role viewer in team web does not: the user is not a member of team web',
    );
  });
});

describe('dependencies', () => {
  it('Create priority requires Edit project: a triager alone cannot, with a project manager role in the team it can', () => {
    const alone = user([{ role: 'triager', teamId: 'web' }]);
    expect(check(alone, { permission: 'project_priority:create', teamIds: ['web'] })).toBe('DENY');
    expect(check(alone, { permission: 'project_issues:edit', teamIds: ['web'] })).toBe('ALLOW');

    const summed = user([
      { role: 'triager', teamId: 'web' },
      { role: 'project_manager', teamId: 'web' },
    ]);
    expect(check(summed, { permission: 'project_priority:create', teamIds: ['web'] })).toBe('ALLOW');

    const apart = user([
      { role: 'triager', teamId: 'web' },
      { role: 'project_editor', teamId: 'ops' },
    ]);
    expect(check(apart, { permission: 'project_priority:create', teamIds: ['web'] })).toBe('DENY');
    expect(check(apart, { permission: 'project_priority:create', teamIds: ['web', 'ops'] })).toBe('DENY');
  });

  it('Create page requires Edit Docs space and View docs topic', () => {
    const roles = ['page_creator', 'topic_reader', 'space_editor'];
    const outcomes = [1, 2, 3].map((n) =>
      check(user(roles.slice(0, n).map((role) => ({ role, teamId: 'docs' }))), {
        permission: 'docs_page:create',
        teamIds: ['docs'],
      }),
    );
    expect(outcomes).toEqual(['DENY', 'DENY', 'ALLOW']);
    expect(
      check(user([{ role: 'docs_editor', teamId: 'docs' }]), {
        permission: 'docs_page:create',
        teamIds: ['docs'],
      }),
    ).toBe('ALLOW');
  });

  it('linking test plans to a test space needs Edit test plan', () => {
    const linker = user([{ role: 'linker', teamId: 'qa' }]);
    expect(check(linker, { permission: 'test_space:link_test_plans', teamIds: ['qa'] })).toBe('DENY');
    const withPlans = user([
      { role: 'linker', teamId: 'qa' },
      { role: 'plan_editor', teamId: 'qa' },
    ]);
    expect(check(withPlans, { permission: 'test_space:link_test_plans', teamIds: ['qa'] })).toBe('ALLOW');
    expect(check(withPlans, { permission: 'test_space:link_test_cases', teamIds: ['qa'] })).toBe('DENY');
  });

  it('the explanation names the missing dependency', () => {
    const alone = user([{ role: 'triager', teamId: 'web' }]);
    const why = explain(
      catalog,
      alone,
      { permission: 'project_priority:create', teamIds: ['web'] },
      { now: NOW },
    );
    expect(why.outcome).toBe('DENY');
    expect(why.summary).toContain('requires project:edit');
    expect(why.detail.grantedBy).toEqual([
      expect.objectContaining({ role: 'triager', scope: { type: 'team', teamId: 'web' } }),
    ]);
    expect(why.detail.requires).toEqual([
      expect.objectContaining({ permission: 'project:edit', effective: false }),
    ]);
  });
});
