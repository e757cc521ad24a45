import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { Kind, parse, print, type GraphQLSchema } from 'graphql';
import { SignJWT } from 'jose';
import { readGuards, type Guard } from '../../src/api/guards/directives';
import { servedGuards, validateGuards } from '../../src/api/guards/shield';
import { buildSchema, buildUnguardedSchema, SCHEMA_DIR } from '../../src/api/schema';
import { loadPreset, OPERATIONS, PRESETS, type Operation } from '../../src/catalog';
import {
  gql,
  newTenant,
  startTestGateway,
  TEST_AUTH,
  type GqlResult,
  type TestGateway,
} from '../support/gateway';

/**
 * The schema walk: every root field of the served schema is guarded, the guards' permissions and
 * operations exist in the presets, and over HTTP a user holding no role gets nothing that a
 * `@requires` field protects (queries) and changes nothing (mutations). Then the credentials: anything
 * but a valid token of a live user of an existing organization is UNAUTHENTICATED.
 */

const schema = buildUnguardedSchema();
const guards = servedGuards(schema);
const ROOTS = ['Query', 'Mutation'] as const;

function rootFields(s: GraphQLSchema): string[] {
  return [s.getQueryType(), s.getMutationType()].flatMap((root) =>
    root ? Object.keys(root.getFields()).map((f) => `${root.name}.${f}`) : [],
  );
}

function guardOf(type: string, field: string): Guard | undefined {
  return guards.find((g) => g.type === type && g.field === field);
}

describe('the schema walk', () => {
  test('every root field of the served schema has a guard', () => {
    const roots = rootFields(schema);
    expect(roots.length).toBeGreaterThan(20);
    const guarded = new Set(
      guards.filter((g) => (ROOTS as readonly string[]).includes(g.type)).map((g) => `${g.type}.${g.field}`),
    );
    const missing = roots.filter((f) => !guarded.has(f));
    expect({ unguardedRootFields: missing }).toEqual({ unguardedRootFields: [] });
    expect([...guarded].sort()).toEqual([...roots].sort());
  });

  test('every root field carries exactly one guard, and the served schema builds', () => {
    const counts = new Map<string, number>();
    for (const g of guards) counts.set(`${g.type}.${g.field}`, (counts.get(`${g.type}.${g.field}`) ?? 0) + 1);
    const doubled = [...counts].filter(([, n]) => n > 1).map(([f]) => f);
    expect({ fieldsWithSeveralGuards: doubled }).toEqual({ fieldsWithSeveralGuards: [] });
    expect(() => buildSchema()).not.toThrow();
  });

  test('a @requires guard names an operation or a permission; @authenticated fields are the few open reads', () => {
    for (const g of guards.filter((x) => x.kind === 'requires'))
      expect({
        field: `${g.type}.${g.field}`,
        named: !!(g.operation || g.permission || g.approval || (g.self && g.serviceScope)),
      }).toEqual({
        field: `${g.type}.${g.field}`,
        named: true,
      });
    // No write is open to every signed-in viewer.
    const open = guards.filter((g) => g.kind === 'authenticated').map((g) => `${g.type}.${g.field}`);
    expect(open.filter((f) => f.startsWith('Mutation.'))).toEqual([]);
    expect(open.sort()).toEqual(
      [
        'Query.catalog',
        'Query.location',
        'Query.locations',
        'Query.organization',
        'Query.viewer',
        // Approval requests are filtered to those the viewer may see (approver, subject, requester).
        'Query.approvalRequest',
        'Query.approvalRequests',
        'Subscription.approvalRequestChanged',
        // The viewer's own capabilities (a user only: an API key has none).
        'Subscription.capabilitiesChanged',
        // Federation: the SDL, and the entities, each under its root lookup's own guard.
        'Query._service',
        'Query._entities',
      ].sort(),
    );
  });
});

