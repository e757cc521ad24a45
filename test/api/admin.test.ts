import { gql, newTenant, startTestGateway, type TestGateway } from '../support/gateway';
import { BACKENDS } from '../support/stores';

/** The administration API's rules, through HTTP: no escalation, an active owner, ownership transfer, tenancy. */
describe.each(BACKENDS)('administration API on %s', (backend) => {
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
  const code = async (token: string, query: string, variables?: Record<string, unknown>) => {
    const r = await gql(t.url, token, query, variables);
    expect(r.status).toBeLessThan(500);
    return {
      code: r.errors?.[0]?.extensions?.code,
      message: r.errors?.[0]?.message,
      extensions: r.errors?.[0]?.extensions,
    };
  };
  const createUser = async (token: string, email: string, roles?: string[]) =>
    (
      await must(token, `mutation($i: CreateUserInput!) { createUser(input: $i) { user { id } } }`, {
        i: { email, roles },
      })
    ).createUser.user.id as string;
  const assign = (token: string, i: Record<string, unknown>) =>
    gql(
      t.url,
      token,
      `mutation($i: AssignRoleInput!) { assignRole(input: $i) { assignment { id } version } }`,
      { i },
    );
  const version = async (orgId: string) => (await t.store.organizations.versions([orgId]))[0];

  it('nobody gives a role or creates one with permissions they do not hold', async () => {
    const { ownerToken, orgId } = await newTenant(t, 'junto');
    const admin = await createUser(ownerToken, 'admin@x.test', ['admin']);
    const adminToken = await t.token(orgId, admin);
    const tech = await createUser(ownerToken, 'tech@x.test', ['technician']);
    const before = await version(orgId);
    // Admin may give Manager (below it) but not Owner (billing:manage, organization:transfer_ownership).
    expect((await assign(adminToken, { userId: tech, role: 'manager' })).errors).toBeUndefined();
    const up = await code(
      adminToken,
      `mutation($i: AssignRoleInput!) { assignRole(input: $i) { version } }`,
      { i: { userId: admin, role: 'owner' } },
    );
    expect(up).toMatchObject({ code: 'FORBIDDEN', message: expect.stringContaining('billing:manage') });
    const role = await code(
      adminToken,
      `mutation { createRole(input: { key: "biller", name: "Biller", kind: ORG, grants: ["billing:manage"] }) { version } }`,
    );
    expect(role).toMatchObject({
      code: 'FORBIDDEN',
      extensions: expect.objectContaining({ permission: 'billing:manage' }),
    });
    const clone = await code(
      adminToken,
      `mutation { cloneRole(input: { key: "owner", newKey: "owner_two" }) { version } }`,
    );
    expect(clone.code).toBe('FORBIDDEN');
    // Only the one permitted write happened.
    expect(Number(await version(orgId))).toBe(Number(before) + 1);
  });

  it('custom roles are checked against the catalog and reported as bad input', async () => {
    const { ownerToken } = await newTenant(t, 'junto');
    const bad = await code(
      ownerToken,
      `mutation { createRole(input: { key: "x", name: "X", kind: ORG, grants: ["ticket:fly"] }) { version } }`,
    );
    expect(bad).toMatchObject({
      code: 'BAD_USER_INPUT',
      message: expect.stringContaining('unknown permission "ticket:fly"'),
    });
    const clash = await code(
      ownerToken,
      `mutation { createRole(input: { key: "owner", name: "X", kind: ORG, grants: [] }) { version } }`,
    );
    expect(clash.code).toBe('BAD_USER_INPUT');
    const ok = await must(
      ownerToken,
      `mutation { createRole(input: { key: "night_shift", name: "Night shift", kind: ORG, grants: ["ticket:view"], inherits: ["technician"] }) { role { key permissions builtIn } version } }`,
    );
    expect(ok.createRole.role).toMatchObject({
      key: 'night_shift',
      builtIn: false,
      permissions: expect.arrayContaining(['ticket:view', 'runbook:execute', 'page:dashboard']),
    });
    const builtIn = await code(ownerToken, `mutation { deleteRole(input: { key: "admin" }) { version } }`);
    expect(builtIn.code).toBe('BAD_USER_INPUT');
  });

  it('the organization keeps an active owner, and ownership moves by adding before removing', async () => {
    const { ownerToken, ownerId, orgId } = await newTenant(t, 'junto');
    const only = await code(ownerToken, `{ viewer { assignments { id role } } }`);
    expect(only.code).toBeUndefined();
    const [ownerAssignment] = (await must(ownerToken, `{ viewer { assignments { id role } } }`)).viewer
      .assignments as { id: string }[];
    expect(
      (
        await code(
          ownerToken,
          `mutation($i: RevokeAssignmentInput!) { revokeAssignment(input: $i) { version } }`,
          { i: { id: ownerAssignment!.id } },
        )
      ).code,
    ).toBe('CONFLICT');
    const next = await createUser(ownerToken, 'next@x.test', ['technician']);
    const moved = await must(
      ownerToken,
      `mutation($i: TransferOwnershipInput!) { transferOwnership(input: $i) { owner { id flags } previousOwner { id } version } }`,
      { i: { toUserId: next } },
    );
    expect(moved.transferOwnership).toMatchObject({
      owner: { id: next, flags: ['escalation_approver'] },
      previousOwner: { id: ownerId },
    });
    // The old owner lost the role and stays on as an Admin (the catalog's formerRole); the new one can
    // lock them, but not themselves, and cannot be locked while the only owner.
    const nextToken = await t.token(orgId, next);
    expect(
      (
        await code(
          ownerToken,
          `mutation($i: TransferOwnershipInput!) { transferOwnership(input: $i) { version } }`,
          { i: { toUserId: ownerId } },
        )
      ).code,
    ).toBe('FORBIDDEN');
    expect(
      (await must(ownerToken, `{ viewer { assignments { role location { id } } } }`)).viewer.assignments,
    ).toEqual([{ role: 'admin', location: null }]);
    expect(
      (
        await code(nextToken, `mutation($i: UserIdInput!) { lockUser(input: $i) { version } }`, {
          i: { id: next },
        })
      ).code,
    ).toBe('BAD_USER_INPUT');
    await must(nextToken, `mutation($i: UserIdInput!) { lockUser(input: $i) { user { locked } } }`, {
      i: { id: ownerId },
    });
    expect((await gql(t.url, ownerToken, '{ viewer { id } }')).errors?.[0]?.extensions?.code).toBe(
      'UNAUTHENTICATED',
    );
  });

  it('two owners locking each other at the same moment: one wins, an active owner remains', async () => {
    const { ownerToken, ownerId, orgId } = await newTenant(t, 'junto');
    const second = await createUser(ownerToken, 'second@x.test', ['owner']);
    const secondToken = await t.token(orgId, second);
    const lock = `mutation($i: UserIdInput!) { lockUser(input: $i) { version } }`;
    const results = await Promise.all([
      gql(t.url, ownerToken, lock, { i: { id: second } }),
      gql(t.url, secondToken, lock, { i: { id: ownerId } }),
    ]);
    // The loser is refused: CONFLICT when both requests got past authentication before the first write
    // committed (the invariant, checked inside the serialized write), UNAUTHENTICATED when it was already locked.
    const codes = results.map((r) => r.errors?.[0]?.extensions?.code ?? 'OK');
    expect(codes.filter((c) => c === 'OK')).toHaveLength(1);
    expect(codes.filter((c) => c !== 'OK')).toEqual([expect.stringMatching(/^(CONFLICT|UNAUTHENTICATED)$/)]);
    const users = await t.store.users.getMany(orgId, [ownerId, second]);
    expect(users.filter((u) => u!.locked)).toHaveLength(1);
  });

  it('a role another custom role inherits cannot be deleted (the organization would stop compiling)', async () => {
    const { ownerToken, orgId } = await newTenant(t, 'junto');
    await must(
      ownerToken,
      `mutation { createRole(input: { key: "base", name: "Base", kind: ORG, grants: ["ticket:view"] }) { version } }`,
    );
    await must(
      ownerToken,
      `mutation { createRole(input: { key: "heir", name: "Heir", kind: ORG, grants: [], inherits: ["base"] }) { version } }`,
    );
    const before = await version(orgId);
    const refused = await code(ownerToken, `mutation { deleteRole(input: { key: "base" }) { version } }`);
    expect(refused).toMatchObject({ code: 'CONFLICT', message: expect.stringContaining('heir') });
    expect(await version(orgId)).toBe(before);
    // The organization still answers, and once the heir is gone the base role can go too.
    await must(ownerToken, `mutation { deleteRole(input: { key: "heir" }) { version } }`);
    await must(ownerToken, `mutation { deleteRole(input: { key: "base" }) { version } }`);
    expect((await gql(t.url, ownerToken, '{ viewer { id } }')).errors).toBeUndefined();
    // A deleted parent cannot be inherited by a restored role either.
    const restored = await code(ownerToken, `mutation { undeleteRole(input: { key: "heir" }) { version } }`);
    expect(restored.code).toBe('BAD_USER_INPUT');
  });

  it('a role that expires cannot make a lasting one: no self-extension, no permanent grants', async () => {
    const { ownerToken, orgId } = await newTenant(t, 'junto');
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString();
    const nextWeek = new Date(Date.now() + 7 * 86_400_000).toISOString();
    const temp = await createUser(ownerToken, 'temp@x.test', ['technician']);
    expect(
      (await assign(ownerToken, { userId: temp, role: 'owner', expiresAt: tomorrow })).errors,
    ).toBeUndefined();
    const tempToken = await t.token(orgId, temp);
    const admin = await createUser(ownerToken, 'adm@x.test', ['technician']);
    const before = await version(orgId);
    // The owner until tomorrow makes themselves owner for good (then could transfer ownership): refused.
    const self = await assign(tempToken, { userId: temp, role: 'owner' });
    expect(self.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', permission: 'billing:manage' });
    expect(self.errors?.[0]?.message).toContain('shorter time');
    // Nor can they make someone else an Admin for good, or until after their own role ends.
    expect((await assign(tempToken, { userId: admin, role: 'admin' })).errors?.[0]?.extensions?.code).toBe(
      'FORBIDDEN',
    );
    expect(
      (await assign(tempToken, { userId: admin, role: 'admin', expiresAt: nextWeek })).errors?.[0]?.extensions
        ?.code,
    ).toBe('FORBIDDEN');
    const created = await code(
      tempToken,
      `mutation($i: CreateUserInput!) { createUser(input: $i) { version } }`,
      { i: { email: 'perm@x.test', roles: ['admin'] } },
    );
    expect(created.code).toBe('FORBIDDEN');
    expect(await version(orgId)).toBe(before);
    // Until no later than their own: allowed.
    expect(
      (await assign(tempToken, { userId: admin, role: 'admin', expiresAt: tomorrow })).errors,
    ).toBeUndefined();
  });

  it('Juno: every user keeps an org role', async () => {
    const { ownerToken } = await newTenant(t, 'juno');
    expect(
      (await code(ownerToken, `mutation { createUser(input: { email: "none@x.test" }) { version } }`)).code,
    ).toBe('BAD_USER_INPUT');
    const u = await createUser(ownerToken, 'member@x.test', ['member']);
    const assignments = (
      await must(ownerToken, `query($id: ID!) { user(id: $id) { assignments { id } } }`, { id: u })
    ).user.assignments as { id: string }[];
    expect(
      (
        await code(
          ownerToken,
          `mutation($i: RevokeAssignmentInput!) { revokeAssignment(input: $i) { version } }`,
          { i: { id: assignments[0]!.id } },
        )
      ).code,
    ).toBe('CONFLICT');
  });

  it('an id from another organization behaves exactly like one that does not exist', async () => {
    const a = await newTenant(t, 'jrni', 'A');
    const b = await newTenant(t, 'jrni', 'B');
    const bUser = await createUser(b.ownerToken, 'b@x.test');
    const bLoc = (
      await must(b.ownerToken, `mutation { createLocation(input: { name: "B" }) { location { id } } }`)
    ).createLocation.location.id;
    const missing = '00000000-0000-4000-8000-000000000000';
    const pairs: [string, Record<string, unknown>, Record<string, unknown>][] = [
      [`query($id: ID!) { user(id: $id) { id } }`, { id: bUser }, { id: missing }],
      [`query($id: ID!) { location(id: $id) { id } }`, { id: bLoc }, { id: missing }],
      [
        `mutation($i: UserIdInput!) { lockUser(input: $i) { version } }`,
        { i: { id: bUser } },
        { i: { id: missing } },
      ],
      [
        `mutation($i: AssignRoleInput!) { assignRole(input: $i) { version } }`,
        { i: { userId: a.ownerId, role: 'user', locationId: bLoc } },
        { i: { userId: a.ownerId, role: 'user', locationId: missing } },
      ],
      [
        `query($i: [CheckInput!]!) { checks(inputs: $i) { outcome error { code } } }`,
        { i: [{ userId: bUser, permission: 'user:create' }] },
        { i: [{ userId: missing, permission: 'user:create' }] },
      ],
    ];
    for (const [query, theirs, none] of pairs) {
      const x = await gql(t.url, a.ownerToken, query, theirs);
      const y = await gql(t.url, a.ownerToken, query, none);
      const strip = (r: typeof x) =>
        JSON.stringify(r).replaceAll(bUser, 'ID').replaceAll(bLoc, 'ID').replaceAll(missing, 'ID');
      expect(strip(x)).toBe(strip(y));
    }
  });
});
