import { randomBytes, randomUUID } from 'node:crypto';
import { newTenant, startTestGateway, type TestGateway } from '../support/gateway';
import { BACKENDS } from '../support/stores';

/**
 * Hostile input over HTTP, on both backends: oversized and malformed requests, documents built to
 * exhaust the server, batching, wrong types, injection-shaped strings, prototype keys, unknown and
 * malformed ids. Whatever comes in, the answer is a client error (never a 5xx) with a code, that
 * holds no stack trace, no SQL and none of the configured limits, and nothing reaches the
 * "unexpected error" log.
 */

interface Response {
  status: number;
  raw: string;
  json?: {
    data?: Record<string, any> | null;
    errors?: { message: string; extensions?: Record<string, unknown> }[];
  };
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
/** The limits of src/api/server.ts (LIMITS), MAX_CHECKS (1,000) and MAX_PAGE (500), however written. */
const LIMIT_NUMBERS =
  /\b(12|20|30|500|1000|1,000|1_000|20000|20,000|20_000|2097152|2,097,152)\b|\b2\s?MiB\b|\b2\s?MB\b/i;
const STACK = /\n\s+at |^\s{4}at |\bat [\w.<>]+ \(|\.ts:\d|\.js:\d|node_modules/m;
const SQL =
  /\b(SELECT|INSERT INTO|DELETE FROM|UPDATE \w+ SET|WHERE \w+ =|ROLLBACK)\b|violates|constraint\b|syntax error at or near|relation "|column "|\$\d\b|invalid input syntax for type/;

async function send(
  url: string,
  init: {
    method?: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
    token?: string | null;
    query?: string;
  },
): Promise<Response> {
  const res = await fetch(init.query ? `${url}?${init.query}` : url, {
    method: init.method ?? 'POST',
    headers: {
      ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
      ...init.headers,
    },
    ...(init.body !== undefined ? { body: init.body } : {}),
  });
  const raw = await res.text();
  let json: Response['json'];
  try {
    json = JSON.parse(raw);
  } catch {
    json = undefined;
  }
  return { status: res.status, raw, json };
}

/** What every response to hostile input must be, whatever it says. */
function expectClean(r: Response, options: { errors?: 'required' | 'none' } = {}) {
  const shown = r.raw.length > 2000 ? `${r.raw.slice(0, 2000)}…` : r.raw;
  expect({ status: r.status < 500, body: shown }).toEqual({ status: true, body: shown });
  expect(r.raw).not.toMatch(STACK);
  expect(r.raw).not.toMatch(SQL);
  expect(r.raw).not.toMatch(/stacktrace|exception/i);
  // Always a GraphQL-shaped JSON body, also for refusals before GraphQL (body too large, bad JSON…).
  expect({ json: r.json !== undefined, body: shown }).toEqual({ json: true, body: shown });
  const errors = r.json?.errors ?? [];
  if (options.errors === 'required' || (options.errors !== 'none' && r.status >= 400))
    expect({ errors: errors.length > 0, body: shown }).toEqual({ errors: true, body: shown });
  if (options.errors === 'none') expect(errors).toEqual([]);
  for (const e of errors) {
    expect(typeof e.message).toBe('string');
    expect({ code: typeof e.extensions?.code, error: e }).toEqual({ code: 'string', error: e });
    const told = `${e.message} ${JSON.stringify(e.extensions ?? {})}`.replace(UUID, '<id>');
    expect(told).not.toMatch(LIMIT_NUMBERS);
  }
}

interface Case {
  label: string;
  query: string;
  variables?: Record<string, unknown>;
}

/**
 * What a request answered: null when nothing, that is no data at all (a request refused whole) or every
 * root field null with its error (guarded reads are nullable: a refusal costs its field, not the request).
 */
const answered = (data: unknown) =>
  data && typeof data === 'object' && Object.values(data).some((v) => v !== null) ? data : null;

/** Results of `run` with `answered` data. */
const unanswered = <T extends { data: unknown }>(got: T[]) =>
  got.map((g) => ({ ...g, data: answered(g.data) }));

const codes = (r: Response) => (r.json?.errors ?? []).map((e) => e.extensions?.code);

function nested(levels: number): string {
  // viewer { assignments { user { assignments { user … { id } } } } }
  let inner = 'id';
  for (let i = levels; i > 1; i--) inner = i % 2 === 0 ? `assignments { ${inner} }` : `user { ${inner} }`;
  return `{ viewer { ${inner} } }`;
}

describe.each(BACKENDS)('hostile input on %s', (backend) => {
  let t: TestGateway;
  let orgId: string;
  let ownerId: string;
  let token: string;
  let nobodyId: string;
  let nobodyToken: string;
  const version = async () => (await t.store.organizations.versions([orgId]))[0];

  beforeAll(async () => {
    t = await startTestGateway(backend);
    ({ orgId, ownerId, ownerToken: token } = await newTenant(t, 'jrni'));
    nobodyId = (await t.store.users.create({ orgId, actor: 'test' }, { email: 'nobody@example.com' })).result
      .id;
    nobodyToken = await t.token(orgId, nobodyId);
  }, 30_000);
  afterAll(() => t?.close());
  afterEach(() => {
    // Hostile input is expected input: none of it may reach the "unexpected error" path.
    expect(t.logged.splice(0)).toEqual([]);
  });

  const post = (body: unknown, extra: { token?: string | null; headers?: Record<string, string> } = {}) =>
    send(t.url, {
      body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
      token: extra.token === undefined ? token : extra.token,
      ...(extra.headers ? { headers: extra.headers } : {}),
    });

  test('control: a plain query answers, and passes the same checks', async () => {
    const r = await post({ query: '{ viewer { id assignments { role } } }' });
    expectClean(r, { errors: 'none' });
    expect(r.json?.data?.viewer.id).toBe(ownerId);
  });

  describe('documents built to exhaust the server', () => {
    test('a 30-level deep query', async () => {
      const r = await post({ query: nested(30) });
      expectClean(r, { errors: 'required' });
      expect(answered(r.json?.data)).toBeNull();
      expect(r.json?.errors?.map((e) => e.extensions)).toContainEqual({
        code: 'BAD_USER_INPUT',
        limit: 'depth',
      });
    });

    test('a 200-level deep query', async () => {
      const r = await post({ query: nested(200) });
      expectClean(r, { errors: 'required' });
      expect(answered(r.json?.data)).toBeNull();
    });

    test('depth hidden in a chain of fragments', async () => {
      const n = 30;
      const frags = Array.from({ length: n }, (_, i) =>
        i === n - 1
          ? `fragment F${i} on User { id }`
          : `fragment F${i} on User { assignments { user { ...F${i + 1} } } }`,
      ).join('\n');
      const r = await post({ query: `{ viewer { ...F0 } }\n${frags}` });
      expectClean(r, { errors: 'required' });
      expect(answered(r.json?.data)).toBeNull();
    });

    test('a cycle of fragments', async () => {
      const r = await post({
        query:
          '{ viewer { ...A } } fragment A on User { assignments { user { ...B } } } fragment B on User { assignments { user { ...A } } }',
      });
      expectClean(r, { errors: 'required' });
      expect(codes(r)).toContain('GRAPHQL_VALIDATION_FAILED');
    });

    test('a fan-out introspection query (introspection is on in development)', async () => {
      let inner = 'name';
      for (let i = 0; i < 8; i++) inner = `fields { type { ${inner} } }`;
      const r = await post({ query: `{ __schema { types { ${inner} } } }` });
      expectClean(r, { errors: 'required' });
      expect(answered(r.json?.data)).toBeNull();
    });

    test('a deep but narrow introspection query answers or is refused, cleanly', async () => {
      let inner = 'name';
      for (let i = 0; i < 25; i++) inner = `ofType { ${inner} }`;
      const r = await post({ query: `{ __schema { types { fields { type { ${inner} } } } } }` });
      expectClean(r);
      expect(r.raw.length).toBeLessThan(2_000_000);
    });

    test('hundreds of aliases', async () => {
      const query = `{ ${Array.from({ length: 300 }, (_, i) => `a${i}: viewer { id }`).join(' ')} }`;
      const r = await post({ query });
      expectClean(r, { errors: 'required' });
      expect(answered(r.json?.data)).toBeNull();
      // The limit's kind, not "Syntax Error: Query validation error." (test/api/limit-errors.test.ts).
      expect(r.json?.errors).toContainEqual({
        message: expect.stringMatching(/^too many aliases/),
        extensions: { code: 'BAD_USER_INPUT', limit: 'aliases' },
      });
    });

    test('hundreds of aliased checks, each about someone else', async () => {
      const query = `query($i: CheckInput!) { ${Array.from({ length: 400 }, (_, i) => `c${i}: check(input: $i) { allowed reason }`).join(' ')} }`;
      const r = await post({ query, variables: { i: { userId: nobodyId, permission: 'user:manage' } } });
      expectClean(r, { errors: 'required' });
      expect(answered(r.json?.data)).toBeNull();
    });

    test('hundreds of directives on one field', async () => {
      const query = `{ viewer ${'@include(if: true) '.repeat(200)}{ id } }`;
      const r = await post({ query });
      expectClean(r, { errors: 'required' });
      expect(answered(r.json?.data)).toBeNull();
    });

    test('a huge document (many tokens)', async () => {
      const query = `{ viewer { ${'id '.repeat(60_000)}} }`;
      const r = await post({ query });
      expectClean(r, { errors: 'required' });
      expect(answered(r.json?.data)).toBeNull();
    });

    test('a huge document of many operations', async () => {
      const query = Array.from({ length: 5000 }, (_, i) => `query Q${i} { viewer { id } }`).join('\n');
      const r = await post({ query, operationName: 'Q0' });
      expectClean(r, { errors: 'required' });
      expect(answered(r.json?.data)).toBeNull();
    });

    test('a costly query: a list under a list under a list', async () => {
      const query = `{ users(first: 50) { edges { node { assignments { user { assignments { location { children { children { id } } } } } } } } } }`;
      const r = await post({ query });
      expectClean(r);
    });

    test('a 10 MB string literal inside the document (over the body limit)', async () => {
      const r = await post({ query: `{ user(id: "${'x'.repeat(10 * 1024 * 1024)}") { id } }` });
      expectClean(r, { errors: 'required' });
      expect(r.status).toBe(413);
    });
  });

  describe('requests that are not GraphQL over HTTP as it should be', () => {
    test('a body over 2 MiB', async () => {
      const r = await post({
        query: '{ viewer { id } }',
        variables: { pad: 'x'.repeat(2 * 1024 * 1024 + 10) },
      });
      expectClean(r, { errors: 'required' });
      expect(r.status).toBe(413);
      expect(codes(r)).toEqual(['BAD_USER_INPUT']);
    });

    test('a body over 2 MiB without a token', async () => {
      const r = await post(
        { query: '{ viewer { id } }', variables: { pad: 'x'.repeat(3 * 1024 * 1024) } },
        { token: null },
      );
      expectClean(r, { errors: 'required' });
      expect(r.status).toBe(413);
    });

    test.each([
      ['truncated JSON', '{"query": "{ viewer { id } }"'],
      ['not JSON at all', 'query { viewer { id } }'],
      ['a JSON string', '"{ viewer { id } }"'],
      ['JSON null', 'null'],
      ['a JSON number', '42'],
      ['an empty object', '{}'],
      ['an empty body', ''],
      ['query is a number', '{"query": 42}'],
      ['query is an object', '{"query": {"kind": "Document"}}'],
      ['variables is a string', '{"query": "{ viewer { id } }", "variables": "{}"}'],
      ['variables is an array', '{"query": "{ viewer { id } }", "variables": [1, 2]}'],
      ['operationName is an object', '{"query": "{ viewer { id } }", "operationName": {}}'],
      ['extensions is a string', '{"query": "{ viewer { id } }", "extensions": "x"}'],
      ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0x71, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])],
    ])('malformed body: %s', async (_name, body) => {
      const r = await post(body);
      expectClean(r, { errors: 'required' });
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(answered(r.json?.data)).toBeNull();
    });

    test('deeply nested JSON in the variables: answered or refused, cleanly', async () => {
      const nest = `${'['.repeat(5000)}${']'.repeat(5000)}`;
      for (const body of [
        `{"query": "{ viewer { id } }", "variables": {"a": ${nest}}}`,
        `{"query": "query($i: [CheckInput!]!) { checks(inputs: $i) { allowed } }", "variables": {"i": ${nest}}}`,
      ])
        expectClean(await post(body));
    });

    test.each([
      ['text/plain', JSON.stringify({ query: '{ viewer { id } }' })],
      ['application/xml', '<query>{ viewer { id } }</query>'],
      ['application/x-www-form-urlencoded', 'query=%7B%20viewer%20%7B%20id%20%7D%20%7D'],
      [
        'multipart/form-data; boundary=x',
        '--x\r\nContent-Disposition: form-data; name="query"\r\n\r\n{ viewer { id } }\r\n--x--\r\n',
      ],
      ['application/graphql', '{ viewer { id } }'],
    ])('wrong content type: %s', async (type, body) => {
      const r = await post(body, { headers: { 'content-type': type } });
      expectClean(r, { errors: 'required' });
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(answered(r.json?.data)).toBeNull();
    });

    test('a GET with a mutation writes nothing', async () => {
      const before = await version();
      const query = new URLSearchParams({
        query: 'mutation { createLocation(input: {name: "via GET"}) { version } }',
      }).toString();
      for (const headers of [
        {} as Record<string, string>,
        { 'apollo-require-preflight': 'true' },
        { 'content-type': 'application/json' },
      ]) {
        const r = await send(t.url, { method: 'GET', token, query, headers });
        expectClean(r, { errors: 'required' });
        expect(r.status).toBeGreaterThanOrEqual(400);
        expect(answered(r.json?.data)).toBeNull();
      }
      expect(await version()).toBe(before);
    });

    test('a GET query without the preflight header is refused (CSRF), with it answers', async () => {
      const query = new URLSearchParams({ query: '{ viewer { id } }' }).toString();
      const refused = await send(t.url, { method: 'GET', token, query });
      expectClean(refused, { errors: 'required' });
      expect(refused.status).toBe(400);
      const answered = await send(t.url, {
        method: 'GET',
        token,
        query,
        headers: { 'apollo-require-preflight': 'true' },
      });
      expectClean(answered, { errors: 'none' });
      expect(answered.json?.data?.viewer.id).toBe(ownerId);
    });

    test.each(['PUT', 'DELETE', 'PATCH'])('method %s', async (method) => {
      const r = await send(t.url, { method, token, body: JSON.stringify({ query: '{ viewer { id } }' }) });
      expectClean(r, { errors: 'required' });
      expect(r.status).toBeGreaterThanOrEqual(400);
    });

    test('batched array bodies are refused: batching is off', async () => {
      const r = await post([{ query: '{ viewer { id } }' }, { query: '{ organization { id } }' }]);
      expectClean(r, { errors: 'required' });
      expect(r.status).toBe(400);
      expect(r.raw).not.toContain(ownerId);
      expect(r.raw).not.toContain(orgId);
    });

    test('a batch of one is refused too', async () => {
      const r = await post([{ query: '{ viewer { id } }' }]);
      expectClean(r, { errors: 'required' });
      expect(r.status).toBe(400);
      expect(r.raw).not.toContain(ownerId);
    });

    test('a batch of mutations writes nothing', async () => {
      const before = await version();
      const m = { query: 'mutation { createLocation(input: {name: "batched"}) { version } }' };
      const r = await post([m, m, m]);
      expectClean(r, { errors: 'required' });
      expect(r.status).toBe(400);
      expect(await version()).toBe(before);
    });

    test('an empty batch', async () => {
      const r = await post([]);
      expectClean(r, { errors: 'required' });
      expect(r.status).toBe(400);
    });
  });