describe('validateGuards refuses an incomplete schema', () => {
  // The directive definitions (and the Operation enum they use), exactly as schema/common.graphql has them.
  const common = parse(readFileSync(path.join(SCHEMA_DIR, 'common.graphql'), 'utf8'));
  const directives = common.definitions
    .filter(
      (d) =>
        d.kind === Kind.DIRECTIVE_DEFINITION ||
        (d.kind === Kind.ENUM_TYPE_DEFINITION && ['Operation', 'ApprovalRole'].includes(d.name.value)),
    )
    .map((d) => print(d))
    .join('\n');
  const check = (sdl: string) => {
    const s = makeExecutableSchema({ typeDefs: [directives, sdl] });
    return () => validateGuards(s, readGuards(s));
  };

  test('a fully guarded schema naming defined permissions passes (control)', () => {
    expect(
      check(`
        type Query {
          a: Int @authenticated
          b: Int @requires(operation: VIEW_USERS)
          c: Int @requires(permission: "user:manage")
        }
        type Mutation { d: Int @requires(operation: CREATE_USER) }
      `),
    ).not.toThrow();
  });

  test('an unguarded Query field', () => {
    expect(check('type Query { a: Int @authenticated, leak: Int }')).toThrow(/Query\.leak has no guard/);
  });

  test('an unguarded Mutation field', () => {
    expect(check('type Query { a: Int @authenticated } type Mutation { write: Int }')).toThrow(
      /Mutation\.write has no guard/,
    );
  });

  test('every unguarded field is listed, not only the first', () => {
    const run = check('type Query { a: Int, b: Int } type Mutation { c: Int }');
    expect(run).toThrow(/Query\.a has no guard/);
    expect(run).toThrow(/Query\.b has no guard/);
    expect(run).toThrow(/Mutation\.c has no guard/);
  });

  test('a @requires(permission:) no catalog defines', () => {
    expect(check('type Query { a: Int @requires(permission: "nope:never") }')).toThrow(
      /Query\.a: @requires names nope:never, which no catalog defines/,
    );
  });

  test('a permission that looks like one but is not a catalog permission (module only, wildcard, tool)', () => {
    for (const p of ['user', 'user:*', 'tool:run_sql', '__proto__', 'constructor'])
      expect(check(`type Query { a: Int @requires(permission: "${p}") }`)).toThrow(
        /which no catalog defines/,
      );
  });

  test('@requires(somewhere: true) names an operation, and no scope, target or assignment', () => {
    expect(
      check(
        'type Query { a: Int @authenticated } type Mutation { m: Int @requires(operation: IMPORT_USERS, somewhere: true) }',
      ),
    ).not.toThrow();
    expect(check('type Query { a: Int @requires(permission: "user:manage", somewhere: true) }')).toThrow(
      /somewhere: true\) names an operation/,
    );
    expect(
      check(
        'type Query { a(l: ID): Int @requires(operation: IMPORT_USERS, somewhere: true, location: "l") }',
      ),
    ).toThrow(/somewhere: true\) names an operation and no scope/);
  });

  test('a @requires with neither an operation nor a permission', () => {
    expect(check('type Query { a: Int @requires(self: "id") }')).toThrow(
      /@requires needs an operation or a permission/,
    );
  });
});

describe('operations in the presets', () => {
  const usedOperations = [...new Set(guards.flatMap((g) => (g.operation ? [g.operation] : [])))].sort();

  /** Operations each preset leaves out (refused for everyone), among those the schema uses. */
  const LEFT_OUT: Record<(typeof PRESETS)[number], Operation[]> = {
    junto: [],
    juno: ['createLocation', 'deleteLocation', 'moveLocation', 'setToolPolicy'],
    jrni: ['createTeam', 'deleteTeam', 'setToolPolicy', 'undeleteTeam', 'updateTeam', 'viewTeams'],
  };

  test.each(PRESETS)('%s guards every operation with a permission it defines, or leaves it out', (name) => {
    const doc = loadPreset(name).document;
    const defined = new Set(
      Object.entries(doc.permissions).flatMap(([m, actions]) => Object.keys(actions).map((a) => `${m}:${a}`)),
    );
    const undefinedRefs = usedOperations.flatMap((op) => {
      const p = doc.operations?.[op];
      return p !== undefined && !defined.has(p) ? [`${op} → ${p}`] : [];
    });
    expect({ preset: name, operationsNamingUndefinedPermissions: undefinedRefs }).toEqual({
      preset: name,
      operationsNamingUndefinedPermissions: [],
    });
    const leftOut = usedOperations.filter((op) => doc.operations?.[op] === undefined);
    expect({ preset: name, leftOut }).toEqual({ preset: name, leftOut: LEFT_OUT[name] });
  });

  test('every operation a catalog may name guards some root field (none is dead)', () => {
    const unused = OPERATIONS.filter((op) => !usedOperations.includes(op));
    expect({ operationsGuardingNoField: unused }).toEqual({ operationsGuardingNoField: [] });
  });
});

// ---------------------------------------------------------------------------------------------------
// Over HTTP: a user holding no role.

type Expect = 'forbidden' | 'data';
interface Call {
  /** The document: one root field, under the alias-free field name. */
  query: string;
  variables?: Record<string, unknown>;
  expect: Expect;
}

interface World {
  orgId: string;
  ownerId: string;
  ownerToken: string;
  /** A user of the organization holding no role at all. */
  nobodyId: string;
  nobodyToken: string;
  locationId: string;
  teamId: string;
  assignmentId: string;
  permission: string;
  ownerRole: string;
  tool: string;
}

