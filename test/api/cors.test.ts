import { loadConfig, parseCorsOrigins } from '../../src/config';
import { startGateway } from '../../src/api/server';
import { newTenant, startTestGateway, type TestGateway } from '../support/gateway';
import { openTestStore } from '../support/stores';

/**
 * CORS over HTTP (ROLEGATE_CORS_ORIGINS): preflights and credentials for listed origins only, no CORS
 * header for anyone else, Apollo's CSRF prevention kept for simple requests, and nothing when no
 * origin is listed. The browser's side of it is test/browser/cors.test.ts.
 */

const APP = 'http://localhost:5173';
const OTHER = 'http://localhost:6006';
const ATTACKER = 'https://evil.example';

const preflight = (url: string, origin: string, headers = 'authorization, content-type') =>
  fetch(url, {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': 'POST',
      'access-control-request-headers': headers,
    },
  });

const list = (value: string | null) => (value ?? '').split(',').map((h) => h.trim().toLowerCase());

describe('with ROLEGATE_CORS_ORIGINS listing two origins', () => {
  let t: TestGateway;
  let token: string;
  let ownerId: string;

  beforeAll(async () => {
    t = await startTestGateway('pglite', { corsOrigins: [APP, OTHER] });
    ({ ownerToken: token, ownerId } = await newTenant(t, 'jrni'));
  });
  afterAll(() => t?.close());

  test.each([APP, OTHER])('a preflight from %s: 204 with the CORS headers', async (origin) => {
    const res = await preflight(t.url, origin, 'authorization, content-type, x-request-id');
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(origin);
    expect(res.headers.get('access-control-allow-credentials')).toBe('true');
    expect(list(res.headers.get('access-control-allow-methods'))).toEqual(
      expect.arrayContaining(['get', 'post']),
    );
    expect(list(res.headers.get('access-control-allow-headers'))).toEqual(
      expect.arrayContaining([
        'authorization',
        'content-type',
        'apollo-require-preflight',
        'x-apollo-operation-name',
        'x-request-id',
      ]),
    );
    expect(Number(res.headers.get('access-control-max-age'))).toBeGreaterThan(0);
    expect(list(res.headers.get('vary'))).toContain('origin');
    expect(await res.text()).toBe('');
  });

  test('a preflight from an origin not listed: no CORS header, not answered 2xx', async () => {
    for (const origin of [ATTACKER, 'http://localhost:5174', 'http://127.0.0.1:5173', 'null']) {
      const res = await preflight(t.url, origin);
      expect({ origin, status: res.status }).toEqual({ origin, status: 405 });
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
      expect(res.headers.get('access-control-allow-credentials')).toBeNull();
      expect(res.headers.get('access-control-allow-headers')).toBeNull();
      expect(list(res.headers.get('vary'))).toContain('origin');
    }
  });

  test('the request after the preflight: data, its origin allowed, credentials, the exposed headers', async () => {
    const res = await fetch(t.url, {
      method: 'POST',
      headers: { origin: APP, 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: '{ viewer { id } }' }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ data: { viewer: { id: ownerId } } });
    expect(res.headers.get('access-control-allow-origin')).toBe(APP);
    expect(res.headers.get('access-control-allow-credentials')).toBe('true');
    expect(list(res.headers.get('access-control-expose-headers'))).toEqual(
      expect.arrayContaining(['etag', 'www-authenticate']),
    );
    expect(list(res.headers.get('vary'))).toContain('origin');
  });

  test('the same request from an origin not listed carries no CORS header (the browser hides it)', async () => {
    const res = await fetch(t.url, {
      method: 'POST',
      headers: { origin: ATTACKER, 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: '{ viewer { id } }' }),
    });
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    expect(res.headers.get('access-control-expose-headers')).toBeNull();
    expect(list(res.headers.get('vary'))).toContain('origin');
  });

  test('CSRF prevention still refuses simple requests, from a listed origin too', async () => {
    // A text/plain POST and a GET without apollo-require-preflight need no preflight: Apollo refuses them.
    const plain = await fetch(t.url, {
      method: 'POST',
      headers: { origin: APP, 'content-type': 'text/plain', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: '{ viewer { id } }' }),
    });
    expect(plain.status).toBe(400);
    const body = (await plain.json()) as { data?: unknown; errors: { message: string }[] };
    expect(body.data).toBeUndefined();
    expect(body.errors[0]!.message).toMatch(/CSRF/);
    const get = await fetch(`${t.url}?query=${encodeURIComponent('{ viewer { id } }')}`, {
      headers: { origin: APP, authorization: `Bearer ${token}` },
    });
    expect(get.status).toBe(400);
    expect(await get.text()).toMatch(/CSRF/);
    const withHeader = await fetch(`${t.url}?query=${encodeURIComponent('{ viewer { id } }')}`, {
      headers: { origin: APP, authorization: `Bearer ${token}`, 'apollo-require-preflight': 'true' },
    });
    expect(await withHeader.json()).toEqual({ data: { viewer: { id: ownerId } } });
  });

  test('a 401 lets the listed origin read WWW-Authenticate', async () => {
    const res = await fetch(t.url, {
      method: 'POST',
      headers: { origin: APP, 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ viewer { id } }' }),
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('access-control-allow-origin')).toBe(APP);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="rolegate"');
  });

  test('only /graphql is answered to other origins: not /dev/token, /metrics or the health checks', async () => {
    const base = t.url.replace('/graphql', '');
    for (const path of ['/dev/token', '/metrics', '/healthz', '/readyz']) {
      const pre = await preflight(`${base}${path}`, APP);
      expect({ path, status: pre.status }).toEqual({ path, status: 404 });
      expect(pre.headers.get('access-control-allow-origin')).toBeNull();
    }
    const health = await fetch(`${base}/healthz`, { headers: { origin: APP } });
    expect(health.headers.get('access-control-allow-origin')).toBeNull();
  });

  test('a listed origin sending OPTIONS that is no preflight: refused', async () => {
    const res = await fetch(t.url, { method: 'OPTIONS', headers: { origin: APP } });
    expect(res.status).toBe(400);
  });
});

