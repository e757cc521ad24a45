import { gql, newTenant, startTestGateway, type TestGateway } from '../support/gateway';
import { BACKENDS } from '../support/stores';

/**
 * The seeds' scenarios end to end: real HTTP to a real gateway over each store. Set-up goes through
 * the API too (locations, users, roles, flags, tool policies), as an owner would do it.
 */
const CHECKS = `query($inputs: [CheckInput!]!) { checks(inputs: $inputs) { allowed outcome version error { code message } } }`;

describe.each(BACKENDS)('decision API on %s', (backend) => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway(backend);
  });
  afterAll(() => t.close());
  afterEach(() => expect(t.logged).toEqual([]));

  const must = async <T = Record<string, any>>(
    token: string,
    query: string,
    variables?: Record<string, unknown>,
  ) => {
    const r = await gql<T>(t.url, token, query, variables);
    if (r.errors) throw new Error(`${query}\n${JSON.stringify(r.errors)}`);
    return r.data!;
  };
  const createUser = async (token: string, email: string, roles?: string[]) =>
    (
      await must(token, `mutation($i: CreateUserInput!) { createUser(input: $i) { user { id } version } }`, {
        i: { email, roles },
      })
    ).createUser.user.id as string;
  const assign = async (token: string, input: Record<string, unknown>) =>
    (
      await must(
        token,
        `mutation($i: AssignRoleInput!) { assignRole(input: $i) { assignment { id } version } }`,
        { i: input },
      )
    ).assignRole;
  const location = async (token: string, name: string, parentId?: string) =>
    (
      await must(
        token,
        `mutation($i: CreateLocationInput!) { createLocation(input: $i) { location { id } } }`,
        { i: { name, parentId } },
      )
    ).createLocation.location.id as string;
  const outcomes = async (token: string, inputs: Record<string, unknown>[]) =>
    ((await must(token, CHECKS, { inputs })).checks as { outcome: string }[]).map((d) => d.outcome);

  it('JRNI: the configuration matrix, cell by cell, in one checks call', async () => {
    const { ownerToken } = await newTenant(t, 'jrni');
    const roles = ['owner', 'administrator', 'user', 'user_plus', 'manager', 'call_center'];
    const rows: [string, string][] = [
      ['customer:manage', '✅✅✅✅✅✅'],
      ['booking:manage', '✅✅✅✅✅✅'],
      ['checkin:manage', '✅✅✅✅✅❌'],
      ['resource:manage', '✅✅❌❌❌❌'],
      ['service:view', '✅✅❌✅✅❌'],
      ['service:edit', '✅✅❌❌❌❌'],
      ['staff:view', '✅✅❌✅✅❌'],
      ['staff:edit_what_where', '✅✅❌❌✅❌'],
      ['schedule:edit', '✅✅❌✅✅❌'],
      ['event:manage', '✅✅❌❌❌❌'],
      ['integration:manage', '✅❌❌❌❌❌'],
      ['user:create', '✅❌❌❌❌❌'],
    ];
    const parent = await location(ownerToken, 'Parent');
    const child = await location(ownerToken, 'Child', parent);
    const people: string[] = [];
    for (const role of roles) {
      const id = await createUser(ownerToken, `${role}@jrni.test`);
      await assign(ownerToken, { userId: id, role, locationId: parent });
      people.push(id);
    }
    const inputs = rows.flatMap(([permission]) =>
      people.map((userId) => ({ userId, permission, locationId: child })),
    );
    const expected = rows.flatMap(([, marks]) =>
      [...marks].filter((c) => c !== '\uFE0F').map((m) => (m === '✅' ? 'ALLOW' : 'DENY')),
    );
    expect(expected).toHaveLength(72);
    expect(await outcomes(ownerToken, inputs)).toEqual(expected);
  });

  it('JRNI: Owner at one location, Administrator at another, User at a third — and nothing elsewhere', async () => {
    const { ownerToken } = await newTenant(t, 'jrni');
    const [a, b, c, d] = [
      await location(ownerToken, 'A'),
      await location(ownerToken, 'B'),
      await location(ownerToken, 'C'),
      await location(ownerToken, 'D'),
    ];
    const u = await createUser(ownerToken, 'multi@jrni.test');
    await assign(ownerToken, { userId: u, role: 'owner', locationId: a });
    await assign(ownerToken, { userId: u, role: 'administrator', locationId: b });
    await assign(ownerToken, { userId: u, role: 'user', locationId: c });
    const at = (permission: string) =>
      [a, b, c, d].map((locationId) => ({ userId: u, permission, locationId }));
    expect(
      await outcomes(ownerToken, [
        ...at('integration:manage'),
        ...at('resource:manage'),
        ...at('customer:manage'),
      ]),
    ).toEqual([
      ...['ALLOW', 'DENY', 'DENY', 'DENY'],
      ...['ALLOW', 'ALLOW', 'DENY', 'DENY'],
      ...['ALLOW', 'ALLOW', 'ALLOW', 'DENY'],
    ]);
  });

  it('Junto: the ladder, pages, flags and tool modes', async () => {
    const { ownerToken, ownerId } = await newTenant(t, 'junto');
    const tech = await createUser(ownerToken, 'tech@junto.test', ['technician']);
    const admin = await createUser(ownerToken, 'admin@junto.test', ['admin']);
    await must(
      ownerToken,
      `mutation($i: SetUserFlagsInput!) { setUserFlags(input: $i) { user { flags } } }`,
      { i: { userId: tech, flags: ['billing_admin'] } },
    );
    const pages = ['page:dashboard', 'page:timeline', 'page:settings', 'page:billing'];
    expect(
      await outcomes(ownerToken, [
        ...pages.map((p) => ({ userId: tech, permission: p })),
        ...pages.map((p) => ({ userId: admin, permission: p })),
      ]),
    ).toEqual([...['ALLOW', 'DENY', 'DENY', 'DENY'], ...['ALLOW', 'ALLOW', 'ALLOW', 'DENY']]);
    // Billing Admin: the Technician with it may use financial tools, the Admin without it may not.
    expect(
      await outcomes(
        ownerToken,
        ['tool:invoices', 'tool:financial_reports'].flatMap((p) =>
          [tech, admin].map((userId) => ({ userId, permission: p })),
        ),
      ),
    ).toEqual(['REQUIRES_APPROVAL', 'DENY', 'ALLOW', 'DENY']);
    // The owner has Escalation Approver from the start.
    expect(await outcomes(ownerToken, [{ userId: ownerId, permission: 'escalation:approve' }])).toEqual([
      'ALLOW',
    ]);
    // An Admin sets a tool's policy; decisions follow at once.
    const adminToken = await t.token(
      (await must(ownerToken, '{ organization { id } }')).organization.id,
      admin,
    );
    const set = await must(
      adminToken,
      `mutation { setToolPolicy(input: { tool: "invoices", mode: AUTO }) { toolPolicy { tool mode overridden } version } }`,
    );
    expect(set.setToolPolicy.toolPolicy).toEqual({ tool: 'invoices', mode: 'AUTO', overridden: true });
    const after = await must(ownerToken, CHECKS, {
      inputs: [{ userId: tech, permission: 'tool:invoices', atLeastVersion: set.setToolPolicy.version }],
    });
    expect(after.checks[0]).toMatchObject({ outcome: 'ALLOW', error: null });
  });

  it('Juno: team roles are summed within a team, and dependencies hold', async () => {
    const { ownerToken } = await newTenant(t, 'juno');
    const team = (await must(ownerToken, `mutation { createTeam(input: { name: "Web" }) { team { id } } }`))
      .createTeam.team.id as string;
    const other = (await must(ownerToken, `mutation { createTeam(input: { name: "Ops" }) { team { id } } }`))
      .createTeam.team.id as string;
    const dev = await createUser(ownerToken, 'dev@juno.test', ['member']);
    await assign(ownerToken, { userId: dev, role: 'triager', teamId: team });
    await assign(ownerToken, { userId: dev, role: 'developer', teamId: team });
    const ask = (permission: string, teamIds: string[]) => ({ userId: dev, permission, teamIds });
    expect(
      await outcomes(ownerToken, [
        ask('project_issues:create', [team]),
        ask('project_priority:create', [team]),
        ask('project_issues:create', [other]),
      ]),
    ).toEqual(['ALLOW', 'DENY', 'DENY']);
    await assign(ownerToken, { userId: dev, role: 'project_manager', teamId: other });
    expect(
      await outcomes(ownerToken, [
        ask('project_priority:create', [team]),
        ask('project_priority:create', [team, other]),
      ]),
    ).toEqual(['DENY', 'ALLOW']);
    const why = await must(
      ownerToken,
      `query($i: CheckInput!) { explain(input: $i) { outcome summary detail { requires { permission effective } } } }`,
      { i: ask('project_priority:create', [team]) },
    );
    expect(why.explain).toEqual({
      outcome: 'DENY',
      summary: expect.stringContaining('requires project:edit'),
      detail: { requires: [{ permission: 'project:edit', effective: false }] },
    });
  });

  it('checks: a bad input gets its own error and the rest still answer; reasons on request', async () => {
    const { ownerToken, ownerId } = await newTenant(t, 'jrni');
    const r = await must(
      ownerToken,
      `query($inputs: [CheckInput!]!) { checks(inputs: $inputs) { allowed outcome reason error { code message } } }`,
      {
        inputs: [
          { userId: ownerId, permission: 'user:create' },
          { userId: ownerId, permission: 'user:fly' },
          { userId: '00000000-0000-4000-8000-000000000000', permission: 'user:create' },
          { userId: ownerId, permission: 'user:create', locationId: 'nope' },
          { userId: ownerId, permission: 'user:create', atLeastVersion: '999999999' },
        ],
      },
    );
    expect(
      r.checks.map((d: { outcome: string; error: { code: string } | null }) => [
        d.outcome,
        d.error?.code ?? null,
      ]),
    ).toEqual([
      ['ALLOW', null],
      ['DENY', 'BAD_USER_INPUT'],
      ['DENY', 'NOT_FOUND'],
      ['DENY', 'NOT_FOUND'],
      ['DENY', 'VERSION_NOT_REACHED'],
    ]);
    expect(r.checks[0].reason).toBe('allowed: user:create granted by role Owner (owner) organization-wide');
  });

  it('capabilities: what a frontend needs to draw itself', async () => {
    const { ownerToken } = await newTenant(t, 'jrni');
    const parent = await location(ownerToken, 'Parent');
    const u = await createUser(ownerToken, 'plus@jrni.test');
    await assign(ownerToken, { userId: u, role: 'user_plus', locationId: parent });
    const token = await t.token((await must(ownerToken, '{ organization { id } }')).organization.id, u);
    const caps = (
      await must(
        token,
        `query($l: ID) { capabilities(locationId: $l) { userId permissions pages { key } modules { key } tools { tool } flags version } }`,
        { l: parent },
      )
    ).capabilities;
    expect(caps.userId).toBe(u);
    expect(caps.permissions).toEqual([
      'customer:manage',
      'booking:manage',
      'checkin:manage',
      'service:view',
      'staff:view',
      'schedule:edit',
      'calendar:view',
      'agenda:view',
    ]);
    expect(caps.pages.map((p: { key: string }) => p.key)).toEqual([
      'calendar',
      'agenda',
      'check_in',
      'customers',
      'services',
      'staff',
    ]);
    expect(caps.modules.map((p: { key: string }) => p.key)).toEqual(['home', 'your_business']);
    expect(caps.tools).toEqual([]);
    // At the root the same user holds nothing: the role was given at the parent.
    expect((await must(token, `{ capabilities { permissions } }`)).capabilities.permissions).toEqual([]);
  });

  it('capabilities of a restricted JRNI User: their pages and modules always, permissions for their own staff member', async () => {
    const { ownerToken, orgId } = await newTenant(t, 'jrni');
    const parent = await location(ownerToken, 'Parent');
    const u = await createUser(ownerToken, 'staff7@jrni.test');
    await assign(ownerToken, { userId: u, role: 'user', locationId: parent, personId: 'staff-7' });
    const token = await t.token(orgId, u);
    const caps = async (vars: Record<string, unknown>) =>
      (
        await must(
          token,
          `query($l: ID, $p: ID, $g: [ID!]) { capabilities(locationId: $l, personId: $p, groupIds: $g) { personId groupIds permissions pages { key } modules { key } } }`,
          { l: parent, ...vars },
        )
      ).capabilities;
    const home = ['home', 'your_business'];
    const pages = ['calendar', 'agenda', 'check_in', 'customers', 'staff'];
    // No resource: no permission (restricted), but the pages and modules all the same.
    const none = await caps({});
    expect(none).toMatchObject({ personId: null, groupIds: [], permissions: [] });
    expect(none.modules.map((m: { key: string }) => m.key)).toEqual(home);
    expect(none.pages.map((m: { key: string }) => m.key)).toEqual(pages);
    // Their own staff member: the User's grants, and View Staff (the matrix's ❌*).
    const own = await caps({ p: 'staff-7' });
    expect(own.permissions).toEqual([
      'customer:manage',
      'booking:manage',
      'checkin:manage',
      'staff:view',
      'calendar:view',
      'agenda:view',
      'category:manage',
    ]);
    expect(own.pages.map((m: { key: string }) => m.key)).toEqual(pages);
    // Another staff member: nothing but the pages and modules.
    const other = await caps({ p: 'staff-8', g: ['g1'] });
    expect(other).toMatchObject({ personId: 'staff-8', groupIds: ['g1'], permissions: [] });
    expect(other.modules.map((m: { key: string }) => m.key)).toEqual(home);
    // The same answers through check.
    const ask = (permission: string, personId?: string) => ({
      userId: u,
      permission,
      locationId: parent,
      personId,
    });
    expect(
      await outcomes(token, [
        ask('page:staff'),
        ask('nav:home'),
        ask('staff:view'),
        ask('staff:view', 'staff-7'),
        ask('staff:view', 'staff-8'),
        ask('page:services'),
      ]),
    ).toEqual(['ALLOW', 'ALLOW', 'DENY', 'ALLOW', 'DENY', 'DENY']);
  });

  it('a user may check themselves; checking others needs the catalog permission', async () => {
    const { ownerToken, ownerId, orgId } = await newTenant(t, 'jrni');
    const u = await createUser(ownerToken, 'plain@jrni.test');
    const token = await t.token(orgId, u);
    expect(
      (await gql(t.url, token, CHECKS, { inputs: [{ userId: u, permission: 'user:create' }] })).data
        ?.checks[0].outcome,
    ).toBe('DENY');
    const other = await gql(t.url, token, CHECKS, {
      inputs: [{ userId: ownerId, permission: 'user:create' }],
    });
    expect(other.errors?.[0]?.extensions).toMatchObject({
      code: 'FORBIDDEN',
      permission: 'user:manage',
      scope: 'the organization',
    });
  });

  it('whoCan and whereCan page through every match, exactly', async () => {
    const { ownerToken, ownerId } = await newTenant(t, 'jrni');
    const parent = await location(ownerToken, 'Parent');
    const children = [];
    for (let i = 0; i < 5; i++) children.push(await location(ownerToken, `Child ${i}`, parent));
    const elsewhere = await location(ownerToken, 'Elsewhere');
    const managers = [];
    for (let i = 0; i < 5; i++) {
      const id = await createUser(ownerToken, `m${i}@jrni.test`);
      if (i !== 2) {
        await assign(ownerToken, { userId: id, role: 'manager', locationId: parent });
        managers.push(id);
      }
    }
    const pages = async (query: string, vars: Record<string, unknown>, field: 'whoCan' | 'whereCan') => {
      const seen: string[] = [];
      let after: string | null = null;
      for (let guard = 0; guard < 20; guard++) {
        const r = (await must(ownerToken, query, { ...vars, after }))[field] as {
          edges: { node: { id: string } }[];
          pageInfo: { hasNextPage: boolean; endCursor: string | null };
        };
        expect(r.edges.length).toBeLessThanOrEqual(2);
        seen.push(...r.edges.map((e) => e.node.id));
        if (!r.pageInfo.hasNextPage) return seen;
        after = r.pageInfo.endCursor;
      }
      throw new Error('pagination did not end');
    };
    const who = await pages(
      `query($after: String, $l: ID) { whoCan(permission: "staff:edit_what_where", locationId: $l, first: 2, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } } }`,
      { l: children[3] },
      'whoCan',
    );
    expect(who.sort()).toEqual([ownerId, ...managers].sort());
    const where = await pages(
      `query($after: String, $u: ID!) { whereCan(userId: $u, permission: "staff:edit_what_where", first: 2, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } } }`,
      { u: managers[0] },
      'whereCan',
    );
    expect(where.sort()).toEqual([parent, ...children].sort());
    expect(where).not.toContain(elsewhere);
  });
});