  describe('documents that do not fit the schema', () => {
    test.each([
      ['an unknown field', '{ viewer { id password } }'],
      ['an unknown root field', '{ dropEverything }'],
      ['an unknown mutation', 'mutation { grantMeEverything { ok } }'],
      ['a subscription', 'subscription { viewer { id } }'],
      ['an unknown argument', '{ users(limit: 5) { edges { node { id } } } }'],
      ['an unknown type in a fragment', '{ viewer { ...F } } fragment F on Secret { id }'],
      ['a syntax error', '{ viewer { id }'],
      ['an empty document', ''],
      ['only a comment', '# nothing'],
      ['a wrong argument type: string for Int', '{ users(first: "ten") { edges { node { id } } } }'],
      ['a wrong argument type: object for ID', '{ location(id: {a: 1}) { id } }'],
      ['a wrong argument type: number for an input object', '{ check(input: 5) { allowed } }'],
      ['a missing required argument', '{ check { allowed } }'],
      ['a missing required input field', '{ check(input: {permission: "user:manage"}) { allowed } }'],
      ['an unknown input field', `{ check(input: {userId: "x", permission: "y", admin: true}) { allowed } }`],
      ['an Int overflow', '{ users(first: 2147483648) { edges { node { id } } } }'],
      ['a float for an Int', '{ users(first: 1.5) { edges { node { id } } } }'],
      [
        'an unknown enum value',
        'mutation { createRole(input: {key: "r", name: "r", kind: GOD, grants: []}) { version } }',
      ],
      [
        'a bad DateTime literal',
        `mutation { assignRole(input: {userId: "x", role: "owner", expiresAt: "tomorrow"}) { version } }`,
      ],
      ['a selection on a scalar', '{ viewer { id { deeper } } }'],
      ['no selection on an object', '{ viewer }'],
      ['an operation name that does not exist', '{ viewer { id } }'],
    ])('%s', async (name, query) => {
      const before = await version();
      const r = await post({ query, ...(name.includes('operation name') ? { operationName: 'Nope' } : {}) });
      expectClean(r, { errors: 'required' });
      expect(answered(r.json?.data)).toBeNull();
      expect(await version()).toBe(before);
    });

    test.each([
      ['a string for an Int', 'query($f: Int) { users(first: $f) { edges { node { id } } } }', { f: 'abc' }],
      [
        'a huge number for an Int',
        'query($f: Int) { users(first: $f) { edges { node { id } } } }',
        { f: 1e300 },
      ],
      ['an object for an ID', 'query($id: ID!) { user(id: $id) { id } }', { id: { $gt: '' } }],
      ['an array for an ID', 'query($id: ID!) { user(id: $id) { id } }', { id: ['a', 'b'] }],
      ['a boolean for an ID', 'query($id: ID!) { user(id: $id) { id } }', { id: true }],
      ['null for a required input', 'query($i: CheckInput!) { check(input: $i) { allowed } }', { i: null }],
      ['a missing variable', 'query($i: CheckInput!) { check(input: $i) { allowed } }', {}],
      ['a string for an input object', 'query($i: CheckInput!) { check(input: $i) { allowed } }', { i: 'x' }],
      [
        'a number in an input field',
        'query($i: CheckInput!) { check(input: $i) { allowed } }',
        { i: { userId: 5.5, permission: 7 } },
      ],
      [
        'an extra input field',
        'query($i: CheckInput!) { check(input: $i) { allowed } }',
        { i: { userId: 'x', permission: 'y', root: true } },
      ],
      ['a string for a list', 'query($i: [CheckInput!]!) { checks(inputs: $i) { allowed } }', { i: 'x' }],
      [
        'a null inside a non-null list',
        'query($i: [CheckInput!]!) { checks(inputs: $i) { allowed } }',
        { i: [null] },
      ],
      [
        'a bad DateTime',
        'mutation($i: AssignRoleInput!) { assignRole(input: $i) { version } }',
        { i: { userId: 'x', role: 'owner', expiresAt: 'soon' } },
      ],
      [
        'an impossible DateTime',
        'mutation($i: AssignRoleInput!) { assignRole(input: $i) { version } }',
        { i: { userId: 'x', role: 'owner', expiresAt: '2026-02-31T25:61:00Z' } },
      ],
      [
        'an unknown enum value',
        'mutation($i: SetToolPolicyInput!) { setToolPolicy(input: $i) { version } }',
        { i: { tool: 'x', mode: 'YOLO' } },
      ],
      ['a variable declared with an unknown type', 'query($i: Secret) { viewer { id } }', { i: 1 }],
    ])('variables with wrong types: %s', async (_name, query, variables) => {
      const before = await version();
      const r = await post({ query, variables });
      expectClean(r, { errors: 'required' });
      expect(answered(r.json?.data)).toBeNull();
      expect(codes(r).every((c) => c === 'BAD_USER_INPUT' || c === 'GRAPHQL_VALIDATION_FAILED')).toBe(true);
      expect(await version()).toBe(before);
    });
  });

