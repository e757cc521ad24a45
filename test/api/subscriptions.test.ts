import { liveOptions } from '../../src/api/live/options';
import { gql, newTenant, testRedisUrl } from '../support/gateway';
import {
  liveClient,
  rawSocket,
  shortToken,
  startLiveGateway,
  type Closed,
  type LiveClient,
  type LiveSubscription,
} from '../support/ws-client';

/**
 * GraphQL subscriptions over WebSocket (graphql-ws), black-box, on real gateways: the connection's
 * authentication, HTTP's refusal, the same checks as HTTP on every document, the bounds, credentials
 * revoked while connected, shutdown; then approvals live, on one gateway and across two replicas
 * sharing PostgreSQL and Redis.
 */

/** What the tests' gateways allow: small, and checked again often, so that the tests are quick. */
const LIVE = { recheckMs: 200, connectionInitTimeoutMs: 400, maxSubscriptionsPerConnection: 3 };
/** How long a revoked credential may keep its connection: a re-check interval, and room for CI. */
const REVOKED_WITHIN_MS = LIVE.recheckMs * 5;

const STACK = /\n\s+at |\bat [\w.<>]+ \(|\.ts:\d|\.js:\d|node_modules/m;
/** The live bounds (and the HTTP ones of hostile.test.ts), however written: never told to a client. */
const LIMIT_NUMBERS =
  /\b(3|12|20|30|400|1000|1,000|10000|10,000|20000|20,000|65536|64\s?KiB|200)\b|\b2\s?MiB\b|\b(5|10|12)\s?s\b/i;

const INBOX = 'subscription { approvalRequestChanged { id status decidedBy { id } } }';
const ONE = 'subscription($id: ID) { approvalRequestChanged(id: $id) { id status decidedBy { id } } }';

type Started = Awaited<ReturnType<typeof startLiveGateway>>;

const open: LiveClient[] = [];
function connect(t: Started, params?: Record<string, unknown>, headers?: Record<string, string>) {
  const c = liveClient(t.wsUrl, params, { headers });
  open.push(c);
  return c;
}
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.dispose()));
});

/** Resolves with what settles first: the promise's value, or 'timeout' after `ms`. */
function within<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  return Promise.race([promise, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms))]);
}

/** The errors a subscription ended with (an `error` message's list), checked to be clean. */
function errorsOf(sub: LiveSubscription): { message: string; extensions?: Record<string, unknown> }[] {
  const errors = sub.error as { message: string; extensions?: Record<string, unknown> }[];
  expect(Array.isArray(errors)).toBe(true);
  for (const e of errors) {
    expect({ code: typeof e.extensions?.code, error: e }).toEqual({ code: 'string', error: e });
    expect(JSON.stringify(e)).not.toMatch(STACK);
    expect(JSON.stringify(e)).not.toMatch(/stacktrace|exception/i);
    expect(`${e.message} ${JSON.stringify(e.extensions)}`).not.toMatch(LIMIT_NUMBERS);
  }
  return errors;
}

function expectCleanClose(closed: Closed | 'timeout', code: number, reason?: RegExp) {
  expect(closed).not.toBe('timeout');
  const c = closed as Closed;
  expect(c.code).toBe(code);
  if (reason) expect(c.reason).toMatch(reason);
  expect(c.reason).not.toMatch(STACK);
}

