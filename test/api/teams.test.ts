import { gql, newTenant, startTestGateway, type TestGateway } from '../support/gateway';
import { BACKENDS } from '../support/stores';

/**
 * Teams over HTTP on each store (rule 3 and issue 12): a team role makes its holder a member in the
 * same write; leaving a team takes its roles, audited; dependencies are met within one team only; who
 * reads teams and their members (their members, or VIEW_TEAMS); whoCan and explain on team resources.
 */
describe.each(BACKENDS)('teams on %s', (backend) => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway(backend);
  });
  afterAll(() => t.close());
  afterEach(() => expect(t.logged.splice(0)).toEqual([]));

  const must = async (token: string, query: string, variables?: Record<string, unknown>) => {
    const r = await gql(t.url, token, query, variables);
    if (r.errors) throw new Error(`${query}\n${JSON.stringify(r.errors)}`);
    return r.data!;
  };

  /** A Juno organization with two teams and a helper for each write the tests use. */
  async function juno() {
    const { orgId, ownerId, ownerToken } = await newTenant(t, 'juno');
    const team = async (name: string) =>
      (
        await must(ownerToken, `mutation($n: String!) { createTeam(input: { name: $n }) { team { id } } }`, {
          n: name,
        })
      ).createTeam.team.id as string;
    const [web, mobile] = [await team('Web'), await team('Mobile')];
    const user = async (email: string, roles = ['member']) =>
      (
        await must(ownerToken, `mutation($i: CreateUserInput!) { createUser(input: $i) { user { id } } }`, {
          i: { email, roles },
        })
      ).createUser.user.id as string;
    const assign = async (userId: string, role: string, teamId?: string) =>
      (
        await must(
          ownerToken,
          `mutation($i: AssignRoleInput!) { assignRole(input: $i) { assignment { id } version } }`,
          { i: { userId, role, ...(teamId ? { teamId } : {}) } },
        )
      ).assignRole as { assignment: { id: string }; version: string };
    const version = async () => (await t.store.organizations.versions([orgId]))[0]!;
    return { orgId, ownerId, ownerToken, web, mobile, user, assign, version };
  }

  const CHECKS = `query($i: [CheckInput!]!) { checks(inputs: $i) { outcome error { code } } }`;

  it('a team role makes its holder a member in the same write, who then reads the team and its members', async () => {
    const j = await juno();
    const dev = await j.user('dev@juno.test');
    const devToken = await t.token(j.orgId, dev);
    const v0 = Number(await j.version());
    const { version } = await j.assign(dev, 'developer', j.web);
    expect(Number(version)).toBe(v0 + 1);

    // Their own teams, from the viewer; the team itself and its members, as a member.
    expect((await must(devToken, `{ viewer { teams { id name } } }`)).viewer.teams).toEqual([
      { id: j.web, name: 'Web' },
    ]);
    const team = await must(
      devToken,
      `query($id: ID!) { team(id: $id) { id name members { edges { node { id } } pageInfo { hasNextPage } } } }`,
      { id: j.web },
    );
    expect(team.team).toEqual({
      id: j.web,
      name: 'Web',
      members: { edges: [{ node: { id: dev } }], pageInfo: { hasNextPage: false } },
    });
    // The audit entry says they joined.
    const entries = await t.store.auditLog(j.orgId, { first: 1000 });
    expect(entries[entries.length - 1]).toMatchObject({ action: 'assignRole', after: { joinedTeam: j.web } });

    // Not a member of Mobile, and no permission to view teams: Mobile and the list of teams are closed.
    for (const query of [
      `query($id: ID!) { team(id: $id) { id } }`,
      `query($id: ID!) { team(id: $id) { members { edges { node { id } } } } }`,
    ]) {
      const r = await gql(t.url, devToken, query, { id: j.mobile });
      expect(r.data?.team ?? null).toBeNull();
      expect(r.errors?.map((e) => [e.extensions?.code, e.extensions?.permission])).toEqual([
        ['FORBIDDEN', 'settings_team:view'],
      ]);
    }
    const list = await gql(t.url, devToken, `{ teams { edges { node { id } } } }`);
    expect(list.errors?.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);
  });

  it('VIEW_TEAMS (Juno: settings_team:view) lists every team and every member, page by page', async () => {
    const j = await juno();
    const a = await j.user('a@juno.test');
    const b = await j.user('b@juno.test');
    await j.assign(a, 'viewer', j.web);
    await j.assign(b, 'viewer', j.web);
    await must(j.ownerToken, `mutation($i: TeamIdInput!) { deleteTeam(input: $i) { version } }`, {
      i: { id: j.mobile },
    });
    const teams = async (args: string) =>
      (
        await must(
          j.ownerToken,
          `{ teams(${args}) { edges { node { id deleted } } pageInfo { hasNextPage endCursor } } }`,
        )
      ).teams;
    expect((await teams('first: 10')).edges).toEqual([{ node: { id: j.web, deleted: false } }]);
    const all = await teams('first: 10, includeDeleted: true');
    expect(all.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual([j.web, j.mobile].sort());
    const first = await teams('first: 1, includeDeleted: true');
    expect(first.pageInfo.hasNextPage).toBe(true);
    const rest = await teams(`first: 1, includeDeleted: true, after: "${first.pageInfo.endCursor}"`);
    expect(rest).toMatchObject({ pageInfo: { hasNextPage: false } });
    expect([...first.edges, ...rest.edges].map((e: { node: { id: string } }) => e.node.id)).toEqual(
      all.edges.map((e: { node: { id: string } }) => e.node.id),
    );

    // Members of several teams in one request, page by page.
    const members = await must(
      j.ownerToken,
      `query($id: ID!) { team(id: $id) { p1: members(first: 1) { edges { node { id } } pageInfo { hasNextPage endCursor } } all: members { edges { node { id } } } } }`,
      { id: j.web },
    );
    expect(members.team.all.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual([a, b].sort());
    expect(members.team.p1).toEqual({
      edges: [{ node: { id: [a, b].sort()[0] } }],
      pageInfo: { hasNextPage: true, endCursor: [a, b].sort()[0] },
    });
  });

  it('JRNI has no teams: nobody reads them, not even the owner', async () => {
    const { ownerToken } = await newTenant(t, 'jrni');
    const r = await gql(t.url, ownerToken, `{ teams { edges { node { id } } } }`);
    expect(r.errors?.map((e) => [e.extensions?.code, e.extensions?.permission])).toEqual([
      ['FORBIDDEN', 'viewTeams'],
    ]);
  });

  it('dependencies are met within one team, never across teams; explain names the team; whoCan on team resources', async () => {
    const j = await juno();
    await must(
      j.ownerToken,
      `mutation { createRole(input: { key: "project_editor", name: "Project editor", kind: TEAM, grants: ["project:edit"] }) { version } }`,
    );
    const u = await j.user('u@juno.test');
    await j.assign(u, 'triager', j.web);
    await j.assign(u, 'project_editor', j.mobile);
    const ask = (teamIds: string[]) => ({ userId: u, permission: 'project_priority:create', teamIds });
    const outcomes = async () =>
      (
        await must(j.ownerToken, CHECKS, { i: [ask([j.web]), ask([j.web, j.mobile]), ask([j.mobile])] })
      ).checks.map((d: { outcome: string }) => d.outcome);
    expect(await outcomes()).toEqual(['DENY', 'DENY', 'DENY']);

    const why = await must(
      j.ownerToken,
      `query($i: CheckInput!) { explain(input: $i) { outcome team summary detail { grantedBy { role scope { type teamId } } } } }`,
      { i: ask([j.web, j.mobile]) },
    );
    expect(why.explain).toMatchObject({
      outcome: 'DENY',
      team: j.web,
      summary: `denied: project_priority:create requires project:edit, which is not effective in any one of the teams ${j.web}, ${j.mobile} (each is judged alone)`,
    });
    // Team names are for those who may read the team: the user asking about themself sees them.
    const own = await must(
      await t.token(j.orgId, u),
      `query($i: CheckInput!) { explain(input: $i) { summary } }`,
      { i: ask([j.web, j.mobile]) },
    );
    expect(own.explain.summary).toBe(
      `denied: project_priority:create requires project:edit, which is not effective in any one of the teams Web (${j.web}), Mobile (${j.mobile}) (each is judged alone)`,
    );

    // Edit project in Web itself: now it holds in Web, and so on a Web+Mobile resource.
    await j.assign(u, 'project_editor', j.web);
    expect(await outcomes()).toEqual(['ALLOW', 'ALLOW', 'DENY']);
    const allowed = await must(
      j.ownerToken,
      `query($i: CheckInput!) { explain(input: $i) { outcome team summary } }`,
      { i: ask([j.mobile, j.web]) },
    );
    expect(allowed.explain).toEqual({
      outcome: 'ALLOW',
      team: j.web,
      summary: `allowed: project_priority:create granted by role Triager (triager) in team ${j.web}`,
    });

    // whoCan on a team resource: held in one of the teams named.
    const who = async (teamIds: string[]) =>
      (
        await must(
          j.ownerToken,
          `query($t: [ID!]) { whoCan(permission: "project_priority:create", teamIds: $t) { edges { node { id } } } }`,
          { t: teamIds },
        )
      ).whoCan.edges.map((e: { node: { id: string } }) => e.node.id);
    expect(await who([j.mobile])).toEqual([j.ownerId]); // the owner holds it organization-wide
    expect((await who([j.web])).sort()).toEqual([j.ownerId, u].sort());
    expect(await who([])).toEqual([j.ownerId]);
  });

  it('removing a member takes their roles in that team in the same write, audited; a decision after it denies', async () => {
    const j = await juno();
    const u = await j.user('u@juno.test');
    const uToken = await t.token(j.orgId, u);
    await j.assign(u, 'triager', j.web);
    await j.assign(u, 'project_manager', j.web);
    const keep = await j.assign(u, 'viewer', j.mobile);
    const ask = (teamIds: string[], atLeastVersion?: string) => ({
      userId: u,
      permission: 'project_priority:create',
      teamIds,
      ...(atLeastVersion ? { atLeastVersion } : {}),
    });
    expect((await must(j.ownerToken, CHECKS, { i: [ask([j.web])] })).checks[0].outcome).toBe('ALLOW');

    const v0 = Number(await j.version());
    const removed = await must(
      j.ownerToken,
      `mutation($i: TeamMemberInput!) { removeTeamMember(input: $i) { team { id } user { id } revoked { role team { id } } version } }`,
      { i: { teamId: j.web, userId: u } },
    );
    expect(removed.removeTeamMember).toMatchObject({ team: { id: j.web }, user: { id: u } });
    expect(
      removed.removeTeamMember.revoked
        .map((a: { role: string; team: { id: string } }) => `${a.role}@${a.team.id}`)
        .sort(),
    ).toEqual([`project_manager@${j.web}`, `triager@${j.web}`]);
    expect(Number(removed.removeTeamMember.version)).toBe(v0 + 1);
    const entries = await t.store.auditLog(j.orgId, { first: 1000 });
    expect(entries[entries.length - 1]).toMatchObject({
      action: 'removeTeamMember',
      target: `team:${j.web}`,
      before: { teamId: j.web, userId: u },
    });

    const after = await must(j.ownerToken, CHECKS, {
      i: [
        ask([j.web], removed.removeTeamMember.version),
        { userId: u, permission: 'project_issues:view', teamIds: [j.mobile] },
      ],
    });
    expect(after.checks.map((d: { outcome: string }) => d.outcome)).toEqual(['DENY', 'ALLOW']);
    const mine = await must(uToken, `{ viewer { teams { id } assignments { id } } }`);
    expect(mine.viewer).toEqual({
      teams: [{ id: j.mobile }],
      assignments: expect.arrayContaining([{ id: keep.assignment.id }]),
    });
    expect(mine.viewer.assignments).toHaveLength(2); // member, and viewer in Mobile
    // No longer a member: Web is closed to them.
    const r = await gql(t.url, uToken, `query($id: ID!) { team(id: $id) { id } }`, { id: j.web });
    expect(r.errors?.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);
  });

  it('removing a member who holds roles there needs what revoking them needs; a refusal changes nothing', async () => {
    const j = await juno();
    // A team editor: may add and remove members, not revoke roles (settings_user:edit).
    await must(
      j.ownerToken,
      `mutation { createRole(input: { key: "team_editor", name: "Team editor", kind: ORG, grants: ["settings_team:edit"] }) { version } }`,
    );
    const editor = await j.user('ed@juno.test', ['member', 'team_editor']);
    const editorToken = await t.token(j.orgId, editor);
    const holder = await j.user('holder@juno.test');
    const plain = await j.user('plain@juno.test');
    await j.assign(holder, 'developer', j.web);
    await must(j.ownerToken, `mutation($i: TeamMemberInput!) { addTeamMember(input: $i) { version } }`, {
      i: { teamId: j.web, userId: plain },
    });
    const remove = (userId: string) =>
      gql(
        t.url,
        editorToken,
        `mutation($i: TeamMemberInput!) { removeTeamMember(input: $i) { revoked { id } version } }`,
        {
          i: { teamId: j.web, userId },
        },
      );

    const v0 = await j.version();
    const refused = await remove(holder);
    expect(refused.errors?.map((e) => [e.extensions?.code, e.extensions?.permission])).toEqual([
      ['FORBIDDEN', 'settings_user:edit'],
    ]);
    expect(await j.version()).toBe(v0);
    expect((await t.store.subjects(j.orgId, [holder]))[0]).toMatchObject({
      memberOf: [j.web],
      assignments: expect.arrayContaining([expect.objectContaining({ role: 'developer', teamId: j.web })]),
    });

    // A member holding no role there: the editor's to remove.
    const allowed = await remove(plain);
    expect(allowed.errors ?? []).toEqual([]);
    expect(allowed.data?.removeTeamMember.revoked).toEqual([]);
    expect((await t.store.subjects(j.orgId, [plain]))[0]!.memberOf).toEqual([]);
  });
});
