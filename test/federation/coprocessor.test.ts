import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { SignJWT } from 'jose';
import { ReadThrough } from '../../src/cache/read-through';
import { gql, startTestGateway, TEST_AUTH, type TestGateway } from '../support/gateway';
import { createPersonas, must, type Personas } from '../support/personas';
import { BACKENDS } from '../support/stores';

/**
 * POST /federation/coprocessor: the routers' coprocessor protocols for `@policy`, from protocol fixtures
 * (test/fixtures/coprocessor, each naming the docs and router version it follows) sent to a real gateway
 * on loopback. Every answer is `check` on oneself; every fault answers false (or a break), never true.
 */

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'coprocessor');
const APOLLO_KEY = 'apollo::authorization::required_policies';
const DEPRECATED_KEY = 'apollo_authorization::policies::required';
const HIVE_KEY = 'hive::authorization::required_policies';

type Json = Record<string, any>;

interface Fill {
  token?: string | null;
  orgId?: string;
  userId?: string;
  locationId?: string;
  exp?: number;
}

/** A fixture's request with its placeholders filled in (a null token: no Authorization header). */
function fixture(name: string, fill: Fill = {}): Json {
  const { request } = JSON.parse(readFileSync(path.join(FIXTURES, name), 'utf8')) as { request: Json };
  const text = JSON.stringify(request)
    .replace(/"\$EXP"/g, String(fill.exp ?? Math.floor(Date.now() / 1000) + 3600))
    .replace(/\$TOKEN/g, fill.token ?? 'none')
    .replace(/\$ORG/g, fill.orgId ?? 'none')
    .replace(/\$USER/g, fill.userId ?? 'none')
    .replace(/\$LOCATION/g, fill.locationId ?? 'none');
  const filled = JSON.parse(text) as Json;
  if (fill.token === null) delete filled.headers.authorization;
  return filled;
}
const APOLLO = 'apollo-supergraph-request.json';
const DEPRECATED = 'apollo-deprecated-keys.json';
const HIVE = 'hive-graphql-analysis.json';

/** An Apollo request asking `policies`, about `query` and `variables`, with `token` in its header. */
function apollo(token: string | null, policies: string[], query?: string, variables?: Json): Json {
  const r = fixture(APOLLO, { token });
  delete r.context.entries['apollo::authentication::jwt_claims'];
  r.context.entries[APOLLO_KEY] = Object.fromEntries(policies.map((p) => [p, null]));
  if (query !== undefined) r.body = { query, variables: variables ?? {} };
  return r;
}

interface Answer {
  status: number;
  body: Json;
  raw: string;
}

async function post(base: string, payload: unknown, contentType = 'application/json'): Promise<Answer> {
  const res = await fetch(`${base}/federation/coprocessor`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body: typeof payload === 'string' ? payload : JSON.stringify(payload),
  });
  const raw = await res.text();
  let body: Json = {};
  try {
    body = JSON.parse(raw) as Json;
  } catch {
    /* the test looks at raw */
  }
  return { status: res.status, body, raw };
}

/** The policies answered under the 2.x key. */
const policiesOf = (a: Answer) => a.body.context?.entries?.[APOLLO_KEY] as Record<string, boolean>;
const allFalse = (names: string[]) => Object.fromEntries(names.map((n) => [n, false]));

async function expiredToken(orgId: string, userId: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ org: orgId })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(userId)
    .setIssuer(TEST_AUTH.issuer)
    .setAudience(TEST_AUTH.audience)
    .setIssuedAt(now - 7200)
    .setExpirationTime(now - 3600)
    .sign(new TextEncoder().encode(TEST_AUTH.secret));
}

/** The JRNI organization of the personas, with a Manager at London and a locked user. */
async function jrniWorld(t: TestGateway, personas: Personas) {
  const { jrni } = personas;
  const create = async (email: string, assignments: object[]) => {
    const d = await must(
      t,
      jrni.ownerToken,
      `mutation($i: CreateUserInput!) { createUser(input: $i) { user { id } } }`,
      { i: { email, assignments } },
    );
    return d.createUser.user.id as string;
  };
  const london = jrni.places.London!;
  const parent = jrni.places['Parent company']!;
  const manager = await create('manager@jrni.example', [{ role: 'manager', locationId: london }]);
  const locked = await create('locked@jrni.example', [{ role: 'owner' }]);
  await must(t, jrni.ownerToken, `mutation($i: UserIdInput!) { lockUser(input: $i) { version } }`, {
    i: { id: locked },
  });
  const ownerId = (await must(t, jrni.ownerToken, '{ viewer { id } }')).viewer.id as string;
  return {
    orgId: jrni.orgId,
    london,
    parent,
    owner: { id: ownerId, token: jrni.ownerToken },
    manager: { id: manager, token: await t.token(jrni.orgId, manager) },
    locked: { id: locked, token: await t.token(jrni.orgId, locked) },
  };
}