describe('the live transport (one gateway, embedded store)', () => {
  let t: Started;
  let tenant: Awaited<ReturnType<typeof newTenant>>;
  beforeAll(async () => {
    t = await startLiveGateway('pglite', LIVE);
    tenant = await newTenant(t, 'junto');
  });
  afterAll(async () => {
    await t?.close();
  });
  afterEach(() => expect(t.logged).toEqual([]));

  describe('authentication: connection_init, like an HTTP request', () => {
    test.each([
      ['no credentials', undefined, /missing credentials/],
      ['a token that is not one', { authorization: 'Bearer not-a-token' }, /^invalid token$/],
      ['no Bearer', { authorization: 'Basic dXNlcjpwYXNz' }, /malformed Authorization/],
      ['a number for authorization', { authorization: 42 }, /malformed connection_init payload/],
      [
        'an unknown API key',
        { authorization: `Bearer rgk_${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}_x` },
        /invalid API key/,
      ],
    ])('%s: closed 4401, saying why', async (_name, params, reason) => {
      const c = connect(t, params as Record<string, unknown> | undefined);
      expectCleanClose(await within(c.closed, 5_000), 4401, reason);
    });

    test('a locked user, and a deleted one, are refused at connection_init', async () => {
      const ctx = { orgId: tenant.orgId, actor: 'test' };
      const locked = (await t.store.users.create(ctx, { email: `locked-${Date.now()}@example.com` })).result;
      const gone = (await t.store.users.create(ctx, { email: `gone-${Date.now()}@example.com` })).result;
      await t.store.users.lock(ctx, locked.id);
      await t.store.users.delete(ctx, gone.id);
      const a = connect(t, bearer(await t.token(tenant.orgId, locked.id)));
      const b = connect(t, bearer(await t.token(tenant.orgId, gone.id)));
      expectCleanClose(await within(a.closed, 5_000), 4401, /locked/);
      expectCleanClose(await within(b.closed, 5_000), 4401, /does not exist/);
    });

    test('the token may come as Authorization in the payload, or in the upgrade request', async () => {
      const capital = connect(t, { Authorization: `Bearer ${tenant.ownerToken}` });
      const header = connect(t, undefined, { authorization: `Bearer ${tenant.ownerToken}` });
      expect(await within(capital.connected, 5_000)).not.toBe('timeout');
      expect(await within(header.connected, 5_000)).not.toBe('timeout');
    });

    test('a socket that never sends connection_init is closed 4408', async () => {
      const s = rawSocket(t.wsUrl);
      await s.opened;
      expectCleanClose(await within(s.closed, 5_000), 4408);
    });

    test('a subscribe before the acknowledgement is refused 4401', async () => {
      const s = rawSocket(t.wsUrl);
      await s.opened;
      s.send({ id: '1', type: 'subscribe', payload: { query: INBOX } });
      expectCleanClose(await within(s.closed, 5_000), 4401);
    });

    test('a client without the graphql-transport-ws subprotocol is closed 4406', async () => {
      const s = rawSocket(t.wsUrl, []);
      expectCleanClose(await within(s.closed, 5_000), 4406);
    });

    test('a client of the old subscriptions-transport-ws protocol never gets a socket', async () => {
      // The handshake selects none of the subprotocols it asked for: the client fails it (1006).
      const s = rawSocket(t.wsUrl, 'graphql-ws');
      await expect(s.opened).rejects.toThrow();
      expect((await s.closed).code).toBe(1006);
    });

    test('an upgrade to another path is refused before any WebSocket', async () => {
      const s = rawSocket(t.wsUrl.replace('/graphql', '/other'));
      await expect(s.opened).rejects.toThrow(/404/);
    });
  });

  describe('over HTTP', () => {
    test('a subscription is a client error saying where they are served, never a 500', async () => {
      const r = await gql(t.url, tenant.ownerToken, INBOX);
      expect(r.status).toBe(400);
      expect(r.errors).toEqual([
        {
          message: 'subscriptions are served over WebSocket at /graphql (graphql-ws)',
          extensions: { code: 'BAD_REQUEST' },
        },
      ]);
      expect(r.raw).not.toMatch(STACK);
    });

    test('without credentials: UNAUTHENTICATED first', async () => {
      const r = await gql(t.url, null, INBOX);
      expect(r.status).toBe(401);
      expect(r.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    });

    test('a document holding a query and a subscription runs the query it names', async () => {
      const r = await (
        await fetch(t.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${tenant.ownerToken}` },
          body: JSON.stringify({
            query: `query Q { viewer { id } } ${INBOX.replace('subscription', 'subscription S')}`,
            operationName: 'Q',
          }),
        })
      ).json();
      expect(r).toEqual({ data: { viewer: { id: tenant.ownerId } } });
    });
  });

  describe('every document is checked as over HTTP', () => {
    const deep = `subscription { approvalRequestChanged { subject { ${'assignments { user { '.repeat(8)}id${' } }'.repeat(8)} } } }`;
    const aliased = `subscription { approvalRequestChanged { ${Array.from({ length: 40 }, (_, i) => `a${i}: id`).join(' ')} } }`;
    const directives = `subscription { approvalRequestChanged { ${'id @include(if: true) '.repeat(25)} } }`;
    const tokens = `subscription { approvalRequestChanged { ${'a '.repeat(21_000)} } }`;
    const longInput = `subscription { approvalRequestChanged { approvers(after: "${'x'.repeat(300)}") { edges { node { id } } } } }`;

    test.each([
      // Limits name their kind in extensions.limit (test/api/limit-errors.test.ts).
      ['too deep', 'BAD_USER_INPUT', deep],
      ['too many aliases', 'BAD_USER_INPUT', aliased],
      ['too many directives', 'BAD_USER_INPUT', directives],
      ['too many tokens', 'BAD_USER_INPUT', tokens],
      ['a syntax error', 'GRAPHQL_PARSE_FAILED', 'subscription { approvalRequestChanged { id }'],
      [
        'an unknown field',
        'GRAPHQL_VALIDATION_FAILED',
        'subscription { approvalRequestChanged { id password } }',
      ],
      [
        'two root fields',
        'GRAPHQL_VALIDATION_FAILED',
        'subscription { a: approvalRequestChanged { id } b: approvalRequestChanged { id } }',
      ],
      ['an input over its length', 'BAD_USER_INPUT', longInput],
      ['a query', 'BAD_REQUEST', '{ viewer { id } }'],
      ['a mutation', 'BAD_REQUEST', 'mutation { createLocation(input: {name: "over ws"}) { version } }'],
    ])('%s: an error message with %s; the connection stays open', async (_name, code, query) => {
      const c = connect(t, bearer(tenant.ownerToken));
      const s = c.subscribe(query);
      await within(s.ended, 5_000);
      const errors = errorsOf(s);
      expect(errors.map((e) => e.extensions?.code)).toContain(code);
      expect(errors.every((e) => e.extensions?.code === code)).toBe(true);
      expect(await within(c.closed, 100)).toBe('timeout');
    });

    test('an operation name the document lacks: BAD_REQUEST', async () => {
      // graphql-ws's client sends no operationName: by hand.
      const s = rawSocket(t.wsUrl);
      await s.opened;
      s.send({ type: 'connection_init', payload: bearer(tenant.ownerToken) });
      await s.message('connection_ack');
      s.send({ id: '1', type: 'subscribe', payload: { query: INBOX, operationName: 'Nope' } });
      const error = await s.message('error');
      expect(error.payload).toEqual([
        { message: 'Unknown operation named "Nope".', extensions: { code: 'BAD_REQUEST' } },
      ]);
      s.socket.close();
    });

    test('nothing sent over WebSocket writes', async () => {
      const before = (await gql(t.url, tenant.ownerToken, '{ organization { version } }')).data!.organization
        .version;
      const c = connect(t, bearer(tenant.ownerToken));
      const s = c.subscribe('mutation { createLocation(input: {name: "over ws"}) { version } }');
      await within(s.ended, 5_000);
      const after = (await gql(t.url, tenant.ownerToken, '{ organization { version } }')).data!.organization
        .version;
      expect(after).toBe(before);
    });

    test('a message over the size limit closes the socket 1009', async () => {
      const s = rawSocket(t.wsUrl);
      await s.opened;
      s.send({ type: 'connection_init', payload: bearer(tenant.ownerToken) });
      await s.message('connection_ack');
      s.send({ id: '1', type: 'subscribe', payload: { query: `subscription { ${'a'.repeat(70_000)} }` } });
      expectCleanClose(await within(s.closed, 5_000), 1009);
    });

    test('a message that is not the protocol closes the socket 4400', async () => {
      const s = rawSocket(t.wsUrl);
      await s.opened;
      s.send('{"type":"connection_init"');
      expectCleanClose(await within(s.closed, 5_000), 4400);
    });
  });

  describe('credentials that stop working close the connection', () => {
    test('a revoked API key: closed 4403 within the re-check interval', async () => {
      const { result } = await t.store.apiKeys.create(
        { orgId: tenant.orgId, actor: 'test' },
        { name: 'agent', scopes: ['approvals:request'] },
      );
      const c = connect(t, bearer(result.token));
      await c.connected;
      const s = c.subscribe(INBOX);
      expect(await within(c.closed, LIVE.recheckMs * 3)).toBe('timeout');
      const revokedAt = Date.now();
      await t.store.db.query('UPDATE api_keys SET revoked_at = now() WHERE id = $1', [result.key.id]);
      expectCleanClose(
        await within(c.closed, REVOKED_WITHIN_MS),
        4403,
        /no longer accepted: invalid API key/,
      );
      expect(Date.now() - revokedAt).toBeLessThan(REVOKED_WITHIN_MS);
      await within(s.ended, 1_000);
      expect(s.completed).toBe(false);
      expect(s.results.filter((r) => r.data)).toEqual([]);
      // Reconnecting with it is refused at once.
      expectCleanClose(await within(connect(t, bearer(result.token)).closed, 5_000), 4401, /invalid API key/);
    });

    test('a locked user, and a deleted one: closed 4403, saying why', async () => {
      const ctx = { orgId: tenant.orgId, actor: 'test' };
      const u = (
        await t.store.users.create(ctx, {
          email: `soon-locked-${Date.now()}@example.com`,
          roles: ['operator'],
        })
      ).result;
      const v = (
        await t.store.users.create(ctx, { email: `soon-gone-${Date.now()}@example.com`, roles: ['operator'] })
      ).result;
      const a = connect(t, bearer(await t.token(tenant.orgId, u.id)));
      const b = connect(t, bearer(await t.token(tenant.orgId, v.id)));
      await Promise.all([a.connected, b.connected]);
      a.subscribe(INBOX);
      await t.store.users.lock(ctx, u.id);
      await t.store.users.delete(ctx, v.id);
      expectCleanClose(
        await within(a.closed, REVOKED_WITHIN_MS),
        4403,
        /no longer accepted: this user is locked/,
      );
      expectCleanClose(
        await within(b.closed, REVOKED_WITHIN_MS),
        4403,
        /no longer accepted: .*does not exist/,
      );
    });

    test('an expired token: closed 4403 once it expires (with the clock tolerance)', async () => {
      const token = await shortToken(t, tenant.orgId, tenant.ownerId, '1s');
      const c = connect(t, bearer(token));
      await c.connected;
      // 1 s of life and 5 s of allowed clock skew.
      // Its reason starts with HTTP's code for it, so a client refreshes the token and reconnects.
      expectCleanClose(
        await within(c.closed, 6_000 + REVOKED_WITHIN_MS),
        4403,
        /^TOKEN_EXPIRED: credentials no longer accepted: The access token expired$/,
      );
    }, 15_000);
  });

  describe('bounds', () => {
    test('one subscription over the per-connection bound is refused; the others go on', async () => {
      const c = connect(t, bearer(tenant.ownerToken));
      const subs = Array.from({ length: LIVE.maxSubscriptionsPerConnection }, () => c.subscribe(INBOX));
      const extra = c.subscribe(INBOX);
      await within(extra.ended, 5_000);
      const [error] = errorsOf(extra);
      expect(error).toEqual({
        message: 'too many subscriptions on this connection: complete one, or open another connection',
        extensions: { code: 'BAD_REQUEST' },
      });
      for (const s of subs) expect(await within(s.ended, 50)).toBe('timeout');
      // Completing one makes room for another.
      subs[0]!.stop();
      await new Promise((r) => setTimeout(r, 100));
      const again = c.subscribe(INBOX);
      expect(await within(again.ended, 500)).toBe('timeout');
      expect(await within(c.closed, 10)).toBe('timeout');
    });
  });
});

describe('the live options', () => {
  test('are checked when the gateway is built, naming the option and what was given', () => {
    expect(liveOptions({})).toMatchObject({ maxSubscriptionsPerConnection: 20, recheckMs: 5_000 });
    expect(() => liveOptions({ recheckMs: 0 })).toThrow('live.recheckMs must be a positive integer, got 0');
    expect(() => liveOptions({ maxConnections: 1.5 })).toThrow(
      'live.maxConnections must be a positive integer, got 1.5',
    );
    expect(() => liveOptions({ recheck: 5 } as never)).toThrow('live.recheck is not an option of live');
  });
});

describe('gateway bounds and shutdown', () => {
  test('one viewer cannot take every connection: over their bound, closed 1013; others still connect', async () => {
    const u = await startLiveGateway('pglite', { ...LIVE, maxConnectionsPerViewer: 2 });
    try {
      const { orgId, ownerId } = await newTenant(u, 'junto');
      const other = (await u.store.users.create({ orgId, actor: 'test' }, { email: 'other@junto.example' }))
        .result;
      const token = await u.token(orgId, ownerId);
      const a = connect(u, bearer(token));
      const b = connect(u, bearer(token));
      await Promise.all([a.connected, b.connected]);
      // Another token of the same user is the same viewer.
      const c = connect(u, bearer(await u.token(orgId, ownerId)));
      expectCleanClose(await within(c.closed, 5_000), 1013, /too many connections for these credentials/);
      const d = connect(u, bearer(await u.token(orgId, other.id)));
      expect(await within(d.connected, 5_000)).not.toBe('timeout');
      await Promise.all([a.dispose(), b.dispose(), d.dispose()]);
      expect(u.logged).toEqual([]);
    } finally {
      await u.close().catch(() => {});
    }
  });

  test('a connection over the gateway bound is closed 1013; close() closes the rest 1001', async () => {
    const u = await startLiveGateway('pglite', { ...LIVE, maxConnections: 2 });
    try {
      const { orgId, ownerId } = await newTenant(u, 'junto');
      const token = await u.token(orgId, ownerId);
      const a = connect(u, bearer(token));
      const b = connect(u, bearer(token));
      await Promise.all([a.connected, b.connected]);
      const sub = a.subscribe(INBOX);
      const c = connect(u, bearer(token));
      expectCleanClose(await within(c.closed, 5_000), 1013, /too many connections/);
      const started = Date.now();
      await u.gateway.close();
      expect(Date.now() - started).toBeLessThan(2_000);
      expectCleanClose(await within(a.closed, 1_000), 1001, /shutting down/);
      expectCleanClose(await within(b.closed, 1_000), 1001, /shutting down/);
      await within(sub.ended, 1_000);
      expect(u.logged).toEqual([]);
    } finally {
      await u.close().catch(() => {});
    }
  });
});

/** A Junto organization with a requester (Technician), two approvers (Operators) and an outsider. */
async function approvalsWorld(t: Started) {
  const tenant = await newTenant(t, 'junto');
  const ctx = { orgId: tenant.orgId, actor: 'test' };
  const user = async (name: string, roles: string[]) => {
    const u = (await t.store.users.create(ctx, { email: `${name}-${Date.now()}@example.com`, roles })).result;
    return { id: u.id, token: await t.token(tenant.orgId, u.id) };
  };
  return {
    ...tenant,
    requester: await user('tech', ['technician']),
    approver: await user('operator', ['operator']),
    watcher: await user('operator2', ['operator']),
    outsider: await user('other-tech', ['technician']),
  };
}

async function requestApproval(url: string, requester: { id: string; token: string }) {
  const r = await gql(
    url,
    requester.token,
    `mutation($input: RequestApprovalInput!) { requestApproval(input: $input) { outcome request { id status } } }`,
    {
      input: {
        kind: 'tool_use',
        userId: requester.id,
        tool: 'execute_runbook',
        summary: 'run the backup runbook',
      },
    },
  );
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  expect(r.data!.requestApproval.outcome).toBe('REQUIRES_APPROVAL');
  return r.data!.requestApproval.request.id as string;
}

async function approve(url: string, token: string, id: string) {
  const r = await gql(
    url,
    token,
    `mutation($id: ID!) { approveRequest(input: {id: $id}) { request { id status } } }`,
    { id },
  );
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  return r.data!.approveRequest.request;
}

/** Waits for the result about request `id` with `status`, skipping others; null after `ms`. */
async function seen(sub: LiveSubscription, id: string, status: string, ms: number) {
  const until = Date.now() + ms;
  for (;;) {
    const left = until - Date.now();
    if (left <= 0) return null;
    const r = await sub.next(left).catch(() => null);
    if (!r) return null;
    const change = r.data?.approvalRequestChanged as { id: string; status: string } | undefined;
    if (change?.id === id && change.status === status) return r;
  }
}

/** Room for a new subscription to reach its source before the change it waits for is made. */
const SETTLE_MS = 300;

describe('approvals, live', () => {
  let t: Started;
  beforeAll(async () => {
    // No periodic re-check here: what is seen is decided by the events themselves.
    t = await startLiveGateway('pglite', { ...LIVE, recheckMs: 600_000 });
  });
  afterAll(async () => {
    await t?.close();
  });
  afterEach(() => expect(t.logged).toEqual([]));

  test('the requester and the approvers see the decision; an outsider sees nothing', async () => {
    const w = await approvalsWorld(t);
    const watcher = connect(t, bearer(w.watcher.token)).subscribe(INBOX);
    const outsider = connect(t, bearer(w.outsider.token)).subscribe(INBOX);
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const id = await requestApproval(t.url, w.requester);
    expect(await seen(watcher, id, 'PENDING', 2_000)).not.toBeNull();
    const mine = connect(t, bearer(w.requester.token)).subscribe(ONE, { id });
    const foreign = connect(t, bearer(w.outsider.token)).subscribe(ONE, { id });
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    await approve(t.url, w.approver.token, id);
    const decided = await seen(mine, id, 'APPROVED', 2_000);
    expect(decided?.data).toEqual({
      approvalRequestChanged: { id, status: 'APPROVED', decidedBy: { id: w.approver.id } },
    });
    expect(await seen(watcher, id, 'APPROVED', 2_000)).not.toBeNull();
    // The outsider saw nothing of it, on the inbox or by its id.
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    expect(outsider.results).toEqual([]);
    expect(foreign.results.filter((r) => r.data)).toEqual([]);
    if (foreign.error) expect(errorsOf(foreign).map((e) => e.extensions?.code)).toEqual(['NOT_FOUND']);
  });
  test('each event is decided at the state of its moment: a revoked role sees no more', async () => {
    const w = await approvalsWorld(t);
    const ctx = { orgId: w.orgId, actor: 'test' };
    const extra = await t.store.assignments.assign(ctx, { userId: w.outsider.id, roleKey: 'operator' });
    const inbox = connect(t, bearer(w.outsider.token)).subscribe(INBOX);
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const first = await requestApproval(t.url, w.requester);
    expect(await seen(inbox, first, 'PENDING', 2_000)).not.toBeNull();
    await t.store.assignments.revoke(ctx, extra.result.id);
    const second = await requestApproval(t.url, w.requester);
    await approve(t.url, w.approver.token, first);
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    expect(inbox.results.map((r) => r.data?.approvalRequestChanged.id)).toEqual([first]);
    expect(second).not.toBe(first);
  });

  test('credentials refused at an event close the connection 4403, before any re-check', async () => {
    const w = await approvalsWorld(t);
    const c = connect(t, bearer(w.watcher.token));
    const inbox = c.subscribe(INBOX);
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    await t.store.users.lock({ orgId: w.orgId, actor: 'test' }, w.watcher.id);
    expect(await within(c.closed, SETTLE_MS)).toBe('timeout');
    await requestApproval(t.url, w.requester);
    expectCleanClose(await within(c.closed, 2_000), 4403, /no longer accepted: this user is locked/);
    expect(inbox.results).toEqual([]);
  });
});

describe('approvals across replicas (PostgreSQL and Redis)', () => {
  let a: Started;
  let b: Started;
  beforeAll(async () => {
    const redisUrl = testRedisUrl();
    a = await startLiveGateway('postgres', LIVE, { redisUrl });
    b = await startLiveGateway('postgres', LIVE, { redisUrl });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });
  afterEach(() => {
    expect(a.logged.filter((e) => e.level === 'error')).toEqual([]);
    expect(b.logged.filter((e) => e.level === 'error')).toEqual([]);
  });

  test('a subscriber on replica B sees an approval made on replica A within 1 s', async () => {
    const w = await approvalsWorld(a);
    const inbox = connect(b, bearer(w.watcher.token)).subscribe(INBOX);
    const outsider = connect(b, bearer(w.outsider.token)).subscribe(INBOX);
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const id = await requestApproval(a.url, w.requester);
    expect(await seen(inbox, id, 'PENDING', 2_000)).not.toBeNull();
    const waiting = connect(b, bearer(w.requester.token)).subscribe(ONE, { id });
    await new Promise((r) => setTimeout(r, SETTLE_MS));

    const approvedAt = Date.now();
    await approve(a.url, w.approver.token, id);
    const [mine, theirs] = await Promise.all([
      seen(waiting, id, 'APPROVED', 1_000),
      seen(inbox, id, 'APPROVED', 1_000),
    ]);
    expect(Date.now() - approvedAt).toBeLessThan(1_000);
    expect(mine?.data).toEqual({
      approvalRequestChanged: { id, status: 'APPROVED', decidedBy: { id: w.approver.id } },
    });
    expect(theirs).not.toBeNull();
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    expect(outsider.results).toEqual([]);
  });
});
