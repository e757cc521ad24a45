import type Redis from 'ioredis';
import type { Result } from 'ioredis';
import type { SharedCache } from '../cache/redis';
import { WRITE_DEADLINE_MS } from '../store';
import type { SharedVersion, SharedVersions } from './versions';

/**
 * The version protocol on Redis, shared by every replica:
 *
 * - each organization's **version** (`rg1:v:<run id>:<org>`), the key of everything cached. A write
 *   marks it `p:<n>` (pending) before it commits and sets it to `<n>` after, before it returns; a
 *   reader that finds it pending or missing reads the version from PostgreSQL instead (see
 *   `Versions`). Under the Redis server's run id: a restarted Redis never serves versions it kept from
 *   an earlier run (a snapshot reloaded from disk), and an empty one settles first (SETTLE_MS);
 * - an **invalidation channel**: a write publishes `<org> <version>`, and every replica's listeners
 *   hear it (the in-process caches drop older versions). A replica whose connection or subscription
 *   comes back after a gap tells its reset listeners (the caches drop everything).
 *
 * It runs on the shared cache's connection (`SharedCache`), plus one connection of its own to subscribe.
 */

/** How long a pending mark lives if its writer never clears it (crashed mid-write). */
export const PENDING_TTL_MS = 30_000;
/**
 * An empty Redis (new, restarted, flushed) has lost every pending mark: for this long after one is
 * first seen, versions are read from the store and not copied into it, so a write that was in flight
 * when its mark was lost has committed (or given up) before any replica trusts Redis's versions again.
 */
export const SETTLE_MS = WRITE_DEADLINE_MS + 5_000;

const CHANNEL = 'rg1:invalidate';

export class RedisVersions implements SharedVersions {
  private subscriber: Redis | null;
  private readonly onInvalidate: ((orgId: string, version: string) => void)[] = [];
  private readonly onReset: (() => void)[] = [];

  constructor(private readonly redis: SharedCache) {
    redis.client.defineCommand('rgCommitted', { numberOfKeys: 1, lua: COMMITTED });
    redis.client.defineCommand('rgAbandoned', { numberOfKeys: 1, lua: ABANDONED });
    redis.client.defineCommand('rgLearn', { numberOfKeys: 3, lua: LEARN });
    // Redis back after being unreachable: whatever was kept in process may have missed invalidations.
    redis.reset(() => this.emitReset());
    this.subscriber = redis.connection('rolegate-sub');
    this.subscriber.on('message', (_channel, message: string) => {
      const [orgId, version] = message.split(' ');
      if (orgId && version && /^\d+$/.test(version)) for (const f of this.onInvalidate) f(orgId, version);
    });
    let subscribedBefore = false;
    this.subscriber.on('ready', () => {
      void this.subscriber?.subscribe(CHANNEL).catch(() => {});
      // A subscription back after a gap may have missed messages: drop everything, as on a reconnect.
      if (subscribedBefore) this.emitReset();
      subscribedBefore = true;
    });
  }

  /** Connects the shared cache and the subscriber (waits up to the connect timeout; retried in the background). */
  async connect(): Promise<void> {
    await Promise.all([this.redis.connect(), this.subscriber?.connect().catch(() => {})]);
  }

  get up(): boolean {
    return this.redis.up;
  }

  invalidated(listener: (orgId: string, version: string) => void): void {
    this.onInvalidate.push(listener);
  }

  reset(listener: () => void): void {
    this.onReset.push(listener);
  }

  /** The organizations' versions as Redis has them, in one round trip. Throws when Redis does not answer. */
  async versions(orgIds: readonly string[]): Promise<SharedVersion[]> {
    const values = await this.redis.run('versions', () =>
      this.redis.client.mget(this.key('settling'), ...orgIds.map((o) => this.key('v', o))),
    );
    const settling = values[0] !== null;
    return orgIds.map((_, i) => {
      const v = values[i + 1];
      if (!settling && v != null && /^\d+$/.test(v)) return { version: v };
      return { pending: v?.startsWith('p:') ? v.slice(2) : null };
    });
  }

  /**
   * A write is about to commit `version`: readers must not trust Redis's version until it has. Throws
   * when Redis does not answer (the write is then refused: a replica could otherwise keep answering
   * from the version before it).
   */
  async prepare(orgId: string, version: string): Promise<void> {
    await this.redis.run('prepare', () =>
      this.redis.client.set(this.key('v', orgId), `p:${version}`, 'PX', PENDING_TTL_MS),
    );
  }

