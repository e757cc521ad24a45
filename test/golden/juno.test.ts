import { explain } from '../../src';
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

  it('team grants count only for resources of that team; a resource of several teams sums them all', () => {
    const u = user([
      { role: 'developer', teamId: 'web' },
      { role: 'tester', teamId: 'qa' },
    ]);
    expect(check(u, { permission: 'test_case:execute', teamIds: ['web'] })).toBe('DENY');
    expect(check(u, { permission: 'test_case:execute', teamIds: ['web', 'qa'] })).toBe('ALLOW');
    expect(check(u, { permission: 'project_issues:edit' })).toBe('DENY'); // names no team
  });

  it('an org-wide role does not make a team role count outside its team', () => {
    const u = user([{ role: 'member' }, { role: 'viewer', teamId: 'web' }]);
    expect(check(u, { permission: 'project_issues:view', teamIds: ['web'] })).toBe('ALLOW');
    expect(check(u, { permission: 'project_issues:view', teamIds: ['ops'] })).toBe('DENY');
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
      { role: 'project_manager', teamId: 'ops' },
    ]);
    expect(check(apart, { permission: 'project_priority:create', teamIds: ['web'] })).toBe('DENY');
    expect(check(apart, { permission: 'project_priority:create', teamIds: ['web', 'ops'] })).toBe('ALLOW');
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