describe.each(BACKENDS)('POST /federation/coprocessor (%s)', (kind) => {
  let t: TestGateway;
  let base: string;
  let personas: Personas;
  let w: Awaited<ReturnType<typeof jrniWorld>>;

  beforeAll(async () => {
    t = await startTestGateway(kind);
    base = t.url.replace('/graphql', '');
    personas = await createPersonas(t);
    w = await jrniWorld(t, personas);
  });
  afterAll(() => t?.close());
  afterEach(() => expect(t.logged.filter((e) => e.level === 'error')).toEqual([]));

  describe('the protocols', () => {
    test('Apollo Router 2.x keys: version, stage and id echoed, control continue, only the policies key returned', async () => {
      const a = await post(base, fixture(APOLLO, { token: w.manager.token, locationId: w.london }));
      expect(a).toMatchObject({ status: 200 });
      expect(a.body).toEqual({
        version: 1,
        stage: 'SupergraphRequest',
        id: 'd0a8245df0efe8aa38a80dba1147fb2e',
        control: 'continue',
        context: {
          entries: {
            [APOLLO_KEY]: {
              'booking:manage': false,
              'booking:manage@locationId': true,
              'user:create': false,
            },
          },
        },
      });
    });

    test('Apollo Router deprecated (1.x) keys: answered under the key received, and only it', async () => {
      const a = await post(base, fixture(DEPRECATED, { token: w.manager.token, locationId: w.london }));
      expect(a.body).toEqual({
        version: 1,
        stage: 'SupergraphRequest',
        id: '5e0c1a4f7b2d48e3a9c6f1e2d3b4a5c6',
        control: 'continue',
        context: {
          entries: {
            [DEPRECATED_KEY]: {
              'booking:manage': false,
              'booking:manage@locationId': true,
              'user:create': false,
            },
          },
        },
      });
    });

    test('Hive Router: version 1, control continue, the flat policies key and nothing else', async () => {
      const a = await post(base, fixture(HIVE, { token: w.owner.token, locationId: w.london }));
      expect(a.body).toEqual({
        version: 1,
        control: 'continue',
        context: {
          [HIVE_KEY]: { 'booking:manage': true, 'booking:manage@locationId': true, 'user:create': true },
        },
      });
    });

    test('no policies key: a plain continue, nothing changed, whatever the credentials', async () => {
      const r = fixture(APOLLO, { token: 'not-a-token' });
      delete r.context.entries[APOLLO_KEY];
      expect((await post(base, r)).body).toEqual({
        version: 1,
        stage: 'SupergraphRequest',
        id: 'd0a8245df0efe8aa38a80dba1147fb2e',
        control: 'continue',
      });
      const h = fixture(HIVE, { token: null });
      delete h.context;
      expect((await post(base, h)).body).toEqual({ version: 1, control: 'continue' });
    });

    test.each([
      ['not JSON', '{"version": 1,', 'application/json'],
      ['not an object', '[1, 2]', 'application/json'],
      ['another version', JSON.stringify({ version: 2, stage: 'SupergraphRequest' }), 'application/json'],
      ['an unknown stage', JSON.stringify({ version: 1, stage: 'RouterRequest' }), 'application/json'],
      ['no stage', JSON.stringify({ version: 1 }), 'application/json'],
      [
        'policies that are not a map',
        JSON.stringify({
          version: 1,
          stage: 'SupergraphRequest',
          context: { entries: { [APOLLO_KEY]: [1] } },
        }),
        'application/json',
      ],
      [
        'headers of the wrong shape',
        JSON.stringify({ version: 1, stage: 'graphql.analysis', headers: { authorization: 7 } }),
        'application/json',
      ],
      ['a body that is not JSON at all', 'version=1', 'text/plain'],
    ])('%s: HTTP 4xx with a clear error, never a 500, a stack or SQL', async (_name, payload, type) => {
      const a = await post(base, payload, type);
      expect(a.status).toBeGreaterThanOrEqual(400);
      expect(a.status).toBeLessThan(500);
      expect(a.body.errors[0].message).toEqual(expect.any(String));
      expect(a.body.errors[0].extensions.code).toBe('BAD_REQUEST');
      expect(a.raw).not.toMatch(/\s+at \S+ \(|\.ts:\d|SELECT|INSERT|true/);
    });

    test('unknown stage is named in the refusal', async () => {
      const a = await post(base, { version: 1, stage: 'RouterRequest' });
      expect(a.body.errors[0].message).toMatch(
        /unsupported stage "RouterRequest".*SupergraphRequest.*graphql\.analysis/,
      );
    });
  });

  describe('decisions: check on oneself', () => {
    const CHECK = `query($i: CheckInput!) { check(input: $i) { allowed } }`;
    const PERMISSIONS = [
      'booking:manage',
      'staff:edit_what_where',
      'user:create',
      'settings:basic',
      'page:customers',
    ];

    test('every policy is what check on oneself answers, for the personas, at the organization and at London', async () => {
      const viewers = [
        { name: 'owner', token: w.owner.token, userId: w.owner.id, org: w.orgId },
        { name: 'manager at London', token: w.manager.token, userId: w.manager.id, org: w.orgId },
        { name: personas.jrni.name, token: personas.jrni.token, userId: personas.jrni.userId, org: w.orgId },
        { name: personas.junto.name, token: personas.junto.token, userId: personas.junto.userId, org: '' },
        { name: personas.juno.name, token: personas.juno.token, userId: personas.juno.userId, org: '' },
      ];
      const policies = [
        ...PERMISSIONS,
        ...PERMISSIONS.map((p) => `${p}@locationId`),
        'ticket:view',
        'workflow:execute',
        'ticket:view@locationId',
      ];
      const query = 'query($loc: ID!) { bookings(locationId: $loc) { id } }';
      const table: Record<string, Record<string, boolean>> = {};
      for (const v of viewers) {
        const a = await post(base, apollo(v.token, policies, query, { loc: w.london }));
        expect(a.status).toBe(200);
        table[v.name] = policiesOf(a);
        // The oracle: the viewer's own check, at the same place (another org's location is NOT_FOUND: false).
        for (const policy of policies) {
          const [permission, argument] = policy.split('@');
          const locationId = argument ? w.london : null;
          const r = await gql(t.url, v.token, CHECK, { i: { userId: v.userId, permission, locationId } });
          const allowed = r.data?.check?.allowed === true;
          expect([v.name, policy, policiesOf(a)[policy]]).toEqual([v.name, policy, allowed]);
        }
      }
      // The ALLOWs, listed; everything else is false.
      const allows = Object.fromEntries(
        Object.entries(table).map(([name, row]) => [
          name,
          Object.keys(row)
            .filter((p) => row[p])
            .sort(),
        ]),
      );
      expect(allows).toEqual({
        owner: [...PERMISSIONS, ...PERMISSIONS.map((p) => `${p}@locationId`)].sort(),
        'manager at London': [
          'booking:manage@locationId',
          'page:customers@locationId',
          'staff:edit_what_where@locationId',
        ],
        // A User limited to one staff member: the restricted assignment grants its pages, not resources.
        'jrni-user': ['page:customers@locationId'],
        'junto-technician': ['ticket:view', 'workflow:execute'],
        // JRNI's and Junto's permissions are not Juno's, and London is another organization's.
        'juno-member': [],
      });
      expect(allows['junto-technician']).not.toContain('ticket:view@locationId');
    });

    test('permission@locationId: a literal, a variable, a default, a fragment, a list and an input object are all required (AND)', async () => {
      const policy = 'booking:manage@locationId';
      const ask = async (query: string, variables?: Json) =>
        policiesOf(await post(base, apollo(w.manager.token, [policy], query, variables)))[policy];
      // Literal at London: the manager holds it there.
      expect(await ask(`{ bookings(locationId: "${w.london}") { id } }`)).toBe(true);
      // A variable at the parent: not held there.
      expect(await ask('query($l: ID!) { bookings(locationId: $l) { id } }', { l: w.parent })).toBe(false);
      expect(await ask('query($l: ID!) { bookings(locationId: $l) { id } }', { l: w.london })).toBe(true);
      // A default value, used when the variable is not sent.
      expect(await ask(`query($l: ID = "${w.parent}") { bookings(locationId: $l) { id } }`)).toBe(false);
      // London and, in a fragment, the parent: both are required.
      expect(
        await ask(
          `query { a: bookings(locationId: "${w.london}") { id ...F } } fragment F on Booking { other: bookings(locationId: "${w.parent}") { id } }`,
        ),
      ).toBe(false);
      expect(
        await ask(
          `query { a: bookings(locationId: "${w.london}") { id ...F } } fragment F on Booking { id }`,
        ),
      ).toBe(true);
      // A list, and an input object's field of the name (in a variable).
      expect(await ask(`{ bookings(locationId: ["${w.london}", "${w.london}"]) { id } }`)).toBe(true);
      expect(await ask(`{ bookings(locationId: ["${w.london}", "${w.parent}"]) { id } }`)).toBe(false);
      expect(
        await ask('mutation($i: BookingInput!) { book(input: $i) { id } }', { i: { locationId: w.parent } }),
      ).toBe(false);
      expect(
        await ask('mutation($i: BookingInput!) { book(input: $i) { id } }', { i: { locationId: w.london } }),
      ).toBe(true);
      // No argument of that name: the organization, where the manager holds nothing.
      expect(await ask('{ bookings { id } }')).toBe(false);
      // The operation picked by operationName.
      const two = `query A { bookings(locationId: "${w.parent}") { id } } query B { bookings(locationId: "${w.london}") { id } }`;
      const r = apollo(w.manager.token, [policy], two);
      r.body.operationName = 'B';
      expect(policiesOf(await post(base, r))[policy]).toBe(true);
      r.body.operationName = 'A';
      expect(policiesOf(await post(base, r))[policy]).toBe(false);
    });

    test('false for what cannot be a scope: an unknown location, another id, an unreadable or ambiguous operation', async () => {
      const policy = 'booking:manage@locationId';
      const ask = async (query: string | undefined, variables?: Json) =>
        policiesOf(await post(base, apollo(w.owner.token, [policy], query, variables)))[policy];
      // The owner holds it everywhere: only the scope makes these false.
      expect(await ask(`{ bookings(locationId: "${w.london}") { id } }`)).toBe(true);
      expect(await ask('{ bookings(locationId: "00000000-0000-4000-8000-000000000000") { id } }')).toBe(
        false,
      );
      expect(await ask(`{ bookings(locationId: "${personas.juno.places.Web}") { id } }`)).toBe(false);
      expect(await ask('{ bookings(locationId: "London") { id } }')).toBe(false);
      expect(await ask('{ bookings(locationId: 7) { id } }')).toBe(false);
      expect(await ask('{ bookings(locationId: ')).toBe(false);
      expect(await ask('query A { a } query B { b }')).toBe(false);
      const r = apollo(w.owner.token, [policy]);
      delete r.body;
      expect(policiesOf(await post(base, r))[policy]).toBe(false);
    });

    test('unknown policies are false, the others still decided', async () => {
      const names = [
        'nope:nothing',
        'booking:manage',
        'booking:manage@',
        '@locationId',
        'booking:manage@x-y',
        'x'.repeat(400),
      ];
      const a = await post(base, apollo(w.owner.token, names, '{ bookings { id } }'));
      expect(policiesOf(a)).toEqual({ ...allFalse(names), 'booking:manage': true });
    });

    test('all the policies of a request cost one batch of cached loads after the viewer', async () => {
      const spy = jest.spyOn(ReadThrough.prototype, 'load');
      try {
        const policies = ['booking:manage', 'staff:view', 'user:create'].flatMap((p) => [
          p,
          `${p}@locationId`,
        ]);
        const query = `{ a: bookings(locationId: "${w.london}") { id } b: bookings(locationId: "${w.parent}") { id } }`;
        const token = await t.token(w.orgId, w.manager.id);
        const a = await post(base, apollo(token, policies, query));
        expect(Object.keys(policiesOf(a))).toHaveLength(6);
        // The organization's state and the viewer's grants (the context, as for every request), then
        // one batch for every scope of every policy.
        const kinds = spy.mock.calls.map(([, keys]) => [...new Set(keys.map((k) => k.kind))].join(','));
        expect(kinds).toEqual(['org', 'grants', 'path']);
        const paths = spy.mock.calls[2]![1].map((k) => k.id).sort();
        expect(paths).toEqual([w.london, w.parent].sort());
      } finally {
        spy.mockRestore();
      }
    });
  });

  describe('faults: never true', () => {
    const POLICIES = ['booking:manage', 'booking:manage@locationId', 'user:create'];
    const query = (loc: string) => `{ bookings(locationId: "${loc}") { id } }`;

    test.each([
      ['no token', async () => null],
      ['a bad token', async () => 'eyJhbGciOiJIUzI1NiJ9.e30.bad'],
      ['a token signed with another key', async () => `${w.owner.token.slice(0, -4)}AAAA`],
      ['an expired token', async () => expiredToken(w.orgId, w.owner.id)],
      ['a locked user', async () => w.locked.token],
      ['a user of no organization', async () => t.token('00000000-0000-4000-8000-000000000000', w.owner.id)],
    ])('%s: every policy false', async (_name, token) => {
      const a = await post(base, apollo(await token(), POLICIES, query(w.london)));
      expect(a.status).toBe(200);
      expect(a.body.control).toBe('continue');
      expect(policiesOf(a)).toEqual(allFalse(POLICIES));
    });

    test('an Authorization header that is not Bearer, or twice: false', async () => {
      const r = apollo(null, POLICIES, query(w.london));
      r.headers.authorization = [`Basic ${w.owner.token}`];
      expect(policiesOf(await post(base, r))).toEqual(allFalse(POLICIES));
      r.headers.authorization = [`Bearer ${w.owner.token}`, `Bearer ${w.owner.token}`];
      expect(policiesOf(await post(base, r))).toEqual(allFalse(POLICIES));
    });

    test('forged jwt_claims are not trusted by default: the header decides, and without one nothing is true', async () => {
      const forged = fixture(APOLLO, {
        token: null,
        orgId: w.orgId,
        userId: w.owner.id,
        locationId: w.london,
      });
      expect(policiesOf(await post(base, forged))).toEqual(allFalse(POLICIES));
      // The manager's token with the owner's claims: the manager's answers.
      const mixed = fixture(APOLLO, {
        token: w.manager.token,
        orgId: w.orgId,
        userId: w.owner.id,
        locationId: w.london,
      });
      expect(policiesOf(await post(base, mixed))).toEqual({
        'booking:manage': false,
        'booking:manage@locationId': true,
        'user:create': false,
      });
    });

    test('an API key is no viewer: every policy false', async () => {
      const { result } = await t.store.apiKeys.create(
        { orgId: w.orgId, actor: 'test' },
        { name: 'router', scopes: ['decisions:check'] },
      );
      const a = await post(base, apollo(result.token, POLICIES, query(w.london)));
      expect(policiesOf(a)).toEqual(allFalse(POLICIES));
    });

    test('Hive: no token, every policy false under the Hive key', async () => {
      const a = await post(base, fixture(HIVE, { token: null, locationId: w.london }));
      expect(a.body).toEqual({
        version: 1,
        control: 'continue',
        context: { [HIVE_KEY]: allFalse(POLICIES) },
      });
    });
  });
});

describe.each(BACKENDS)('coprocessor settings (%s)', (kind) => {
  let t: TestGateway;
  let base: string;
  let w: Awaited<ReturnType<typeof jrniWorld>>;
  let socketDir: string;
  let socket: string;

  beforeAll(async () => {
    socketDir = mkdtempSync(path.join(tmpdir(), 'rolegate-coprocessor-'));
    socket = path.join(socketDir, 'rolegate.sock');
    t = await startTestGateway(kind, { coprocessor: { trustClaims: true, onFault: 'break', socket } });
    base = t.url.replace('/graphql', '');
    w = await jrniWorld(t, await createPersonas(t));
  });
  afterAll(async () => {
    await t?.close();
    rmSync(socketDir, { recursive: true, force: true });
  });

  test('break: refused credentials answer 401 with a GraphQL error body, echoing the protocol', async () => {
    const r = fixture(APOLLO, { token: 'bad', locationId: w.london });
    delete r.context.entries['apollo::authentication::jwt_claims'];
    const a = await post(base, r);
    expect(a.body).toEqual({
      version: 1,
      stage: 'SupergraphRequest',
      id: 'd0a8245df0efe8aa38a80dba1147fb2e',
      control: { break: 401 },
      body: { errors: [{ message: 'invalid token', extensions: { code: 'UNAUTHENTICATED' } }] },
    });
    const expired = fixture(HIVE, { token: await expiredToken(w.orgId, w.owner.id), locationId: w.london });
    expect((await post(base, expired)).body).toEqual({
      version: 1,
      control: { break: 401 },
      body: { errors: [{ message: 'The access token expired', extensions: { code: 'TOKEN_EXPIRED' } }] },
    });
  });

  test('trusted claims (loopback): decided for the user they name; expired, malformed or locked claims break 401', async () => {
    const claims = (userId: string, exp?: number) =>
      fixture(APOLLO, { token: null, orgId: w.orgId, userId, locationId: w.london, exp });
    expect(policiesOf(await post(base, claims(w.manager.id)))).toEqual({
      'booking:manage': false,
      'booking:manage@locationId': true,
      'user:create': false,
    });
    expect(policiesOf(await post(base, claims(w.owner.id)))).toEqual({
      'booking:manage': true,
      'booking:manage@locationId': true,
      'user:create': true,
    });
    const expired = await post(base, claims(w.owner.id, Math.floor(Date.now() / 1000) - 10));
    expect(expired.body.control).toEqual({ break: 401 });
    expect(expired.body.body.errors[0].extensions.code).toBe('TOKEN_EXPIRED');
    const locked = await post(base, claims(w.locked.id));
    expect(locked.body.control).toEqual({ break: 401 });
    const noSub = claims(w.owner.id);
    delete noSub.context.entries['apollo::authentication::jwt_claims'].sub;
    expect((await post(base, noSub)).body.control).toEqual({ break: 401 });
    const otherOrg = fixture(APOLLO, {
      token: null,
      orgId: '00000000-0000-4000-8000-000000000000',
      userId: w.owner.id,
      locationId: w.london,
    });
    expect((await post(base, otherOrg)).body.control).toEqual({ break: 401 });
  });

  test('the Unix socket serves the same coprocessor', async () => {
    const payload = JSON.stringify(fixture(HIVE, { token: w.manager.token, locationId: w.london }));
    const answer = await new Promise<Json>((resolve, reject) => {
      const req = httpRequest(
        {
          socketPath: socket,
          path: '/federation/coprocessor',
          method: 'POST',
          headers: { 'content-type': 'application/json' },
        },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve(JSON.parse(text) as Json));
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
    expect(answer).toEqual({
      version: 1,
      control: 'continue',
      context: {
        [HIVE_KEY]: { 'booking:manage': false, 'booking:manage@locationId': true, 'user:create': false },
      },
    });
  });
});

describe.each(BACKENDS)('the store down under a running gateway (%s)', (kind) => {
  const POLICIES = ['booking:manage', 'booking:manage@locationId', 'user:create'];

  test.each(['deny', 'break'] as const)(
    '%s: never true (false for every policy, or break 503)',
    async (onFault) => {
      const t = await startTestGateway(kind, { coprocessor: { onFault } });
      try {
        const base = t.url.replace('/graphql', '');
        const w = await jrniWorld(t, await createPersonas(t));
        // Tokens verified before the outage; the users' grants not yet read.
        const fresh = await t.token(w.orgId, w.manager.id);
        const owner = await t.token(w.orgId, w.owner.id);
        const query = `{ bookings(locationId: "${w.london}") { id } }`;
        // A write just before: every entry kept by version is of the version before it.
        await must(t, w.owner.token, 'mutation { createLocation(input: { name: "Paris" }) { version } }');
        await t.store.db.close();
        for (const token of [fresh, owner, w.manager.token]) {
          const a = await post(base, apollo(token, POLICIES, query));
          expect(a.status).toBe(200);
          expect(a.raw).not.toMatch(/SELECT|ECONN|\s+at \S+ \(|\.ts:\d/);
          if (onFault === 'break') {
            expect(a.body.control).toEqual({ break: 503 });
            expect(a.body.body).toEqual({
              errors: [{ message: expect.any(String), extensions: { code: 'UNAVAILABLE' } }],
            });
          } else {
            expect(a.body.control).toBe('continue');
            expect(policiesOf(a)).toEqual(allFalse(POLICIES));
          }
        }
      } finally {
        await t.close().catch(() => {});
      }
    },
  );
});
