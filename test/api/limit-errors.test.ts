import { newTenant, startTestGateway, type TestGateway } from '../support/gateway';
import { liveClient } from '../support/ws-client';

/**
 * Every request limit answers with what kind of limit it passed, never its value (issue 13): a
 * message naming the kind, `extensions.code` BAD_USER_INPUT and `extensions.limit` the kind, a 4xx,
 * nothing executed, nothing logged as unexpected, and not one digit in the message or extensions.
 */

interface LimitAnswer {
  status: number;
  body: { data?: unknown; errors?: { message: string; extensions?: Record<string, unknown> }[] };
}

const nested = (levels: number) => {
  let inner = 'id';
  for (let i = levels; i > 1; i--) inner = i % 2 === 0 ? `assignments { ${inner} }` : `user { ${inner} }`;
  return `{ viewer { ${inner} } }`;
};
const page = 'edges { node { id email assignments { id role } } }';

/** One request per kind, each over that limit alone (and within every other). */
const CASES: [kind: string, message: RegExp, request: () => Record<string, unknown>][] = [
  ['depth', /nested too deeply/, () => ({ query: nested(14) })],
  [
    'aliases',
    /^too many aliases in this operation/,
    () => ({ query: `{ ${Array.from({ length: 31 }, (_, i) => `a${i}: viewer { id }`).join(' ')} }` }),
  ],
  [
    'directives',
    /^too many directives/,
    () => ({ query: `{ viewer { ${'id @include(if: true) '.repeat(21)}} }` }),
  ],
  ['tokens', /too many tokens/, () => ({ query: `{ viewer { ${'id '.repeat(20_001)}} }` })],
  [
    'cost',
    /^the operation is too costly/,
    () => ({ query: `{ a: users(first: 500) { ${page} } b: users(first: 500) { ${page} } }` }),
  ],
  [
    'decisions',
    /^too many decisions in one request/,
    () => ({
      query: 'query($i: [CheckInput!]!) { checks(inputs: $i) { allowed } }',
      variables: { i: Array.from({ length: 1001 }, () => ({ userId: 'x', permission: 'user:manage' })) },
    }),
  ],
  [
    'expensiveFields',
    /^too many whoCan, whereCan, users, approvalRequests fields in one request/,
    () => ({
      query: `{ a: users(first: 1) { edges { cursor } } b: users(first: 1) { edges { cursor } } c: users(first: 1) { edges { cursor } } }`,
    }),
  ],
];

describe('limit errors name the kind of limit, never its value', () => {
  let t: TestGateway;
  let token: string;

  beforeAll(async () => {
    t = await startTestGateway('pglite');
    token = (await newTenant(t, 'jrni')).ownerToken;
  });
  afterAll(() => t?.close());
  afterEach(() => expect(t.logged.splice(0)).toEqual([]));

  async function post(body: unknown): Promise<LimitAnswer> {
    const res = await fetch(t.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as LimitAnswer['body'] };
  }

  function expectLimit(r: LimitAnswer, kind: string, message: RegExp, status = 400) {
    expect(r.status).toBe(status);
    expect(r.body.data ?? null).toBeNull();
    const errors = r.body.errors ?? [];
    expect(errors.map((e) => e.extensions)).toEqual([{ code: 'BAD_USER_INPUT', limit: kind }]);
    expect(errors[0]!.message).toMatch(message);
    // Not one digit: no limit, no count found, in any notation.
    expect(`${errors[0]!.message} ${JSON.stringify(errors[0]!.extensions)}`).not.toMatch(/\d/);
  }

  test.each(CASES)('%s', async (kind, message, request) => {
    expectLimit(await post(request()), kind, message);
  });

  test('body: HTTP 413', async () => {
    const r = await post({
      query: '{ viewer { id } }',
      variables: { pad: 'x'.repeat(2 * 1024 * 1024 + 10) },
    });
    expectLimit(r, 'body', /^the request body is too large$/, 413);
  });

  test('control: just within each document limit, the request answers', async () => {
    for (const query of [
      nested(10),
      `{ ${Array.from({ length: 30 }, (_, i) => `a${i}: viewer { id }`).join(' ')} }`,
      `{ viewer { ${'id @include(if: true) '.repeat(20)}} }`,
      `{ a: users(first: 5) { ${page} } b: users(first: 5) { ${page} } }`,
    ]) {
      const r = await post({ query });
      expect({ query: query.slice(0, 60), errors: r.body.errors }).toEqual({
        query: query.slice(0, 60),
        errors: undefined,
      });
    }
  });

  test('over WebSocket, a subscription over a limit is refused the same way', async () => {
    const c = liveClient(t.url.replace(/^http/, 'ws'), { authorization: `Bearer ${token}` });
    try {
      await c.connected;
      const sub = c.subscribe(
        `subscription { ${Array.from({ length: 31 }, (_, i) => `a${i}: approvalRequestChanged { id }`).join(' ')} }`,
      );
      await sub.ended;
      const errors = sub.error as { message: string; extensions?: Record<string, unknown> }[];
      expect(errors.map((e) => e.extensions)).toContainEqual({ code: 'BAD_USER_INPUT', limit: 'aliases' });
      for (const e of errors) expect(`${e.message} ${JSON.stringify(e.extensions)}`).not.toMatch(/\d/);
    } finally {
      await c.dispose();
    }
  });
});
