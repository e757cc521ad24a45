import { gql, newTenant, startTestGateway, type TestGateway } from '../support/gateway';
import { createLocation, createTeam, createUser, must } from '../support/personas';

/**
 * rolegate as a Federation 2 subgraph, asked as a router asks: `_service { sdl }` and
 * `_entities(representations:)`. Each entity resolves through its root lookup's guard (a refusal
 * costs that entity only), another organization's id is missing, `viewerCan` equals `check` at the
 * entity's scope and is decided for the whole batch from one load, and `_entities` counts against the
 * request's decision budget.
 */
const ENTITIES = `query($r: [_Any!]!, $p: String!) {
  _entities(representations: $r) {
    __typename
    ... on Location { id name viewerCan(permission: $p) }
    ... on Team { id name viewerCan(permission: $p) }
    ... on User { id email viewerCan(permission: $p) }
  }
}`;
const CHECK = `query($i: CheckInput!) { check(input: $i) { allowed } }`;

describe('rolegate as a subgraph', () => {
  let t: TestGateway;
  let jrni: Awaited<ReturnType<typeof jrniWorld>>;
  beforeAll(async () => {
    t = await startTestGateway('pglite');
    jrni = await jrniWorld();
  });
  afterAll(() => t?.close());
  afterEach(() => expect(t.logged.splice(0)).toEqual([]));

  /** JRNI: Parent company > London, Paris; Sam a User at London, Pat a User at Paris. */
  async function jrniWorld() {
    const org = await newTenant(t, 'jrni', 'JRNI federation');
    const parent = await createLocation(t, org.ownerToken, 'Parent company');
    const london = await createLocation(t, org.ownerToken, 'London', parent);
    const paris = await createLocation(t, org.ownerToken, 'Paris', parent);
    const sam = await createUser(t, org.ownerToken, 'sam@jrni.example', 'Sam', [
      { role: 'user', locationId: london },
    ]);
    const pat = await createUser(t, org.ownerToken, 'pat@jrni.example', 'Pat', [
      { role: 'user', locationId: paris },
    ]);
    return { ...org, parent, london, paris, sam, pat, samToken: await t.token(org.orgId, sam) };
  }

  const entities = (token: string, r: object[], p = 'booking:manage') =>
    gql(t.url, token, ENTITIES, { r, p });

  it('_service serves the subgraph SDL: the entities keyed by id, and our own @requires by its name', async () => {
    const r = await gql(t.url, jrni.samToken, '{ _service { sdl } }');
    const sdl = r.data!._service.sdl as string;
    for (const type of ['User', 'Location', 'Team'])
      expect(sdl).toMatch(new RegExp(`type ${type}\\s+@key\\(fields: "id"\\)`));
    expect(sdl).toMatch(/directive @requires\(\s*"""/);
    expect(sdl).toContain('@federation__requires(fields: federation__FieldSet!)');
    expect(sdl.match(/^ {2}viewerCan\(/gm)).toHaveLength(3);
  });

  it('no inline traces (ftv1) for whoever asks: resolver timings are not for clients', async () => {
    const res = await fetch(t.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${jrni.samToken}`,
        'apollo-federation-include-trace': 'ftv1',
      },
      body: JSON.stringify({ query: '{ viewer { id } }' }),
    });
    const body = (await res.json()) as { data: { viewer: { id: string } }; extensions?: { ftv1?: string } };
    expect(body.data.viewer.id).toBe(jrni.sam);
    expect(body.extensions?.ftv1).toBeUndefined();
  });

  it('without credentials, neither _service nor _entities answers', async () => {
    for (const query of ['{ _service { sdl } }', '{ _entities(representations: []) { __typename } }']) {
      const r = await gql(t.url, null, query);
      expect(r.status).toBe(401);
      expect(r.data).toBeUndefined();
    }
  });

  it('a location resolves with viewerCan equal to check there; missing and foreign ids are null alike', async () => {
    const other = await newTenant(t, 'jrni', 'Someone else');
    const foreign = await createLocation(t, other.ownerToken, 'Not yours');
    const r = await entities(jrni.samToken, [
      { __typename: 'Location', id: jrni.london },
      { __typename: 'Location', id: jrni.paris },
      { __typename: 'Location', id: jrni.parent },
      { __typename: 'Location', id: foreign },
      { __typename: 'Location', id: '00000000-0000-4000-8000-000000000000' },
    ]);
    expect(r.errors).toBeUndefined();
    expect(r.data!._entities).toEqual([
      { __typename: 'Location', id: jrni.london, name: 'London', viewerCan: true },
      { __typename: 'Location', id: jrni.paris, name: 'Paris', viewerCan: false },
      { __typename: 'Location', id: jrni.parent, name: 'Parent company', viewerCan: false },
      null,
      null,
    ]);
    // The oracle: the same question through check.
    for (const [id, expected] of [
      [jrni.london, true],
      [jrni.paris, false],
      [jrni.parent, false],
    ] as const) {
      const c = await must(t, jrni.samToken, CHECK, {
        i: { userId: jrni.sam, permission: 'booking:manage', locationId: id },
      });
      expect(c.check.allowed).toBe(expected);
    }
  });

  it("a user entity holds the guard of user(id:): others' details are refused entity by entity", async () => {
    const other = await newTenant(t, 'jrni', 'Elsewhere');
    const r = await entities(jrni.samToken, [
      { __typename: 'User', id: jrni.sam },
      { __typename: 'User', id: jrni.pat },
      { __typename: 'User', id: other.ownerId },
    ]);
    // Sam reads himself; Pat (at Paris, where Sam may not view users) is refused at exactly its index;
    // a user of another organization is refused the same way as one that does not exist.
    expect(r.data!._entities[0]).toEqual({
      __typename: 'User',
      id: jrni.sam,
      email: 'sam@jrni.example',
      viewerCan: true,
    });
    expect(r.data!._entities[1]).toBeNull();
    expect(r.data!._entities[2]).toBeNull();
    const byIndex = Object.fromEntries(r.errors!.map((e) => [e.path!.join('.'), e.extensions!.code]));
    expect(byIndex['_entities.1']).toBe('FORBIDDEN');
    const missing = await entities(jrni.samToken, [
      { __typename: 'User', id: '00000000-0000-4000-8000-000000000000' },
    ]);
    expect(r.errors!.find((e) => e.path!.join('.') === '_entities.2')).toMatchObject({
      extensions: { code: missing.errors![0]!.extensions!.code },
    });
    expect(missing.data!._entities).toEqual([null]);
  });

  it("User.viewerCan: the permission at every scope where that user holds a role (the owner's covers all)", async () => {
    const asOwner = await entities(jrni.ownerToken, [
      { __typename: 'User', id: jrni.sam },
      { __typename: 'User', id: jrni.pat },
    ]);
    expect(asOwner.errors).toBeUndefined();
    expect(asOwner.data!._entities.map((e: { viewerCan: boolean }) => e.viewerCan)).toEqual([true, true]);
    // An Owner at London: over Sam (London) yes; over Pat (Paris), whom they may not see: refused.
    const admin = await createUser(t, jrni.ownerToken, 'max@jrni.example', 'Max', [
      { role: 'owner', locationId: jrni.london },
    ]);
    const r = await entities(await t.token(jrni.orgId, admin), [
      { __typename: 'User', id: jrni.sam },
      { __typename: 'User', id: admin },
      { __typename: 'User', id: jrni.pat },
    ]);
    expect(r.data!._entities.map((e: { viewerCan: boolean } | null) => e?.viewerCan ?? null)).toEqual([
      true,
      true,
      null,
    ]);
    expect(r.errors!.map((e) => [e.path!.join('.'), e.extensions!.code])).toEqual([
      ['_entities.2', 'FORBIDDEN'],
    ]);
  });

  it('a team resolves for its members and those who may view teams; viewerCan is check with that team', async () => {
    const juno = await newTenant(t, 'juno', 'Juno federation');
    const web = await createTeam(t, juno.ownerToken, 'Web');
    const mobile = await createTeam(t, juno.ownerToken, 'Mobile');
    const mo = await createUser(t, juno.ownerToken, 'mo@juno.example', 'Mo', [
      { role: 'member' },
      { role: 'project_manager', teamId: web },
    ]);
    const token = await t.token(juno.orgId, mo);
    const permission = 'project:edit';
    const r = await entities(
      token,
      [
        { __typename: 'Team', id: web },
        { __typename: 'Team', id: mobile },
      ],
      permission,
    );
    const held = await must(t, token, CHECK, { i: { userId: mo, permission, teamIds: [web] } });
    expect(r.data!._entities[0]).toEqual({
      __typename: 'Team',
      id: web,
      name: 'Web',
      viewerCan: held.check.allowed,
    });
    // Not a member of Mobile, and a plain member may not view teams: refused, as team(id:) is.
    expect(r.data!._entities[1]).toBeNull();
    expect(r.errors!.map((e) => [e.path!.join('.'), e.extensions!.code])).toEqual([
      ['_entities.1', 'FORBIDDEN'],
    ]);
    const owner = await entities(juno.ownerToken, [{ __typename: 'Team', id: mobile }], permission);
    expect(owner.data!._entities).toEqual([
      { __typename: 'Team', id: mobile, name: 'Mobile', viewerCan: true },
    ]);
  });

  it('an unknown permission is BAD_USER_INPUT, never a quiet false; an API key is nobody (false)', async () => {
    const r = await entities(jrni.samToken, [{ __typename: 'Location', id: jrni.london }], 'booking:mange');
    expect(r.data?._entities ?? [null]).toEqual([null]);
    expect(r.errors!.map((e) => e.extensions!.code)).toEqual(['BAD_USER_INPUT']);
    expect(r.errors![0]!.message).toContain('booking:mange');

    const { result } = await t.store.apiKeys.create(
      { orgId: jrni.orgId, actor: 'test' },
      { name: 'svc', scopes: [] },
    );
    const svc = await entities(result.token, [{ __typename: 'Location', id: jrni.london }]);
    expect(svc.errors).toBeUndefined();
    expect(svc.data!._entities[0].viewerCan).toBe(false);
  });

  it('a representation without an id, or of a type that is no entity, is a client error', async () => {
    const r = await entities(jrni.samToken, [
      { __typename: 'Location' },
      { __typename: 'Organization', id: jrni.orgId },
      { __typename: 'NoSuchType', id: jrni.orgId },
      { __typename: 'Location', id: jrni.london },
    ]);
    expect(r.status).toBe(200);
    // Each bad representation costs its own item only.
    expect(r.data!._entities.map((e: { id: string } | null) => e?.id ?? null)).toEqual([
      null,
      null,
      null,
      jrni.london,
    ]);
    expect(r.errors!.map((e) => [e.path!.join('.'), e.extensions!.code, e.message])).toEqual([
      ['_entities.0', 'BAD_USER_INPUT', '_entities: a Location representation needs its id, a string'],
      [
        '_entities.1',
        'BAD_USER_INPUT',
        '_entities: Organization is not an entity here (User, Location, Team)',
      ],
      ['_entities.2', 'BAD_USER_INPUT', '_entities: NoSuchType is not an entity here (User, Location, Team)'],
    ]);
  });

  it('viewerCan over 200 locations costs what it costs over 5: one load for the batch', async () => {
    const ctx = { orgId: jrni.orgId, actor: 'test' };
    const ids: string[] = [];
    for (let i = 0; i < 200; i++)
      ids.push(
        (await t.store.locations.create(ctx, { name: `Branch ${i}`, parentId: jrni.london })).result.id,
      );
    const storeQueries = async () => {
      const text = await (await fetch(t.url.replace('/graphql', '/metrics'))).text();
      return Number(/^rolegate_store_queries_total (\d+)/m.exec(text)?.[1]);
    };
    const cost = async (n: number) => {
      // Warm the organization's state at its current version, then count one cold-entity request.
      await gql(t.url, jrni.samToken, CHECK, { i: { userId: jrni.sam, permission: 'booking:manage' } });
      const before = await storeQueries();
      const r = await entities(
        jrni.samToken,
        ids.slice(0, n).map((id) => ({ __typename: 'Location', id })),
      );
      expect(r.errors).toBeUndefined();
      expect(r.data!._entities.every((e: { viewerCan: boolean }) => e.viewerCan)).toBe(true);
      return (await storeQueries()) - before;
    };
    const five = await cost(5);
    const all = await cost(200);
    expect(all).toBe(five);
    expect(all).toBeLessThanOrEqual(3);
  });

  it('_entities counts against the decision budget: 1,001 representations are refused before any runs', async () => {
    const r = await entities(
      jrni.samToken,
      Array.from({ length: 1001 }, () => ({ __typename: 'Location', id: jrni.london })),
    );
    expect(r.status).toBeLessThan(500);
    expect(r.data?._entities ?? null).toBeNull();
    expect(r.errors!.map((e) => [e.extensions!.code, e.extensions!.limit])).toEqual([
      ['BAD_USER_INPUT', 'decisions'],
    ]);
  });
});
