import { performance } from 'node:perf_hooks';
import { DEFAULT_REQUEST_TIMEOUT_MS } from '../../config';

/** How long a request may run before it is answered REQUEST_TIMEOUT and its work stops: 10 s. */
export { DEFAULT_REQUEST_TIMEOUT_MS };

/** The request's deadline passed: what it was doing stops, and the client is told so (never the limit). */
export class DeadlineExceededError extends Error {
  override name = 'DeadlineExceededError';
  constructor() {
    super('the request took too long and was stopped');
  }
}

/**
 * One request's deadline, started when the request is taken up. Work that can run long (scans, waits)
 * calls `check()` between steps and so stops at the first step after the deadline; `race()` answers a
 * caller at the deadline even while that work is still between two checks.
 */
export class Deadline {
  /** The instant it passes, on the monotonic clock (performance.now()). */
  readonly at: number;

  private readonly now: () => number;

  /**
   * `timeoutMs` from `startedAt` (default: now), both on the clock `now` (default performance.now(),
   * monotonic: a wall-clock change moves no deadline).
   */
  constructor(
    readonly timeoutMs: number = DEFAULT_REQUEST_TIMEOUT_MS,
    options: { startedAt?: number; now?: () => number } = {},
  ) {
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0)
      throw new RangeError(`a request timeout is a positive number of milliseconds, got ${timeoutMs}`);
    this.now = options.now ?? (() => performance.now());
    this.at = (options.startedAt ?? this.now()) + timeoutMs;
  }

  /** Milliseconds left; 0 once it has passed. */
  remaining(): number {
    return Math.max(0, this.at - this.now());
  }

  expired(): boolean {
    return this.now() >= this.at;
  }

  /** Throws DeadlineExceededError once the deadline has passed; call it between steps of long work. */
  check(): void {
    if (this.expired()) throw new DeadlineExceededError();
  }

  /**
   * `work`'s outcome, or DeadlineExceededError if the deadline passes first. The work is not cancelled
   * (nothing can be, from outside): it goes on to its next `check()` and stops there; its late outcome
   * is dropped here, so a late failure is no unhandled rejection.
   */
  race<T>(work: Promise<T>): Promise<T> {
    if (this.expired()) {
      work.catch(() => {});
      return Promise.reject(new DeadlineExceededError());
    }
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new DeadlineExceededError()), this.remaining());
      // The timer alone never keeps the process up (closing the gateway must not wait for it).
      timer.unref();
    });
    work.catch(() => {});
    return Promise.race([work, late]).finally(() => clearTimeout(timer));
  }
}

/** Lets other requests (and /healthz) run: resolves on the event loop's next turn, after pending I/O. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
