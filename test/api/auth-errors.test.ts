import { SignJWT } from 'jose';
import { newTenant, startTestGateway, TEST_AUTH, type TestGateway } from '../support/gateway';
import { liveClient, type Closed } from '../support/ws-client';

/**
 * Refused credentials, as a client must tell them apart (issue 13): an expired token is TOKEN_EXPIRED
 * (refresh it silently), everything else UNAUTHENTICATED (sign the user out); both HTTP 401 with an
 * RFC 6750 WWW-Authenticate challenge. Over WebSocket the close reason says TOKEN_EXPIRED as well.
 */

const now = () => Math.floor(Date.now() / 1000);
const key = (secret = TEST_AUTH.secret) => new TextEncoder().encode(secret);

/** A token signed as the test gateways expect, with its times and claims overridable. */
function sign(
  claims: { orgId: string; userId: string },
  times: { iat?: number; exp: number },
  options: { secret?: string; audience?: string } = {},
) {
  const jwt = new SignJWT({ org: claims.orgId })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(claims.userId)
    .setIssuer(TEST_AUTH.issuer)
    .setAudience(options.audience ?? TEST_AUTH.audience)
    .setExpirationTime(times.exp);
  if (times.iat !== undefined) jwt.setIssuedAt(times.iat);
  return jwt.sign(key(options.secret));
}

async function ask(url: string, authorization?: string) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
    body: JSON.stringify({ query: '{ viewer { id } }' }),
  });
  const body = (await res.json()) as {
    data?: unknown;
    errors?: { message: string; extensions?: Record<string, unknown> }[];
  };
  return {
    status: res.status,
    challenge: res.headers.get('www-authenticate'),
    codes: (body.errors ?? []).map((e) => e.extensions?.code),
    messages: (body.errors ?? []).map((e) => e.message),
    body,
  };
}

const EXPIRED_CHALLENGE =
  'Bearer realm="rolegate", error="invalid_token", error_description="The access token expired"';

