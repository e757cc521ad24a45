import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { SharedCache } from '../../src/cache/redis';
import { gql, newTenant, startTestGateway, testRedisUrl, type TestGateway } from '../support/gateway';

/**
 * Two gateways sharing one PostgreSQL and the test run's Redis, in this process: the shared cache's
 * behaviour seen through the API (versions, invalidation, atLeastVersion, metrics).
 */
const CHECK = `query($i: CheckInput!) { check(input: $i) { allowed outcome version error { code message } } }`;
const ASSIGN = `mutation($i: AssignRoleInput!) { assignRole(input: $i) { assignment { id } version } }`;
const REVOKE = `mutation($i: RevokeAssignmentInput!) { revokeAssignment(input: $i) { version } }`;
const CREATE_USER = `mutation($i: CreateUserInput!) { createUser(input: $i) { user { id } version } }`;

describe('shared cache (Redis) between two gateways', () => {
  let a: TestGateway;
  let b: TestGateway;
  beforeAll(async () => {
    a = await startTestGateway('postgres', { redisUrl: testRedisUrl() });
    b = await startTestGateway('postgres', { redisUrl: testRedisUrl() });
  });
  afterAll(async () => {
    await a.close();
    await b.close();
  });
  afterEach(() => {
    expect(a.logged).toEqual([]);
    expect(b.logged).toEqual([]);
  });

  const must = async (t: TestGateway, token: string, query: string, variables?: Record<string, unknown>) => {
    const r = await gql(t.url, token, query, variables);
    if (r.errors) throw new Error(`${query}\n${JSON.stringify(r.errors)}`);
    return r.data!;
  };

  it('a revoke through one gateway is DENY on the other on the very next request', async () => {
    const { orgId, ownerToken } = await newTenant(a, 'jrni');
    const tokenB = ownerToken; // both gateways share the store's development key
    const userId = (await must(a, ownerToken, CREATE_USER, { i: { email: 'u@example.com' } })).createUser.user
      .id as string;
    for (let round = 0; round < 20; round++) {
      const granted = await must(a, ownerToken, ASSIGN, { i: { userId, role: 'administrator' } });
      const allowed = await must(b, tokenB, CHECK, { i: { userId, permission: 'resource:manage' } });
      expect(allowed.check).toMatchObject({ outcome: 'ALLOW', version: granted.assignRole.version });
      const revoked = await must(a, ownerToken, REVOKE, {
        i: { id: granted.assignRole.assignment.id },
      });
      const denied = await must(b, tokenB, CHECK, { i: { userId, permission: 'resource:manage' } });
      expect(denied.check).toMatchObject({ outcome: 'DENY', version: revoked.revokeAssignment.version });
    }
    expect(orgId).toBeTruthy();
  });

  it('atLeastVersion: a version a mutation returned is answered at once; one never written, after a wait, per input', async () => {
    const { ownerId, ownerToken } = await newTenant(a, 'jrni');
    const userId = (await must(a, ownerToken, CREATE_USER, { i: { email: 'v@example.com' } })).createUser.user
      .id as string;
    const granted = await must(a, ownerToken, ASSIGN, { i: { userId, role: 'administrator' } });
    const version = granted.assignRole.version as string;
    const at = await must(b, ownerToken, CHECK, {
      i: { userId, permission: 'resource:manage', atLeastVersion: version },
    });
    expect(at.check).toMatchObject({ outcome: 'ALLOW', error: null });
    expect(BigInt(at.check.version)).toBeGreaterThanOrEqual(BigInt(version));

    const started = Date.now();
    const far = await must(b, ownerToken, CHECK, {
      i: { userId: ownerId, permission: 'user:create', atLeastVersion: String(BigInt(version) + 1000n) },
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_500);
    expect(far.check).toMatchObject({
      allowed: false,
      outcome: 'DENY',
      error: { code: 'VERSION_NOT_REACHED' },
    });
    expect(far.check.error.message).toMatch(/is not reached/);

    const bad = await must(b, ownerToken, CHECK, {
      i: { userId: ownerId, permission: 'user:create', atLeastVersion: 'yesterday' },
    });
    expect(bad.check).toMatchObject({ allowed: false, error: { code: 'BAD_USER_INPUT' } });
  });

  it('a check waits for a version written meanwhile by the other gateway', async () => {
    const { ownerToken } = await newTenant(a, 'jrni');
    const userId = (await must(a, ownerToken, CREATE_USER, { i: { email: 'w@example.com' } })).createUser.user
      .id as string;
    const before = await must(b, ownerToken, CHECK, { i: { userId, permission: 'resource:manage' } });
    const next = String(BigInt(before.check.version) + 1n);
    const waiting = must(b, ownerToken, CHECK, {
      i: { userId, permission: 'resource:manage', atLeastVersion: next },
    });
    await new Promise((r) => setTimeout(r, 100));
    await must(a, ownerToken, ASSIGN, { i: { userId, role: 'administrator' } });
    const answered = await waiting;
    expect(answered.check).toMatchObject({ outcome: 'ALLOW', version: next, error: null });
  });

  it('/metrics reports decisions, cache lookups by level, store queries and version reads', async () => {
    const { ownerId, ownerToken } = await newTenant(a, 'jrni');
    for (let i = 0; i < 3; i++)
      await must(b, ownerToken, CHECK, { i: { userId: ownerId, permission: 'user:create' } });
    const res = await fetch(b.url.replace('/graphql', '/metrics'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/plain/);
    const text = await res.text();
    const value = (line: RegExp) => Number(text.match(line)?.[1] ?? NaN);
    expect(value(/^rolegate_decisions_total\{outcome="ALLOW"\} (\d+)/m)).toBeGreaterThanOrEqual(3);
    expect(value(/^rolegate_cache_lookups_total\{level="l1",result="hit"\} (\d+)/m)).toBeGreaterThan(0);
    expect(value(/^rolegate_store_queries_total (\d+)/m)).toBeGreaterThan(0);
    expect(value(/^rolegate_version_reads_total\{source="redis"\} (\d+)/m)).toBeGreaterThan(0);
    expect(value(/^rolegate_redis_up (\d+)/m)).toBe(1);
    expect(text).toMatch(/^rolegate_decision_duration_seconds_bucket/m);
  });

  it('/readyz says Redis is in use', async () => {
    const res = await fetch(a.url.replace('/graphql', '/readyz'));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ready', store: 'ok', redis: 'ok' });
  });
});

describe('shared cache entries are signed', () => {
  it('an entry tampered with, moved to another key, or signed with another key is a miss', async () => {
    const key = randomBytes(32);
    const shared = new SharedCache(testRedisUrl(), { macKey: key });
    const stranger = new SharedCache(testRedisUrl(), { macKey: randomBytes(32) });
    const raw = new Redis(testRedisUrl());
    try {
      await Promise.all([shared.connect(), stranger.connect()]);
      const id = `${Date.now()}-${Math.random()}`;
      const [k1, k2, k3] = ['a', 'b', 'c'].map((u) => SharedCache.entryKey(`org-${id}`, '1', 'grants', u));
      shared.setMany([{ key: k1!, value: Buffer.from('grants of a') }]);
      await new Promise((r) => setTimeout(r, 100));
      expect((await shared.getMany([k1!]))[0]?.toString()).toBe('grants of a');

      const signed = (await raw.getBuffer(k1!))!;
      await raw.set(k2!, signed); // a's entry under b's key
      const flipped = Buffer.from(signed);
      flipped[0]! ^= 1;
      await raw.set(k3!, flipped);
      expect(await shared.getMany([k2!, k3!])).toEqual([null, null]);
      expect(await stranger.getMany([k1!])).toEqual([null]);
    } finally {
      raw.disconnect();
      await shared.close();
      await stranger.close();
    }
  });
});