function queryCalls(w: World): Record<string, Call[]> {
  const other = { userId: w.ownerId, permission: w.permission };
  const self = { userId: w.nobodyId, permission: w.permission };
  const decision = 'allowed outcome version';
  return {
    check: [
      {
        query: `query($i: CheckInput!) { check(input: $i) { ${decision} } }`,
        variables: { i: other },
        expect: 'forbidden',
      },
      {
        query: `query($i: CheckInput!) { check(input: $i) { ${decision} } }`,
        variables: { i: { ...other, locationId: w.locationId } },
        expect: 'forbidden',
      },
      {
        query: `query($i: CheckInput!) { check(input: $i) { ${decision} } }`,
        variables: { i: self },
        expect: 'data',
      },
    ],
    checks: [
      {
        query: `query($i: [CheckInput!]!) { checks(inputs: $i) { ${decision} } }`,
        variables: { i: [other] },
        expect: 'forbidden',
      },
      // One input about someone else is enough to refuse the whole call.
      {
        query: `query($i: [CheckInput!]!) { checks(inputs: $i) { ${decision} } }`,
        variables: { i: [self, self, other] },
        expect: 'forbidden',
      },
      {
        query: `query($i: [CheckInput!]!) { checks(inputs: $i) { ${decision} } }`,
        variables: { i: [self, self] },
        expect: 'data',
      },
    ],
    explain: [
      {
        query: `query($i: CheckInput!) { explain(input: $i) { outcome summary } }`,
        variables: { i: other },
        expect: 'forbidden',
      },
      {
        query: `query($i: CheckInput!) { explain(input: $i) { outcome summary } }`,
        variables: { i: self },
        expect: 'data',
      },
    ],
    capabilities: [
      {
        query: `query($u: ID) { capabilities(userId: $u) { userId permissions } }`,
        variables: { u: w.ownerId },
        expect: 'forbidden',
      },
      { query: `{ capabilities { userId permissions } }`, expect: 'data' },
      {
        query: `query($u: ID) { capabilities(userId: $u) { userId permissions } }`,
        variables: { u: w.nobodyId },
        expect: 'data',
      },
    ],
    // Only yourself (or a key with decisions:check): another user's rules show all they hold.
    viewerRules: [
      {
        query: `query($u: ID) { viewerRules(userId: $u) { count } }`,
        variables: { u: w.ownerId },
        expect: 'forbidden',
      },
      { query: `{ viewerRules { count } }`, expect: 'data' },
      {
        query: `query($u: ID) { viewerRules(userId: $u) { count } }`,
        variables: { u: w.nobodyId },
        expect: 'data',
      },
    ],
    whoCan: [
      {
        query: `query($p: String!) { whoCan(permission: $p) { edges { node { id } } } }`,
        variables: { p: w.permission },
        expect: 'forbidden',
      },
      {
        query: `query($p: String!, $l: ID) { whoCan(permission: $p, locationId: $l, first: 5) { edges { node { id } } } }`,
        variables: { p: w.permission, l: w.locationId },
        expect: 'forbidden',
      },
    ],
    whereCan: [
      {
        query: `query($u: ID!, $p: String!) { whereCan(userId: $u, permission: $p) { edges { node { id } } } }`,
        variables: { u: w.ownerId, p: w.permission },
        expect: 'forbidden',
      },
      {
        query: `query($u: ID!, $p: String!) { whereCan(userId: $u, permission: $p) { edges { node { id } } } }`,
        variables: { u: w.nobodyId, p: w.permission },
        expect: 'data',
      },
    ],
    viewer: [{ query: `{ viewer { id email assignments { id } } }`, expect: 'data' }],
    user: [
      {
        query: `query($id: ID!) { user(id: $id) { id email assignments { id role } } }`,
        variables: { id: w.ownerId },
        expect: 'forbidden',
      },
      {
        query: `query($id: ID!) { user(id: $id) { id email } }`,
        variables: { id: w.nobodyId },
        expect: 'data',
      },
    ],
    users: [
      { query: `{ users { edges { node { id email } } } }`, expect: 'forbidden' },
      { query: `{ users(first: 1) { pageInfo { hasNextPage } } }`, expect: 'forbidden' },
    ],
    location: [
      {
        query: `query($id: ID!) { location(id: $id) { id name } }`,
        variables: { id: w.locationId },
        expect: 'data',
      },
    ],
    locations: [{ query: `{ locations { id name } }`, expect: 'data' }],
    // Teams: their members, or the permission to view teams (nobody here is a member).
    team: [
      {
        query: `query($id: ID!) { team(id: $id) { id name } }`,
        variables: { id: w.teamId },
        expect: 'forbidden',
      },
      {
        query: `query($id: ID!) { team(id: $id) { id members { edges { node { id } } } } }`,
        variables: { id: w.teamId },
        expect: 'forbidden',
      },
    ],
    teams: [
      { query: `{ teams { edges { node { id name } } } }`, expect: 'forbidden' },
      {
        query: `{ teams(first: 1, includeDeleted: true) { pageInfo { hasNextPage } } }`,
        expect: 'forbidden',
      },
    ],
    roles: [
      { query: `{ roles { key permissions } }`, expect: 'forbidden' },
      { query: `{ roles(includeDeleted: true) { key } }`, expect: 'forbidden' },
    ],
    organization: [{ query: `{ organization { id name catalog version } }`, expect: 'data' }],
    // The catalog is not the directory: every member may read what exists, to show locked items.
    catalog: [
      {
        query: `{ catalog { name permissions { key description } pages { key module } operations { operation permission } } }`,
        expect: 'data',
      },
    ],
    // Approval requests: only those the viewer may see (none here), never an error that says more.
    approvalRequest: [
      {
        query: `query($id: ID!) { approvalRequest(id: $id) { id status } }`,
        variables: { id: NO_SUCH_REQUEST },
        expect: 'data',
      },
    ],
    approvalRequests: [{ query: `{ approvalRequests { edges { node { id } } } }`, expect: 'data' }],
    notificationSettings: [
      { query: `{ notificationSettings { slackBotTokenSet teamsWebhookSet } }`, expect: 'forbidden' },
    ],
    auditLog: [{ query: `{ auditLog { edges { node { seq action target } } } }`, expect: 'forbidden' }],
    // Federation: the SDL, and entities resolved by their root lookup's guard (test/federation).
    _service: [{ query: `{ _service { sdl } }`, expect: 'data' }],
    _entities: [
      {
        query: `query($r: [_Any!]!) { _entities(representations: $r) { ... on Location { id viewerCan(permission: "${w.permission}") } } }`,
        variables: { r: [{ __typename: 'Location', id: w.locationId }] },
        expect: 'data',
      },
    ],
  };
}