  describe('limits of the API itself', () => {
    const checksQuery = 'query($i: [CheckInput!]!) { checks(inputs: $i) { allowed outcome } }';

    test.each([1001, 5000])('checks with %i inputs is refused, without saying the limit', async (n) => {
      const inputs = Array.from({ length: n }, () => ({ userId: ownerId, permission: 'user:manage' }));
      const r = await post({ query: checksQuery, variables: { i: inputs } });
      expectClean(r, { errors: 'required' });
      expect(answered(r.json?.data)).toBeNull();
      expect(codes(r)).toEqual(['BAD_USER_INPUT']);
    });

    test('checks with 5,000 inputs about oneself, from a user holding no role', async () => {
      const inputs = Array.from({ length: 5000 }, () => ({ userId: nobodyId, permission: 'user:manage' }));
      const r = await post({ query: checksQuery, variables: { i: inputs } }, { token: nobodyToken });
      expectClean(r, { errors: 'required' });
      expect(answered(r.json?.data)).toBeNull();
      expect(codes(r)).toEqual(['BAD_USER_INPUT']);
    });

    // The request budget is checked before any guard: too many decisions is BAD_USER_INPUT for anyone.
    test('checks with 5,000 inputs about someone else, from a user holding no role, is BAD_USER_INPUT', async () => {
      const inputs = Array.from({ length: 5000 }, () => ({ userId: ownerId, permission: 'user:manage' }));
      const r = await post({ query: checksQuery, variables: { i: inputs } }, { token: nobodyToken });
      expectClean(r, { errors: 'required' });
      expect(answered(r.json?.data)).toBeNull();
      expect(codes(r)).toEqual(['BAD_USER_INPUT']);
    });

    test('checks with 999 inputs about someone else, from a user holding no role, is FORBIDDEN', async () => {
      const inputs = Array.from({ length: 999 }, () => ({ userId: ownerId, permission: 'user:manage' }));
      const r = await post({ query: checksQuery, variables: { i: inputs } }, { token: nobodyToken });
      expectClean(r, { errors: 'required' });
      expect(answered(r.json?.data)).toBeNull();
      expect(codes(r)).toEqual(['FORBIDDEN']);
    });

    test('control: checks with a full batch of inputs answers every one', async () => {
      const inputs = Array.from({ length: 1000 }, (_, i) => ({
        userId: i % 2 ? ownerId : nobodyId,
        permission: 'user:manage',
      }));
      const r = await post({ query: checksQuery, variables: { i: inputs } });
      expectClean(r, { errors: 'none' });
      expect(r.json?.data?.checks).toHaveLength(1000);
      expect(r.json?.data?.checks[1]).toEqual({ allowed: true, outcome: 'ALLOW' });
      expect(r.json?.data?.checks[0]).toEqual({ allowed: false, outcome: 'DENY' });
    });

    test.each([
      ['users', '{ users(first: 100000) { edges { node { id } } } }'],
      ['auditLog', '{ auditLog(first: 100000) { edges { node { seq } } } }'],
      ['whoCan', '{ whoCan(permission: "user:manage", first: 100000) { edges { node { id } } } }'],
      [
        'whereCan',
        `{ whereCan(userId: "<owner>", permission: "user:manage", first: 100000) { edges { node { id } } } }`,
      ],
    ])('a page of 100,000 from %s is refused, without saying the limit', async (field, query) => {
      const r = await post({ query: query.replace('<owner>', ownerId) });
      expectClean(r, { errors: 'required' });
      expect(answered(r.json?.data)).toBeNull();
      // Refused by the cost limit (a literal `first` multiplies the cost) or by the page size check.
      expect({ field, codes: codes(r) }).toEqual({
        field,
        codes: [expect.stringMatching(/^(BAD_USER_INPUT|GRAPHQL_VALIDATION_FAILED)$/)],
      });
    });

    test.each([0, -1, -2147483648])('a page size of %i is refused', async (first) => {
      const r = await post({ query: `{ users(first: ${first}) { edges { node { id } } } }` });
      expectClean(r, { errors: 'required' });
      expect(codes(r)).toEqual(['BAD_USER_INPUT']);
    });

    test('a page of 100,000 through a variable is refused the same way', async () => {
      const r = await post({
        query: 'query($n: Int) { users(first: $n) { edges { node { id } } } }',
        variables: { n: 100000 },
      });
      expectClean(r, { errors: 'required' });
      expect(codes(r)).toEqual(['BAD_USER_INPUT']);
    });
  });

