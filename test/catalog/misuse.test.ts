import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  CatalogError,
  compileCatalog,
  decide,
  explain,
  loadPreset,
  parseCatalog,
  UnknownPermissionError,
  UserGrants,
} from '../../src';
import { NOW, user } from '../support/engine';

/** Bad catalogs, bad checks, bad assignments: clear errors that say where, never a silent allow. */

const BASE = `catalog: demo
name: Demo
owner:
  role: boss
flags:
  vip: { name: VIP, description: Very important }
permissions:
  doc:
    read: { description: Read docs }
    write: { description: Write docs, requires: [doc:read] }
roles:
  reader: { name: Reader, kind: org, grants: [doc:read] }
  boss: { name: Boss, kind: org, inherits: [reader], grants: [doc:write] }
pages:
  home: { name: Home, minRole: reader }
tools:
  summarize: { description: Summarize docs, permission: doc:read, policy: auto }
operations:
  createUser: doc:write
`;

function problems(yaml: string): string[] {
  try {
    parseCatalog(yaml, 'bad.yaml');
  } catch (err) {
    if (err instanceof CatalogError) return err.report().split('\n');
    throw err;
  }
  throw new Error('expected the catalog to be refused');
}

it('the base catalog is valid', () => {
  expect(() => parseCatalog(BASE, 'base.yaml')).not.toThrow();
});

