/**
 * What `bench:cache` needs around bench/http's pieces: the load generator's spawn (bench/http/run.ts
 * keeps its own private, and runs its benchmark when imported), reading a gateway's /metrics, and
 * the cache counters read from two such readings.
 */
import { spawn } from 'node:child_process';
import { PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import * as path from 'node:path';
import { benchLog, undoOnInterrupt } from '../interrupt';

import type { StreamResult, StreamSpec } from './cannon';

const ROOT = path.resolve(__dirname, '..', '..');
const CANNON = path.join(__dirname, 'cannon.ts');

export const log = benchLog('cache');
/** Undone if the run is interrupted (SIGINT/SIGTERM), newest first. */
export const onInterrupt = undoOnInterrupt(log);

/** Runs the load generator (cannon.ts) in a child process; `onMeasuring` when its measured run starts. */
export function cannon(spec: StreamSpec, onMeasuring: () => void | Promise<void>): Promise<StreamResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CANNON], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const stop = () => child.kill('SIGTERM');
    onInterrupt.add(stop);
    let out = '';
    let measuring: Promise<void> = Promise.resolve();
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl >= 0 && out.slice(0, nl) === 'measuring') {
        out = out.slice(nl + 1);
        measuring = Promise.resolve(onMeasuring());
      }
    });
    child.on('error', reject);
    child.on('close', (code) => {
      onInterrupt.delete(stop);
      if (code !== 0) return reject(new Error(`autocannon child exited with ${code}`));
      measuring.then(() => resolve(JSON.parse(out) as StreamResult), reject);
    });
    child.stdin.end(JSON.stringify(spec));
  });
}

// --- /metrics ----------------------------------------------------------------------------------------

/** A Prometheus text exposition as `name{labels}` → value (counters and histogram counts only). */
export type Sample = Map<string, number>;

export async function scrape(graphqlUrl: string): Promise<Sample> {
  const res = await fetch(graphqlUrl.replace(/\/graphql$/, '/metrics'));
  if (res.status !== 200) throw new Error(`/metrics: ${res.status}`);
  const out: Sample = new Map();
  for (const line of (await res.text()).split('\n')) {
    if (!line.startsWith('rolegate_') || line.startsWith('rolegate_decision_duration_seconds_bucket'))
      continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

/** What the cache and the store did between two readings of one gateway's /metrics. */
export interface Counts {
  /** `check`/`checks` fields answered (the decision histogram's count). */
  fields: number;
  l1Hit: number;
  l1Miss: number;
  l2Hit: number;
  l2Miss: number;
  storeQueries: number;
  versionReads: { redis: number; store: number; memory: number };
  redisErrors: number;
}

export function counts(before: Sample, after: Sample): Counts {
  const d = (k: string) => (after.get(k) ?? 0) - (before.get(k) ?? 0);
  const lookups = (level: string, result: string) =>
    d(`rolegate_cache_lookups_total{level="${level}",result="${result}"}`);
  let redisErrors = 0;
  for (const k of after.keys()) if (k.startsWith('rolegate_redis_errors_total')) redisErrors += d(k);
  return {
    fields: d('rolegate_decision_duration_seconds_count'),
    l1Hit: lookups('l1', 'hit'),
    l1Miss: lookups('l1', 'miss'),
    l2Hit: lookups('l2', 'hit'),
    l2Miss: lookups('l2', 'miss'),
    storeQueries: d('rolegate_store_queries_total'),
    versionReads: {
      redis: d('rolegate_version_reads_total{source="redis"}'),
      store: d('rolegate_version_reads_total{source="store"}'),
      memory: d('rolegate_version_reads_total{source="memory"}'),
    },
    redisErrors,
  };
}

export function addCounts(a: Counts, b: Counts): Counts {
  return {
    fields: a.fields + b.fields,
    l1Hit: a.l1Hit + b.l1Hit,
    l1Miss: a.l1Miss + b.l1Miss,
    l2Hit: a.l2Hit + b.l2Hit,
    l2Miss: a.l2Miss + b.l2Miss,
    storeQueries: a.storeQueries + b.storeQueries,
    versionReads: {
      redis: a.versionReads.redis + b.versionReads.redis,
      store: a.versionReads.store + b.versionReads.store,
      memory: a.versionReads.memory + b.versionReads.memory,
    },
    redisErrors: a.redisErrors + b.redisErrors,
  };
}

/**
 * Hit ratios of the checked users' lookups (compiled grants and location paths). Every `check`
 * request also looks up the viewer's own grants once (`buildContext`), always an L1 hit once warm:
 * `viewerLookups` of them (one per request) are taken out of the L1 counts, and `raw` keeps the
 * counter as /metrics has it.
 *
 * An L1 miss either goes to Redis (an L2 lookup) or joins another request's load of the same key
 * (`joined`: counted as an L1 miss, neither an L2 lookup nor a store load). A store load is an L2 miss
 * (with Redis) or an L1 miss not joined (without).
 */
export interface Ratios {
  lookups: number;
  l1: number;
  /** Of the L2 lookups (the L1 misses that asked Redis). */
  l2: number | null;
  joined: number;
  storeLoads: number;
  /** Lookups answered without a store load. */
  overall: number;
  raw: { lookups: number; l1: number };
}

export function ratios(c: Counts, viewerLookups: number, redis: boolean): Ratios {
  const rawLookups = c.l1Hit + c.l1Miss;
  const lookups = rawLookups - viewerLookups;
  const l1Hit = c.l1Hit - viewerLookups;
  const l2Lookups = c.l2Hit + c.l2Miss;
  const joined = redis ? c.l1Miss - l2Lookups : 0;
  const storeLoads = redis ? c.l2Miss : c.l1Miss;
  return {
    lookups,
    l1: l1Hit / lookups,
    l2: redis ? c.l2Hit / l2Lookups : null,
    joined,
    storeLoads,
    overall: 1 - storeLoads / lookups,
    raw: { lookups: rawLookups, l1: c.l1Hit / rawLookups },
  };
}

export const pct = (x: number | null, digits = 1) =>
  x === null || !Number.isFinite(x) ? '–' : `${(100 * x).toFixed(digits)}%`;

// --- garbage collection ------------------------------------------------------------------------------

export interface GcStats {
  count: number;
  totalMs: number;
  maxMs: number;
}

/** Starts recording this process's GC pauses; the returned function stops and reports. */
export function gcMeter(): () => GcStats {
  const s: GcStats = { count: 0, totalMs: 0, maxMs: 0 };
  const add = (entries: PerformanceEntry[]) => {
    for (const e of entries) {
      s.count++;
      s.totalMs += e.duration;
      s.maxMs = Math.max(s.maxMs, e.duration);
    }
  };
  const observer = new PerformanceObserver((list) => add(list.getEntries()));
  observer.observe({ entryTypes: ['gc'] });
  return () => {
    add(observer.takeRecords());
    observer.disconnect();
    return s;
  };
}

/** A full collection when node runs with --expose-gc (the npm script's flag); else nothing. */
export function collect(): void {
  (globalThis as { gc?: () => void }).gc?.();
}