  /** Sends every case at once and returns, per case, what came back (each response checked clean). */
  async function run(cases: Case[], tk: string = token) {
    const responses = await Promise.all(
      cases.map((c) => post({ query: c.query, variables: c.variables }, { token: tk })),
    );
    responses.forEach((r) => expectClean(r));
    return responses.map((r, i) => ({
      label: cases[i]!.label,
      data: r.json?.data ?? null,
      codes: codes(r),
    }));
  }
  /** Compact label for a hostile string. */
  const show = (s: string) => JSON.stringify(s.length > 24 ? `${s.slice(0, 12)}…(${s.length})` : s);

  describe('strings built to break the store', () => {
    const SQLISH = [
      "' OR '1'='1",
      "'; DROP TABLE users; --",
      '1 OR 1=1',
      "x'::uuid --",
      '") OR ("a"="a',
      '\\x00\\u0000',
      'ﾟ･✿ヾ╲(｡◕‿◕｡)╱✿･ﾟ',
      '%00%27',
      '${jndi:ldap://x}',
    ];
    const NUL = 'nul\u0000byte';
    const LONG = 'a'.repeat(10 * 1024);
    const STRINGS = [...SQLISH, NUL, LONG];

    test('in ids of reads: nothing found, nothing broken', async () => {
      // Teams are read where someone may view them: JRNI has none (viewTeams left out), Juno's owner may.
      const juno = await newTenant(t, 'juno');
      const got = await run(
        STRINGS.map((s) => ({
          label: show(s),
          query: 'query($id: ID!) { user(id: $id) { id } location(id: $id) { id } }',
          variables: { id: s },
        })),
      );
      const teams = await run(
        STRINGS.map((s) => ({
          label: show(s),
          query: 'query($id: ID!) { team(id: $id) { id members { edges { node { id } } } } }',
          variables: { id: s },
        })),
        juno.ownerToken,
      );
      // Ids longer than an id may be are refused before any work (src/api/limits/input-limits.ts).
      expect(got).toEqual(
        STRINGS.map((s) =>
          s.length > 128
            ? { label: show(s), data: null, codes: ['BAD_USER_INPUT', 'BAD_USER_INPUT'] }
            : { label: show(s), data: { user: null, location: null }, codes: [] },
        ),
      );
      expect(teams).toEqual(
        STRINGS.map((s) =>
          s.length > 128
            ? { label: show(s), data: null, codes: ['BAD_USER_INPUT'] }
            : { label: show(s), data: { team: null }, codes: [] },
        ),
      );
    });

    test('in pagination cursors and parent ids', async () => {
      const got = await run(
        STRINGS.map((s) => ({
          label: show(s),
          query:
            'query($a: String, $p: ID) { users(first: 5, after: $a) { edges { node { id } } } auditLog(first: 2, after: $a) { edges { node { seq } } } locations(parentId: $p) { id } }',
          variables: { a: s, p: s },
        })),
      );
      for (const g of got)
        expect({
          ...g,
          data: null,
          codes: g.codes.filter((c) => c !== 'BAD_USER_INPUT' && c !== 'NOT_FOUND'),
        }).toEqual({ label: g.label, data: null, codes: [] });
    });

    test('in check inputs: DENY with an error for the field that names nothing', async () => {
      const inputs = (s: string) => ({
        userId: { userId: s, permission: 'user:manage' },
        permission: { userId: ownerId, permission: s },
        locationId: { userId: ownerId, permission: 'user:manage', locationId: s },
        atLeastVersion: { userId: ownerId, permission: 'user:manage', atLeastVersion: s },
      });
      const cases = STRINGS.flatMap((s) =>
        Object.entries(inputs(s)).map(([field, i]) => ({
          label: `${field}=${show(s)}`,
          query: 'query($i: CheckInput!) { check(input: $i) { allowed outcome error { code } } }',
          variables: { i },
        })),
      );
      const got = await run(cases);
      // Inputs longer than their limit are refused whole before any work (src/api/limits/input-limits.ts).
      expect(got).toEqual(
        cases.map((c) =>
          c.label.endsWith('(10240)"')
            ? { label: c.label, data: null, codes: ['BAD_USER_INPUT'] }
            : {
                label: c.label,
                data: { check: { allowed: false, outcome: 'DENY', error: { code: expect.any(String) } } },
                codes: [],
              },
        ),
      );
      // Restrictions naming nothing: no error, and the owner's org-wide grant still decides.
      const restricted = await run(
        STRINGS.map((s) => ({
          label: show(s),
          query: 'query($i: CheckInput!) { check(input: $i) { allowed outcome } }',
          variables: {
            i: { userId: nobodyId, permission: 'user:manage', teamIds: [s], groupIds: [s], personId: s },
          },
        })),
      );
      expect(restricted).toEqual(
        STRINGS.map((s) =>
          s.length > 128
            ? { label: show(s), data: null, codes: ['BAD_USER_INPUT', 'BAD_USER_INPUT', 'BAD_USER_INPUT'] }
            : { label: show(s), data: { check: { allowed: false, outcome: 'DENY' } }, codes: [] },
        ),
      );
    });

    test('in explain, capabilities, whoCan and whereCan: an error, not an answer', async () => {
      const cases = STRINGS.flatMap((s) => [
        {
          label: `explain userId=${show(s)}`,
          query: 'query($i: CheckInput!) { explain(input: $i) { outcome } }',
          variables: { i: { userId: s, permission: 'user:manage' } },
        },
        {
          label: `explain permission=${show(s)}`,
          query: 'query($i: CheckInput!) { explain(input: $i) { outcome } }',
          variables: { i: { userId: ownerId, permission: s } },
        },
        {
          label: `capabilities userId=${show(s)}`,
          query: 'query($s: ID) { capabilities(userId: $s) { userId } }',
          variables: { s },
        },
        {
          label: `capabilities locationId=${show(s)}`,
          query: 'query($s: ID) { capabilities(locationId: $s) { userId } }',
          variables: { s },
        },
        {
          label: `whoCan permission=${show(s)}`,
          query: 'query($s: String!) { whoCan(permission: $s) { edges { node { id } } } }',
          variables: { s },
        },
        {
          label: `whoCan locationId=${show(s)}`,
          query:
            'query($s: ID) { whoCan(permission: "user:manage", locationId: $s) { edges { node { id } } } }',
          variables: { s },
        },
        {
          label: `whereCan userId=${show(s)}`,
          query:
            'query($s: ID!) { whereCan(userId: $s, permission: "user:manage") { edges { node { id } } } }',
          variables: { s },
        },
      ]);
      const got = await run(cases);
      expect(unanswered(got)).toEqual(
        cases.map((c) => ({
          label: c.label,
          data: null,
          codes: [expect.stringMatching(/^(BAD_USER_INPUT|NOT_FOUND)$/)],
        })),
      );
    });

    test('in ids and keys of mutations: refused, nothing written', async () => {
      const before = await version();
      const writes = (s: string): Case[] =>
        [
          ['deleteUser', 'UserIdInput', { id: s }],
          ['lockUser', 'UserIdInput', { id: s }],
          ['updateUser', 'UpdateUserInput', { id: s, name: 'x' }],
          ['deleteLocation', 'LocationIdInput', { id: s }],
          ['moveLocation', 'MoveLocationInput', { id: s, parentId: null }],
          ['createLocation', 'CreateLocationInput', { name: 'child', parentId: s }],
          ['revokeAssignment', 'RevokeAssignmentInput', { id: s }],
          ['assignRole', 'AssignRoleInput', { userId: s, role: 'owner' }],
          ['assignRole', 'AssignRoleInput', { userId: nobodyId, role: s }],
          ['assignRole', 'AssignRoleInput', { userId: nobodyId, role: 'owner', locationId: s }],
          ['setUserFlags', 'SetUserFlagsInput', { userId: s, flags: [] }],
          ['setUserFlags', 'SetUserFlagsInput', { userId: nobodyId, flags: [s] }],
          ['createRole', 'CreateRoleInput', { key: 'k1', name: 'n', kind: 'ORG', grants: [s] }],
          ['createRole', 'CreateRoleInput', { key: 'k2', name: 'n', kind: 'ORG', grants: [], inherits: [s] }],
          ['updateRole', 'UpdateRoleInput', { key: s, name: 'n', grants: [] }],
          ['deleteRole', 'RoleKeyInput', { key: s }],
          ['undeleteRole', 'RoleKeyInput', { key: s }],
          ['cloneRole', 'CloneRoleInput', { key: s, newKey: 'k3' }],
          ['transferOwnership', 'TransferOwnershipInput', { toUserId: s }],
        ].map(([field, type, input]) => ({
          label: `${field} ${JSON.stringify(input).replace(s, '<s>')} s=${show(s)}`,
          query: `mutation($i: ${type}!) { ${field}(input: $i) { version } }`,
          variables: { i: input },
        }));
      const cases = STRINGS.flatMap(writes);
      const got = await run(cases);
      expect(got).toEqual(
        cases.map((c) => ({
          label: c.label,
          data: null,
          codes: [expect.stringMatching(/^(BAD_USER_INPUT|NOT_FOUND)$/)],
        })),
      );
      expect(await version()).toBe(before);
    });

    test('as new keys and names: stored exactly as given, or refused as bad input', async () => {
      const cases = [...SQLISH, 'b'.repeat(10 * 1024)].flatMap((s, i) => [
        {
          label: `createLocation name=${show(s)}`,
          query: 'mutation($i: CreateLocationInput!) { createLocation(input: $i) { location { name } } }',
          variables: { i: { name: s } },
          want: s,
          stored: (d: any) => d?.createLocation?.location?.name,
        },
        {
          label: `createUser name=${show(s)}`,
          query: 'mutation($i: CreateUserInput!) { createUser(input: $i) { user { name } } }',
          variables: { i: { email: `s${i}@example.com`, name: s } },
          want: s,
          stored: (d: any) => d?.createUser?.user?.name,
        },
        {
          label: `createRole key=${show(s)}`,
          query: 'mutation($i: CreateRoleInput!) { createRole(input: $i) { role { key } } }',
          variables: { i: { key: s, name: 'n', kind: 'LOCATION', grants: [] } },
          want: s,
          stored: (d: any) => d?.createRole?.role?.key,
        },
        {
          label: `createRole name=${show(s)}`,
          query: 'mutation($i: CreateRoleInput!) { createRole(input: $i) { role { name } } }',
          variables: { i: { key: `named_${i}`, name: s, kind: 'LOCATION', grants: [] } },
          want: s,
          stored: (d: any) => d?.createRole?.role?.name,
        },
      ]);
      const responses = await Promise.all(cases.map((c) => post({ query: c.query, variables: c.variables })));
      responses.forEach((r) => expectClean(r));
      const got = responses.map((r, i) => {
        const stored = cases[i]!.stored(r.json?.data);
        // Stored: exactly as given. Refused: as bad input, and then nothing stored.
        const ok = stored !== undefined ? stored === cases[i]!.want : codes(r).join() === 'BAD_USER_INPUT';
        return { label: cases[i]!.label, ok, codes: codes(r) };
      });
      expect(got).toEqual(cases.map((c) => ({ label: c.label, ok: true, codes: expect.any(Array) })));
      // And the organization still reads.
      const alive = await post({
        query: '{ users(first: 100) { edges { node { id name } } } locations { name } }',
      });
      expectClean(alive, { errors: 'none' });
      expect(
        alive.json?.data?.users.edges.map((e: { node: { name: string | null } }) => e.node.name),
      ).toEqual(expect.arrayContaining(SQLISH));
    });

    test('10 KB of random text in indexed fields (email, team name): stored or refused, never a store error', async () => {
      // Incompressible, so a unique index on the column cannot hold it if the gateway lets it through.
      const random = () =>
        randomBytes(7 * 1024)
          .toString('base64url')
          .slice(0, 10 * 1024);
      const juno = await newTenant(t, 'juno');
      const got = [
        ...(await run([
          {
            label: 'createUser email',
            query: 'mutation($i: CreateUserInput!) { createUser(input: $i) { user { id } } }',
            variables: { i: { email: `${random()}@example.com` } },
          },
        ])),
        ...(await run(
          [
            {
              label: 'createTeam name',
              query: 'mutation($i: CreateTeamInput!) { createTeam(input: $i) { team { id } } }',
              variables: { i: { name: random() } },
            },
            {
              label: 'createUser email (juno)',
              query: 'mutation($i: CreateUserInput!) { createUser(input: $i) { user { id } } }',
              variables: { i: { email: `${random()}@example.com`, roles: ['member'] } },
            },
          ],
          juno.ownerToken,
        )),
      ];
      for (const g of got)
        expect({ label: g.label, codes: g.codes.filter((c) => c !== 'BAD_USER_INPUT') }).toEqual({
          label: g.label,
          codes: [],
        });
    });

    test('a NUL byte in any free-text field is refused as bad input, never a store error', async () => {
      const before = await version();
      const cases: Case[] = [
        ['createLocation', 'CreateLocationInput', { name: NUL }, 'location { id }'],
        ['createUser', 'CreateUserInput', { email: 'nul@example.com', name: NUL }, 'user { id }'],
        ['createUser', 'CreateUserInput', { email: `${NUL}@example.com` }, 'user { id }'],
        ['updateUser', 'UpdateUserInput', { id: nobodyId, name: NUL }, 'user { id }'],
        ['createRole', 'CreateRoleInput', { key: NUL, name: 'n', kind: 'ORG', grants: [] }, 'role { key }'],
        [
          'createRole',
          'CreateRoleInput',
          { key: 'nul_name', name: NUL, kind: 'ORG', grants: [] },
          'role { key }',
        ],
        [
          'createRole',
          'CreateRoleInput',
          { key: 'nul_desc', name: 'n', description: NUL, kind: 'ORG', grants: [] },
          'role { key }',
        ],
        ['cloneRole', 'CloneRoleInput', { key: 'owner', newKey: NUL }, 'role { key }'],
        ['cloneRole', 'CloneRoleInput', { key: 'owner', newKey: 'nul_clone', name: NUL }, 'role { key }'],
      ].map(([field, type, input, select]) => ({
        label: `${field} ${JSON.stringify(input)}`,
        query: `mutation($i: ${type}!) { ${field}(input: $i) { ${select} version } }`,
        variables: { i: input },
      }));
      const got = [];
      // One at a time: each outcome on its own.
      for (const c of cases) got.push(...(await run([c])));
      expect(got).toEqual(cases.map((c) => ({ label: c.label, data: null, codes: ['BAD_USER_INPUT'] })));
      expect(await version()).toBe(before);
    });
  });