  /**
   * The write committed: publish its version and tell every replica. Retried while Redis is briefly
   * away; false if it could not be published (the pending mark then sends readers to the store until
   * a reader repairs it).
   */
  async committed(orgId: string, version: string): Promise<void> {
    for (let attempt = 0; attempt < 4; attempt++) {
      try {
        const results = await this.redis.run('commit', () =>
          this.redis.client
            .multi()
            .rgCommitted(this.key('v', orgId), version)
            .publish(CHANNEL, `${orgId} ${version}`)
            .exec(),
        );
        if (results && !(results as [Error | null, unknown][]).some(([err]) => err)) return;
        this.redis.metrics?.redisErrors.inc({ op: 'commit' });
      } catch {
        await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
      }
    }
    // Still safe: the pending mark (or, after a Redis restart, no key at all) sends readers to the
    // store, and the first reader to see the store at this version repairs the key.
    this.redis.log({
      level: 'warn',
      msg: 'a committed version could not be published to Redis',
      orgId,
      version,
    });
  }

  /** The write was rolled back: clear its pending mark (if it is still this write's). */
  async abandoned(orgId: string, version: string): Promise<void> {
    await this.redis
      .run('abandon', () => this.redis.client.rgAbandoned(this.key('v', orgId), version))
      .catch(() => {});
  }

  /**
   * A reader found no version it could trust and read `version` from the store: store it for the
   * others, unless a write has marked the key since (or Redis is new and still settling).
   * `pending` is the pending mark the reader saw; it is replaced only once the store has reached it.
   */
  async learn(orgId: string, version: string, pending: string | null): Promise<void> {
    await this.redis
      .run('learn', () =>
        this.redis.client.rgLearn(
          this.key('v', orgId),
          this.key('boot'),
          this.key('settling'),
          version,
          pending ?? '',
          SETTLE_MS,
        ),
      )
      .catch(() => {});
  }

  /** Closes the subscriber (the shared cache is closed by its owner). */
  async close(): Promise<void> {
    this.onReset.length = 0;
    await this.subscriber?.quit().catch(() => {});
    this.subscriber?.disconnect();
    this.subscriber = null;
  }

  /** A version-protocol key of this Redis server's run: `v` (an organization's version), `boot`, `settling`. */
  private key(kind: 'v' | 'boot' | 'settling', orgId = ''): string {
    const runId = this.redis.runId;
    if (!runId) throw new Error('Redis is not ready');
    return `rg1:${kind}:${runId}${orgId ? `:${orgId}` : ''}`;
  }

  private emitReset(): void {
    for (const f of this.onReset) f();
  }
}

// KEYS[1] version key; ARGV[1] the committed version. Sets it unless a later write already marked or
// set the key. A committed version is kept without expiry: it is small, one per organization.
const COMMITTED = `
local cur = redis.call('GET', KEYS[1])
local n = tonumber(ARGV[1])
if cur then
  local p = string.match(cur, '^p:(%d+)$')
  if p and tonumber(p) > n then return 0 end
  if not p and tonumber(cur) and tonumber(cur) >= n then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1])
return 1`;

// KEYS[1] version key; ARGV[1] the abandoned version. Clears the pending mark if it is this write's.
const ABANDONED = `
if redis.call('GET', KEYS[1]) == 'p:' .. ARGV[1] then redis.call('DEL', KEYS[1]) return 1 end
return 0`;

// KEYS: version, boot, settling. ARGV: version read from the store, pending mark seen ('' = none),
// settle ms. An empty Redis (no boot key) starts settling: nothing is learned until it ends.
const LEARN = `
if redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('SET', KEYS[2], '1')
  redis.call('SET', KEYS[3], '1', 'PX', ARGV[3])
  return 0
end
if redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
local cur = redis.call('GET', KEYS[1])
if not cur then
  redis.call('SET', KEYS[1], ARGV[1])
  return 1
end
if ARGV[2] ~= '' and cur == 'p:' .. ARGV[2] and tonumber(ARGV[1]) >= tonumber(ARGV[2]) then
  redis.call('SET', KEYS[1], ARGV[1])
  return 1
end
return 0`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    rgCommitted(key: string, version: string): Result<number, Context>;
    rgAbandoned(key: string, version: string): Result<number, Context>;
    rgLearn(
      key: string,
      bootKey: string,
      settlingKey: string,
      version: string,
      pending: string,
      settleMs: number,
    ): Result<number, Context>;
  }
}
