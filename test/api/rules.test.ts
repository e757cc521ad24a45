import { createMongoAbility, subject, type MongoAbility } from '@casl/ability';
import { unpackRules } from '@casl/ability/extra';
import { loadPreset } from '../../src/catalog';
import { gql, newTenant, startTestGateway, type TestGateway } from '../support/gateway';
import { BACKENDS } from '../support/stores';

/**
 * `viewerRules` end to end, on the seeds' personas: each user fetches their rules over HTTP, builds a
 * CASL ability as a browser app would (`unpackRules`, `createMongoAbility`), and every permission,
 * page, module and tool of the catalog, at every scope the test names, must get from `ability.can`
 * what `checks` answers for the same user.
 */
const RULES = `query { viewerRules { userId format rules count subjectType version expiresAt resourceFields { name type } } }`;
const CHECKS = `query($inputs: [CheckInput!]!) { checks(inputs: $inputs) { outcome error { code message } } }`;

interface Scope {
  locationId?: string;
  teamIds?: string[];
  personId?: string;
  groupIds?: string[];
}

describe.each(BACKENDS)('viewerRules on %s', (backend) => {
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
  const createUser = async (token: string, email: string, assignments: Record<string, unknown>[]) =>
    (
      await must(token, `mutation($i: CreateUserInput!) { createUser(input: $i) { user { id } } }`, {
        i: { email, assignments },
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
  const team = async (token: string, name: string) =>
    (
      await must(token, `mutation($n: String!) { createTeam(input: { name: $n }) { team { id } } }`, {
        n: name,
      })
    ).createTeam.team.id as string;
  /** The location's path as a client reads it (`Location.path`, top down), for the resource. */
  const pathOf = async (token: string, id: string) =>
    (
      (await must(token, `query($id: ID!) { location(id: $id) { path { id } } }`, { id })).location.path as {
        id: string;
      }[]
    ).map((l) => l.id);

  /** The user's rules, fetched with their own token, as CASL's ability. */
  const abilityOf = async (token: string) => {
    const { viewerRules } = await must(token, RULES);
    expect(viewerRules.format).toBe('CASL');
    expect(viewerRules.subjectType).toBe('all');
    expect(viewerRules.count).toBe(viewerRules.rules.length);
    return {
      ability: createMongoAbility(unpackRules(viewerRules.rules) as never) as MongoAbility,
      rules: viewerRules,
    };
  };

  /** Every name a check may ask about in a preset. */
  const names = (preset: 'jrni' | 'juno' | 'junto') => {
    const doc = loadPreset(preset).document;
    return [
      ...Object.entries(doc.permissions).flatMap(([m, a]) => Object.keys(a).map((x) => `${m}:${x}`)),
      ...Object.keys(doc.pages ?? {}).map((k) => `page:${k}`),
      ...Object.keys(doc.navigation ?? {}).map((k) => `nav:${k}`),
      ...Object.keys(doc.tools ?? {}).map((k) => `tool:${k}`),
    ];
  };

  /**
   * CASL and `checks` agree on every name at every scope; returns the ALLOWs and REQUIRES_APPROVALs
   * CASL gave, as `scope-index permission outcome`, for the test's own expectations.
   */
  const agree = async (
    token: string,
    userId: string,
    ability: MongoAbility,
    preset: 'jrni' | 'juno' | 'junto',
    scopes: Scope[],
  ): Promise<string[]> => {
    const paths = new Map<string, string[]>();
    for (const s of scopes)
      if (s.locationId && !paths.has(s.locationId))
        paths.set(s.locationId, await pathOf(token, s.locationId));
    const asks = scopes.flatMap((scope, i) => names(preset).map((permission) => ({ i, scope, permission })));
    const granted: string[] = [];
    for (let from = 0; from < asks.length; from += 1000) {
      const chunk = asks.slice(from, from + 1000);
      const { checks } = await must(token, CHECKS, {
        inputs: chunk.map(({ scope, permission }) => ({ userId, permission, ...scope })),
      });
      chunk.forEach(({ i, scope, permission }, j) => {
        const resource = subject('Resource', {
          ...(scope.locationId ? { locationPath: paths.get(scope.locationId) } : {}),
          ...(scope.teamIds ? { teamIds: scope.teamIds } : {}),
          ...(scope.personId ? { personId: scope.personId } : {}),
          ...(scope.groupIds ? { groupIds: scope.groupIds } : {}),
        });
        const allow = ability.can(permission, resource);
        const ask = ability.can(`request_approval:${permission}`, resource);
        const casl = allow ? 'ALLOW' : ask ? 'REQUIRES_APPROVAL' : 'DENY';
        expect({ scope, permission, outcome: casl }).toEqual({
          scope,
          permission,
          outcome: checks[j].outcome,
        });
        if (casl !== 'DENY') granted.push(`${i} ${permission} ${casl}`);
      });
    }
    return granted;
  };

  it('JRNI: an Owner at a parent company; the cascade reaches a child created after the rules were fetched', async () => {
    const { ownerToken } = await newTenant(t, 'jrni');
    const parent = await location(ownerToken, 'Parent company');
    const london = await location(ownerToken, 'London', parent);
    const other = await location(ownerToken, 'Elsewhere');
    const id = await createUser(ownerToken, 'parent-owner@example.com', [
      { role: 'owner', locationId: parent },
    ]);
    const token = await t.token((await must(ownerToken, '{ organization { id } }')).organization.id, id);
    const { ability, rules } = await abilityOf(token);
    expect(rules.expiresAt).toBeNull();
    // Created after the rules were fetched: its path names Parent company, so the rules cover it.
    const later = await location(ownerToken, 'Leeds', london);
    const granted = await agree(ownerToken, id, ability, 'jrni', [
      {},
      { locationId: parent },
      { locationId: london },
      { locationId: later },
      { locationId: other },
    ]);
    expect(granted).toContain('3 user:create ALLOW');
    expect(granted).not.toContain('4 user:create ALLOW');
    expect(granted).not.toContain('0 user:create ALLOW');
  });

  it('JRNI: a User restricted to one staff member views that staff member only, and still sees the Staff page', async () => {
    const { orgId, ownerToken } = await newTenant(t, 'jrni');
    const leeds = await location(ownerToken, 'Leeds');
    const id = await createUser(ownerToken, 'staff7@example.com', [
      { role: 'user', locationId: leeds, personId: 'staff-7' },
    ]);
    const { ability } = await abilityOf(await t.token(orgId, id));
    const granted = await agree(ownerToken, id, ability, 'jrni', [
      {},
      { locationId: leeds },
      { locationId: leeds, personId: 'staff-7' },
      { locationId: leeds, personId: 'staff-8' },
      { locationId: leeds, personId: 'staff-7', groupIds: ['g1'] },
    ]);
    expect(granted).toContain('2 staff:view ALLOW');
    expect(granted).not.toContain('3 staff:view ALLOW');
    expect(granted).toContain('1 page:staff ALLOW');
    expect(granted).toContain('1 page:calendar ALLOW');
  });

  it('Juno: a member in two teams, each judged alone (a priority needs Edit project in the same team)', async () => {
    const { orgId, ownerToken } = await newTenant(t, 'juno');
    const [a, b, c] = [
      await team(ownerToken, 'Alpha'),
      await team(ownerToken, 'Beta'),
      await team(ownerToken, 'Gamma'),
    ];
    const id = await createUser(ownerToken, 'member@example.com', [
      { role: 'member' },
      { role: 'project_manager', teamId: a, expiresAt: '2099-01-01T00:00:00Z' },
      { role: 'triager', teamId: b },
      { role: 'developer', teamId: b },
    ]);
    const { ability, rules } = await abilityOf(await t.token(orgId, id));
    expect(rules.expiresAt).toBe('2099-01-01T00:00:00.000Z');
    const granted = await agree(ownerToken, id, ability, 'juno', [
      {},
      { teamIds: [a] },
      { teamIds: [b] },
      { teamIds: [a, b] },
      { teamIds: [c] },
    ]);
    expect(granted).toContain('1 project_priority:create ALLOW');
    expect(granted).not.toContain('2 project_priority:create ALLOW');
    expect(granted).toContain('3 project_priority:create ALLOW');
    expect(granted).toContain('0 nav:projects ALLOW');
  });

  it('Junto: a Technician with Billing Admin uses the financial tools, some only with approval', async () => {
    const { orgId, ownerToken } = await newTenant(t, 'junto');
    const id = await createUser(ownerToken, 'tech@example.com', [{ role: 'technician' }]);
    await must(ownerToken, `mutation($i: SetUserFlagsInput!) { setUserFlags(input: $i) { version } }`, {
      i: { userId: id, flags: ['billing_admin'] },
    });
    await must(
      ownerToken,
      `mutation { setToolPolicy(input: { tool: "financial_reports", mode: REQUIRE_APPROVAL }) { version } }`,
    );
    const { ability } = await abilityOf(await t.token(orgId, id));
    const granted = await agree(ownerToken, id, ability, 'junto', [{}]);
    expect(granted).toEqual(
      expect.arrayContaining([
        '0 tool:invoices REQUIRES_APPROVAL',
        '0 tool:financial_reports REQUIRES_APPROVAL',
        '0 tool:update_ticket ALLOW',
        '0 page:dashboard ALLOW',
      ]),
    );
    expect(granted.filter((g) => g.includes('page:billing'))).toEqual([]);
  });

  it("another user's rules: refused to a user, given to an API key with decisions:check", async () => {
    const { orgId, ownerId, ownerToken } = await newTenant(t, 'jrni');
    const id = await createUser(ownerToken, 'someone@example.com', [{ role: 'user' }]);
    const asUser = await gql(
      t.url,
      await t.token(orgId, id),
      `query($u: ID) { viewerRules(userId: $u) { count } }`,
      {
        u: ownerId,
      },
    );
    expect(asUser.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    // Even the owner, who may check anyone: the rules show everything the user holds everywhere.
    const asOwner = await gql(t.url, ownerToken, `query($u: ID) { viewerRules(userId: $u) { count } }`, {
      u: id,
    });
    expect(asOwner.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const key = async (scopes: string[]) =>
      (await t.store.apiKeys.create({ orgId, actor: 'test' }, { name: 'svc', scopes })).result.token;
    const query = `query($u: ID) { viewerRules(userId: $u) { userId count } }`;
    const svc = await must(await key(['decisions:check']), query, { u: id });
    expect(svc.viewerRules).toEqual({ userId: id, count: expect.any(Number) });
    const noScope = await gql(t.url, await key(['directory:read']), query, { u: id });
    expect(noScope.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    // A key has no rules of its own.
    const own = await gql(t.url, await key(['decisions:check']), '{ viewerRules { count } }');
    expect(own.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});
