import { gql, newTenant, startTestGateway, type TestGateway } from '../support/gateway';
import { BACKENDS } from '../support/stores';

/**
 * `Capabilities.grantsVersion`, black-box over HTTP on both stores: it stays the same after writes that
 * change none of the viewer's answers (someone else's roles and flags, a tool they cannot hold, a
 * location elsewhere, an approval request, a role they do not hold) and changes after each that could
 * (a role given or revoked, a flag, a role they hold edited, a tool policy of a tool they hold, a
 * location created or moved under theirs, being locked). And `capabilities(atLeastVersion:)`.
 */

const GV = 'query($u: ID) { capabilities(userId: $u) { grantsVersion version } }';

describe.each(BACKENDS)('grantsVersion (%s)', (kind) => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway(kind);
  });
  afterAll(async () => {
    await t?.close();
  });
  afterEach(() => expect(t.logged).toEqual([]));

  /** Runs an operation as `token`, expecting no errors. */
  async function run(token: string, query: string, variables?: Record<string, unknown>) {
    const r = await gql(t.url, token, query, variables);
    expect(r.errors).toBeUndefined();
    return r.data!;
  }

  describe('Junto: roles, flags, tool policies, custom roles, lock', () => {
    let owner: string;
    let viewer: string;
    let viewerToken: string;
    let other: string;
    let otherToken: string;
    let ownerId: string;
    const gv = async (userId = viewer) =>
      (await run(owner, GV, { u: userId })).capabilities.grantsVersion as string;

    beforeAll(async () => {
      const tenant = await newTenant(t, 'junto');
      owner = tenant.ownerToken;
      const create =
        'mutation($e: String!) { createUser(input: { email: $e, roles: ["technician"] }) { user { id } } }';
      viewer = (await run(owner, create, { e: `viewer-${Date.now()}@example.com` })).createUser.user.id;
      other = (await run(owner, create, { e: `other-${Date.now()}@example.com` })).createUser.user.id;
      viewerToken = await t.token(tenant.orgId, viewer);
      otherToken = await t.token(tenant.orgId, other);
      ownerId = tenant.ownerId;
    });

    test('an opaque string of the grants: the same for whoever asks, and for users holding the same', async () => {
      const mine = (await run(viewerToken, GV)).capabilities.grantsVersion;
      expect(mine).toMatch(/^[\w-]{16,64}$/);
      expect(await gv()).toBe(mine);
      expect(await gv(other)).toBe(mine); // two technicians: the same answers everywhere
      expect(await gv(ownerId)).not.toBe(mine);
    });

    test.each([
      [
        'another user given a role',
        'mutation($o: ID!) { assignRole(input: { userId: $o, role: "operator" }) { version } }',
      ],
      [
        'another user’s flags',
        'mutation($o: ID!) { setUserFlags(input: { userId: $o, flags: ["billing_admin"] }) { version } }',
      ],
      [
        'the policy of a tool the viewer cannot hold',
        'mutation { setToolPolicy(input: { tool: "invoices", mode: DENY }) { version } }',
      ],
      ['a location created', 'mutation { createLocation(input: { name: "Elsewhere" }) { version } }'],
      [
        'a custom role nobody holds',
        'mutation { createRole(input: { key: "auditor", name: "Auditor", kind: ORG, grants: ["timeline:view"] }) { version } }',
      ],
      [
        'an approval request about another user',
        'mutation($o: ID!) { requestApproval(input: { kind: "action_request", userId: $o, summary: "restart" }) { request { id } } } # as other',
      ],
    ])('the same after an unrelated write: %s', async (_name, mutation) => {
      const before = await run(owner, GV, { u: viewer });
      const as = mutation.endsWith('# as other') ? otherToken : owner;
      await run(as, mutation, mutation.includes('$o') ? { o: other } : undefined);
      const after = await run(owner, GV, { u: viewer });
      expect(after.capabilities.grantsVersion).toBe(before.capabilities.grantsVersion);
    });

    test('a tool policy of a tool the viewer holds changes it', async () => {
      const before = await gv();
      await run(
        owner,
        'mutation { setToolPolicy(input: { tool: "update_ticket", mode: REQUIRE_APPROVAL }) { version } }',
      );
      expect(await gv()).not.toBe(before);
    });

    test('a flag changes it', async () => {
      const before = await gv();
      await run(
        owner,
        'mutation($v: ID!) { setUserFlags(input: { userId: $v, flags: ["billing_admin"] }) { version } }',
        {
          v: viewer,
        },
      );
      expect(await gv()).not.toBe(before);
    });

    test('a role given changes it; revoked, it is back to what it was (the same answers)', async () => {
      const before = await gv();
      const given = await run(
        owner,
        'mutation($v: ID!) { assignRole(input: { userId: $v, role: "operator" }) { assignment { id } } }',
        { v: viewer },
      );
      const withRole = await gv();
      expect(withRole).not.toBe(before);
      await run(owner, 'mutation($id: ID!) { revokeAssignment(input: { id: $id }) { version } }', {
        id: given.assignRole.assignment.id,
      });
      expect(await gv()).toBe(before);
    });

    test('a custom role the viewer holds, edited, changes it; renamed with the same grants, it does not', async () => {
      await run(
        owner,
        'mutation { createRole(input: { key: "helper", name: "Helper", kind: ORG, grants: ["ticket:view"] }) { version } }',
      );
      await run(
        owner,
        'mutation($v: ID!) { assignRole(input: { userId: $v, role: "helper" }) { version } }',
        { v: viewer },
      );
      const before = await gv();
      await run(
        owner,
        'mutation { updateRole(input: { key: "helper", name: "Helper 2", grants: ["ticket:view"] }) { version } }',
      );
      expect(await gv()).toBe(before);
      await run(
        owner,
        'mutation { updateRole(input: { key: "helper", name: "Helper", grants: ["ticket:view", "timeline:view"] }) { version } }',
      );
      expect(await gv()).not.toBe(before);
    });

    test('capabilities(atLeastVersion:) answers at that version or later; a bad token is BAD_USER_INPUT', async () => {
      const { setToolPolicy } = await run(
        owner,
        'mutation { setToolPolicy(input: { tool: "execute_runbook", mode: AUTO }) { version } }',
      );
      const r = await run(
        owner,
        'query($u: ID, $v: String) { capabilities(userId: $u, atLeastVersion: $v) { version } }',
        {
          u: viewer,
          v: setToolPolicy.version,
        },
      );
      expect(BigInt(r.capabilities.version)).toBeGreaterThanOrEqual(BigInt(setToolPolicy.version));
      const bad = await gql(t.url, owner, 'query { capabilities(atLeastVersion: "v1") { version } }');
      expect(bad.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      const future = await gql(
        t.url,
        owner,
        'query { capabilities(atLeastVersion: "999999999") { version } }',
      );
      expect(future.errors?.[0]?.extensions?.code).toBe('VERSION_NOT_REACHED');
    }, 10_000);

    test('locking the viewer changes it', async () => {
      const before = await gv();
      await run(owner, 'mutation($v: ID!) { lockUser(input: { id: $v }) { version } }', { v: viewer });
      expect(await gv()).not.toBe(before);
    });
  });

  describe('JRNI: where location grants reach', () => {
    let owner: string;
    let viewer: string;
    let parent: string;
    let elsewhere: string;
    const gv = async () => (await run(owner, GV, { u: viewer })).capabilities.grantsVersion as string;
    const createLocation = async (name: string, parentId?: string) =>
      (
        await run(
          owner,
          'mutation($n: String!, $p: ID) { createLocation(input: { name: $n, parentId: $p }) { location { id } } }',
          {
            n: name,
            p: parentId ?? null,
          },
        )
      ).createLocation.location.id as string;

    beforeAll(async () => {
      const tenant = await newTenant(t, 'jrni');
      owner = tenant.ownerToken;
      parent = await createLocation('Parent company');
      elsewhere = await createLocation('Other company');
      viewer = (
        await run(
          owner,
          'mutation($e: String!, $p: ID!) { createUser(input: { email: $e, assignments: [{ role: "manager", locationId: $p }] }) { user { id } } }',
          { e: `manager-${Date.now()}@example.com`, p: parent },
        )
      ).createUser.user.id;
    });

    test('a location created elsewhere: the same', async () => {
      const before = await gv();
      await createLocation('Leeds', elsewhere);
      expect(await gv()).toBe(before);
    });

    test('a location created under the viewer’s: changed', async () => {
      const before = await gv();
      await createLocation('London', parent);
      expect(await gv()).not.toBe(before);
    });

    test('a location moved under the viewer’s, then out again: changed, then back', async () => {
      const moving = await createLocation('York', elsewhere);
      const before = await gv();
      const move =
        'mutation($id: ID!, $p: ID) { moveLocation(input: { id: $id, parentId: $p }) { version } }';
      await run(owner, move, { id: moving, p: parent });
      expect(await gv()).not.toBe(before);
      await run(owner, move, { id: moving, p: elsewhere });
      expect(await gv()).toBe(before);
    });
  });
});
