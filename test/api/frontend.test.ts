import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parse, type EnumTypeDefinitionNode } from 'graphql';
import { SCHEMA_DIR } from '../../src/api/schema';
import { ErrorCode, REQUEST_CODES } from '../../src/api/errors';
import { gql, newTenant, startTestGateway, type TestGateway } from '../support/gateway';
import { BACKENDS } from '../support/stores';

/**
 * What a frontend app draws its UI from, in one request: a bootstrap that degrades field by field, the
 * viewer's scopes, `capabilities` as a manifest (pages with their modules, order and descriptions, the
 * operations held), the catalog with its locked items, ids for client caches and reasons with names.
 */
describe.each(BACKENDS)('frontend bootstrap on %s', (backend) => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway(backend);
  });
  afterAll(() => t.close());
  afterEach(() => expect(t.logged.splice(0)).toEqual([]));

  const must = async <T = Record<string, any>>(
    token: string,
    query: string,
    variables?: Record<string, unknown>,
  ) => {
    const r = await gql<T>(t.url, token, query, variables);
    if (r.errors) throw new Error(`${query}\n${JSON.stringify(r.errors)}`);
    return r.data!;
  };
  const createUser = async (token: string, email: string, assignments: Record<string, unknown>[]) =>
    (
      await must(token, `mutation($i: CreateUserInput!) { createUser(input: $i) { user { id } } }`, {
        i: { email, name: email.split('@')[0], assignments },
      })
    ).createUser.user.id as string;
  const location = async (token: string, name: string, parentId?: string) =>
    (
      await must(
        token,
        `mutation($i: CreateLocationInput!) { createLocation(input: $i) { location { id } } }`,
        { i: { name, parentId } },
      )
    ).createLocation.location.id as string;

  /** A JRNI company: Parent company > London, an Administrator at the parent, a User limited to staff-7 in London. */
  async function jrni() {
    const tenant = await newTenant(t, 'jrni');
    const parent = await location(tenant.ownerToken, 'Parent company');
    const london = await location(tenant.ownerToken, 'London', parent);
    const adminId = await createUser(tenant.ownerToken, 'admin@jrni.test', [
      { role: 'administrator', locationId: parent },
    ]);
    const userId = await createUser(tenant.ownerToken, 'user@jrni.test', [
      { role: 'user', locationId: london, personId: 'staff-7' },
    ]);
    return {
      ...tenant,
      parent,
      london,
      adminId,
      adminToken: await t.token(tenant.orgId, adminId),
      userId,
      userToken: await t.token(tenant.orgId, userId),
    };
  }

  test('one refusal costs one field: the viewer survives a refused users list and a stale location', async () => {
    const w = await jrni();
    const r = await gql(
      t.url,
      w.userToken,
      `query($stale: ID) {
        viewer { id email }
        users(first: 5) { edges { node { id } } }
        here: capabilities(locationId: $stale) { permissions }
        capabilities { pages { key } }
      }`,
      { stale: '00000000-0000-4000-8000-000000000000' },
    );
    expect(r.status).toBe(200);
    expect(r.data).toEqual({
      viewer: { id: w.userId, email: 'user@jrni.test' },
      users: null,
      here: null,
      capabilities: { pages: expect.any(Array) },
    });
    expect(
      r.errors!.map((e) => [e.path, e.extensions?.code, e.extensions?.permission ?? null]).sort(),
    ).toEqual([
      [['here'], 'NOT_FOUND', null],
      [['users'], 'FORBIDDEN', 'user:manage'],
    ]);
  });

  test('viewer.scopes: where the viewer holds anything, with names; nothing for a locked user', async () => {
    const w = await jrni();
    const scopes = `{ viewer { scopes { id type name roles restrictedRoles location { id name } team { id } } } }`;
    expect((await must(w.userToken, scopes)).viewer.scopes).toEqual([
      {
        id: `LOCATION:${w.london}`,
        type: 'LOCATION',
        name: 'London',
        roles: ['user'],
        restrictedRoles: ['user'],
        location: { id: w.london, name: 'London' },
        team: null,
      },
    ]);
    expect((await must(w.ownerToken, scopes)).viewer.scopes).toEqual([
      {
        id: `ORG:${w.orgId}`,
        type: 'ORG',
        name: 'jrni test',
        roles: ['owner'],
        restrictedRoles: [],
        location: null,
        team: null,
      },
    ]);

    // Juno: a member of two teams, with a role in one of them, and an org-wide specific role.
    const juno = await newTenant(t, 'juno');
    const team = async (name: string) =>
      (
        await must(
          juno.ownerToken,
          `mutation($n: String!) { createTeam(input: { name: $n }) { team { id } } }`,
          {
            n: name,
          },
        )
      ).createTeam.team.id as string;
    const [web, mobile] = [await team('Web'), await team('Mobile')];
    const member = await createUser(juno.ownerToken, 'member@juno.test', [
      { role: 'member' },
      { role: 'triager', teamId: web },
    ]);
    await must(juno.ownerToken, `mutation($i: TeamMemberInput!) { addTeamMember(input: $i) { version } }`, {
      i: { teamId: mobile, userId: member },
    });
    const got = (await must(await t.token(juno.orgId, member), scopes)).viewer.scopes as {
      id: string;
      name: string;
      roles: string[];
    }[];
    expect(got.map((s) => [s.id, s.name, s.roles])).toEqual([
      [`ORG:${juno.orgId}`, 'juno test', ['member']],
      ...[
        [`TEAM:${web}`, 'Web', ['triager']],
        [`TEAM:${mobile}`, 'Mobile', []],
      ].sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    ]);

    await must(w.ownerToken, `mutation($i: UserIdInput!) { lockUser(input: $i) { version } }`, {
      i: { id: w.adminId },
    });
    expect(
      (await must(w.ownerToken, `query($id: ID!) { user(id: $id) { scopes { id } } }`, { id: w.adminId }))
        .user.scopes,
    ).toEqual([]);
  });

  test('capabilities: pages with their module, order and description; modules with their pages; operations held', async () => {
    const w = await jrni();
    const manifest = `query($l: ID, $p: ID) { capabilities(locationId: $l, personId: $p) {
      id
      pages { key name description order module pages { key } }
      modules { key name order module pages { key order } }
      permissionDetails { key module action description }
      operations { operation permission allowed }
    } }`;
    const user = (await must(w.userToken, manifest, { l: w.london, p: 'staff-7' })).capabilities;
    expect(user.pages.map((p: { key: string }) => p.key)).toEqual([
      'calendar',
      'agenda',
      'check_in',
      'customers',
      'staff',
    ]);
    expect(user.pages[0]).toEqual({
      key: 'calendar',
      name: 'Calendar',
      description: 'Bookings by day, week and staff member.',
      order: 0,
      module: 'your_business',
      pages: [],
    });
    const orders = user.pages.map((p: { order: number }) => p.order);
    expect(orders).toEqual([...orders].sort((a, b) => a - b));
    expect(user.modules).toEqual([
      { key: 'home', name: 'Home', order: 0, module: null, pages: [] },
      {
        key: 'your_business',
        name: 'Your Business',
        order: 1,
        module: null,
        pages: user.pages.map((p: { key: string; order: number }) => ({ key: p.key, order: p.order })),
      },
    ]);
    // The asterisk: View Staff for their own staff member, with the catalog's description.
    expect(user.permissionDetails).toContainEqual({
      key: 'staff:view',
      module: 'staff',
      action: 'view',
      description: expect.stringMatching(/\w/),
    });
    const ops = (c: { operations: { operation: string; permission: string | null; allowed: boolean }[] }) =>
      Object.fromEntries(c.operations.map((o) => [o.operation, [o.permission, o.allowed]]));
    expect(ops(user).CREATE_USER).toEqual(['user:create', false]);
    expect(ops(user).CREATE_TEAM).toEqual([null, false]);
    const owner = (await must(w.ownerToken, manifest, { l: w.london })).capabilities;
    expect(ops(owner).CREATE_USER).toEqual(['user:create', true]);
    expect(owner.modules.map((m: { key: string }) => m.key)).toEqual([
      'home',
      'your_business',
      'call_center',
      'business',
      'settings',
    ]);
    expect(ops(owner).ASSIGN_ROLE).toEqual(['user:manage', true]);
    // The Administrator at the parent company, cascaded to London: no user administration in JRNI.
    const admin = (await must(w.adminToken, manifest, { l: w.london })).capabilities;
    expect(ops(admin).CREATE_USER).toEqual(['user:create', false]);
    expect(ops(admin).ASSIGN_ROLE).toEqual(['user:manage', false]);
    expect(admin.pages.map((p: { key: string }) => p.key)).toContain('services');
  });

  test("catalog: every item with its name and description, and each preset's permission for each button", async () => {
    const createUserPermission = async (preset: 'junto' | 'juno' | 'jrni') => {
      const { ownerToken } = await newTenant(t, preset);
      const { catalog } = await must(
        ownerToken,
        `{ catalog { name permissions { key description } pages { key module } modules { key pages { key } }
           flags { key name description } tools { name description permission mode }
           operations { operation permission } } }`,
      );
      return catalog as {
        name: string;
        permissions: { key: string; description: string }[];
        flags: { key: string }[];
        tools: { name: string; mode: string }[];
        modules: { key: string; pages: { key: string }[] }[];
        operations: { operation: string; permission: string | null }[];
      };
    };
    const [junto, juno, jrniCatalog] = [
      await createUserPermission('junto'),
      await createUserPermission('juno'),
      await createUserPermission('jrni'),
    ];
    const button = (c: typeof junto) => c.operations.find((o) => o.operation === 'CREATE_USER')!.permission;
    expect([button(junto), button(juno), button(jrniCatalog)]).toEqual([
      'user:invite',
      'settings_user:create',
      'user:create',
    ]);
    for (const c of [junto, juno, jrniCatalog])
      for (const p of c.permissions) expect(p.description.length).toBeGreaterThan(0);
    expect(junto.flags.map((f) => f.key)).toEqual(expect.arrayContaining(['billing_admin']));
    expect(junto.tools.length).toBeGreaterThan(0);
    // Locked items are listed too: every JRNI module with all its pages.
    expect(jrniCatalog.modules.find((m) => m.key === 'settings')!.pages.map((p) => p.key)).toEqual([
      'basic_settings',
      'advanced_settings',
      'manage_users',
    ]);
  });

  test('ids for client caches: stable per question across versions, distinct between questions', async () => {
    const w = await jrni();
    const q = `query($i: CheckInput!, $j: CheckInput!) {
      a: check(input: $i) { id version } b: check(input: $j) { id }
      capabilities(locationId: "${w.london}") { id }
      roles { id key }
    }`;
    const i = { userId: w.userId, permission: 'calendar:view', locationId: w.london };
    const j = { ...i, permission: 'agenda:view' };
    const before = await must(w.ownerToken, q, { i, j });
    await location(w.ownerToken, 'Elsewhere');
    const after = await must(w.ownerToken, q, { i, j });
    expect(after.a.version).not.toBe(before.a.version);
    expect(after.a.id).toBe(before.a.id);
    expect(after.capabilities.id).toBe(before.capabilities.id);
    expect(before.a.id).not.toBe(before.b.id);
    // The same question with its lists in another order is the same question.
    const teams = ['t1', 't2'];
    const same = await must(
      w.ownerToken,
      `query($i: CheckInput!, $j: CheckInput!) { a: check(input: $i) { id } b: check(input: $j) { id } }`,
      { i: { ...i, teamIds: teams }, j: { ...i, teamIds: [...teams].reverse() } },
    );
    expect(same.a.id).toBe(same.b.id);
    for (const r of before.roles as { id: string; key: string }[]) expect(r.id).toBe(r.key);
  });

  test('reasons say names, with ids alongside', async () => {
    const w = await jrni();
    const { check } = await must(
      w.ownerToken,
      `query($i: CheckInput!) { check(input: $i) { allowed reason } }`,
      { i: { userId: w.adminId, permission: 'staff:view', locationId: w.london } },
    );
    expect(check).toEqual({
      allowed: true,
      reason: `allowed: staff:view granted by role Administrator (administrator) at Parent company (${w.parent}), cascading here`,
    });
  });
});

describe('the schema lists every error code the gateway sends', () => {
  test("enum ErrorCode is the gateway's codes, and nothing else", () => {
    const doc = parse(readFileSync(path.join(SCHEMA_DIR, 'common.graphql'), 'utf8'));
    const listed = (
      doc.definitions.find(
        (d): d is EnumTypeDefinitionNode => d.kind === 'EnumTypeDefinition' && d.name.value === 'ErrorCode',
      )!.values ?? []
    ).map((v) => v.name.value);
    // Ours, and Apollo Server's own passed through.
    const sent = new Set<string>([...Object.values(ErrorCode), ...REQUEST_CODES]);
    expect([...listed].sort()).toEqual([...sent].sort());
  });
});