  describe('prototype keys', () => {
    const KEYS = [
      '__proto__',
      'constructor',
      'prototype',
      'toString',
      'hasOwnProperty',
      '__proto__:__proto__',
      'constructor:prototype',
      'user:__proto__',
      '__proto__:manage',
      'tool:__proto__',
      'tool:constructor',
      'tool:toString',
      'page:__proto__',
      'page:constructor',
      'nav:__proto__',
      'nav:hasOwnProperty',
    ];

    test('as permission names in checks: DENY with an error, for the owner and for oneself', async () => {
      for (const [tk, userId] of [
        [token, ownerId],
        [nobodyToken, nobodyId],
      ] as const) {
        const r = await post(
          {
            query: 'query($i: [CheckInput!]!) { checks(inputs: $i) { allowed outcome error { code } } }',
            variables: { i: KEYS.map((permission) => ({ userId, permission })) },
          },
          { token: tk },
        );
        expectClean(r, { errors: 'none' });
        const got = (r.json?.data?.checks ?? []) as unknown[];
        expect(got.map((d, i) => ({ permission: KEYS[i], d }))).toEqual(
          KEYS.map((permission) => ({
            permission,
            d: { allowed: false, outcome: 'DENY', error: { code: 'BAD_USER_INPUT' } },
          })),
        );
      }
    });

    test('as permission names in explain, capabilities, whoCan and whereCan', async () => {
      const cases = KEYS.flatMap((p) => [
        {
          label: `explain ${p}`,
          query: 'query($i: CheckInput!) { explain(input: $i) { outcome } }',
          variables: { i: { userId: ownerId, permission: p } },
        },
        {
          label: `whoCan ${p}`,
          query: 'query($p: String!) { whoCan(permission: $p) { edges { node { id } } } }',
          variables: { p },
        },
        {
          label: `whereCan ${p}`,
          query:
            'query($p: String!, $u: ID!) { whereCan(userId: $u, permission: $p) { edges { node { id } } } }',
          variables: { p, u: ownerId },
        },
      ]);
      const got = await run(cases);
      expect(unanswered(got)).toEqual(
        cases.map((c) => ({ label: c.label, data: null, codes: ['BAD_USER_INPUT'] })),
      );
      // And as ids: nothing found.
      const ids = await run(
        KEYS.map((k) => ({
          label: k,
          query: 'query($k: ID) { capabilities(teamId: $k) { permissions } locations(parentId: $k) { id } }',
          variables: { k },
        })),
      );
      for (const g of ids)
        expect(g.codes.filter((c) => c !== 'NOT_FOUND' && c !== 'BAD_USER_INPUT')).toEqual([]);
    });

    test('as grants, inherits, role keys, tools and flags: refused, nothing written', async () => {
      const before = await version();
      const cases = KEYS.flatMap((k): Case[] =>
        [
          ['createRole', 'CreateRoleInput', { key: 'proto_r', name: 'n', kind: 'ORG', grants: [k] }],
          [
            'createRole',
            'CreateRoleInput',
            { key: 'proto_i', name: 'n', kind: 'ORG', grants: [], inherits: [k] },
          ],
          ['assignRole', 'AssignRoleInput', { userId: nobodyId, role: k }],
          ['cloneRole', 'CloneRoleInput', { key: k, newKey: 'proto_c' }],
          ['deleteRole', 'RoleKeyInput', { key: k }],
          ['updateRole', 'UpdateRoleInput', { key: k, name: 'n', grants: [] }],
          ['setUserFlags', 'SetUserFlagsInput', { userId: nobodyId, flags: [k] }],
        ].map(([field, type, input]) => ({
          label: `${field} ${JSON.stringify(input)}`,
          query: `mutation($i: ${type}!) { ${field}(input: $i) { version } }`,
          variables: { i: input },
        })),
      );
      const got = await run(cases);
      expect(got).toEqual(
        cases.map((c) => ({
          label: c.label,
          data: null,
          codes: [expect.stringMatching(/^(BAD_USER_INPUT|NOT_FOUND)$/)],
        })),
      );
      expect(await version()).toBe(before);
    });

    test('as keys of the JSON body and of variables (no prototype pollution)', async () => {
      const body =
        '{"query": "query($i: CheckInput!) { check(input: $i) { allowed outcome } }", "__proto__": {"query": "{ users { edges { node { id } } } }"}, ' +
        '"variables": {"i": {"userId": "' +
        nobodyId +
        '", "permission": "user:manage", "__proto__": {"permission": "user:manage", "allowed": true}}, "__proto__": {"polluted": 1}, "constructor": {"prototype": {"polluted": 1}}}}';
      const r = await post(body);
      expectClean(r);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      if (r.json?.data) expect(r.json.data.check).toEqual({ allowed: false, outcome: 'DENY' });
      // The gateway still answers normally afterwards.
      const after = await post({ query: '{ viewer { id } }' }, { token: nobodyToken });
      expectClean(after, { errors: 'none' });
      expect(after.json?.data?.viewer.id).toBe(nobodyId);
    });
  });