test.each([
  [
    'an unknown permission in a grant',
    ['grants: [doc:write]', 'grants: [doc:wirte]'],
    /^bad\.yaml:13:\d+: roles\.boss\.grants\[0\]: unknown permission "doc:wirte".*doc:read, doc:write/,
  ],
  [
    'an unknown module in a wildcard',
    ['grants: [doc:write]', 'grants: ["docs:*"]'],
    /roles\.boss\.grants\[0\]: unknown module "docs"/,
  ],
  [
    'an unknown inherited role',
    ['inherits: [reader]', 'inherits: [raeder]'],
    /^bad\.yaml:13:\d+: roles\.boss\.inherits\[0\]: unknown role "raeder"; expected one of: reader, boss/,
  ],
  [
    'an inheritance cycle',
    ['grants: [doc:read] }', 'grants: [doc:read], inherits: [boss] }'],
    /inheritance cycle: (reader → boss → reader|boss → reader → boss)/,
  ],
  [
    'a role inheriting itself',
    ['inherits: [reader]', 'inherits: [boss]'],
    /roles\.boss\.inherits\[0\]: role "boss" cannot inherit itself/,
  ],
  [
    'a role inheriting another kind',
    ['reader: { name: Reader, kind: org', 'reader: { name: Reader, kind: team'],
    /cannot inherit "reader" \(kind team\)/,
  ],
  [
    'a bad kind',
    ['kind: org, inherits', 'kind: global, inherits'],
    /^bad\.yaml:13:\d+: roles\.boss\.kind: expected one of "org", "location", "team", got "global"/,
  ],
  [
    'a dependency cycle',
    ['read: { description: Read docs }', 'read: { description: Read docs, requires: [doc:write] }'],
    /dependency cycle: doc:(read|write) → doc:(read|write) → doc:(read|write)/,
  ],
  [
    'a self dependency',
    ['requires: [doc:read]', 'requires: [doc:write]'],
    /permissions\.doc\.write\.requires\[0\]: doc:write cannot require itself/,
  ],
  [
    'an unknown dependency',
    ['requires: [doc:read]', 'requires: [doc:delete]'],
    /permissions\.doc\.write\.requires\[0\]: unknown permission "doc:delete"/,
  ],
  [
    'a duplicate key',
    ['  reader: { name: Reader', '  boss: { name: B, kind: org }\n  reader: { name: Reader'],
    /^bad\.yaml:\d+:\d+: YAML: Map keys must be unique/,
  ],
  [
    'an unknown flag',
    ['read: { description: Read docs }', 'read: { description: Read docs, grantedByFlag: vipp }'],
    /permissions\.doc\.read\.grantedByFlag: unknown flag "vipp"; expected one of: vip/,
  ],
  [
    'both flag kinds on one permission',
    [
      'read: { description: Read docs }',
      'read: { description: Read docs, grantedByFlag: vip, requiresFlag: vip }',
    ],
    /permissions\.doc\.read: give grantedByFlag or requiresFlag, not both/,
  ],
  [
    'a reserved module',
    ['permissions:\n', 'permissions:\n  page:\n    x: { description: X }\n'],
    /permissions\.page: "page" is reserved/,
  ],
  [
    'a page with an unknown minimum role',
    ['minRole: reader', 'minRole: nobody'],
    /pages\.home\.minRole: unknown role "nobody"/,
  ],
  [
    'a page with both a role and a permission',
    ['minRole: reader', 'minRole: reader, permission: doc:read'],
    /pages\.home: give minRole or permission, not both/,
  ],
  [
    'a page listed under an unknown navigation module',
    ['minRole: reader', 'minRole: reader, module: menu'],
    /pages\.home\.module: unknown navigation module "menu"/,
  ],
  [
    'a navigation module listed under another module',
    ['tools:\n', 'navigation:\n  main: { name: Main }\n  sub: { name: Sub, module: main }\ntools:\n'],
    /navigation\.sub\.module: a navigation module is not listed under another module/,
  ],
  [
    'a tool with an unknown permission',
    ['permission: doc:read, policy', 'permission: doc:sum, policy'],
    /tools\.summarize\.permission: unknown permission "doc:sum"/,
  ],
  [
    'a tool with a bad policy',
    ['policy: auto', 'policy: sometimes'],
    /tools\.summarize\.policy: expected one of "auto", "require_approval", "deny", got "sometimes"/,
  ],
  [
    'an unknown operation',
    ['createUser: doc:write', 'makeUser: doc:write'],
    /^bad\.yaml:19:\d+: operations\.makeUser: unknown operation "makeUser"; expected one of: viewUsers/,
  ],
  [
    'an operation guarded by an unknown permission',
    ['createUser: doc:write', 'createUser: doc:create'],
    /operations\.createUser: unknown permission "doc:create"/,
  ],
  ['an unknown owner role', ['role: boss', 'role: chief'], /owner\.role: unknown role "chief"/],
  [
    'an owner role named after an Object property',
    ['role: boss', 'role: constructor'],
    /owner\.role: unknown role "constructor"/,
  ],
  [
    'a minimum role named after an Object property',
    ['minRole: reader', 'minRole: constructor'],
    /pages\.home\.minRole: unknown role "constructor"/,
  ],
  [
    'inheriting a role named after an Object property',
    ['inherits: [reader]', 'inherits: [__proto__]'],
    /roles\.boss\.inherits\[0\]: (unknown role "__proto__"|invalid|expected)/,
  ],
  [
    'a permission without a description',
    ['read: { description: Read docs }', 'read: {}'],
    /permissions\.doc\.read\.description: missing; expected string/,
  ],
  [
    'an unknown field',
    ['name: Demo', 'name: Demo\nversion: 2'],
    /^bad\.yaml:3:\d+: version: unknown field "version"/,
  ],
  [
    'a key that is not snake_case',
    ['  reader: { name: Reader', '  Reader: { name: Reader'],
    /roles\.Reader: invalid key: expected a snake_case key/,
  ],
  [
    'a grant listed twice',
    ['grants: [doc:write]', 'grants: [doc:write, doc:write]'],
    /roles\.boss\.grants\[1\]: "doc:write" is listed twice/,
  ],
  // ownPersonGrants (rule 5: held only for the person an assignment is restricted to).
  [
    'an unknown permission held for the own person',
    ['grants: [doc:read] }', 'grants: [doc:read], ownPersonGrants: [doc:wirte] }'],
    /^bad\.yaml:12:\d+: roles\.reader\.ownPersonGrants\[0\]: unknown permission "doc:wirte".*doc:read, doc:write/,
  ],
  [
    'a page held for the own person (pages are not resources)',
    ['grants: [doc:read] }', 'grants: [doc:read], ownPersonGrants: [page:home] }'],
    /roles\.reader\.ownPersonGrants\[0\]: page:home: pages and navigation modules are not resources of a person/,
  ],
  [
    'a permission held for the own person and outright',
    ['grants: [doc:read] }', 'grants: [doc:read], ownPersonGrants: [doc:read] }'],
    /roles\.reader\.ownPersonGrants\[0\]: doc:read is already in grants, for every resource/,
  ],
  [
    'an own-person grant listed twice',
    ['grants: [doc:read] }', 'grants: [doc:read], ownPersonGrants: [doc:write, doc:write] }'],
    /roles\.reader\.ownPersonGrants\[1\]: "doc:write" is listed twice/,
  ],
  [
    'an own-person wildcard of an unknown module',
    ['grants: [doc:read] }', 'grants: [doc:read], ownPersonGrants: ["docs:*"] }'],
    /roles\.reader\.ownPersonGrants\[0\]: unknown module "docs"/,
  ],
  [
    'an own-person grant that is not a permission',
    ['grants: [doc:read] }', 'grants: [doc:read], ownPersonGrants: [write] }'],
    /roles\.reader\.ownPersonGrants\[0\]: expected a permission "module:action"/,
  ],
  ['a page that follows a permission, granted directly', ['minRole: reader', 'permission: doc:read'], /^$/],
] as const)('%s', (_name, [from, to], expected) => {
  const yaml = BASE.replace(from, to);
  expect(yaml).not.toBe(BASE);
  if (expected.source === '^$') {
    // Valid on its own; granting the alias is the mistake.
    const withGrant = yaml.replace('grants: [doc:read] }', 'grants: [doc:read, page:home] }');
    expect(problems(withGrant).join('\n')).toMatch(
      /roles\.reader\.grants\[1\]: page:home follows doc:read: grant that permission instead/,
    );
    return;
  }
  expect(problems(yaml).join('\n')).toMatch(expected);
});

