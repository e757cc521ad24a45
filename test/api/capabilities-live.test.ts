import { gql, newTenant, testRedisUrl } from '../support/gateway';
import {
  liveClient,
  startLiveGateway,
  type Closed,
  type LiveClient,
  type LiveSubscription,
} from '../support/ws-client';

/**
 * `capabilitiesChanged` over graphql-ws, black-box, across two replicas sharing PostgreSQL and Redis:
 * a write on A that changes the viewer's grants reaches their subscription on B within 1 s, with the
 * new capabilities; a write that changes nothing of theirs sends nothing; a locked viewer's
 * subscription ends with the connection (4403). And on the embedded store, one gateway.
 */

/** Re-checks are left to the events themselves: a lock must end the subscription without the timer. */
const LIVE = { recheckMs: 600_000 };
/** How long a subscription is given to start listening before a write (no message says it has). */
const SETTLE_MS = 300;
/** How long silence is listened for after an unrelated write. */
const SILENCE_MS = 700;

const CHANGED = `subscription($l: ID) {
  capabilitiesChanged(locationId: $l) { userId grantsVersion version tools { tool mode outcome } flags }
}`;

type Started = Awaited<ReturnType<typeof startLiveGateway>>;

const open: LiveClient[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.dispose()));
});
const connect = (t: Started, token: string) => {
  const c = liveClient(t.wsUrl, { authorization: `Bearer ${token}` });
  open.push(c);
  return c;
};
/** The codes a subscription was refused with: in an `error` message, or in a result that then completed. */
function codesOf(sub: LiveSubscription): unknown[] {
  const errors = Array.isArray(sub.error) ? sub.error : sub.results.flatMap((r) => r.errors ?? []);
  expect(sub.results.filter((r) => r.data)).toEqual([]);
  return (errors as { extensions?: { code?: unknown } }[]).map((e) => e.extensions?.code);
}
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function run(url: string, token: string, query: string, variables?: Record<string, unknown>) {
  const r = await gql(url, token, query, variables);
  expect(r.errors).toBeUndefined();
  return r.data!;
}

/** A Junto organization made on `t`: its owner, a technician (the viewer) and another technician. */
async function world(t: Started) {
  const tenant = await newTenant(t, 'junto');
  const create =
    'mutation($e: String!) { createUser(input: { email: $e, roles: ["technician"] }) { user { id } } }';
  const user = async (name: string) => {
    const id = (await run(t.url, tenant.ownerToken, create, { e: `${name}-${Date.now()}@example.com` }))
      .createUser.user.id as string;
    return { id, token: await t.token(tenant.orgId, id) };
  };
  return { ...tenant, viewer: await user('viewer'), other: await user('other') };
}

describe.each([
  ['two replicas (PostgreSQL and Redis)', true],
  ['one gateway (embedded store)', false],
] as const)('capabilitiesChanged: %s', (_name, replicated) => {
  let a: Started;
  let b: Started;
  beforeAll(async () => {
    if (replicated) {
      const redisUrl = testRedisUrl();
      a = await startLiveGateway('postgres', LIVE, { redisUrl });
      b = await startLiveGateway('postgres', LIVE, { redisUrl });
    } else {
      a = b = await startLiveGateway('pglite', LIVE);
    }
  });
  afterAll(async () => {
    await a?.close();
    if (b !== a) await b?.close();
  });
  afterEach(() => {
    expect(a.logged.filter((e) => e.level === 'error')).toEqual([]);
    expect(b.logged.filter((e) => e.level === 'error')).toEqual([]);
  });

  test('a write on A that changes the viewer’s grants is delivered on B within 1 s; an unrelated one is not', async () => {
    const w = await world(a);
    const sub = connect(b, w.viewer.token).subscribe(CHANGED);
    const { capabilities: before } = await run(
      b.url,
      w.viewer.token,
      'query { capabilities { grantsVersion } }',
    );
    await pause(SETTLE_MS);

    // Someone else's role, a tool the viewer cannot hold: nothing.
    await run(
      a.url,
      w.ownerToken,
      'mutation($o: ID!) { assignRole(input: { userId: $o, role: "operator" }) { version } }',
      {
        o: w.other.id,
      },
    );
    await run(
      a.url,
      w.ownerToken,
      'mutation { setToolPolicy(input: { tool: "invoices", mode: DENY }) { version } }',
    );
    await pause(SILENCE_MS);
    expect(sub.results).toEqual([]);

    // A tool the viewer holds: its new mode, with a new grantsVersion.
    const writtenAt = Date.now();
    const { setToolPolicy } = await run(
      a.url,
      w.ownerToken,
      'mutation { setToolPolicy(input: { tool: "update_ticket", mode: REQUIRE_APPROVAL }) { version } }',
    );
    const event = await sub.next(1_000);
    expect(Date.now() - writtenAt).toBeLessThan(1_000);
    expect(event.errors).toBeUndefined();
    const caps = event.data!.capabilitiesChanged;
    expect(caps.userId).toBe(w.viewer.id);
    expect(caps.grantsVersion).not.toBe(before.grantsVersion);
    expect(BigInt(caps.version)).toBeGreaterThanOrEqual(BigInt(setToolPolicy.version));
    expect(caps.tools).toContainEqual({
      tool: 'update_ticket',
      mode: 'REQUIRE_APPROVAL',
      outcome: 'REQUIRES_APPROVAL',
    });

    // A flag of the viewer's: the next one.
    await run(
      a.url,
      w.ownerToken,
      'mutation($v: ID!) { setUserFlags(input: { userId: $v, flags: ["billing_admin"] }) { version } }',
      {
        v: w.viewer.id,
      },
    );
    const flagged = await sub.next(1_000);
    expect(flagged.data!.capabilitiesChanged.flags).toEqual(['billing_admin']);
    expect(flagged.data!.capabilitiesChanged.grantsVersion).not.toBe(caps.grantsVersion);
    await pause(SILENCE_MS);
    expect(sub.results).toHaveLength(2);
  });

  test('a locked viewer’s subscription ends with the connection (4403), without waiting for the re-check', async () => {
    const w = await world(a);
    const client = connect(b, w.viewer.token);
    const sub = client.subscribe(CHANGED);
    await pause(SETTLE_MS);
    await run(a.url, w.ownerToken, 'mutation($v: ID!) { lockUser(input: { id: $v }) { version } }', {
      v: w.viewer.id,
    });
    const closed = await Promise.race([client.closed, pause(2_000).then(() => 'timeout' as const)]);
    expect(closed).not.toBe('timeout');
    expect((closed as Closed).code).toBe(4403);
    expect((closed as Closed).reason).toMatch(/locked/);
    await sub.ended;
    expect(sub.completed).toBe(false);
    expect(sub.results).toEqual([]);
  });

  test('a location that does not exist is refused at the start; an API key has no capabilities', async () => {
    const w = await world(a);
    const sub = connect(b, w.viewer.token).subscribe(CHANGED, { l: '00000000-0000-4000-8000-000000000000' });
    await sub.ended;
    expect(codesOf(sub)).toEqual(['NOT_FOUND']);
    const { result } = await a.store.apiKeys.create(
      { orgId: w.orgId, actor: 'test' },
      { name: 'svc', scopes: ['decisions:check'] },
    );
    const byKey = connect(b, result.token).subscribe(CHANGED);
    await byKey.ended;
    expect(codesOf(byKey)).toEqual(['BAD_USER_INPUT']);
  });
});
