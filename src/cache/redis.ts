import { createHmac, timingSafeEqual } from 'node:crypto';
import Redis, { type RedisOptions, type Result } from 'ioredis';
import type { Metrics } from '../metrics/metrics';
import { WRITE_DEADLINE_MS, type SharedVersions } from '../store/versions';

/**
 * The shared cache (level 2): one Redis for every replica. It holds three things:
 *
 * - each organization's **version** (`rg1:v:<run id>:<org>`), the key of everything else. A write
 *   marks it `p:<n>` (pending) before it commits and sets it to `<n>` after, before it returns; a
 *   reader that finds it pending or missing reads the version from PostgreSQL instead (see
 *   `Versions`). Under the Redis server's run id: a restarted Redis never serves versions it kept from
 *   an earlier run (a snapshot reloaded from disk), and an empty one settles first (SETTLE_MS);
 * - **entries** keyed by organization and version (`rg1:e:<org>:<version>:<kind>:<id>`), written with a
 *   lifetime fixed then and never extended by a read;
 * - an **invalidation channel**: a write publishes `<org> <version>`, and every replica drops what it
 *   holds in process for older versions. A replica that reconnects drops everything it holds.
 *
 * Every command has a short timeout and fails at once while disconnected (no offline queue): a
 * decision never waits on Redis, it reads the store instead.
 */
export interface SharedCacheOptions {
  /** Per-command timeout, ms. Default 250. */
  commandTimeoutMs?: number;
  /** Lifetime of an entry, ms. Default 10 minutes. */
  ttlMs?: number;
  /**
   * The key that signs entries (HMAC-SHA-256 over the Redis key and the value): an entry written or
   * moved by anyone without it is a miss, never a grant. The gateway keeps one in the store, shared by
   * every replica. Without it, entries are neither written nor read (versions still are).
   */
  macKey?: Uint8Array;
  /** Where "Redis is down" and "Redis is back" go (once per change). */
  log?: (entry: Record<string, unknown>) => void;
  metrics?: Metrics;
}

/** How long a pending mark lives if its writer never clears it (crashed mid-write). */
export const PENDING_TTL_MS = 30_000;
/**
 * An empty Redis (new, restarted, flushed) has lost every pending mark: for this long after one is
 * first seen, versions are read from the store and not copied into it, so a write that was in flight
 * when its mark was lost has committed (or given up) before any replica trusts Redis's versions again.
 */
export const SETTLE_MS = WRITE_DEADLINE_MS + 5_000;

const CHANNEL = 'rg1:invalidate';
/** Bytes of HMAC-SHA-256 kept with each entry. */
const MAC_BYTES = 16;

/** A version as Redis has it: a number (trust it), or nothing to trust (missing, pending, settling). */
export type SharedVersion = { version: string } | { pending: string | null };

export class SharedCache implements SharedVersions {
  private readonly client: Redis;
  private subscriber: Redis | null = null;
  private readonly ttlMs: number;
  private readonly macKey?: Uint8Array;
  private readonly log: (entry: Record<string, unknown>) => void;
  private readonly metrics?: Metrics;
  private wasUp = false;
  private runId: string | null = null;
  private closing = false;
  private everUp = false;
  private readonly onInvalidate: ((orgId: string, version: string) => void)[] = [];
  private readonly onReset: (() => void)[] = [];