it('reports every problem at once, each with its place', () => {
  const yaml = BASE.replace('grants: [doc:write]', 'grants: [doc:wirte]').replace(
    'minRole: reader',
    'minRole: nobody',
  );
  expect(problems(yaml)).toEqual([
    expect.stringMatching(/^bad\.yaml:13:\d+: roles\.boss\.grants\[0\]/),
    expect.stringMatching(/^bad\.yaml:15:\d+: pages\.home\.minRole/),
  ]);
});

describe('approval kinds name what approves them and who hears of them', () => {
  const APPROVALS = `${BASE}approvals:
  tool_use:
    name: Tool use
    description: An agent tool waits for a writer.
    approvedBy: doc:write
    notify: [doc:write, flag:vip]
    onToolDecision: true
    defaultLifetimeSeconds: 600
    maxLifetimeSeconds: 3600
`;

  it('the base catalog with approvals is valid, and its kinds compile', () => {
    const catalog = compileCatalog(parseCatalog(APPROVALS, 'base.yaml'));
    expect(catalog.approvalKinds).toEqual(['tool_use']);
    expect(catalog.toolApproval).toMatchObject({ kind: 'tool_use', approvedBy: 'doc:write' });
    expect(catalog.approval('nope')).toBeUndefined();
  });

  test.each([
    [
      'an unknown approving permission',
      ['approvedBy: doc:write', 'approvedBy: doc:wirte'],
      /approvals\.tool_use\.approvedBy: unknown permission "doc:wirte"/,
    ],
    [
      'an unknown approving flag',
      ['approvedBy: doc:write', 'approvedBy: flag:nope'],
      /approvals\.tool_use\.approvedBy: unknown flag "nope"; expected one of: vip/,
    ],
    [
      'an unknown permission to notify',
      ['notify: [doc:write, flag:vip]', 'notify: [doc:erase]'],
      /approvals\.tool_use\.notify\[0\]: unknown permission "doc:erase"/,
    ],
    [
      'a page as the approver',
      ['approvedBy: doc:write', 'approvedBy: page:home'],
      /approvals\.tool_use\.approvedBy: unknown permission "page:home": expected a module:action permission/,
    ],
    [
      'a default longer than the maximum',
      ['defaultLifetimeSeconds: 600', 'defaultLifetimeSeconds: 7200'],
      /approvals\.tool_use\.defaultLifetimeSeconds: the default lifetime \(7200 s\) is longer than the maximum \(3600 s\)/,
    ],
    [
      'a lifetime past 30 days',
      ['maxLifetimeSeconds: 3600', 'maxLifetimeSeconds: 2592001'],
      /approvals\.tool_use\.maxLifetimeSeconds: expected at most 2592000 seconds/,
    ],
    [
      'a lifetime that is not whole seconds',
      ['defaultLifetimeSeconds: 600', 'defaultLifetimeSeconds: 1.5'],
      /approvals\.tool_use\.defaultLifetimeSeconds: expected int, got 1\.5/,
    ],
    ['a missing lifetime', ['    maxLifetimeSeconds: 3600\n', ''], /approvals\.tool_use\.maxLifetimeSeconds/],
    [
      'an unknown field',
      ['onToolDecision: true', 'onToolDecision: true\n    approvers: [doc:write]'],
      /approvals\.tool_use.*approvers/,
    ],
    [
      'two kinds opening on a tool decision',
      [
        '    maxLifetimeSeconds: 3600\n',
        '    maxLifetimeSeconds: 3600\n  again:\n    name: Again\n    description: Again\n    approvedBy: doc:write\n    onToolDecision: true\n    defaultLifetimeSeconds: 60\n    maxLifetimeSeconds: 60\n',
      ],
      /approvals\.again\.onToolDecision: only one kind opens on a tool decision; "tool_use" already does/,
    ],
  ] as const)('%s', (_name, [from, to], expected) => {
    const yaml = APPROVALS.replace(from, to);
    expect(yaml).not.toBe(APPROVALS);
    expect(problems(yaml).join('\n')).toMatch(expected);
  });
});