describe('token errors over HTTP', () => {
  let t: TestGateway;
  let tenant: Awaited<ReturnType<typeof newTenant>>;
  let claims: { orgId: string; userId: string };

  beforeAll(async () => {
    t = await startTestGateway('pglite');
    tenant = await newTenant(t, 'jrni');
    claims = { orgId: tenant.orgId, userId: tenant.ownerId };
  });
  afterAll(() => t?.close());
  afterEach(() => expect(t.logged.splice(0)).toEqual([]));

  test('control: a valid token answers, with no challenge', async () => {
    const r = await ask(t.url, `Bearer ${tenant.ownerToken}`);
    expect(r).toMatchObject({ status: 200, challenge: null, codes: [] });
  });

  test('an expired token: TOKEN_EXPIRED, HTTP 401, "The access token expired" in the challenge', async () => {
    const expired = await sign(claims, { iat: now() - 7200, exp: now() - 3600 });
    const r = await ask(t.url, `Bearer ${expired}`);
    expect(r).toMatchObject({
      status: 401,
      codes: ['TOKEN_EXPIRED'],
      messages: ['The access token expired'],
      challenge: EXPIRED_CHALLENGE,
    });
    expect(r.body.data ?? null).toBeNull();
  });

  test('no token: UNAUTHENTICATED, and a challenge without an error (RFC 6750 §3.1)', async () => {
    const r = await ask(t.url);
    expect(r).toMatchObject({
      status: 401,
      codes: ['UNAUTHENTICATED'],
      challenge: 'Bearer realm="rolegate"',
    });
  });

  test.each([
    ['garbage', async () => 'Bearer not-a-token'],
    [
      'a bad signature',
      async () => `Bearer ${await sign(claims, { exp: now() + 600 }, { secret: 'x'.repeat(40) })}`,
    ],
    [
      'an expired token with a bad signature (only a genuine token is told expired)',
      async () => `Bearer ${await sign(claims, { exp: now() - 600 }, { secret: 'x'.repeat(40) })}`,
    ],
    [
      'an expired token for another audience',
      async () => `Bearer ${await sign(claims, { exp: now() - 600 }, { audience: 'someone-else' })}`,
    ],
    ['an unknown API key', async () => `Bearer rgk_${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}_x`],
  ])('%s: UNAUTHENTICATED with error="invalid_token"', async (_name, authorization) => {
    const r = await ask(t.url, await authorization());
    expect(r.status).toBe(401);
    expect(r.codes).toEqual(['UNAUTHENTICATED']);
    expect(r.challenge).toMatch(
      /^Bearer realm="rolegate", error="invalid_token", error_description="[^"]+"$/,
    );
  });

  test('a locked user: UNAUTHENTICATED with error="invalid_token"', async () => {
    const { result } = await t.store.users.create(
      { orgId: tenant.orgId, actor: 'test' },
      { email: 'locked@example.com' },
    );
    await t.store.users.lock({ orgId: tenant.orgId, actor: 'test' }, result.id);
    const r = await ask(t.url, `Bearer ${await t.token(tenant.orgId, result.id)}`);
    expect(r).toMatchObject({
      status: 401,
      codes: ['UNAUTHENTICATED'],
      challenge: 'Bearer realm="rolegate", error="invalid_token", error_description="this user is locked"',
    });
  });

  test('an Authorization header that is not Bearer: error="invalid_request"', async () => {
    const r = await ask(t.url, 'Basic dXNlcjpwYXNz');
    expect(r.status).toBe(401);
    expect(r.codes).toEqual(['UNAUTHENTICATED']);
    expect(r.challenge).toMatch(/^Bearer realm="rolegate", error="invalid_request"/);
  });

  test('over WebSocket: an expired token is closed 4401 with a reason starting TOKEN_EXPIRED', async () => {
    const wsUrl = t.url.replace(/^http/, 'ws');
    const expired = await sign(claims, { exp: now() - 600 });
    const garbage = liveClient(wsUrl, { authorization: 'Bearer not-a-token' });
    const late = liveClient(wsUrl, { authorization: `Bearer ${expired}` });
    try {
      const closed = (c: typeof late) =>
        Promise.race([
          c.closed,
          new Promise<Closed>((_, no) => setTimeout(() => no(new Error('not closed')), 5000)),
        ]);
      expect(await closed(late)).toEqual({ code: 4401, reason: 'TOKEN_EXPIRED: The access token expired' });
      expect(await closed(garbage)).toEqual({ code: 4401, reason: 'invalid token' });
    } finally {
      await Promise.all([garbage.dispose(), late.dispose()]);
    }
  });
});

describe('ROLEGATE_JWT_MAX_AGE', () => {
  let t: TestGateway;
  let claims: { orgId: string; userId: string };
  beforeAll(async () => {
    t = await startTestGateway('pglite', { auth: { ...TEST_AUTH, maxAgeSeconds: 60 } });
    const tenant = await newTenant(t, 'junto');
    claims = { orgId: tenant.orgId, userId: tenant.ownerId };
  });
  afterAll(() => t?.close());

  test('a token older than the maximum age is TOKEN_EXPIRED though unexpired; one without iat is UNAUTHENTICATED', async () => {
    const old = await ask(t.url, `Bearer ${await sign(claims, { iat: now() - 600, exp: now() + 600 })}`);
    expect(old).toMatchObject({ status: 401, codes: ['TOKEN_EXPIRED'], challenge: EXPIRED_CHALLENGE });
    const young = await ask(t.url, `Bearer ${await sign(claims, { iat: now() - 10, exp: now() + 600 })}`);
    expect(young).toMatchObject({ status: 200, codes: [] });
    const noIat = await ask(t.url, `Bearer ${await sign(claims, { exp: now() + 600 })}`);
    expect(noIat).toMatchObject({ status: 401, codes: ['UNAUTHENTICATED'] });
  });
});
