import DataLoader from 'dataloader';
import {
  asError,
  isUuid,
  KnownVersions,
  Organizations,
  StoreError,
  type Db,
  type VersionHooks,
} from '../store';

/**
 * Where a request learns an organization's current version, the key of everything cached for it, and
 * how a write makes its version known before it returns. The store is given this as its `VersionHooks`.
 *
 * - Embedded store: one process makes every write, so the version is the one its writes left
 *   (`Db.known`), advanced by each write after it commits and before it returns.
 * - PostgreSQL alone: the version is read from the database for every request; concurrent requests
 *   share one query (a batch per tick, never joined once sent, so no request gets an answer older
 *   than its own start).
 * - PostgreSQL and shared versions (Redis, `RedisVersions`): the version is read from Redis, in one
 *   batched round trip; a write marks its version pending there before it commits and publishes it
 *   after, before it returns. A version Redis cannot vouch for (pending, missing, Redis down) is read
 *   from the database.
 */
export interface SharedVersions extends VersionHooks {
  readonly up: boolean;
  /** Throws when the shared store of versions does not answer. */
  versions(orgIds: readonly string[]): Promise<SharedVersion[]>;
  /** A reader read `version` from the database after finding `pending` (or nothing) shared. */
  learn(orgId: string, version: string, pending: string | null): Promise<void>;
  /** Called with every version published by any replica (this one included). */
  invalidated(listener: (orgId: string, version: string) => void): void;
  /** Called when versions may have been missed (a reconnect): what was kept in process may be stale. */
  reset(listener: () => void): void;
}

/** A version as the shared store has it: a number (trust it), or nothing to trust (missing, pending, settling). */
export type SharedVersion = { version: string } | { pending: string | null };

export interface VersionsObserver {
  read(source: 'redis' | 'store' | 'memory', count: number): void;
}

export interface VersionsOptions {
  /** Shares versions through Redis (PostgreSQL only: the embedded store has one process). */
  shared?: SharedVersions;
  /**
   * Benchmarks only (default true): false trusts the last version heard instead of reading one per
   * request, which breaks the consistency promise (a replica may then answer from before a write that
   * has returned). It measures what strictness costs.
   */
  strict?: boolean;
  observer?: VersionsObserver;
}

/** Told of each version a write reached (see `Versions.onVersion`); null: some may have been missed. */
export type VersionListener = (change: { orgId: string; version: string } | null) => void;

export class Versions implements VersionHooks {
  /** Non-strict only: the versions heard of. */
  private readonly heard = new KnownVersions();
  private readonly organizations: Organizations;
  private readonly shared?: SharedVersions;
  private readonly strict: boolean;
  private readonly observer?: VersionsObserver;
  private readonly batch: DataLoader<string, string | null>;
  private readonly listeners = new Set<VersionListener>();
  /** Embedded store: this turn's wait (see `current`). */
  private turn?: Promise<void>;

  constructor(
    private readonly db: Db,
    options: VersionsOptions = {},
  ) {
    this.organizations = new Organizations(db);
    this.shared = db.known ? undefined : options.shared;
    this.strict = options.strict ?? true;
    this.observer = options.observer;
    // One batch per turn of the event loop: the requests that arrived together share one read. A
    // request never joins a read already sent, so its answer is never older than its own start.
    this.batch = new DataLoader((ids) => this.readMany(ids), {
      cache: false,
      maxBatchSize: 1000,
      batchScheduleFn: (run) => setImmediate(run),
    });
    if (!this.strict) {
      this.shared?.invalidated((orgId, version) => this.heard.advance(orgId, version));
      this.shared?.reset(() => this.heard.clear());
    }
    this.shared?.invalidated((orgId, version) => this.emit({ orgId, version }));
    this.shared?.reset(() => this.emit(null));
  }

