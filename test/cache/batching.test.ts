import Redis from 'ioredis';
import { gql, newTenant, startTestGateway, type TestGateway } from '../support/gateway';
import { startRedis, type RedisServer } from '../support/redis-server';

/**
 * What one request costs: all the decisions of a `checks` call take one Redis round trip for the
 * version and one for the entries (MGET), and one store query per kind of data for the misses; two
 * requests missing the same entries at once load them once. Counted on a Redis of its own (the
 * server's command statistics) and with the gateway's metrics.
 */
const CHECKS = `query($inputs: [CheckInput!]!) { checks(inputs: $inputs) { outcome } }`;
const CREATE_USER = `mutation($i: CreateUserInput!) { createUser(input: $i) { user { id } } }`;
const CREATE_LOCATION = `mutation($i: CreateLocationInput!) { createLocation(input: $i) { location { id } } }`;
const ASSIGN = `mutation($i: AssignRoleInput!) { assignRole(input: $i) { version } }`;

describe('batching of one request', () => {
  let redis: RedisServer;
  let raw: Redis;
  let t: TestGateway;
  beforeAll(async () => {
    redis = await startRedis();
    raw = new Redis(redis.url);
    t = await startTestGateway('postgres', { redisUrl: redis.url });
  });
  afterAll(async () => {
    raw?.disconnect();
    await t?.close();
    await redis?.stop();
  });

  const mgets = async () => Number(/cmdstat_mget:calls=(\d+)/.exec(await raw.info('commandstats'))?.[1] ?? 0);
  const storeQueries = async () => {
    const text = await (await fetch(t.url.replace('/graphql', '/metrics'))).text();
    return Number(/^rolegate_store_queries_total (\d+)/m.exec(text)?.[1]);
  };

  it('50 decisions for 25 cold users at 25 cold locations: 2 MGETs and 3 store queries; concurrent identical misses load once', async () => {
    const { ownerId, ownerToken } = await newTenant(t, 'jrni');
    const must = async (query: string, i: Record<string, unknown>) => {
      const r = await gql(t.url, ownerToken, query, { i });
      if (r.errors) throw new Error(r.raw);
      return r.data!;
    };
    const users: string[] = [];
    const locations: string[] = [];
    for (let i = 0; i < 25; i++) {
      users.push((await must(CREATE_USER, { email: `u${i}@example.com` })).createUser.user.id);
      locations.push((await must(CREATE_LOCATION, { name: `L${i}` })).createLocation.location.id);
    }
    for (let i = 0; i < 25; i += 2)
      await must(ASSIGN, { userId: users[i], role: 'manager', locationId: locations[i] });
    // Warm the organization's state and the owner (the viewer) at the current version.
    await gql(t.url, ownerToken, CHECKS, { inputs: [{ userId: ownerId, permission: 'user:create' }] });

    const inputs = users.flatMap((userId, i) => [
      { userId, permission: 'booking:manage', locationId: locations[i] },
      { userId, permission: 'resource:manage', locationId: locations[(i + 1) % 25] },
    ]);
    const [m0, q0] = [await mgets(), await storeQueries()];
    const r = await gql(t.url, ownerToken, CHECKS, { inputs });
    expect(r.errors).toBeUndefined();
    expect((r.data!.checks as { outcome: string }[]).filter((d) => d.outcome === 'ALLOW')).toHaveLength(13);
    expect((await mgets()) - m0).toBe(2); // the version, then every grant and path the request needs
    expect((await storeQueries()) - q0).toBe(3); // users and assignments (grants), locations (paths)

    // A new version: everything is cold again. Two identical requests at once load it once.
    await must(ASSIGN, { userId: users[1], role: 'manager', locationId: locations[1] });
    await gql(t.url, ownerToken, CHECKS, { inputs: [{ userId: ownerId, permission: 'user:create' }] });
    const q1 = await storeQueries();
    const both = await Promise.all([1, 2].map(() => gql(t.url, ownerToken, CHECKS, { inputs })));
    expect(both[0]!.data).toEqual(both[1]!.data);
    expect(
      (both[0]!.data!.checks as { outcome: string }[]).filter((d) => d.outcome === 'ALLOW'),
    ).toHaveLength(14);
    // Each query at most once in all: no entry was loaded twice (Redis may have answered some).
    expect((await storeQueries()) - q1).toBeLessThanOrEqual(3);
  });
});
