import { createHmac, timingSafeEqual } from 'node:crypto';
import Redis, { type RedisOptions } from 'ioredis';
import type { Metrics } from '../metrics/metrics';

/**
 * The shared cache (level 2): one Redis for every replica, and the connection the version protocol
 * (src/consistency/redis-versions.ts) shares. Here: the connection, whether Redis is up, and the
 * **entries**, keyed by organization and version (`rg1:e:<org>:<version>:<kind>:<id>`), signed, and
 * written with a lifetime fixed then and never extended by a read.
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

/** Bytes of HMAC-SHA-256 kept with each entry. */
const MAC_BYTES = 16;

export class SharedCache {
  /** The command connection (the version protocol runs its scripts on it). */
  readonly client: Redis;
  private readonly ttlMs: number;
  private readonly macKey?: Uint8Array;
  readonly log: (entry: Record<string, unknown>) => void;
  readonly metrics?: Metrics;
  private wasUp = false;
  private id: string | null = null;
  private closing = false;
  private everUp = false;
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
      this.id = null;
      void this.learnRunId();
    });
    this.client.on('close', () => this.changed(false));
  }

  /** Another connection to the same Redis with the same options (a subscriber), not yet connected. */
  connection(name: string): Redis {
    const other = this.client.duplicate({ connectionName: name });
    other.on('error', () => {});
    return other;
  }

  /** Connects (waits up to the connect timeout); a Redis that is not there yet is retried in the background. */
  async connect(): Promise<void> {
    await this.client.connect().catch(() => {});
    if (this.client.status === 'ready' && !this.id) await this.learnRunId();
  }

  /** Reads the server's run id (after every (re)connect); until it is known, Redis counts as down. */
  private async learnRunId(): Promise<void> {
    try {
      const info = await this.client.info('server');
      this.id = /run_id:(\w+)/.exec(info)?.[1] ?? null;
      if (this.id) this.changed(true);
    } catch {
      // Not ready after all: the next 'ready' tries again.
    }
  }

  /** Whether Redis answered last time: while it does not, decisions read the store. */
  get up(): boolean {
    return this.client.status === 'ready' && this.id !== null;
  }

  /**
   * The Redis server's run id (null until known): a restarted server, even one that reloaded an old
   * snapshot from disk, has a new one.
   */
  get runId(): string | null {
    return this.id;
  }

  /** Called when Redis comes back after being unreachable: what was held in process may be stale. */
  reset(listener: () => void): void {
    this.onReset.push(listener);
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
    await this.client.quit().catch(() => {});
    this.client.disconnect();
  }

  /** Runs a command, counting its failure by `op` (rolegate_redis_errors_total). */
  async run<T>(op: string, fn: () => Promise<T>): Promise<T> {
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