  describe('unknown ids and malformed uuids', () => {
    const UNKNOWN = randomUUID();
    const MALFORMED = [
      'not-a-uuid',
      '00000000-0000-0000-0000-00000000000g',
      `${randomUUID()}0`,
      ` ${randomUUID()}`,
      randomUUID().toUpperCase().replace(/-/g, ''),
      '{}',
    ];
    const IDS = [UNKNOWN, ...MALFORMED];

    test('reads of one object: null', async () => {
      const got = await run(
        IDS.map((id) => ({
          label: id,
          query: 'query($id: ID!) { user(id: $id) { id } location(id: $id) { id } }',
          variables: { id },
        })),
      );
      expect(got).toEqual(IDS.map((id) => ({ label: id, data: { user: null, location: null }, codes: [] })));
      // Teams: as Juno's owner (JRNI has no teams, and nobody there may view them).
      const juno = await newTenant(t, 'juno');
      const teams = await run(
        IDS.map((id) => ({
          label: id,
          query: 'query($id: ID!) { team(id: $id) { id } }',
          variables: { id },
        })),
        juno.ownerToken,
      );
      expect(teams).toEqual(IDS.map((id) => ({ label: id, data: { team: null }, codes: [] })));
      const jrni = await run([
        { label: UNKNOWN, query: 'query($id: ID!) { team(id: $id) { id } }', variables: { id: UNKNOWN } },
      ]);
      expect(jrni).toEqual([{ label: UNKNOWN, data: { team: null }, codes: ['FORBIDDEN'] }]);
    });

    test('an id of another organization reads as null, and cannot be checked or written', async () => {
      const other = await newTenant(t, 'jrni');
      const location = (
        await t.store.locations.create({ orgId: other.orgId, actor: 'test' }, { name: 'theirs' })
      ).result;
      const [otherBefore] = await t.store.organizations.versions([other.orgId]);
      const got = await run([
        {
          label: 'user',
          query: 'query($id: ID!) { user(id: $id) { id email } }',
          variables: { id: other.ownerId },
        },
        {
          label: 'location',
          query: 'query($id: ID!) { location(id: $id) { id name } }',
          variables: { id: location.id },
        },
        {
          label: 'check',
          query: 'query($i: CheckInput!) { check(input: $i) { allowed error { code } } }',
          variables: { i: { userId: other.ownerId, permission: 'user:manage' } },
        },
        {
          label: 'lockUser',
          query: 'mutation($i: UserIdInput!) { lockUser(input: $i) { version } }',
          variables: { i: { id: other.ownerId } },
        },
        {
          label: 'deleteLocation',
          query: 'mutation($i: LocationIdInput!) { deleteLocation(input: $i) { version } }',
          variables: { i: { id: location.id } },
        },
      ]);
      expect(got).toEqual([
        { label: 'user', data: { user: null }, codes: [] },
        { label: 'location', data: { location: null }, codes: [] },
        { label: 'check', data: { check: { allowed: false, error: { code: 'NOT_FOUND' } } }, codes: [] },
        { label: 'lockUser', data: null, codes: ['NOT_FOUND'] },
        { label: 'deleteLocation', data: null, codes: ['NOT_FOUND'] },
      ]);
      expect((await t.store.organizations.versions([other.orgId]))[0]).toBe(otherBefore);
    });

    test('checks: DENY with NOT_FOUND for an unknown user or location', async () => {
      const r = await post({
        query: 'query($i: [CheckInput!]!) { checks(inputs: $i) { allowed outcome error { code } } }',
        variables: {
          i: IDS.flatMap((id) => [
            { userId: id, permission: 'user:manage' },
            { userId: ownerId, permission: 'user:manage', locationId: id },
          ]),
        },
      });
      expectClean(r, { errors: 'none' });
      expect(r.json?.data?.checks).toEqual(
        IDS.flatMap(() => [
          { allowed: false, outcome: 'DENY', error: { code: 'NOT_FOUND' } },
          { allowed: false, outcome: 'DENY', error: { code: 'NOT_FOUND' } },
        ]),
      );
    });

    test('explain and capabilities: NOT_FOUND', async () => {
      const cases = IDS.flatMap((id) => [
        {
          label: `explain userId ${id}`,
          query: 'query($i: CheckInput!) { explain(input: $i) { outcome } }',
          variables: { i: { userId: id, permission: 'user:manage' } },
        },
        {
          label: `explain locationId ${id}`,
          query: 'query($i: CheckInput!) { explain(input: $i) { outcome } }',
          variables: { i: { userId: ownerId, permission: 'user:manage', locationId: id } },
        },
        {
          label: `capabilities userId ${id}`,
          query: 'query($id: ID) { capabilities(userId: $id) { userId } }',
          variables: { id },
        },
        {
          label: `capabilities locationId ${id}`,
          query: 'query($id: ID) { capabilities(locationId: $id) { userId } }',
          variables: { id },
        },
      ]);
      const got = await run(cases);
      expect(unanswered(got)).toEqual(
        cases.map((c) => ({ label: c.label, data: null, codes: ['NOT_FOUND'] })),
      );
    });

    test('an empty id is bad input or not found, never an answer about the viewer', async () => {
      const got = await run([
        { label: 'capabilities', query: '{ capabilities(userId: "") { userId } }' },
        {
          label: 'explain',
          query: '{ explain(input: {userId: "", permission: "user:manage"}) { outcome } }',
        },
        {
          label: 'whereCan',
          query: '{ whereCan(userId: "", permission: "user:manage") { edges { node { id } } } }',
        },
      ]);
      for (const g of got)
        expect({ ...g, data: answered(g.data) }).toEqual({
          label: g.label,
          data: null,
          codes: [expect.stringMatching(/^(BAD_USER_INPUT|NOT_FOUND)$/)],
        });
    });

    test('writes naming an unknown or malformed id: NOT_FOUND, nothing written', async () => {
      const before = await version();
      const cases = IDS.flatMap((id): Case[] =>
        [
          ['deleteUser', 'UserIdInput', { id }],
          ['undeleteUser', 'UserIdInput', { id }],
          ['unlockUser', 'UserIdInput', { id }],
          ['deleteLocation', 'LocationIdInput', { id }],
          ['moveLocation', 'MoveLocationInput', { id, parentId: null }],
          ['createLocation', 'CreateLocationInput', { name: 'child', parentId: id }],
          ['revokeAssignment', 'RevokeAssignmentInput', { id }],
          ['assignRole', 'AssignRoleInput', { userId: id, role: 'owner' }],
          ['assignRole', 'AssignRoleInput', { userId: nobodyId, role: 'owner', locationId: id }],
          ['transferOwnership', 'TransferOwnershipInput', { toUserId: id }],
        ].map(([field, type, input]) => ({
          label: `${field} ${JSON.stringify(input)}`,
          query: `mutation($i: ${type}!) { ${field}(input: $i) { version } }`,
          variables: { i: input },
        })),
      );
      const got = await run(cases);
      expect(got).toEqual(
        cases.map((c) => ({
          label: c.label,
          data: null,
          codes: [expect.stringMatching(/^(NOT_FOUND|BAD_USER_INPUT)$/)],
        })),
      );
      expect(await version()).toBe(before);
    });
  });
});