/**
 * The in-process cache never answers from before a write: every request reads the organization's
 * version first, and everything it caches is keyed by it. Also when the write bypasses this gateway
 * (another replica, the store directly).
 */
describe.each(BACKENDS)('cached decisions on %s stay exact', (backend) => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway(backend);
  });
  afterAll(() => t.close());

  const check = async (token: string, userId: string, permission: string) =>
    (
      await gql(t.url, token, `query($i: CheckInput!) { check(input: $i) { outcome version } }`, {
        i: { userId, permission },
      })
    ).data?.check as {
      outcome: string;
      version: string;
    };

  it('a revoke through the API or straight in the store is denied by the very next request', async () => {
    const { ownerToken, orgId } = await newTenant(t, 'junto');
    const ctx = { orgId, actor: 'test' };
    const user = (await t.store.users.create(ctx, { email: 'cached@x.test' })).result.id;
    for (let round = 0; round < 20; round++) {
      const given = (await t.store.assignments.assign(ctx, { userId: user, roleKey: 'manager' })).result.id;
      // Warm every cache level with ALLOW, twice.
      expect((await check(ownerToken, user, 'timeline:view')).outcome).toBe('ALLOW');
      expect((await check(ownerToken, user, 'timeline:view')).outcome).toBe('ALLOW');
      if (round % 2) {
        const r = await gql(
          t.url,
          ownerToken,
          `mutation($i: RevokeAssignmentInput!) { revokeAssignment(input: $i) { version } }`,
          { i: { id: given } },
        );
        expect(r.errors).toBeUndefined();
      } else {
        await t.store.assignments.revoke(ctx, given);
      }
      expect((await check(ownerToken, user, 'timeline:view')).outcome).toBe('DENY');
    }
    // A lock straight in the store, likewise.
    const token = await t.token(orgId, user);
    await t.store.assignments.assign(ctx, { userId: user, roleKey: 'manager' });
    expect((await check(token, user, 'timeline:view')).outcome).toBe('ALLOW');
    await t.store.users.lock(ctx, user);
    expect((await gql(t.url, token, '{ viewer { id } }')).errors?.[0]?.extensions?.code).toBe(
      'UNAUTHENTICATED',
    );
    expect((await check(ownerToken, user, 'timeline:view')).outcome).toBe('DENY');
  });

  it('answers exactly as a gateway without the cache, on every check of a seeded world', async () => {
    const uncached = await startGatewayWithoutCache(t);
    try {
      const { ownerToken, orgId } = await newTenant(t, 'jrni');
      const ctx = { orgId, actor: 'test' };
      const parent = (await t.store.locations.create(ctx, { name: 'P' })).result.id;
      const child = (await t.store.locations.create(ctx, { name: 'C', parentId: parent })).result.id;
      const roles = ['owner', 'administrator', 'user', 'user_plus', 'manager', 'call_center'];
      const users: string[] = [];
      for (const [i, role] of roles.entries()) {
        const u = (await t.store.users.create(ctx, { email: `c${i}@x.test` })).result.id;
        await t.store.assignments.assign(ctx, {
          userId: u,
          roleKey: role,
          locationId: i % 2 ? parent : child,
        });
        users.push(u);
      }
      const inputs = users.flatMap((userId) =>
        [
          'customer:manage',
          'resource:manage',
          'service:view',
          'staff:edit_what_where',
          'integration:manage',
          'user:create',
        ].flatMap((permission) =>
          [null, parent, child].map((locationId) => ({ userId, permission, locationId })),
        ),
      );
      const ask = (url: string) =>
        gql(url, ownerToken, `query($i: [CheckInput!]!) { checks(inputs: $i) { outcome } }`, { i: inputs });
      for (let round = 0; round < 3; round++) {
        const [a, b] = [await ask(t.url), await ask(uncached.url)];
        expect(a.data).toEqual(b.data);
        // Change the world between rounds, around both gateways.
        await t.store.assignments.assign(ctx, {
          userId: users[round + 2]!,
          roleKey: 'owner',
          locationId: parent,
        });
      }
    } finally {
      await uncached.close();
    }
  });
});

