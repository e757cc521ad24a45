import { gql, newTenant, startTestGateway, type TestGateway } from '../support/gateway';
import { BACKENDS } from '../support/stores';

/**
 * Who sees a user's details (issue "Administration scoped…", "What was seen" 7): a user's email,
 * name, flags and assignments reach only viewers allowed to see that user, on every path: `user`,
 * `users`, `whoCan`, and mutation payloads.
 */
describe.each(BACKENDS)('user details on %s', (backend) => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway(backend);
  });
  afterAll(() => t.close());
  afterEach(() => expect(t.logged).toEqual([]));

  const must = async (token: string, query: string, variables?: Record<string, unknown>) => {
    const r = await gql(t.url, token, query, variables);
    if (r.errors) throw new Error(`${query}\n${JSON.stringify(r.errors)}`);
    return r.data!;
  };
  const DETAILS = '{ id email name flags assignments { role } }';

  it('a decisions:check key learns ids from whoCan, not emails; directory:read shows them', async () => {
    const { orgId, ownerId } = await newTenant(t, 'jrni');
    const key = async (scopes: string[]) =>
      (await t.store.apiKeys.create({ orgId, actor: 'test' }, { name: 'svc', scopes })).result.token;
    const query = `{ whoCan(permission: "payment:manage") { edges { node ${DETAILS} } } }`;

    const checkOnly = await gql(t.url, await key(['decisions:check']), query);
    expect(checkOnly.status).toBeLessThan(500);
    expect(checkOnly.data?.whoCan.edges).toEqual([
      { node: { id: ownerId, email: null, name: null, flags: null, assignments: null } },
    ]);
    const codes = new Set(checkOnly.errors?.map((e) => `${e.path?.slice(-1)[0]}:${e.extensions?.code}`));
    expect(codes).toEqual(
      new Set(['email:FORBIDDEN', 'name:FORBIDDEN', 'flags:FORBIDDEN', 'assignments:FORBIDDEN']),
    );
    expect(checkOnly.raw).not.toContain('@example.com');

    const directory = await must(await key(['decisions:check', 'directory:read']), query);
    expect(directory.whoCan.edges[0].node).toMatchObject({
      id: ownerId,
      email: expect.stringContaining('@example.com'),
      assignments: [{ role: 'owner' }],
    });
  });

  it("a custom role holding only settings_team:edit cannot read the owner's details through addTeamMember", async () => {
    const { orgId, ownerId, ownerToken } = await newTenant(t, 'juno');
    await must(
      ownerToken,
      `mutation { createRole(input: { key: "team_editor", name: "Team editor", kind: ORG, grants: ["settings_team:edit"] }) { version } }`,
    );
    const editor = (
      await must(
        ownerToken,
        `mutation { createUser(input: { email: "ed@x.test", roles: ["member", "team_editor"] }) { user { id } } }`,
      )
    ).createUser.user.id as string;
    const team = (await must(ownerToken, `mutation { createTeam(input: { name: "Web" }) { team { id } } }`))
      .createTeam.team.id as string;
    const editorToken = await t.token(orgId, editor);

    const r = await gql(
      t.url,
      editorToken,
      `mutation($i: TeamMemberInput!) { addTeamMember(input: $i) { team { id } user ${DETAILS} version } }`,
      { i: { teamId: team, userId: ownerId } },
    );
    // The write is the editor's to make; the owner's details are not theirs to read.
    expect(r.data?.addTeamMember).toMatchObject({
      team: { id: team },
      user: { id: ownerId, email: null, name: null, flags: null, assignments: null },
    });
    expect(r.errors?.map((e) => e.extensions?.code)).toEqual([
      'FORBIDDEN',
      'FORBIDDEN',
      'FORBIDDEN',
      'FORBIDDEN',
    ]);
    expect(r.raw).not.toContain('owner-');
    // Control: the editor sees their own details, and the owner sees the editor's.
    expect((await must(editorToken, `{ viewer ${DETAILS} }`)).viewer.email).toBe('ed@x.test');
    expect(
      (await must(ownerToken, `query($id: ID!) { user(id: $id) ${DETAILS} }`, { id: editor })).user,
    ).toMatchObject({
      email: 'ed@x.test',
      assignments: expect.arrayContaining([{ role: 'member' }, { role: 'team_editor' }]),
    });
  });

  it('a JRNI Owner at a parent location sees the users of its subtree, and no one else', async () => {
    const { orgId, ownerToken } = await newTenant(t, 'jrni');
    const location = async (name: string, parentId?: string) =>
      (
        await must(
          ownerToken,
          `mutation($i: CreateLocationInput!) { createLocation(input: $i) { location { id } } }`,
          {
            i: { name, parentId },
          },
        )
      ).createLocation.location.id as string;
    const parent = await location('Parent company');
    const leeds = await location('Leeds', parent);
    const other = await location('Other');
    const user = async (email: string, role: string, locationId: string) =>
      (
        await must(ownerToken, `mutation($i: CreateUserInput!) { createUser(input: $i) { user { id } } }`, {
          i: { email, assignments: [{ role, locationId }] },
        })
      ).createUser.user.id as string;
    const parentOwner = await user('po@x.test', 'owner', parent);
    const inside = await user('in@x.test', 'user', leeds);
    const outside = await user('out@x.test', 'user', other);
    const token = await t.token(orgId, parentOwner);

    const listed = await must(
      token,
      `query($l: ID) { users(locationId: $l) { edges { node { id email } } } }`,
      {
        l: parent,
      },
    );
    expect(listed.users.edges.map((e: { node: { id: string } }) => e.node.id).sort()).toEqual(
      [parentOwner, inside].sort(),
    );
    expect(
      (await must(token, `query($id: ID!) { user(id: $id) { email } }`, { id: inside })).user.email,
    ).toBe('in@x.test');
    const refused = await gql(t.url, token, `query($id: ID!) { user(id: $id) { email } }`, { id: outside });
    expect(refused.data?.user ?? null).toBeNull();
    expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(refused.raw).not.toContain('out@x.test');
    const root = await gql(t.url, token, `{ users { edges { node { id } } } }`);
    expect(root.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', scope: 'the organization' });
  });
});
