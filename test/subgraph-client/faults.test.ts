import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createRolegateClient,
  RolegateError,
  RolegateUnauthenticatedError,
  RolegateUnavailableError,
} from 'rolegate/subgraph';
import { startDemoRolegate, type DemoRolegate } from '../support/rolegate-demo';

/**
 * Fail closed: whatever goes wrong between the subgraph and rolegate, `can()` never answers true. It
 * rejects with a typed error (a deny), and `require()` does too. The servers here are real HTTP servers
 * on loopback: rolegate itself for refused credentials, and small misbehaving ones for what rolegate
 * would never do on purpose (hang, 5xx, answer garbage).
 */

let r: DemoRolegate;
const servers: Server[] = [];
beforeAll(async () => {
  r = await startDemoRolegate();
});
afterAll(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
  await r.close();
});

/** A loopback HTTP server answering every request with `answer` (or never, when it does nothing). */
async function misbehaving(answer: (res: ServerResponse) => void): Promise<string> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => answer(res));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
}

const json = (status: number, body: unknown) => (res: ServerResponse) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
};

/** Asks three questions in one request; each must be denied with the same typed error. */
async function denied(url: string, options: { timeoutMs?: number; apiKey?: string } = {}) {
  const req = createRolegateClient({
    url,
    apiKey: options.apiKey ?? 'rgk_test',
    timeoutMs: options.timeoutMs ?? 2_000,
  }).forRequest({ userId: 'u1' });
  const settled = await Promise.allSettled([
    req.can('booking:manage', { locationId: 'l1' }),
    req.can('booking:manage', { locationId: 'l2' }),
    req.require('customer:manage'),
  ]);
  expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected', 'rejected']);
  const errors = settled.map((s) => (s as PromiseRejectedResult).reason as RolegateError);
  for (const e of errors) expect(e).toBeInstanceOf(RolegateError);
  return errors[0]!;
}

test('a server that never answers: RolegateUnavailableError (timeout) within the bound, and deny', async () => {
  const url = await misbehaving(() => {
    /* accepts, reads, never answers */
  });
  const started = performance.now();
  const err = await denied(url, { timeoutMs: 200 });
  const took = performance.now() - started;
  expect(err).toBeInstanceOf(RolegateUnavailableError);
  expect(err).toMatchObject({ reason: 'timeout', message: 'rolegate did not answer within 200 ms' });
  expect(took).toBeGreaterThanOrEqual(190);
  expect(took).toBeLessThan(1_500);
});