  /**
   * Calls `listener` with every version an organization reaches by a write, here or (with Redis) on
   * any replica, once that write has committed; with null when versions may have been missed (Redis
   * came back). The same version may be told twice (here, then back through Redis), and versions may
   * arrive out of order: listeners read what they need at the current version. Returns the unsubscribe.
   */
  onVersion(listener: VersionListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves once per turn of the event loop (after its I/O), for every caller of that turn. */
  private nextTurn(): Promise<void> {
    return (this.turn ??= new Promise<void>((resolve) =>
      setImmediate(() => {
        this.turn = undefined;
        resolve();
      }),
    ));
  }

  private emit(change: { orgId: string; version: string } | null): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(change);
      } catch {
        // A listener's own problem is its own.
      }
    }
  }

  /** The organization's current version; null when it does not exist. Throws UNAVAILABLE if unknowable. */
  async current(orgId: string): Promise<string | null> {
    if (!isUuid(orgId)) return null;
    // Embedded store: the version is in memory, read at the end of this turn of the event loop, as a
    // batch on PostgreSQL is sent: the requests that arrived together go on together, and each reads a
    // version no older than its own start. Going on one by one cost about twice the CPU per request
    // under load (bench/results/http-embedded-profile.md); no decision or version changes.
    if (this.db.known) await this.nextTurn();
    const kept = this.db.known ? this.db.known.get(orgId) : this.strict ? undefined : this.heard.get(orgId);
    if (kept !== undefined) {
      this.observer?.read('memory', 1);
      return kept;
    }
    const version = await this.batch.load(orgId);
    if (version === null) return null;
    if (this.db.known) {
      this.db.known.advance(orgId, version);
      return this.db.known.get(orgId)!;
    }
    if (!this.strict) this.heard.advance(orgId, version);
    return version;
  }

  /**
   * Waits until the organization reaches `wanted` (a version a write returned), up to `timeoutMs`;
   * resolves with the version reached, or null when it is not reached in time.
   */
  async waitFor(orgId: string, wanted: bigint, timeoutMs: number): Promise<string | null> {
    const deadline = Date.now() + timeoutMs;
    for (let pause = 10; ; pause = Math.min(pause * 2, 200)) {
      const now = await this.current(orgId);
      if (now !== null && BigInt(now) >= wanted) return now;
      if (Date.now() + pause > deadline) return null;
      await new Promise((r) => setTimeout(r, pause));
    }
  }

  /** Called inside a write's transaction, with its new version, before anything else is changed. */
  async prepare(orgId: string, version: string): Promise<void> {
    if (!this.shared) return;
    try {
      await this.shared.prepare(orgId, version);
    } catch (err) {
      throw new StoreError(
        'UNAVAILABLE',
        'the shared cache (Redis) is unreachable: changes are refused until it is back, so that no replica keeps answering from before them',
        { cause: err },
      );
    }
  }

  /** The write committed at `version`; resolves once every replica will see it. */
  async committed(orgId: string, version: string): Promise<void> {
    if (!this.strict) this.heard.advance(orgId, version);
    await this.shared?.committed(orgId, version);
    this.emit({ orgId, version });
  }

  /** The write was rolled back. */
  async abandoned(orgId: string, version: string): Promise<void> {
    await this.shared?.abandoned(orgId, version);
  }

  /**
   * One batch's versions. The batch is not deduplicated by DataLoader (no cache, so that no request
   * joins a read already sent): many requests of one organization (a live fan-out) ask once here.
   */
  private async readMany(orgIds: readonly string[]): Promise<(string | null | Error)[]> {
    const unique = [...new Set(orgIds)];
    if (unique.length === orgIds.length) return this.readUnique(orgIds, () => 1);
    // Reads are counted per request, as without the deduplication.
    const asked = new Map<string, number>();
    for (const id of orgIds) asked.set(id, (asked.get(id) ?? 0) + 1);
    const read = await this.readUnique(unique, (i) => asked.get(unique[i]!)!);
    const byId = new Map(unique.map((id, i) => [id, read[i]!]));
    return orgIds.map((id) => byId.get(id)!);
  }

  private async readUnique(
    orgIds: readonly string[],
    weight: (i: number) => number,
  ): Promise<(string | null | Error)[]> {
    const out: (string | null | Error | undefined)[] = orgIds.map(() => undefined);
    const pending: (string | null)[] = orgIds.map(() => null);
    let sharedAnswered = false;
    if (this.shared?.up) {
      try {
        const found = await this.shared.versions(orgIds);
        sharedAnswered = true;
        let trusted = 0;
        found.forEach((v, i) => {
          if ('version' in v) {
            out[i] = v.version;
            trusted += weight(i);
          } else pending[i] = v.pending;
        });
        if (trusted) this.observer?.read('redis', trusted);
      } catch {
        // Redis did not answer: the database decides (counted by the shared cache's metrics).
      }
    }
    const missing = orgIds.filter((_, i) => out[i] === undefined);
    if (missing.length) {
      let read: (string | null)[];
      try {
        read = await this.organizations.versions(missing);
      } catch (err) {
        // The store is down: those Redis answered for are still answered, the others fail.
        const error = asError(err);
        return out.map((v) => (v === undefined ? error : v));
      }
      this.observer?.read(
        'store',
        orgIds.reduce((n, _, i) => (out[i] === undefined ? n + weight(i) : n), 0),
      );
      let j = 0;
      orgIds.forEach((orgId, i) => {
        if (out[i] !== undefined) return;
        const version = read[j++] ?? null;
        out[i] = version;
        if (version !== null && sharedAnswered) void this.shared!.learn(orgId, version, pending[i]!);
      });
    }
    return out as (string | null | Error)[];
  }
}

/** Whether a consistency token is a version number (what mutations return). */
export function isVersion(token: string): boolean {
  return /^\d{1,19}$/.test(token);
}