it('a missing file names the file', () => {
  expect(() => loadPreset('/nonexistent/catalog.yaml')).toThrow(
    /\/nonexistent\/catalog\.yaml: cannot read the catalog: no such file/,
  );
});

describe('custom roles are checked like the catalog’s own', () => {
  const catalog = parseCatalog(BASE, 'base.yaml');

  test.each([
    [
      { editor: { name: 'E', kind: 'org', grants: ['doc:erase'] } },
      /customRoles\.editor\.grants\[0\]: unknown permission "doc:erase"/,
    ],
    [{ boss: { name: 'B', kind: 'org', grants: [] } }, /customRoles\.boss: "boss" is a built-in role/],
    [
      { a: { name: 'A', kind: 'org', inherits: ['b'] }, b: { name: 'B', kind: 'org', inherits: ['a'] } },
      /inheritance cycle/,
    ],
    [{ t: { name: 'T', kind: 'team', inherits: ['reader'] } }, /cannot inherit "reader" \(kind org\)/],
  ] as const)('%j', (roles, expected) => {
    expect(() => compileCatalog(catalog, roles as never)).toThrow(CatalogError);
    try {
      compileCatalog(catalog, roles as never);
    } catch (err) {
      expect((err as CatalogError).report()).toMatch(expected);
    }
  });

  it('a valid custom role may inherit a built-in one', () => {
    const compiled = compileCatalog(catalog, {
      editor: { name: 'Editor', kind: 'org', inherits: ['reader'], grants: ['doc:write'] },
    });
    const u = user([{ role: 'editor' }]);
    expect(decide(compiled, new UserGrants(compiled, u, NOW), { permission: 'doc:write' })).toBe('ALLOW');
  });
});

it('an own-person grant holds for the person an assignment is restricted to, on that person only', () => {
  const compiled = compileCatalog(
    parseCatalog(BASE.replace('grants: [doc:read] }', 'grants: [doc:read], ownPersonGrants: [doc:write] }')),
  );
  const ask = (assignment: Parameters<typeof user>[0][number], personId?: string) =>
    decide(compiled, new UserGrants(compiled, user([assignment]), NOW), {
      permission: 'doc:write',
      personId,
    });
  expect(ask({ role: 'reader', personId: 'p1' }, 'p1')).toBe('ALLOW');
  expect(ask({ role: 'reader', personId: 'p1' }, 'p2')).toBe('DENY');
  expect(ask({ role: 'reader', personId: 'p1' })).toBe('DENY');
  expect(ask({ role: 'reader' }, 'p1')).toBe('DENY');
  expect(ask({ role: 'reader', groupIds: ['g'] }, 'p1')).toBe('DENY');
  // A role inheriting it that grants it outright holds it outright: nothing left for the person alone.
  expect(compiled.roles.get('boss')!.ownPerson.every((w) => w === 0)).toBe(true);
});

describe('checks that make no sense are errors, not answers', () => {
  const compiled = compileCatalog(parseCatalog(BASE, 'base.yaml'));
  const boss = user([{ role: 'boss' }]);
  const grants = new UserGrants(compiled, boss, NOW);

  test.each(['doc:delete', 'docs:read', 'tool:nope', 'page:nope', 'nav:home', '', 'doc', 'doc:*'])(
    '%j',
    (permission) => {
      expect(() => decide(compiled, grants, { permission })).toThrow(UnknownPermissionError);
      expect(() => explain(compiled, boss, { permission }, { now: NOW })).toThrow(UnknownPermissionError);
    },
  );
});

