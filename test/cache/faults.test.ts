import Redis from 'ioredis';
import { gql, newTenant, startTestGateway, testRedisUrl, type TestGateway } from '../support/gateway';
import { startPostgres, type PostgresServer } from '../support/postgres-server';
import { startRedis, type RedisServer } from '../support/redis-server';
import { migrate, openDb } from '../../src/store';

/**
 * Outages, with real servers stopped and killed under a running gateway: Redis killed in the middle of
 * a check load, PostgreSQL stopped and started again, both down. Never a wrong ALLOW, never a 5xx
 * while one of the two is up, nothing half-written, and no restart of the gateway needed afterwards.
 */
const CHECK = `query($i: CheckInput!) { check(input: $i) { outcome version } }`;
const ASSIGN = `mutation($i: AssignRoleInput!) { assignRole(input: $i) { assignment { id } version } }`;
const REVOKE = `mutation($i: RevokeAssignmentInput!) { revokeAssignment(input: $i) { version } }`;
const CREATE_USER = `mutation($i: CreateUserInput!) { createUser(input: $i) { user { id } } }`;

const metric = async (t: TestGateway, line: RegExp): Promise<number> => {
  const text = await (await fetch(t.url.replace('/graphql', '/metrics'))).text();
  return Number(text.match(line)?.[1] ?? 0);
};
const until = async (what: () => Promise<boolean>, ms = 15_000) => {
  const deadline = Date.now() + ms;
  while (!(await what())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
};

async function world(t: TestGateway) {
  const { orgId, ownerToken } = await newTenant(t, 'jrni');
  const must = async (query: string, i: Record<string, unknown>) => {
    const r = await gql(t.url, ownerToken, query, { i });
    if (r.errors) throw new Error(r.raw);
    return r.data!;
  };
  const user = async (email: string) => (await must(CREATE_USER, { email })).createUser.user.id as string;
  const admin = await user('admin@example.com');
  await must(ASSIGN, { userId: admin, role: 'administrator' });
  return { orgId, ownerToken, admin, plain: await user('plain@example.com') };
}

/** A gateway over the test run's PostgreSQL and a Redis of its own (which the test may kill), for one describe. */
function gatewayOnOwnRedis(): { redis: RedisServer; t: TestGateway } {
  const env = {} as { redis: RedisServer; t: TestGateway };
  beforeAll(async () => {
    env.redis = await startRedis();
    env.t = await startTestGateway('postgres', { redisUrl: env.redis.url });
  });
  afterAll(async () => {
    await env.t?.close();
    await env.redis?.stop();
  });
  return env;
}

describe('Redis killed in the middle of a check load', () => {
  const env = gatewayOnOwnRedis();

  it('zero wrong ALLOWs, zero 5xx, decisions continue from PostgreSQL; Redis back, it is used again', async () => {
    const { redis, t } = env;
    const w = await world(t);
    const counts = { allow: 0, deny: 0, wrongAllow: 0, wrongDeny: 0, errors: [] as string[], afterKill: 0 };
    let killed = false;
    let stop = false;
    const loop = async (i: number) => {
      while (!stop) {
        const userId = i % 2 ? w.admin : w.plain;
        const r = await gql(t.url, w.ownerToken, CHECK, { i: { userId, permission: 'resource:manage' } });
        if (r.status >= 500 || r.errors || !r.data) {
          counts.errors.push(`${r.status} ${r.raw.slice(0, 200)}`);
          continue;
        }
        const allowed = r.data.check.outcome === 'ALLOW';
        if (userId === w.plain && allowed) counts.wrongAllow++;
        if (userId === w.admin && !allowed) counts.wrongDeny++;
        if (killed) counts.afterKill++;
        counts[allowed ? 'allow' : 'deny']++;
      }
    };
    const load = Promise.all(Array.from({ length: 16 }, (_, i) => loop(i)));
    await new Promise((r) => setTimeout(r, 1_000));
    const redisReadsBefore = await metric(t, /^rolegate_version_reads_total\{source="redis"\} (\d+)/m);
    expect(redisReadsBefore).toBeGreaterThan(0);
    await redis.kill();
    killed = true;
    await new Promise((r) => setTimeout(r, 1_500));
    const storeReadsDuring = await metric(t, /^rolegate_version_reads_total\{source="store"\} (\d+)/m);
    expect(await metric(t, /^rolegate_redis_up (\d+)/m)).toBe(0);
    const ready = await fetch(t.url.replace('/graphql', '/readyz'));
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'degraded', store: 'ok', redis: 'unreachable' });

    await redis.start();
    await until(async () => (await metric(t, /^rolegate_redis_up (\d+)/m)) === 1);
    // Writes work again, and the new version's entries are looked up in Redis.
    const l2 = /^rolegate_cache_lookups_total\{level="l2",result="(?:hit|miss)"\} (\d+)/gm;
    const l2Lookups = async () => {
      const text = await (await fetch(t.url.replace('/graphql', '/metrics'))).text();
      return [...text.matchAll(l2)].reduce((sum, m) => sum + Number(m[1]), 0);
    };
    const l2Before = await l2Lookups();
    const other = await gql(t.url, w.ownerToken, CREATE_USER, { i: { email: 'after@example.com' } });
    expect(other.errors).toBeUndefined();
    await new Promise((r) => setTimeout(r, 500));
    stop = true;
    await load;

    expect(counts.errors).toEqual([]);
    expect(counts.wrongAllow).toBe(0);
    expect(counts.wrongDeny).toBe(0);
    expect(counts.afterKill).toBeGreaterThan(100);
    expect(storeReadsDuring).toBeGreaterThan(0);
    expect(await l2Lookups()).toBeGreaterThan(l2Before);
    expect(t.logged.filter((e) => e.level === 'error')).toEqual([]);
    expect(t.logged.map((e) => e.msg)).toContain(
      'Redis is unreachable: decisions read the store until it is back',
    );
  }, 60_000);
});