function mutationCalls(w: World): Record<string, { input: Record<string, unknown>; select: string }> {
  const uniq = Math.random().toString(36).slice(2, 8);
  return {
    createLocation: { input: { name: `Loc ${uniq}` }, select: 'location { id } version' },
    moveLocation: { input: { id: w.locationId, parentId: null }, select: 'location { id } version' },
    deleteLocation: { input: { id: w.locationId }, select: 'location { id } version' },
    createUser: { input: { email: `new-${uniq}@example.com`, name: 'New' }, select: 'user { id } version' },
    updateUser: { input: { id: w.ownerId, name: 'Renamed' }, select: 'user { id } version' },
    deleteUser: { input: { id: w.ownerId }, select: 'user { id } version' },
    undeleteUser: { input: { id: w.ownerId }, select: 'user { id } version' },
    lockUser: { input: { id: w.ownerId }, select: 'user { id } version' },
    unlockUser: { input: { id: w.ownerId }, select: 'user { id } version' },
    setUserFlags: { input: { userId: w.nobodyId, flags: [] }, select: 'user { id flags } version' },
    // Refused by its guard, before the file is read: the viewer holds the import permission nowhere.
    importUsers: {
      input: { format: 'CSV', content: `email,roles\nimported-${uniq}@example.com,${w.ownerRole}\n` },
      select: 'created errors { row message } version',
    },
    createTeam: { input: { name: `Team ${uniq}` }, select: 'team { id } version' },
    updateTeam: { input: { id: w.teamId, name: 'Renamed' }, select: 'team { id } version' },
    deleteTeam: { input: { id: w.teamId }, select: 'team { id } version' },
    undeleteTeam: { input: { id: w.teamId }, select: 'team { id } version' },
    addTeamMember: { input: { teamId: w.teamId, userId: w.nobodyId }, select: 'team { id } version' },
    removeTeamMember: { input: { teamId: w.teamId, userId: w.ownerId }, select: 'team { id } version' },
    createRole: {
      input: { key: `r_${uniq}`, name: 'R', kind: 'ORG', grants: [w.permission] },
      select: 'role { key } version',
    },
    updateRole: {
      input: { key: w.ownerRole, name: 'R', grants: [w.permission] },
      select: 'role { key } version',
    },
    cloneRole: { input: { key: w.ownerRole, newKey: `c_${uniq}` }, select: 'role { key } version' },
    deleteRole: { input: { key: w.ownerRole }, select: 'role { key } version' },
    undeleteRole: { input: { key: w.ownerRole }, select: 'role { key } version' },
    // The escalation everyone tries first: give oneself the owner's role.
    assignRole: { input: { userId: w.nobodyId, role: w.ownerRole }, select: 'assignment { id } version' },
    revokeAssignment: { input: { id: w.assignmentId }, select: 'assignment { id } version' },
    transferOwnership: { input: { toUserId: w.nobodyId }, select: 'owner { id } version' },
    setToolPolicy: { input: { tool: w.tool, mode: 'AUTO' }, select: 'toolPolicy { tool mode } version' },
    // For someone else: only an agent's key with approvals:request may.
    requestApproval: {
      input: { kind: 'anything', userId: w.ownerId, summary: 'Do it' },
      select: 'outcome request { id } version',
    },
    // A request the viewer may not see: NOT_FOUND, as for one that is not there (see approvalGuarded).
    approveRequest: { input: { id: NO_SUCH_REQUEST }, select: 'request { id } version' },
    dismissRequest: { input: { id: NO_SUCH_REQUEST }, select: 'request { id } version' },
    cancelRequest: { input: { id: NO_SUCH_REQUEST }, select: 'request { id } version' },
    executeApproved: {
      input: { id: NO_SUCH_REQUEST, argumentsHash: '0'.repeat(64) },
      select: 'request { id } version',
    },
    setNotificationSettings: {
      input: { slackBotToken: 'xoxb-0000000000-not-a-real-token' },
      select: 'settings { slackBotTokenSet }',
    },
    setNotificationAddresses: {
      input: { userId: w.ownerId, slackMemberId: 'U0000EVIL' },
      select: 'user { id } version',
    },
  };
}

