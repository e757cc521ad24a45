import DataLoader from 'dataloader';
import { asError, StoreError } from './errors';
import { isUuid } from './ids';

/**
 * Where a request learns an organization's current version, the key of everything cached for it, and
 * how a write makes its version known before it returns.
 *
 * - Embedded store: one process makes every write, so the version is kept in memory, advanced by each
 *   write after it commits and before it returns.
 * - PostgreSQL alone: the version is read from the database for every request; concurrent requests
 *   share one query (a batch per tick, never joined once sent, so no request gets an answer older
 *   than its own start).
 * - PostgreSQL and a shared cache (Redis): the version is read from the shared cache, in one batched
 *   round trip; a write marks its version pending there before it commits and publishes it after,
 *   before it returns. A version the shared cache cannot vouch for (pending, missing, Redis down) is
 *   read from the database.
 */
export interface SharedVersions {
  readonly up: boolean;
  /** Throws when the shared cache does not answer. */
  versions(orgIds: readonly string[]): Promise<({ version: string } | { pending: string | null })[]>;
  /** Throws when the shared cache does not answer: the write is then refused. */
  prepare(orgId: string, version: string): Promise<void>;
  committed(orgId: string, version: string): Promise<boolean>;
  abandoned(orgId: string, version: string): Promise<void>;
  learn(orgId: string, version: string, pending: string | null): Promise<void>;
}

export interface VersionsObserver {
  read(source: 'redis' | 'store' | 'memory', count: number): void;
}

/**
 * How long a write may take between marking its version pending and committing: past it, the write is
 * rolled back instead (its mark may have expired and a replica re-read the version before it).
 */
export const WRITE_DEADLINE_MS = 10_000;

export class Versions {
  private readonly known = new Map<string, bigint>();
  private shared?: SharedVersions;
  private strict = true;
  private observer?: VersionsObserver;
  private readonly batch: DataLoader<string, string | null>;

  constructor(
    private readonly read: (orgIds: readonly string[]) => Promise<(string | null)[]>,
    private readonly inMemory: boolean,
  ) {
    // One batch per turn of the event loop: the requests that arrived together share one read. A
    // request never joins a read already sent, so its answer is never older than its own start.
    this.batch = new DataLoader((ids) => this.readMany(ids), {
      cache: false,
      maxBatchSize: 1000,
      batchScheduleFn: (run) => setImmediate(run),
    });
  }

  /**
   * Shares versions through a shared cache (PostgreSQL only: the embedded store has one process).
   * `strict: false` trusts the last version heard instead of reading one per request: for benchmarks
   * that measure what strictness costs, never for serving (a replica may then answer from before a
   * write that has returned).
   */
  use(options: { shared?: SharedVersions; strict?: boolean; observer?: VersionsObserver }): void {
    if (!this.inMemory) this.shared = options.shared;
    this.strict = options.strict ?? true;
    this.observer = options.observer;
  }

  /** The organization's current version; null when it does not exist. Throws UNAVAILABLE if unknowable. */
  async current(orgId: string): Promise<string | null> {
    if (!isUuid(orgId)) return null;
    const kept = this.inMemory || !this.strict ? this.known.get(orgId) : undefined;
    if (kept !== undefined) {
      this.observer?.read('memory', 1);
      return kept.toString();
    }
    const version = await this.batch.load(orgId);
    if (version !== null && (this.inMemory || !this.strict)) this.advance(orgId, version);
    return version === null ? null : this.inMemory ? this.known.get(orgId)!.toString() : version;
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
    this.advance(orgId, version);
    await this.shared?.committed(orgId, version);
  }

  /** The write was rolled back. */
  async abandoned(orgId: string, version: string): Promise<void> {
    await this.shared?.abandoned(orgId, version);
  }

  /** Forgets the versions heard of (Redis came back: some may have been missed). Not for the embedded store. */
  forget(): void {
    if (!this.inMemory) this.known.clear();
  }

  /** A version heard of (a write here or elsewhere). Versions only move forward. */
  advance(orgId: string, version: string): void {
    if (!this.inMemory && this.strict) return;
    const v = BigInt(version);
    const kept = this.known.get(orgId);
    if (kept === undefined || v > kept) this.known.set(orgId, v);
  }

  private async readMany(orgIds: readonly string[]): Promise<(string | null | Error)[]> {
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
            trusted++;
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
        read = await this.read(missing);
      } catch (err) {
        // The store is down: those Redis answered for are still answered, the others fail.
        const error = asError(err);
        return out.map((v) => (v === undefined ? error : v));
      }
      this.observer?.read('store', missing.length);
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
