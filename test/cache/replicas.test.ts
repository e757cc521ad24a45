import Redis from 'ioredis';
import { signDevelopmentToken } from '../../src/identity/tokens';
import { createOrganization } from '../../src/cli/setup';
import type { Store } from '../../src/store';
import { gql, TEST_AUTH } from '../support/gateway';
import { startRedis, type RedisServer } from '../support/redis-server';
import { startReplica, type Replica } from '../support/replicas';
import { openTestStore } from '../support/stores';

/**
 * Three gateway processes on loopback sharing one PostgreSQL and one Redis. In every trial a user is
 * given a role through replica A, the permission is checked through B and C (which now hold the grant
 * in their caches), the role is revoked through A, and the permission is checked through B and C the
 * moment the revoke has returned: any ALLOW there is a failure. The same with the replicas' pub/sub
 * subscriptions cut again and again, and across Redis crashes and restarts.
 */
const CHECK = `query($i: CheckInput!) { check(input: $i) { outcome version } }`;
const ASSIGN = `mutation($i: AssignRoleInput!) { assignRole(input: $i) { assignment { id } version } }`;
const REVOKE = `mutation($i: RevokeAssignmentInput!) { revokeAssignment(input: $i) { version } }`;
const CREATE_USER = `mutation($i: CreateUserInput!) { createUser(input: $i) { user { id } } }`;

/** Parallel workers, each in its own organization (writes to one organization run one at a time). */
const WORKERS = 8;

interface Tally {
  trials: number;
  allowedBeforeRevoke: number;
  allowedAfterRevoke: number;
  writesRefused: number;
  /** Checks that did not return a decision, and any HTTP status ≥ 500: both must stay 0. */
  checkErrors: string[];
  status5xx: number;
}