function expectForbidden(r: GqlResult, field: string, permission: string) {
  const body = { status: r.status, data: r.data, errors: r.errors };
  expect(r.status).toBeLessThan(500);
  // Never the field's data.
  expect((r.data as Record<string, unknown> | undefined)?.[field] ?? null).toBeNull();
  expect(r.errors).toHaveLength(1);
  const ext = r.errors![0]!.extensions ?? {};
  expect({ body, code: ext.code }).toEqual({ body, code: 'FORBIDDEN' });
  expect(ext.permission).toBe(permission);
  expect(typeof ext.scope).toBe('string');
  expect(String(ext.scope).length).toBeGreaterThan(0);
  expect(r.errors![0]!.path).toEqual([field]);
}

/** Requests that do not exist and requests the viewer may not see are refused alike. */
const NO_SUCH_REQUEST = '00000000-0000-4000-8000-000000000000';

function expectNotFound(r: GqlResult, field: string) {
  expect(r.status).toBeLessThan(500);
  expect((r.data as Record<string, unknown> | undefined)?.[field] ?? null).toBeNull();
  expect(r.errors?.map((e) => [e.extensions?.code, e.message])).toEqual([
    ['NOT_FOUND', `approval request ${NO_SUCH_REQUEST} does not exist`],
  ]);
}

function expectData(r: GqlResult, field: string) {
  const body = { status: r.status, data: r.data, errors: r.errors };
  expect({ body, errors: r.errors ?? [] }).toEqual({ body, errors: [] });
  expect(r.status).toBe(200);
  expect(r.data).toHaveProperty(field);
}

