/**
 * Timing. A single check is sub-microsecond for some engines, below what one `hrtime` call can
 * resolve honestly, so warm checks are timed in batches: `process.hrtime.bigint()` around every batch
 * of BATCH checks, and the per-check p50/p99 are percentiles of the batch means (batch time / BATCH).
 * Throughput is all measured checks over the sum of the batch times.
 */
import type { ColdBuilder, Engine } from './engines';
import type { ColdCase, Workload } from './world';

export const BATCH = 64;

export interface WarmResult {
  checks: number;
  seconds: number;
  perSecond: number;
  /** Nanoseconds per check. */
  p50: number;
  p99: number;
  mean: number;
  allowed: number;
}

export function percentile(sorted: Float64Array | number[], q: number): number {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

/** A full collection, when the run has `--expose-gc` (the npm script does). */
export function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) g();
}

export interface WarmOptions {
  /** Unmeasured batches run first (JIT, caches). */
  warmupSeconds: number;
  /** Measure until this much batch time has accumulated… */
  seconds: number;
  /** …or this many checks were measured, whichever comes first. */
  maxChecks: number;
  /** Stop after one pass over the workload (for measurements that only make sense once per check). */
  onePass?: boolean;
}

/** Batch timings of one engine on one workload, accumulated over rounds. */
export class WarmSeries {
  /** Nanoseconds per check, one entry per batch. */
  readonly perCheck: number[] = [];
  totalNs = 0;
  allowed = 0;
  /** Next batch of the workload to run: rounds continue where the previous one stopped. */
  cursor = 0;

  result(): WarmResult {
    const sorted = Float64Array.from(this.perCheck).sort();
    const checks = this.perCheck.length * BATCH;
    return {
      checks,
      seconds: this.totalNs / 1e9,
      perSecond: checks / (this.totalNs / 1e9),
      p50: percentile(sorted, 0.5),
      p99: percentile(sorted, 0.99),
      mean: this.totalNs / checks,
      allowed: this.allowed,
    };
  }
}

/** Runs one round of warm checks of `engine` over `w`, adding the batch timings to `series`. */
export function measureWarm(
  engine: Engine,
  w: Workload,
  opts: WarmOptions,
  series = new WarmSeries(),
): WarmSeries {
  const batches = Math.floor(w.size / BATCH);
  if (!batches) throw new Error('workload smaller than one batch');
  let b = series.cursor;
  if (opts.warmupSeconds > 0) {
    const until = process.hrtime.bigint() + BigInt(Math.round(opts.warmupSeconds * 1e9));
    while (process.hrtime.bigint() < until) {
      engine.batch(w, b * BATCH, (b + 1) * BATCH);
      b = (b + 1) % batches;
    }
  }
  const maxBatches = opts.onePass ? batches : Math.max(1, Math.floor(opts.maxChecks / BATCH));
  const budget = opts.seconds * 1e9;
  let total = 0;
  let n = 0;
  if (opts.onePass) b = 0;
  while (n < maxBatches && total < budget) {
    const from = b * BATCH;
    const t0 = process.hrtime.bigint();
    series.allowed += engine.batch(w, from, from + BATCH);
    const dt = Number(process.hrtime.bigint() - t0);
    series.perCheck.push(dt / BATCH);
    total += dt;
    n++;
    b = (b + 1) % batches;
  }
  series.totalNs += total;
  series.cursor = b;
  return series;
}

export interface ColdResult {
  samples: number;
  p50: number;
  p99: number;
  mean: number;
}

/** Cold builds are microseconds or more: each one is timed on its own. */
export async function measureCold(
  builder: ColdBuilder,
  cases: readonly ColdCase[],
  warmup: number,
): Promise<ColdResult> {
  if (cases.length <= warmup) throw new Error('not enough cold cases');
  let sink = 0;
  for (let i = 0; i < warmup; i++) sink += await builder.build(cases[i]!);
  gc();
  const times: number[] = [];
  for (let i = warmup; i < cases.length; i++) {
    const t0 = process.hrtime.bigint();
    const r = builder.build(cases[i]!);
    sink += typeof r === 'number' ? r : await r;
    times.push(Number(process.hrtime.bigint() - t0));
  }
  if (sink < 0) console.log(sink);
  times.sort((a, b) => a - b);
  return {
    samples: times.length,
    p50: percentile(times, 0.5),
    p99: percentile(times, 0.99),
    mean: times.reduce((a, b) => a + b, 0) / times.length,
  };
}

export function fmtNs(ns: number): string {
  if (!Number.isFinite(ns)) return '—';
  if (ns < 1000) return `${(ns / 1000).toFixed(3)} µs`;
  if (ns < 1e6) return `${(ns / 1000).toFixed(ns < 1e4 ? 2 : 1)} µs`;
  return `${(ns / 1e6).toFixed(2)} ms`;
}

export function fmtRate(perSecond: number): string {
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(2)} M/s`;
  if (perSecond >= 1e3) return `${(perSecond / 1e3).toFixed(1)} k/s`;
  return `${perSecond.toFixed(0)} /s`;
}

export function fmtMB(bytes: number): string {
  return `${(bytes / 1048576).toFixed(0)} MB`;
}
