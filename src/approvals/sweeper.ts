import type { Changes } from '../consistency/changes';
import type { Store } from '../store';

/** How often each replica records the expiry of requests past their `expiresAt`: every 5 s. */
export const DEFAULT_SWEEP_MS = 5_000;

/**
 * Records expiries: an open request (PENDING, or APPROVED and not executed) past its `expiresAt` becomes EXPIRED, with an audit entry by
 * `system`, and its subscribers are told. Every read already shows such a request EXPIRED and every
 * transition refuses it; the sweep makes the state durable and live. Safe on every replica at once
 * (each expiry is a conditional update: one replica records it).
 */
export class ExpirySweeper {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly store: Pick<Store, 'approvals'>,
    private readonly changes: Changes,
    private readonly options: { everyMs?: number; log?: (entry: Record<string, unknown>) => void } = {},
  ) {
    const every = options.everyMs ?? DEFAULT_SWEEP_MS;
    if (!Number.isFinite(every) || every < 10)
      throw new RangeError(`the expiry sweep runs at most every 10 ms, got everyMs = ${every}`);
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.sweep(), this.options.everyMs ?? DEFAULT_SWEEP_MS);
    this.timer.unref();
  }

  /** Sweeps once now (one sweep at a time); returns how many requests it expired. */
  async sweep(): Promise<number> {
    if (this.running) {
      await this.running;
      return 0;
    }
    let count = 0;
    this.running = (async () => {
      try {
        const { expired, failed } = await this.store.approvals.expireDue();
        count = expired.length;
        for (const change of expired) await this.changes.publish(change);
        for (const err of failed)
          this.options.log?.({
            level: 'warn',
            msg: "an organization's expiries could not be recorded; retried at the next sweep",
            error: err instanceof Error ? err.message : String(err),
          });
      } catch (err) {
        this.options.log?.({
          level: 'warn',
          msg: 'expiry sweep failed; retried at the next',
          error: err instanceof Error ? err.message : String(err),
        });
      }
    })();
    try {
      await this.running;
    } finally {
      this.running = null;
    }
    return count;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }
}