describe('over HTTP, a user holding no role', () => {
  let t: TestGateway;
  const worlds = new Map<string, World>();

  beforeAll(async () => {
    t = await startTestGateway('pglite');
    for (const preset of PRESETS) {
      const { orgId, ownerId, ownerToken } = await newTenant(t, preset);
      const ctx = { orgId, actor: 'test' };
      // Through the store: a user with no role (the API would refuse it for Juno, where every user needs one).
      const nobody = (await t.store.users.create(ctx, { email: `nobody-${preset}@example.com` })).result;
      const location = (await t.store.locations.create(ctx, { name: 'Somewhere' })).result;
      const team = (await t.store.teams.create(ctx, { name: 'Some team' })).result;
      const [ownerAssignments] = await t.store.assignments.forUsers(orgId, [ownerId]);
      const doc = loadPreset(preset).document;
      const [module, actions] = Object.entries(doc.permissions)[0]!;
      worlds.set(preset, {
        orgId,
        ownerId,
        ownerToken,
        nobodyId: nobody.id,
        nobodyToken: await t.token(orgId, nobody.id),
        locationId: location.id,
        teamId: team.id,
        assignmentId: ownerAssignments![0]!.id,
        permission: `${module}:${Object.keys(actions)[0]}`,
        ownerRole: doc.owner.role,
        tool: Object.keys(doc.tools ?? {})[0] ?? 'some_tool',
      });
    }
  }, 30_000);
  afterAll(() => t?.close());
  afterEach(() => {
    // Nothing here may reach the "unexpected error" path.
    expect(t.logged.splice(0)).toEqual([]);
  });

  /** The permission a refusal names: the preset's for the operation, or the operation itself when left out. */
  const permissionFor = (preset: string, g: Guard) =>
    g.operation
      ? (loadPreset(preset).document.operations?.[g.operation] ?? g.operation)
      : (g.permission ?? g.serviceScope!);

  test('every root Query field is walked', () => {
    const fields = Object.keys(schema.getQueryType()!.getFields()).sort();
    expect(Object.keys(queryCalls(worlds.get('jrni')!)).sort()).toEqual(fields);
  });

  test('every Mutation field is walked', () => {
    const fields = Object.keys(schema.getMutationType()!.getFields()).sort();
    expect(Object.keys(mutationCalls(worlds.get('jrni')!)).sort()).toEqual(fields);
  });

  test('a call expected to answer is allowed by @authenticated or by the self rule', () => {
    for (const [field, calls] of Object.entries(queryCalls(worlds.get('jrni')!))) {
      const g = guardOf('Query', field)!;
      if (calls.some((c) => c.expect === 'data'))
        expect({ field, open: g.kind === 'authenticated' || !!g.self }).toEqual({ field, open: true });
      if (g.kind === 'requires' && !g.self)
        expect({ field, expects: calls.map((c) => c.expect) }).toEqual({
          field,
          expects: calls.map(() => 'forbidden'),
        });
    }
  });

  const queryCases = PRESETS.flatMap((preset) =>
    Object.keys(queryCalls({} as World)).map((field) => [preset, field] as const),
  );

  test.each(queryCases)('%s: Query.%s', async (preset, field) => {
    const w = worlds.get(preset)!;
    const g = guardOf('Query', field)!;
    for (const call of queryCalls(w)[field]!) {
      const r = await gql(t.url, w.nobodyToken, call.query, call.variables);
      if (call.expect === 'forbidden') expectForbidden(r, field, permissionFor(preset, g));
      else expectData(r, field);
    }
  });

  test.each(PRESETS)('%s: the self answers are about the viewer only', async (preset) => {
    const w = worlds.get(preset)!;
    const viewer = await gql(t.url, w.nobodyToken, '{ viewer { id assignments { id } } }');
    expect(viewer.data?.viewer).toEqual({ id: w.nobodyId, assignments: [] });
    const caps = await gql(t.url, w.nobodyToken, '{ capabilities { userId permissions modules { key } } }');
    expect(caps.data?.capabilities).toEqual({ userId: w.nobodyId, permissions: [], modules: [] });
    const check = await gql(
      t.url,
      w.nobodyToken,
      'query($i: CheckInput!) { check(input: $i) { allowed outcome } }',
      {
        i: { userId: w.nobodyId, permission: w.permission },
      },
    );
    expect(check.data?.check).toEqual({ allowed: false, outcome: 'DENY' });
  });

  const mutationCases = PRESETS.flatMap((preset) =>
    Object.keys(mutationCalls({} as World)).map((field) => [preset, field] as const),
  );

  test.each(mutationCases)('%s: Mutation.%s is refused and writes nothing', async (preset, field) => {
    const w = worlds.get(preset)!;
    const g = guardOf('Mutation', field)!;
    const [before] = await t.store.organizations.versions([w.orgId]);
    const entriesBefore = (await t.store.auditLog(w.orgId, { first: 10_000 })).length;
    const { input, select } = mutationCalls(w)[field]!;
    const inputType = schema.getMutationType()!.getFields()[field]!.args[0]!.type.toString();
    const r = await gql(
      t.url,
      w.nobodyToken,
      `mutation($input: ${inputType}) { ${field}(input: $input) { ${select} } }`,
      {
        input,
      },
    );
    if (g.approval) expectNotFound(r, field);
    else expectForbidden(r, field, permissionFor(preset, g));
    const [after] = await t.store.organizations.versions([w.orgId]);
    expect(after).toBe(before);
    // Nor an audited change that is not a version (approvals, notification settings).
    expect((await t.store.auditLog(w.orgId, { first: 10_000 })).length).toBe(entriesBefore);
  });

  test.each(PRESETS)(
    '%s: all the mutations in one document: all refused, nothing written',
    async (preset) => {
      const w = worlds.get(preset)!;
      const [before] = await t.store.organizations.versions([w.orgId]);
      const calls = Object.entries(mutationCalls(w));
      const fields = schema.getMutationType()!.getFields();
      const decl = calls.map(([f], i) => `$i${i}: ${fields[f]!.args[0]!.type.toString()}`).join(', ');
      const body = calls.map(([f, c], i) => `${f}(input: $i${i}) { ${c.select} }`).join('\n');
      const variables = Object.fromEntries(calls.map(([, c], i) => [`i${i}`, c.input]));
      const r = await gql(t.url, w.nobodyToken, `mutation(${decl}) { ${body} }`, variables);
      expect(r.status).toBeLessThan(500);
      expect(r.data ?? null).toBeNull();
      // Mutations run in order and a non-null failure stops the document: at least the first is refused.
      expect(r.errors?.length).toBeGreaterThan(0);
      for (const e of r.errors!) expect(e.extensions?.code).toBe('FORBIDDEN');
      const [after] = await t.store.organizations.versions([w.orgId]);
      expect(after).toBe(before);
      // And the owner is still the owner, with the same assignments.
      const owner = await gql(
        t.url,
        w.ownerToken,
        'query($id: ID!) { user(id: $id) { locked deleted assignments { id role } } }',
        {
          id: w.ownerId,
        },
      );
      expect(owner.data?.user).toMatchObject({
        locked: false,
        deleted: false,
        assignments: [{ id: w.assignmentId, role: w.ownerRole }],
      });
    },
  );

  test.each([
    ['decisions:check', ['decisions:check']],
    ['no scope', []],
  ])('a service key with %s: only the fields naming that scope, and no write', async (_name, scopes) => {
    const w = worlds.get('junto')!;
    const { result } = await t.store.apiKeys.create(
      { orgId: w.orgId, actor: 'test' },
      { name: 'svc', scopes },
    );
    const [before] = await t.store.organizations.versions([w.orgId]);
    for (const [field, calls] of Object.entries(queryCalls(w))) {
      const g = guardOf('Query', field)!;
      for (const call of calls) {
        const r = await gql(t.url, result.token, call.query, call.variables);
        expect(r.status).toBeLessThan(500);
        const forbidden = (r.errors ?? []).filter((e) => e.extensions?.code === 'FORBIDDEN');
        const passes = g.kind === 'authenticated' || (!!g.serviceScope && scopes.includes(g.serviceScope));
        expect({ field, forbidden: forbidden.length > 0 }).toEqual({ field, forbidden: !passes });
        if (!passes) expectForbidden(r, field, permissionFor('junto', g));
      }
    }
    for (const [field, { input, select }] of Object.entries(mutationCalls(w))) {
      const g = guardOf('Mutation', field)!;
      const inputType = schema.getMutationType()!.getFields()[field]!.args[0]!.type.toString();
      const r = await gql(
        t.url,
        result.token,
        `mutation($input: ${inputType}) { ${field}(input: $input) { ${select} } }`,
        { input },
      );
      if (g.approval) expectNotFound(r, field);
      else expectForbidden(r, field, permissionFor('junto', g));
    }
    expect((await t.store.organizations.versions([w.orgId]))[0]).toBe(before);
  });

  test('the owner, by contrast, reads what the roleless user may not (the guards are not simply closed)', async () => {
    const w = worlds.get('jrni')!;
    const r = await gql(
      t.url,
      w.ownerToken,
      '{ users { edges { node { id } } } roles { key } auditLog(first: 1) { edges { node { seq } } } }',
    );
    expect(r.errors ?? []).toEqual([]);
    expect(r.data?.users.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual(
      expect.arrayContaining([w.ownerId, w.nobodyId]),
    );
  });
});

// ---------------------------------------------------------------------------------------------------
// Credentials.

describe('credentials', () => {
  let t: TestGateway;
  let a: { orgId: string; ownerId: string; ownerToken: string };
  let b: { orgId: string; ownerId: string; ownerToken: string };
  const secret = new TextEncoder().encode(TEST_AUTH.secret);

  beforeAll(async () => {
    t = await startTestGateway('pglite');
    a = await newTenant(t, 'jrni');
    b = await newTenant(t, 'juno');
  }, 30_000);
  afterAll(() => t?.close());
  afterEach(() => {
    expect(t.logged.splice(0)).toEqual([]);
  });

  const sign = (
    claims: { org?: unknown; sub?: string },
    opts: { key?: Uint8Array; exp?: number | string; aud?: string; iss?: string; alg?: string } = {},
  ) => {
    let jwt = new SignJWT(claims.org === undefined ? {} : { org: claims.org })
      .setProtectedHeader({ alg: opts.alg ?? 'HS256' })
      .setIssuer(opts.iss ?? TEST_AUTH.issuer)
      .setAudience(opts.aud ?? TEST_AUTH.audience)
      .setIssuedAt()
      .setExpirationTime(opts.exp ?? '1h');
    if (claims.sub !== undefined) jwt = jwt.setSubject(claims.sub);
    return jwt.sign(opts.key ?? secret);
  };

  async function send(authorization: string | null, query = '{ viewer { id } organization { id } }') {
    const res = await fetch(t.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(authorization !== null ? { authorization } : {}) },
      body: JSON.stringify({ query }),
    });
    const raw = await res.text();
    return {
      status: res.status,
      raw,
      body: JSON.parse(raw) as { data?: unknown; errors?: GqlResult['errors'] },
    };
  }

  function expectUnauthenticated(r: Awaited<ReturnType<typeof send>>) {
    expect([200, 401]).toContain(r.status);
    expect(r.body.data ?? null).toBeNull();
    expect(r.body.errors?.length).toBeGreaterThan(0);
    expect({ raw: r.raw, code: r.body.errors![0]!.extensions?.code }).toEqual({
      raw: r.raw,
      code: 'UNAUTHENTICATED',
    });
    expect(r.raw).not.toMatch(/ {4}at |\.ts:\d|stacktrace/);
  }

  test('control: a valid token answers', async () => {
    const r = await send(`Bearer ${a.ownerToken}`);
    expect(r.status).toBe(200);
    expect(r.body.data).toEqual({ viewer: { id: a.ownerId }, organization: { id: a.orgId } });
  });

  test('no Authorization header', async () => {
    const r = await send(null);
    expectUnauthenticated(r);
    expect(r.status).toBe(401);
  });

  test('no token on a query of @authenticated fields only, and on a mutation', async () => {
    expectUnauthenticated(await send(null, '{ organization { id } }'));
    expectUnauthenticated(await send(null, 'mutation { createTeam(input: {name: "x"}) { version } }'));
  });

  test.each([
    ['an empty header', ''],
    ['Bearer without a token', 'Bearer '],
    ['a Basic header', 'Basic dXNlcjpwYXNz'],
    ['a token that is not a JWT', 'Bearer not-a-jwt'],
    ['a JWT with garbage parts', 'Bearer eyJhbGciOiJIUzI1NiJ9.e30.AAAA'],
    ['an API key that does not exist', 'Bearer rgk_00000000-0000-0000-0000-000000000000_secret'],
    ['a malformed API key', 'Bearer rgk_nonsense'],
  ])('%s', async (_name, header) => {
    expectUnauthenticated(await send(header));
  });

  test('a token signed with another secret', async () => {
    const token = await sign(
      { org: a.orgId, sub: a.ownerId },
      { key: new TextEncoder().encode('another-secret-0123456789-0123456789-abc') },
    );
    expectUnauthenticated(await send(`Bearer ${token}`));
  });

  test('an unsigned token (alg none)', async () => {
    const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    const token = `${enc({ alg: 'none', typ: 'JWT' })}.${enc({
      org: a.orgId,
      sub: a.ownerId,
      iss: TEST_AUTH.issuer,
      aud: TEST_AUTH.audience,
      iat: now,
      exp: now + 3600,
    })}.`;
    expectUnauthenticated(await send(`Bearer ${token}`));
  });

  test('a token signed with another algorithm (HS512) over the same secret', async () => {
    const token = await sign({ org: a.orgId, sub: a.ownerId }, { alg: 'HS512' });
    expectUnauthenticated(await send(`Bearer ${token}`));
  });

  test('an expired token: TOKEN_EXPIRED, not UNAUTHENTICATED (the client refreshes it)', async () => {
    const token = await sign({ org: a.orgId, sub: a.ownerId }, { exp: Math.floor(Date.now() / 1000) - 60 });
    const r = await send(`Bearer ${token}`);
    expect(r.status).toBe(401);
    expect(r.body.data ?? null).toBeNull();
    expect(r.body.errors?.map((e) => e.extensions?.code)).toEqual(['TOKEN_EXPIRED']);
  });

  test('a token without an expiry', async () => {
    const token = await new SignJWT({ org: a.orgId })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(a.ownerId)
      .setIssuer(TEST_AUTH.issuer)
      .setAudience(TEST_AUTH.audience)
      .sign(secret);
    expectUnauthenticated(await send(`Bearer ${token}`));
  });

  test('a token for another audience', async () => {
    const token = await sign({ org: a.orgId, sub: a.ownerId }, { aud: 'some-other-service' });
    expectUnauthenticated(await send(`Bearer ${token}`));
  });

  test('a token from another issuer', async () => {
    const token = await sign({ org: a.orgId, sub: a.ownerId }, { iss: 'someone-else' });
    expectUnauthenticated(await send(`Bearer ${token}`));
  });

  test('a token naming a user of another organization', async () => {
    const token = await sign({ org: a.orgId, sub: b.ownerId });
    const r = await send(`Bearer ${token}`);
    expectUnauthenticated(r);
    expect(r.raw).not.toContain(b.orgId);
  });

  test('a token naming an organization that does not exist', async () => {
    const token = await sign({ org: '00000000-0000-4000-8000-000000000000', sub: a.ownerId });
    expectUnauthenticated(await send(`Bearer ${token}`));
  });

  test.each([
    ['not a uuid', 'not-a-uuid'],
    ['SQL-ish', "' OR 1=1 --"],
    ['a number', 42],
    ['an object', { $ne: null }],
  ])('a token whose organization claim is %s', async (_n, org) => {
    const token = await sign({ org, sub: a.ownerId });
    expectUnauthenticated(await send(`Bearer ${token}`));
  });

  test('a token without the organization claim, or without the subject', async () => {
    expectUnauthenticated(await send(`Bearer ${await sign({ sub: a.ownerId })}`));
    expectUnauthenticated(await send(`Bearer ${await sign({ org: a.orgId })}`));
  });

  test('a token whose subject is not a uuid, or a user that does not exist', async () => {
    expectUnauthenticated(await send(`Bearer ${await sign({ org: a.orgId, sub: "x' OR '1'='1" })}`));
    expectUnauthenticated(
      await send(`Bearer ${await sign({ org: a.orgId, sub: '00000000-0000-4000-8000-000000000000' })}`),
    );
  });

  test('a token of a deleted user, and of a locked user', async () => {
    const ctx = { orgId: a.orgId, actor: 'test' };
    const gone = (await t.store.users.create(ctx, { email: 'gone@example.com' })).result;
    const locked = (await t.store.users.create(ctx, { email: 'locked@example.com' })).result;
    const goneToken = await t.token(a.orgId, gone.id);
    const lockedToken = await t.token(a.orgId, locked.id);
    expect((await send(`Bearer ${goneToken}`)).body.data).toEqual({
      viewer: { id: gone.id },
      organization: { id: a.orgId },
    });
    await t.store.users.delete(ctx, gone.id);
    await t.store.users.lock(ctx, locked.id);
    expectUnauthenticated(await send(`Bearer ${goneToken}`));
    expectUnauthenticated(await send(`Bearer ${lockedToken}`));
  });
});