test('a server that sends its headers and then stalls the body: also a timeout', async () => {
  const url = await misbehaving((res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"data":{"checks":[');
  });
  expect(await denied(url, { timeoutMs: 200 })).toMatchObject({
    name: 'RolegateUnavailableError',
    reason: 'timeout',
  });
});

test.each([500, 502, 503, 504])('HTTP %i: RolegateUnavailableError (server), and deny', async (status) => {
  const url = await misbehaving(json(status, { errors: [{ message: 'down' }] }));
  expect(await denied(url)).toMatchObject({ name: 'RolegateUnavailableError', reason: 'server', status });
});

test.each([
  ['not JSON', json(200, '<html>proxy error</html>')],
  ['JSON but no decisions', json(200, { data: null })],
  ['fewer decisions than questions', json(200, { data: { checks: [{ allowed: true, version: '1' }] } })],
  ['decisions of the wrong shape', json(200, { data: { checks: [{ allowed: 'yes' }, {}, null] } })],
  ['a list of something else', json(200, { data: { checks: 'allowed' } })],
])('a malformed answer (%s): RolegateUnavailableError (malformed), and deny', async (_, answer) => {
  expect(await denied(await misbehaving(answer))).toMatchObject({
    name: 'RolegateUnavailableError',
    reason: 'malformed',
  });
});

test('a GraphQL error without decisions (INTERNAL_SERVER_ERROR, REQUEST_TIMEOUT): unavailable, and deny', async () => {
  for (const code of ['INTERNAL_SERVER_ERROR', 'REQUEST_TIMEOUT', 'UNAVAILABLE']) {
    const url = await misbehaving(
      json(200, { data: { checks: null }, errors: [{ message: 'no', extensions: { code } }] }),
    );
    expect(await denied(url)).toMatchObject({ name: 'RolegateUnavailableError', reason: 'server' });
  }
});

test('nothing listening: RolegateUnavailableError (network), and deny', async () => {
  const url = await misbehaving(() => undefined);
  const server = servers.pop()!;
  await new Promise((resolve) => server.close(resolve));
  expect(await denied(url)).toMatchObject({ name: 'RolegateUnavailableError', reason: 'network' });
});

test('a revoked or unknown API key: rolegate answers 401, RolegateUnauthenticatedError, and deny', async () => {
  const err = await denied(r.url, { apiKey: `rgk_00000000-0000-4000-8000-000000000000_${'x'.repeat(43)}` });
  expect(err).toBeInstanceOf(RolegateUnauthenticatedError);
  expect(err).toMatchObject({ rolegateCode: 'UNAUTHENTICATED' });
});

test("a viewer's bad or missing token: 401 from rolegate, or refused before asking", async () => {
  const c = createRolegateClient({ url: r.url, timeoutMs: 5_000 });
  r.resetPosts();
  await expect(
    c.forRequest({ token: 'not-a-jwt', userId: 'u1' }).can('booking:manage'),
  ).rejects.toMatchObject({
    name: 'RolegateUnauthenticatedError',
    rolegateCode: 'UNAUTHENTICATED',
  });
  expect(r.posts()).toBe(1);
  // No token at all (the request had no Authorization header), or one that names no user: not asked.
  await expect(c.forRequest({ token: '' }).can('booking:manage')).rejects.toBeInstanceOf(
    RolegateUnauthenticatedError,
  );
  await expect(c.forRequest({ token: 'opaque' }).can('booking:manage')).rejects.toBeInstanceOf(
    RolegateUnauthenticatedError,
  );
  expect(r.posts()).toBe(1);
});

test("an HTTP 401 without rolegate's body is still UNAUTHENTICATED", async () => {
  const url = await misbehaving(json(401, 'Unauthorized'));
  expect(await denied(url)).toBeInstanceOf(RolegateUnauthenticatedError);
});

test('errors are not cached: the next request asks again, and gets the answer once rolegate is back', async () => {
  let healthy = false;
  const url = await misbehaving(
    (res) =>
      void (healthy
        ? json(200, { data: { checks: [{ allowed: true, version: '7', error: null }] } })(res)
        : json(503, 'down')(res)),
  );
  const c = createRolegateClient({ url, apiKey: 'rgk_test' });
  await expect(c.forRequest({ userId: 'u1' }).can('booking:manage')).rejects.toBeInstanceOf(
    RolegateUnavailableError,
  );
  healthy = true;
  await expect(c.forRequest({ userId: 'u1' }).can('booking:manage')).resolves.toBe(true);
  expect(c.stats.calls).toBe(2);
});

test('options are checked when the client is made; forRequest({ userId }) needs the API key', () => {
  expect(() => createRolegateClient({ url: 'localhost:4000' })).toThrow(/url must be an http\(s\) URL/);
  expect(() => createRolegateClient({ url: 'http://x/graphql', timeoutMs: 0 })).toThrow(
    /timeoutMs must be an integer ≥ 1, got 0/,
  );
  expect(() => createRolegateClient({ url: 'http://x/graphql', maxBatchSize: 1.5 })).toThrow(/maxBatchSize/);
  expect(() => createRolegateClient({ url: 'http://x/graphql', apiKey: '' })).toThrow(
    /apiKey must be a non-empty string/,
  );
  expect(() => createRolegateClient({ url: 'http://x/graphql' }).forRequest({ userId: 'u1' })).toThrow(
    /without `apiKey`/,
  );
});
