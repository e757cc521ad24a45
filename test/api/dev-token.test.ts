import { request } from 'node:http';
import { networkInterfaces } from 'node:os';
import { exportSPKI, generateKeyPair } from 'jose';
import { isLoopback } from '../../src/api/dev-token';
import { startGateway } from '../../src/api/server';
import { createOrganization } from '../../src/cli/setup';
import { gql, newTenant, startTestGateway, TEST_AUTH, type TestGateway } from '../support/gateway';
import { openTestStore } from '../support/stores';

/**
 * POST /dev/token: development tokens while the server runs, for loopback callers that are not web
 * pages, for active users of the organization named; absent in production.
 */

interface Answer {
  status: number;
  body: Record<string, any>;
}

async function mint(base: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(`${base}/dev/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : {} };
}

/** A raw HTTP request, for what fetch will not send (another Host header). */
function raw(port: number, headers: Record<string, string>, body: string, host = '127.0.0.1') {
  return new Promise<Answer>((resolve, reject) => {
    const req = request({ host, port, path: '/dev/token', method: 'POST', headers }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : {} }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const codeOf = (a: Answer) => a.body.errors?.[0]?.extensions?.code;

describe('POST /dev/token in development', () => {
  let t: TestGateway;
  let base: string;
  let tenant: Awaited<ReturnType<typeof newTenant>>;
  let other: Awaited<ReturnType<typeof newTenant>>;
  let ann: string;

  beforeAll(async () => {
    t = await startTestGateway('pglite', { corsOrigins: ['http://localhost:5173'] });
    base = t.url.replace('/graphql', '');
    tenant = await newTenant(t, 'jrni');
    other = await newTenant(t, 'junto');
    ann = (await t.store.users.create({ orgId: tenant.orgId, actor: 'test' }, { email: 'Ann@Example.com' }))
      .result.id;
  });
  afterAll(() => t?.close());
  afterEach(() => expect(t.logged.splice(0)).toEqual([]));

  test('a token for a user named by email (any case) or id, that works on /graphql', async () => {
    const byEmail = await mint(base, { org: tenant.orgId, user: 'ann@example.COM' });
    expect(byEmail).toEqual({
      status: 200,
      body: {
        token: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/),
        userId: ann,
        orgId: tenant.orgId,
        expiresAt: expect.any(String),
      },
    });
    const hours = (Date.parse(byEmail.body.expiresAt) - Date.now()) / 3_600_000;
    expect(hours).toBeGreaterThan(11.9);
    expect(hours).toBeLessThanOrEqual(12);
    const viewer = await gql(t.url, byEmail.body.token, '{ viewer { id } }');
    expect(viewer.data).toEqual({ viewer: { id: ann } });
    const byId = await mint(base, { org: tenant.orgId, user: ann });
    expect(byId.body.userId).toBe(ann);
  });

  test('no token for a user of another organization than the one named, or an unknown one', async () => {
    for (const body of [
      { org: other.orgId, user: ann },
      { org: other.orgId, user: 'ann@example.com' },
      { org: tenant.orgId, user: other.ownerId },
      { org: tenant.orgId, user: 'nobody@example.com' },
      { org: '00000000-0000-4000-8000-000000000000', user: ann },
      { org: 'not-an-id', user: ann },
    ]) {
      const r = await mint(base, body);
      expect({ body, status: r.status, code: codeOf(r), token: r.body.token }).toEqual({
        body,
        status: 404,
        code: 'NOT_FOUND',
        token: undefined,
      });
    }
  });

  test('no token for a locked or a deleted user', async () => {
    const ctx = { orgId: tenant.orgId, actor: 'test' };
    const locked = (await t.store.users.create(ctx, { email: 'locked@example.com' })).result.id;
    await t.store.users.lock(ctx, locked);
    const gone = (await t.store.users.create(ctx, { email: 'gone@example.com' })).result.id;
    await t.store.users.delete(ctx, gone);
    for (const [user, why] of [
      [locked, /locked/],
      [gone, /deleted/],
    ] as const) {
      const r = await mint(base, { org: tenant.orgId, user });
      expect(r.status).toBe(409);
      expect(r.body.token).toBeUndefined();
      expect(r.body.errors[0].message).toMatch(why);
    }
  });

  test('a request a web page could send is refused: not JSON, an Origin, Sec-Fetch-Site', async () => {
    const body = JSON.stringify({ org: tenant.orgId, user: ann });
    for (const [headers, status] of [
      [{ 'content-type': 'text/plain' }, 415],
      [{ 'content-type': 'application/x-www-form-urlencoded' }, 415],
      [{ 'content-type': 'application/json', origin: 'http://localhost:5173' }, 403],
      [{ 'content-type': 'application/json', origin: 'null' }, 403],
      [{ 'content-type': 'application/json', 'sec-fetch-site': 'same-origin' }, 403],
      [{ 'content-type': 'application/json', 'sec-fetch-site': 'cross-site' }, 403],
    ] as const) {
      const r = await fetch(`${base}/dev/token`, { method: 'POST', headers, body });
      const text = await r.text();
      expect({ headers, status: r.status, minted: text.includes('token"') }).toEqual({
        headers,
        status,
        minted: false,
      });
      expect(r.headers.get('access-control-allow-origin')).toBeNull();
    }
  });

  test('a Host that is not a loopback name is refused (a DNS-rebound page)', async () => {
    const body = JSON.stringify({ org: tenant.orgId, user: ann });
    const port = t.gateway.port;
    const rebound = await raw(
      port,
      { 'content-type': 'application/json', host: `evil.example:${port}` },
      body,
    );
    expect(rebound.status).toBe(403);
    expect(rebound.body.token).toBeUndefined();
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`])
      expect((await raw(port, { 'content-type': 'application/json', host }, body)).status).toBe(200);
  });

  test('a body that names no org and user: 400', async () => {
    for (const body of [
      '{}',
      '[]',
      'null',
      JSON.stringify({ org: tenant.orgId }),
      JSON.stringify({ org: 1, user: 2 }),
    ]) {
      const r = await mint(base, body);
      expect({ body, status: r.status, code: codeOf(r) }).toEqual({
        body,
        status: 400,
        code: 'BAD_USER_INPUT',
      });
    }
  });

  test('loopback addresses are told apart from the rest', () => {
    for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1'])
      expect({ a, ok: isLoopback(a) }).toEqual({ a, ok: true });
    for (const a of ['10.0.0.1', '192.168.1.2', '::ffff:10.0.0.1', 'fe80::1', '::', '0.0.0.0', '', undefined])
      expect({ a, ok: isLoopback(a) }).toEqual({ a, ok: false });
  });
});