describe('PostgreSQL stopped under a running gateway', () => {
  let pg: PostgresServer;
  let redis: RedisServer;
  let t: TestGateway;
  beforeAll(async () => {
    pg = await startPostgres('rolegate_outage');
    const db = await openDb({ databaseUrl: pg.url });
    await migrate(db);
    await db.close();
    redis = await startRedis();
    t = await startTestGateway('postgres', { redisUrl: redis.url, databaseUrl: pg.url });
  }, 60_000);
  const cleanups: (() => void)[] = [];
  afterAll(async () => {
    for (const f of cleanups) f();
    await t?.close().catch(() => {});
    await redis?.stop();
    await pg?.stop();
  });

  it('writes fail with UNAVAILABLE and leave nothing; warm decisions continue from Redis; cold ones are UNAVAILABLE; started again, everything works without a restart', async () => {
    const w = await world(t);
    const other = await world(t);
    const scratch = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    cleanups.push(() => scratch.disconnect());
    const check = (userId: string) =>
      gql(t.url, w.ownerToken, CHECK, { i: { userId, permission: 'resource:manage' } });
    const cold = await (async () => {
      const r = await gql(t.url, w.ownerToken, CREATE_USER, { i: { email: 'cold@example.com' } });
      return r.data!.createUser.user.id as string;
    })();
    // Warm: the admin's and the plain user's grants are cached at the current version.
    for (const userId of [w.admin, w.plain]) expect((await check(userId)).errors).toBeUndefined();
    const versionBefore = (await check(w.admin)).data!.check.version;

    pg.pgCtl('stop');
    try {
      const write = await gql(t.url, w.ownerToken, ASSIGN, { i: { userId: w.plain, role: 'administrator' } });
      expect(write.status).toBeLessThan(500);
      expect(write.errors?.[0]?.extensions?.code).toBe('UNAVAILABLE');
      expect(write.raw).not.toMatch(/ECONNREFUSED|SELECT|INSERT|at .*\.ts/);

      const warmAdmin = await check(w.admin);
      expect(warmAdmin.data?.check).toEqual({ outcome: 'ALLOW', version: versionBefore });
      const warmPlain = await check(w.plain);
      expect(warmPlain.data?.check).toEqual({ outcome: 'DENY', version: versionBefore });

      // Requests of an organization Redis vouches for are answered even when they share a version read
      // with one it does not (its key is gone, and the store cannot be asked).
      await scratch.del(`rg1:v:${other.orgId}`);
      const mixed = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          i % 2
            ? gql(t.url, other.ownerToken, CHECK, {
                i: { userId: other.admin, permission: 'resource:manage' },
              })
            : check(w.admin),
        ),
      );
      mixed.forEach((r, i) => {
        if (i % 2) expect(r.errors?.[0]?.extensions?.code).toBe('UNAVAILABLE');
        else expect(r.data?.check).toEqual({ outcome: 'ALLOW', version: versionBefore });
      });

      const coldCheck = await check(cold);
      expect(coldCheck.data?.check ?? null).toBeNull();
      expect(coldCheck.errors?.[0]?.extensions?.code).toBe('UNAVAILABLE');

      // Both down: nothing can be decided.
      await redis.kill();
      const none = await check(w.admin);
      expect(none.data?.check ?? null).toBeNull();
      expect(none.errors?.[0]?.extensions?.code).toBe('UNAVAILABLE');
      expect(none.raw).not.toMatch(/ECONNREFUSED|at .*\.ts/);
      await redis.start();
    } finally {
      pg.pgCtl('start');
    }

    // Back, without restarting the gateway: the refused write left nothing, and writes work again.
    await until(async () => (await check(w.plain)).data?.check?.outcome === 'DENY');
    expect((await check(w.plain)).data!.check.version).toBe(versionBefore);
    const write = await gql(t.url, w.ownerToken, ASSIGN, { i: { userId: w.plain, role: 'administrator' } });
    expect(write.errors).toBeUndefined();
    expect(BigInt(write.data!.assignRole.version)).toBe(BigInt(versionBefore) + 1n);
    expect((await check(w.plain)).data!.check.outcome).toBe('ALLOW');
    expect((await check(cold)).data!.check.outcome).toBe('DENY');
    const verdict = await t.store.verifyAudit(w.orgId);
    expect(verdict).toMatchObject({ ok: true });
    expect(t.logged.filter((e) => e.level === 'error')).toEqual([]);
  }, 90_000);
});