describe('without ROLEGATE_CORS_ORIGINS', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway('pglite');
  });
  afterAll(() => t?.close());

  test('no CORS header at all, and a preflight is no GraphQL request (405, not the CSRF message)', async () => {
    const res = await preflight(t.url, APP);
    expect(res.status).toBe(405);
    expect(await res.text()).not.toMatch(/CSRF/);
    for (const [name] of res.headers) expect(name).not.toMatch(/^access-control-/);
    const post = await fetch(t.url, {
      method: 'POST',
      headers: { origin: APP, 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ viewer { id } }' }),
    });
    for (const [name] of post.headers) expect(name).not.toMatch(/^access-control-/);
  });
});

describe('the setting', () => {
  test('parsed from the environment: exact origins, comma-separated; none by default', () => {
    expect(loadConfig({}).corsOrigins).toEqual([]);
    expect(
      loadConfig({ ROLEGATE_CORS_ORIGINS: ' http://localhost:5173, https://app.example.com ,' }).corsOrigins,
    ).toEqual(['http://localhost:5173', 'https://app.example.com']);
  });

  test.each([
    ['*', /cannot contain "\*"/],
    ['http://localhost:5173,*', /cannot contain "\*"/],
    ['https://*.example.com', /cannot contain "\*"/],
    ['localhost:5173', /is not an origin/],
    ['null', /is not an origin/],
    ['http://localhost:5173/', /write "http:\/\/localhost:5173"/],
    ['http://localhost:5173/app', /write "http:\/\/localhost:5173"/],
    ['https://App.Example.com:443', /write "https:\/\/app\.example\.com"/],
  ])('%s is refused, saying why', (value, message) => {
    expect(() => parseCorsOrigins(value)).toThrow(message);
  });

  test('the gateway refuses to start with "*" (given in code, not the environment)', async () => {
    const { store, close } = await openTestStore('pglite');
    try {
      await expect(
        startGateway({ store, config: { port: 0, env: 'development', corsOrigins: ['*'] } }),
      ).rejects.toThrow(/cannot contain "\*"/);
    } finally {
      await close();
    }
  });
});