test('a caller on another address than loopback is refused', async () => {
  const address = Object.values(networkInterfaces())
    .flat()
    .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
  // A machine with no other interface cannot run it; the address check itself is tested above.
  if (!address) return;
  const { store, close } = await openTestStore('pglite');
  const gateway = await startGateway({
    store,
    config: { port: 0, env: 'development' },
    auth: TEST_AUTH,
    host: '0.0.0.0',
    log: () => {},
    approvals: { notify: false },
  });
  try {
    const tenant = await createOrganization(gateway.store, {
      preset: 'jrni',
      name: 'far',
      ownerEmail: 'far@example.com',
    });
    const body = JSON.stringify({ org: tenant.orgId, user: tenant.ownerId });
    const headers = { 'content-type': 'application/json', host: `localhost:${gateway.port}` };
    const far = await raw(gateway.port, headers, body, address);
    expect(far.status).toBe(403);
    expect(far.body.errors[0].message).toMatch(/loopback/);
    expect((await raw(gateway.port, headers, body)).status).toBe(200);
  } finally {
    await gateway.close();
    await close();
  }
});

test('in production there is no /dev/token: 404', async () => {
  const { publicKey } = await generateKeyPair('RS256');
  const t = await startTestGateway('pglite', {
    env: 'production',
    auth: { issuer: 'rolegate', audience: 'rolegate', publicKey: await exportSPKI(publicKey) },
  });
  try {
    const tenant = await newTenant(t, 'jrni');
    const r = await mint(t.url.replace('/graphql', ''), { org: tenant.orgId, user: tenant.ownerId });
    expect(r.status).toBe(404);
    expect(r.body.token).toBeUndefined();
  } finally {
    await t.close();
  }
});