  constructor(url: string, options: SharedCacheOptions = {}) {
    this.ttlMs = options.ttlMs ?? 10 * 60_000;
    this.macKey = options.macKey;
    this.log = options.log ?? (() => {});
    this.metrics = options.metrics;
    const redisOptions: RedisOptions = {
      commandTimeout: options.commandTimeoutMs ?? 250,
      connectTimeout: 2_000,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      // Reconnect with back-off, never slower than every 2 s, forever: Redis coming back is used again.
      retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2_000),
      lazyConnect: true,
    };
    this.client = new Redis(url, { ...redisOptions, connectionName: 'rolegate' });
    this.client.on('error', () => {}); // reported through `up` and the metrics, not per event
    // Versions live under the Redis server's run id: a restarted server (even one that reloaded an
    // old snapshot from disk) has a new one, so versions it kept from before are never read.
    this.client.on('ready', () => {
      this.runId = null;
      void this.learnRunId();
    });
    this.client.on('close', () => this.changed(false));
    this.client.defineCommand('rgCommitted', { numberOfKeys: 1, lua: COMMITTED });
    this.client.defineCommand('rgAbandoned', { numberOfKeys: 1, lua: ABANDONED });
    this.client.defineCommand('rgLearn', { numberOfKeys: 3, lua: LEARN });
    this.subscriber = new Redis(url, { ...redisOptions, connectionName: 'rolegate-sub' });
    this.subscriber.on('error', () => {});
    this.subscriber.on('message', (_channel, message: string) => {
      const [orgId, version] = message.split(' ');
      if (orgId && version && /^\d+$/.test(version)) for (const f of this.onInvalidate) f(orgId, version);
    });
    let subscribedBefore = false;
    this.subscriber.on('ready', () => {
      void this.subscriber?.subscribe(CHANNEL).catch(() => {});
      // A subscription back after a gap may have missed messages: drop everything, as on a reconnect.
      if (subscribedBefore) for (const f of this.onReset) f();
      subscribedBefore = true;
    });
  }

  /** Connects (waits up to the connect timeout); a Redis that is not there yet is retried in the background. */
  async connect(): Promise<void> {
    await Promise.all([this.client.connect(), this.subscriber?.connect()]).catch(() => {});
    if (this.client.status === 'ready' && !this.runId) await this.learnRunId();
  }

  /** Reads the server's run id (after every (re)connect); until it is known, Redis counts as down. */
  private async learnRunId(): Promise<void> {
    try {
      const info = await this.client.info('server');
      this.runId = /run_id:(\w+)/.exec(info)?.[1] ?? null;
      if (this.runId) this.changed(true);
    } catch {
      // Not ready after all: the next 'ready' tries again.
    }
  }

  /** Whether Redis answered last time: while it does not, decisions read the store. */
  get up(): boolean {
    return this.client.status === 'ready' && this.runId !== null;
  }

  /** Called with every invalidation heard from any replica (this one included). */
  invalidated(listener: (orgId: string, version: string) => void): void {
    this.onInvalidate.push(listener);
  }

  /** Called when Redis comes back after being unreachable: what was held in process may be stale. */
  reset(listener: () => void): void {
    this.onReset.push(listener);
  }

  // --- versions -------------------------------------------------------------------------------------

  /** The organizations' versions as Redis has them, in one round trip. Throws when Redis does not answer. */
  async versions(orgIds: readonly string[]): Promise<SharedVersion[]> {
    const values = await this.run('versions', () =>
      this.client.mget(this.key('settling'), ...orgIds.map((o) => this.key('v', o))),
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
    await this.run('prepare', () =>
      this.client.set(this.key('v', orgId), `p:${version}`, 'PX', PENDING_TTL_MS),
    );
  }

  /**
   * The write committed: publish its version and tell every replica. Retried while Redis is briefly
   * away; false if it could not be published (the pending mark then sends readers to the store until
   * a reader repairs it).
   */
  async committed(orgId: string, version: string): Promise<boolean> {
    for (let attempt = 0; attempt < 4; attempt++) {
      try {
        const results = await this.run('commit', () =>
          this.client
            .multi()
            .rgCommitted(this.key('v', orgId), version)
            .publish(CHANNEL, `${orgId} ${version}`)
            .exec(),
        );
        if (results && !(results as [Error | null, unknown][]).some(([err]) => err)) return true;
        this.metrics?.redisErrors.inc({ op: 'commit' });
      } catch {
        await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
      }
    }
    // Still safe: the pending mark (or, after a Redis restart, no key at all) sends readers to the
    // store, and the first reader to see the store at this version repairs the key.
    this.log({ level: 'warn', msg: 'a committed version could not be published to Redis', orgId, version });
    return false;
  }

  /** The write was rolled back: clear its pending mark (if it is still this write's). */
  async abandoned(orgId: string, version: string): Promise<void> {
    await this.run('abandon', () => this.client.rgAbandoned(this.key('v', orgId), version)).catch(() => {});
  }

  /**
   * A reader found no version it could trust and read `version` from the store: store it for the
   * others, unless a write has marked the key since (or Redis is new and still settling).
   * `pending` is the pending mark the reader saw; it is replaced only once the store has reached it.
   */
  async learn(orgId: string, version: string, pending: string | null): Promise<void> {
    await this.run('learn', () =>
      this.client.rgLearn(
        this.key('v', orgId),
        this.key('boot'),
        this.key('settling'),
        version,
        pending ?? '',
        SETTLE_MS,
      ),
    ).catch(() => {});
  }

  // --- entries --------------------------------------------------------------------------------------

  /**
   * Entries by key, in one round trip; null for a miss, or for an entry whose signature does not match
   * its key and value. Throws when Redis does not answer.
   */
  async getMany(keys: readonly string[]): Promise<(Buffer | null)[]> {
    if (!keys.length || !this.macKey) return keys.map(() => null);
    const found = await this.run('get', () => this.client.mgetBuffer(...keys));
    return found.map((signed, i) => {
      if (!signed || signed.length < MAC_BYTES) return null;
      const value = signed.subarray(0, signed.length - MAC_BYTES);
      if (timingSafeEqual(signed.subarray(signed.length - MAC_BYTES), this.mac(keys[i]!, value)))
        return value;
      this.metrics?.redisErrors.inc({ op: 'bad signature' });
      return null;
    });
  }

  /** Stores entries in one pipeline, each with its own lifetime (at most the default). Never throws. */
  setMany(entries: readonly { key: string; value: Buffer; ttlMs?: number }[]): void {
    if (!entries.length || !this.up || !this.macKey) return;
    const pipeline = this.client.pipeline();
    for (const e of entries) {
      const ttl = Math.max(1, Math.min(e.ttlMs ?? this.ttlMs, this.ttlMs));
      pipeline.set(e.key, Buffer.concat([e.value, this.mac(e.key, e.value)]), 'PX', Math.floor(ttl));
    }
    this.run('set', () => pipeline.exec()).catch(() => {});
  }

  private mac(key: string, value: Buffer): Buffer {
    return createHmac('sha256', this.macKey!)
      .update(key)
      .update('\0')
      .update(value)
      .digest()
      .subarray(0, MAC_BYTES);
  }

  static entryKey(orgId: string, version: string, kind: string, id: string): string {
    return `rg1:e:${orgId}:${version}:${kind}:${id}`;
  }

  async ping(): Promise<boolean> {
    try {
      await this.run('ping', () => this.client.ping());
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    this.onReset.length = 0;
    await Promise.all([this.client.quit().catch(() => {}), this.subscriber?.quit().catch(() => {})]);
    this.client.disconnect();
    this.subscriber?.disconnect();
    this.subscriber = null;
  }

  /** A version-protocol key of this Redis server's run: `v` (an organization's version), `boot`, `settling`. */
  private key(kind: 'v' | 'boot' | 'settling', orgId = ''): string {
    if (!this.runId) throw new Error('Redis is not ready');
    return `rg1:${kind}:${this.runId}${orgId ? `:${orgId}` : ''}`;
  }

  private async run<T>(op: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      this.metrics?.redisErrors.inc({ op });
      throw err;
    }
  }

  private changed(up: boolean): void {
    if (this.closing) return;
    this.metrics?.redisUp.set(up ? 1 : 0);
    if (up === this.wasUp) return;
    this.wasUp = up;
    if (up) {
      if (this.everUp) this.log({ level: 'warn', msg: 'Redis is reachable again: shared cache in use' });
      this.everUp = true;
      // Whatever was held in process while Redis was away may have missed invalidations.
      for (const f of this.onReset) f();
    } else if (this.everUp) {
      this.log({ level: 'warn', msg: 'Redis is unreachable: decisions read the store until it is back' });
    }
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