it('the test run has a Redis', () => expect(testRedisUrl()).toMatch(/^redis:\/\//));

describe('Redis restarted from an old snapshot', () => {
  const env = gatewayOnOwnRedis();

  it('versions it reloads from disk are never trusted: a revoke made after the snapshot still holds', async () => {
    const { redis, t } = env;
    const w = await world(t);
    const check = async () =>
      (await gql(t.url, w.ownerToken, CHECK, { i: { userId: w.admin, permission: 'resource:manage' } })).data!
        .check as { outcome: string; version: string };
    expect((await check()).outcome).toBe('ALLOW');
    const raw = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    try {
      await raw.save(); // the snapshot holds the version at which the admin is allowed, and its entries
    } finally {
      raw.disconnect();
    }
    const assignment = (await t.store.assignments.forUsers(w.orgId, [w.admin]))[0]![0]!;
    const revoked = await gql(t.url, w.ownerToken, REVOKE, { i: { id: assignment.id } });
    expect(revoked.errors).toBeUndefined();
    expect((await check()).outcome).toBe('DENY');

    await redis.kill();
    await redis.start(); // reloads the snapshot from its folder
    await until(async () => (await metric(t, /^rolegate_redis_up (\d+)/m)) === 1);
    for (let i = 0; i < 20; i++)
      expect(await check()).toEqual({ outcome: 'DENY', version: revoked.data!.revokeAssignment.version });
  }, 60_000);
});