describe('assignments that do not fit count for nothing', () => {
  const compiled = compileCatalog(loadPreset('juno'));
  const ask = (
    assignments: Parameters<typeof user>[0],
    req: { permission: string; teamIds?: string[]; locationPath?: string[] },
  ) => decide(compiled, new UserGrants(compiled, user(assignments), NOW), req);

  test.each([
    ['an unknown role', [{ role: 'superuser' }], { permission: 'settings_user:view' }],
    [
      'an org role given in a team',
      [{ role: 'owner', teamId: 't' }],
      { permission: 'settings_user:view', teamIds: ['t'] },
    ],
    [
      'an org role given at a location',
      [{ role: 'owner', locationId: 'l' }],
      { permission: 'settings_user:view', locationPath: ['l'] },
    ],
    [
      'a team role given org-wide',
      [{ role: 'project_manager' }],
      { permission: 'project:edit', teamIds: ['t'] },
    ],
    [
      'a team role given at a location',
      [{ role: 'project_manager', locationId: 'l' }],
      { permission: 'project:edit', locationPath: ['l'] },
    ],
    [
      'an assignment naming a location and a team',
      [{ role: 'project_manager', teamId: 't', locationId: 'l' }],
      { permission: 'project:edit', teamIds: ['t'], locationPath: ['l'] },
    ],
    [
      'an assignment that expired a moment ago',
      [{ role: 'owner', expiresAt: NOW - 1 }],
      { permission: 'settings_user:view' },
    ],
    [
      'an assignment that expires now',
      [{ role: 'owner', expiresAt: NOW }],
      { permission: 'settings_user:view' },
    ],
  ] as const)('%s', (_name, assignments, req) => {
    expect(ask(assignments as never, req as never)).toBe('DENY');
  });

  it('an assignment that expires later counts until then', () => {
    expect(ask([{ role: 'owner', expiresAt: NOW + 1 }], { permission: 'settings_user:view' })).toBe('ALLOW');
    const g = new UserGrants(compiled, user([{ role: 'owner', expiresAt: NOW + 1 }]), NOW);
    expect(g.validUntil).toBe(NOW + 1);
  });

  test.each([{ locked: true }, { deleted: true }])('a user %j holds nothing', (state) => {
    const owner = user([{ role: 'owner' }], state);
    expect(decide(compiled, new UserGrants(compiled, owner, NOW), { permission: 'settings_user:view' })).toBe(
      'DENY',
    );
    expect(explain(compiled, owner, { permission: 'settings_user:view' }, { now: NOW }).summary).toMatch(
      /denied: the user is (locked|deleted)/,
    );
  });
});

describe('rolegate catalog validate', () => {
  const cli = (...args: string[]) => {
    try {
      const out = execFileSync(
        process.execPath,
        [require.resolve('tsx/cli'), 'src/cli/main.ts', 'catalog', 'validate', ...args],
        {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      return { code: 0, out };
    } catch (err) {
      const e = err as { status: number; stdout: string; stderr: string };
      return { code: e.status, out: e.stdout + e.stderr };
    }
  };

  it('passes the three presets', () => {
    const { code, out } = cli('catalogs/junto.yaml', 'catalogs/juno.yaml', 'catalogs/jrni.yaml');
    expect(code).toBe(0);
    expect(out).toMatch(/junto\.yaml: ok[\s\S]*juno\.yaml: ok[\s\S]*jrni\.yaml: ok/);
  });

  it('fails on a broken copy of a preset, naming the file, the line and the path', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'rolegate-'));
    const file = path.join(dir, 'jrni-broken.yaml');
    writeFileSync(
      file,
      readFileSync('catalogs/jrni.yaml', 'utf8').replace('inherits: [administrator]', 'inherits: [admin]'),
    );
    const { code, out } = cli(file);
    expect(code).toBe(1);
    expect(out).toMatch(
      new RegExp(
        `${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:\\d+:\\d+: roles\\.owner\\.inherits\\[0\\]: unknown role "admin"`,
      ),
    );
  });
});

it('a tool policy named after an Object property is no policy', () => {
  const compiled = compileCatalog(parseCatalog(BASE.replace('summarize:', 'constructor:'), 'base.yaml'));
  const reader = user([{ role: 'reader' }]);
  const grants = new UserGrants(compiled, reader, NOW);
  expect(decide(compiled, grants, { permission: 'tool:constructor' }, {})).toBe('ALLOW'); // the catalog's auto
  expect(decide(compiled, grants, { permission: 'tool:constructor' }, { constructor: 'deny' as const })).toBe(
    'DENY',
  );
});
