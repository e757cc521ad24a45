import type { Redis } from 'ioredis';
import type { SharedCache } from '../cache/redis';

/** Something changed that live subscribers may want to see again: one approval request. */
export interface Change {
  orgId: string;
  /** The approval request's id. */
  id: string;
}

/**
 * Where changes are announced, to every subscriber of every replica: in process, and with Redis, over
 * its pub/sub (as version invalidations are). Announcing is best effort: a subscriber reads the
 * request itself when told, so a lost message delays an update and never shows a wrong one.
 */
export interface Changes {
  publish(change: Change): Promise<void>;
  /** Calls `listener` for every change, here or (with Redis) on any replica; returns the unsubscribe. */
  subscribe(listener: (change: Change) => void): () => void;
  close(): Promise<void>;
}

/**
 * A subscription's stream of `events` that stops listening at once when it is ended (`return()` or
 * `throw()` call `stop` before the generator runs its own clean-up, even while it waits for a change).
 */
export function stoppable<T>(events: AsyncGenerator<T>, stop: () => void): AsyncIterableIterator<T> {
  return {
    next: () => events.next(),
    return: async () => {
      stop();
      return events.return(undefined);
    },
    throw: async (err?: unknown) => {
      stop();
      return events.throw(err);
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

/** One process: changes go straight to its listeners. */
export class LocalChanges implements Changes {
  private readonly listeners = new Set<(change: Change) => void>();

  async publish(change: Change): Promise<void> {
    this.emit(change);
  }

  subscribe(listener: (change: Change) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Tells this process's listeners; one that throws does not stop the others. */
  emit(change: Change): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(change);
      } catch {
        // A listener's own problem (a closed subscription) is its own.
      }
    }
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}

const CHANNEL = 'rg1:approvals';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Replicas sharing a Redis: a change is published on `rg1:approvals` as `<org> <id>` and every replica
 * (this one included, through its own subscription) tells its listeners. While Redis is away, changes
 * made here still reach this process's listeners.
 */
export class RedisChanges implements Changes {
  private readonly local = new LocalChanges();
  private subscriber: Redis | null;
  private subscribed = false;

  constructor(private readonly redis: SharedCache) {
    this.subscriber = redis.connection('rolegate-changes');
    this.subscriber.on('message', (_channel, message: string) => {
      const [orgId, id] = message.split(' ');
      if (orgId && id && UUID.test(orgId) && UUID.test(id)) this.local.emit({ orgId, id });
    });
    this.subscriber.on('ready', () => {
      void this.subscriber
        ?.subscribe(CHANNEL)
        .then(() => (this.subscribed = true))
        .catch(() => {});
    });
    this.subscriber.on('close', () => (this.subscribed = false));
  }

  async connect(): Promise<void> {
    await this.subscriber?.connect().catch(() => {});
  }

  async publish(change: Change): Promise<void> {
    const sent = await this.redis.client
      .publish(CHANNEL, `${change.orgId} ${change.id}`)
      .then(() => true)
      .catch(() => false);
    // Not heard back through Redis (down, or not subscribed yet): this process's listeners hear it here.
    if (!sent || !this.subscribed) this.local.emit(change);
  }

  subscribe(listener: (change: Change) => void): () => void {
    return this.local.subscribe(listener);
  }

  async close(): Promise<void> {
    await this.local.close();
    await this.subscriber?.quit().catch(() => {});
    this.subscriber?.disconnect();
    this.subscriber = null;
  }
}