describe('three replicas sharing PostgreSQL and Redis', () => {
  let store: Store;
  let closeStore: () => Promise<void>;
  let redis: RedisServer;
  let replicas: Replica[];
  let tenants: { token: string; userId: string }[];

  beforeAll(async () => {
    ({ store, close: closeStore } = await openTestStore('postgres'));
    redis = await startRedis();
    const env = { databaseUrl: process.env.ROLEGATE_TEST_DATABASE_URL!, redisUrl: redis.url };
    replicas = await Promise.all(['A', 'B', 'C'].map((name) => startReplica(name, env)));
    const key = new TextEncoder().encode(TEST_AUTH.secret);
    tenants = await Promise.all(
      Array.from({ length: WORKERS }, async (_, i) => {
        const { orgId, ownerId } = await createOrganization(store, {
          preset: 'jrni',
          name: `replicas ${i}`,
          ownerEmail: `owner-${i}-${Date.now()}@example.com`,
        });
        const token = await signDevelopmentToken(key, { orgId, userId: ownerId }, TEST_AUTH);
        const r = await gql(replicas[0]!.url, token, CREATE_USER, { i: { email: `u${i}@example.com` } });
        if (r.errors) throw new Error(JSON.stringify(r.errors));
        return { token, userId: r.data!.createUser.user.id as string };
      }),
    );
  }, 120_000);

  afterAll(async () => {
    for (const r of replicas ?? [])
      if (r.exitCode() !== null)
        console.error(`replica ${r.name} exited (${r.exitCode()}):\n${r.stderr().slice(-4000)}`);
    await Promise.all(replicas?.map((r) => r.stop()) ?? []);
    await redis?.stop();
    await closeStore?.();
  });

  /** Runs `trials` trials over the workers; `disturb` runs beside them until they finish. */
  async function run(trials: number, disturb?: (done: () => boolean) => Promise<void>): Promise<Tally> {
    const [a, b, c] = replicas as [Replica, Replica, Replica];
    const tally: Tally = {
      trials: 0,
      allowedBeforeRevoke: 0,
      allowedAfterRevoke: 0,
      writesRefused: 0,
      checkErrors: [],
      status5xx: 0,
    };
    let next = 0;
    let finished = false;

    const check = async (replica: Replica, tenant: { token: string; userId: string }) => {
      const r = await gql(replica.url, tenant.token, CHECK, {
        i: { userId: tenant.userId, permission: 'resource:manage' },
      }).catch((err: Error) => ({
        status: 0,
        errors: [{ message: err.message }],
        data: undefined,
        raw: String(err.cause ?? err),
      }));
      if (r.status >= 500) tally.status5xx++;
      if (r.errors || !r.data) {
        tally.checkErrors.push(`${replica.name}: ${r.status} ${r.raw.slice(0, 200)}`);
        return null;
      }
      return r.data.check.outcome as string;
    };
    /** A write, retried while it is refused as UNAVAILABLE (Redis away); anything else fails the test. */
    const write = async (tenant: { token: string }, query: string, input: Record<string, unknown>) => {
      for (;;) {
        const r = await gql(a.url, tenant.token, query, { i: input });
        if (!r.errors) return r.data!;
        if (r.errors[0]?.extensions?.code !== 'UNAVAILABLE') throw new Error(r.raw);
        tally.writesRefused++;
        await new Promise((res) => setTimeout(res, 50));
      }
    };

    const worker = async (tenant: { token: string; userId: string }) => {
      while (next < trials) {
        next++;
        const granted = await write(tenant, ASSIGN, { userId: tenant.userId, role: 'administrator' });
        const before = await Promise.all([check(b, tenant), check(c, tenant)]);
        tally.allowedBeforeRevoke += before.filter((o) => o === 'ALLOW').length;
        await write(tenant, REVOKE, { id: granted.assignRole.assignment.id });
        const after = await Promise.all([check(b, tenant), check(c, tenant)]);
        tally.allowedAfterRevoke += after.filter((o) => o === 'ALLOW').length;
        tally.trials++;
      }
    };
    await Promise.all([
      Promise.all(tenants.map(worker)).finally(() => (finished = true)),
      disturb?.(() => finished),
    ]).catch((err: unknown) => {
      // A request that failed because a replica died says why: its exit code and last log lines.
      const dead = replicas
        .filter((r) => r.exitCode() !== null)
        .map((r) => `replica ${r.name} exited (${r.exitCode()}):\n${r.stderr().slice(-4000)}`);
      throw dead.length ? new Error(`${String(err)}\n${dead.join('\n')}`) : err;
    });
    return tally;
  }

  const expectSound = (tally: Tally, trials: number) => {
    // A replica that died says why (its last log lines) rather than as a failed fetch.
    for (const r of replicas)
      expect({
        replica: r.name,
        exit: r.exitCode(),
        log: r.exitCode() === null ? '' : r.stderr().slice(-4000),
      }).toEqual({ replica: r.name, exit: null, log: '' });
    expect(tally.trials).toBe(trials);
    expect(tally.allowedAfterRevoke).toBe(0);
    expect(tally.checkErrors).toEqual([]);
    expect(tally.status5xx).toBe(0);
    // Not vacuous: B and C did see the grant (and so held it in their caches) before each revoke.
    expect(tally.allowedBeforeRevoke).toBe(2 * trials);
  };

  it('10,000 trials: zero ALLOWs after a revoke has returned', async () => {
    const tally = await run(10_000);
    expectSound(tally, 10_000);
    expect(tally.writesRefused).toBe(0);
  }, 600_000);

  it('with pub/sub messages dropped (the replicas subscriptions cut every 20 ms): zero ALLOWs after a revoke', async () => {
    const admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    let cuts = 0;
    const tally = await run(2_000, async (done) => {
      while (!done()) {
        cuts += Number(await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub').catch(() => 0));
        await new Promise((r) => setTimeout(r, 20));
      }
    }).finally(() => admin.disconnect());
    expectSound(tally, 2_000);
    expect(cuts).toBeGreaterThan(0);
  }, 300_000);

  it('across Redis crashes and restarts: zero ALLOWs after a revoke, no check fails, writes refused only while it is down', async () => {
    let crashes = 0;
    const tally = await run(2_000, async (done) => {
      while (!done()) {
        await new Promise((r) => setTimeout(r, 1_500));
        if (done()) break;
        await redis.kill();
        crashes++;
        await new Promise((r) => setTimeout(r, 300));
        await redis.start();
      }
    });
    expectSound(tally, 2_000);
    expect(crashes).toBeGreaterThan(0);
    for (const r of replicas) expect(r.stderr()).not.toMatch(/"level":"error"/);
  }, 600_000);
});
