/**
 * The parent's side of `bench:approvals`: its child processes (the check load generator, the mutation
 * driver, the subscription probe), a gateway's /metrics, and the
 * organization's version and audit sequence as the database has them.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { benchLog, undoOnInterrupt } from '../interrupt';

import type { CannonResult } from '../http/cannon';
import type { Store } from '../../src/store';
import type { ChecksSpec } from './checks-cannon';
import type { ClosedResult, ClosedSpec, StreamResult, StreamSpec } from './driver';
import type { LiveResult, LiveSpec } from './live';

const ROOT = path.resolve(__dirname, '..', '..');

export const log = benchLog('approvals');
/** Undone if the run is interrupted (SIGINT/SIGTERM), newest first. */
export const onInterrupt = undoOnInterrupt(log);

interface Child<T> {
  /** Ends the child's stdin (a stream stops on it); resolves with its one line of JSON. */
  done(): Promise<T>;
  /** Settles when the child exits (rejects if it failed), without ending its stdin. */
  exited: Promise<T>;
}

export interface Stream extends Child<StreamResult> {
  /** Settles when the stream's first tick is due (the child printed `streaming`). */
  started: Promise<void>;
}

/**
 * Starts `script` (a .ts file, through tsx) with `spec` as its first stdin line. `keepOpen`: stdin stays
 * open until `done()`. `onLine`: called with each stdout line before the last (the result).
 */
function child<T>(script: string, spec: unknown, keepOpen: boolean, onLine?: (line: string) => unknown) {
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, script)], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const stop = () => proc.kill('SIGTERM');
  onInterrupt.add(stop);
  let out = '';
  let pending: Promise<unknown> = Promise.resolve();
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (d: string) => {
    out += d;
    for (let nl = out.indexOf('\n'); nl >= 0 && onLine; nl = out.indexOf('\n')) {
      const line = out.slice(0, nl);
      if (line.startsWith('{')) break; // the result
      out = out.slice(nl + 1);
      pending = pending.then(() => onLine(line));
    }
  });
  const result = new Promise<T>((resolve, reject) => {
    proc.on('error', reject);
    proc.on('close', (code) => {
      onInterrupt.delete(stop);
      if (code !== 0) return reject(new Error(`${script} exited with ${code}`));
      pending.then(() => resolve(JSON.parse(out) as T), reject);
    });
  });
  result.catch(() => {});
  proc.stdin.write(`${JSON.stringify(spec)}\n`);
  if (!keepOpen) proc.stdin.end();
  const handle: Child<T> = {
    exited: result,
    done: () => {
      if (keepOpen) proc.stdin.end();
      return result;
    },
  };
  return handle;
}

/** A closed loop of mutations (bench/approvals/driver.ts). */
export function closedLoop(spec: ClosedSpec): Promise<ClosedResult> {
  return child<ClosedResult>('bench/approvals/driver.ts', spec, false).done();
}

/** A stream of mutations at a fixed rate, until `done()`. */
export function startStream(spec: StreamSpec): Stream {
  let onStarted!: () => void;
  const started = new Promise<void>((resolve) => (onStarted = resolve));
  const c = child<StreamResult>('bench/approvals/driver.ts', spec, true, (line) =>
    line === 'streaming' ? onStarted() : undefined,
  );
  const early = c.exited.then(() => {
    throw new Error('the stream ended before it started');
  });
  return { started: Promise.race([started, early]), done: c.done, exited: c.exited };
}

/** The subscription probe (bench/approvals/live.ts). */
export function liveProbe(spec: LiveSpec): Promise<LiveResult> {
  return child<LiveResult>('bench/approvals/live.ts', spec, false).done();
}

/** The check load (checks-cannon.ts, autocannon); `onMeasuring` is awaited when its measured run starts. */
export function cannon(spec: ChecksSpec, onMeasuring: () => Promise<void>): Promise<CannonResult> {
  return child<CannonResult>('bench/approvals/checks-cannon.ts', spec, false, (line) =>
    line === 'measuring' ? onMeasuring() : undefined,
  ).done();
}

// --- /metrics ----------------------------------------------------------------------------------------

/** A Prometheus text exposition as `name{labels}` → value (rolegate's counters only). */
export type Sample = Map<string, number>;

export async function scrape(graphqlUrl: string): Promise<Sample> {
  const res = await fetch(graphqlUrl.replace(/\/graphql$/, '/metrics'));
  if (res.status !== 200) throw new Error(`/metrics: ${res.status}`);
  const out: Sample = new Map();
  for (const line of (await res.text()).split('\n')) {
    if (!line.startsWith('rolegate_') || line.includes('_bucket{')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

/** What a gateway did between two readings of its /metrics. */
export interface Counts {
  /** `check` fields answered (the decision histogram's count). */
  decisions: number;
  l1Hit: number;
  l1Miss: number;
  storeQueries: number;
  versionReads: { redis: number; store: number; memory: number };
}

export function counts(before: Sample, after: Sample): Counts {
  const d = (k: string) => (after.get(k) ?? 0) - (before.get(k) ?? 0);
  return {
    decisions: d('rolegate_decision_duration_seconds_count'),
    l1Hit: d('rolegate_cache_lookups_total{level="l1",result="hit"}'),
    l1Miss: d('rolegate_cache_lookups_total{level="l1",result="miss"}'),
    storeQueries: d('rolegate_store_queries_total'),
    versionReads: {
      redis: d('rolegate_version_reads_total{source="redis"}'),
      store: d('rolegate_version_reads_total{source="store"}'),
      memory: d('rolegate_version_reads_total{source="memory"}'),
    },
  };
}

// --- the organization's row ----------------------------------------------------------------------------

export interface OrgRow {
  version: string;
  auditSeq: string;
}

/** The organization's version and audit sequence, read from the database (not from a cache). */
export async function orgRow(store: Store, orgId: string): Promise<OrgRow> {
  const [row] = await store.db.query<{ version: string; audit_seq: string }>(
    'SELECT version::text AS version, audit_seq::text AS audit_seq FROM organizations WHERE id = $1',
    [orgId],
  );
  if (!row) throw new Error(`no organization ${orgId}`);
  return { version: row.version, auditSeq: row.audit_seq };
}