async function startGatewayWithoutCache(t: TestGateway) {
  const { startGateway } = await import('../../src/api/server');
  const { TEST_AUTH } = await import('../support/gateway');
  return startGateway({
    store: t.store,
    config: { port: 0, env: 'development' },
    auth: TEST_AUTH,
    cache: false,
    log: (e) => t.logged.push(e),
  });
}

describe('lists do not cost a query per item', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway('pglite');
  });
  afterAll(() => t.close());

  it('the children of 50 locations, asked in one request, cost one query', async () => {
    const { ownerToken, orgId } = await newTenant(t, 'jrni');
    const ctx = { orgId, actor: 'test' };
    const depot = (await t.store.locations.create(ctx, { name: 'Depot' })).result.id;
    const kids: string[] = [];
    for (let i = 0; i < 50; i++)
      kids.push(
        (await t.store.locations.create(ctx, { name: `K${String(i).padStart(2, '0')}`, parentId: depot }))
          .result.id,
      );
    await t.store.locations.create(ctx, { name: 'Grandchild', parentId: kids[7]! });
    const original = t.store.db.query.bind(t.store.db);
    const queries: string[] = [];
    t.store.db.query = ((sql: string, params?: readonly unknown[]) => {
      queries.push(sql);
      return original(sql, params);
    }) as typeof t.store.db.query;
    try {
      const r = await gql(
        t.url,
        ownerToken,
        `query($p: ID) { locations(parentId: $p) { id children { name } } }`,
        { p: depot },
      );
      expect(r.errors).toBeUndefined();
      expect(r.data!.locations).toHaveLength(50);
      expect(r.data!.locations[7].children).toEqual([{ name: 'Grandchild' }]);
      // The list is one query and the 50 children lists are one more (before: one per location).
      expect(queries.filter((q) => /parent_id = \$2/.test(q))).toHaveLength(1);
      expect(queries.filter((q) => /parent_id = ANY/.test(q))).toHaveLength(1);
      expect(queries.length).toBeLessThan(10);
    } finally {
      t.store.db.query = original;
    }
  });
});
