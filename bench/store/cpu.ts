/**
 * How busy the machine was during a measurement, and with what: this process, the PostgreSQL server
 * (postmaster and its children), and everything else. The machine may be shared; a run that competed
 * with other work says so in the report. Linux only (/proc); elsewhere it reports nothing.
 */
import { readdirSync, readFileSync } from 'node:fs';

const TICK_MS = 10; // USER_HZ = 100 on Linux

interface Snapshot {
  busyMs: number;
  totalMs: number;
  selfMs: number;
  serverMs: number;
}

export interface CpuShare {
  /** Share of the machine's CPU (all cores) used by each, in %. */
  self: number;
  server: number;
  others: number;
}

function machine(): { busyMs: number; totalMs: number } | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const total = v.reduce((a, b) => a + b, 0);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    return { busyMs: (total - idle) * TICK_MS, totalMs: total * TICK_MS };
  } catch {
    return null;
  }
}

/** CPU time of a process and its live children (ms). */
function treeMs(pid: number): number {
  let ms = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ppid = Number(fields[1]);
      if (Number(entry) !== pid && ppid !== pid) continue;
      ms += (Number(fields[11]) + Number(fields[12])) * TICK_MS;
    } catch {
      // gone meanwhile
    }
  }
  return ms;
}

function snapshot(serverPid: number | null): Snapshot | null {
  const m = machine();
  if (!m) return null;
  const u = process.cpuUsage();
  return { ...m, selfMs: (u.user + u.system) / 1000, serverMs: serverPid ? treeMs(serverPid) : 0 };
}

/** Starts measuring; the returned function ends it. `serverPid`: the postmaster, if there is one. */
export function cpuMeter(serverPid: number | null): () => CpuShare | null {
  const a = snapshot(serverPid);
  return () => {
    const b = snapshot(serverPid);
    if (!a || !b || b.totalMs <= a.totalMs) return null;
    const total = b.totalMs - a.totalMs;
    const self = b.selfMs - a.selfMs;
    const server = Math.max(0, b.serverMs - a.serverMs);
    const others = Math.max(0, b.busyMs - a.busyMs - self - server);
    return { self: (100 * self) / total, server: (100 * server) / total, others: (100 * others) / total };
  };
}

/** The postmaster's pid, from the data directory's postmaster.pid. */
export function postmasterPid(dataDir: string): number | null {
  try {
    return Number(readFileSync(`${dataDir}/postmaster.pid`, 'utf8').split('\n')[0]) || null;
  } catch {
    return null;
  }
}

/**
 * Waits (at most `maxSeconds`) until the rest of the machine has used under `thresholdPct` of its CPU
 * over a `windowMs` window, so a measurement does not start while other work is running. Returns the
 * seconds waited; a measurement may still overlap other work (the report's CPU column says so).
 */
export async function waitForQuiet(
  serverPid: number | null,
  log: (m: string) => void,
  { maxSeconds = 180, windowMs = 3000, thresholdPct = 15 } = {},
): Promise<number> {
  const t0 = performance.now();
  let warned = false;
  for (;;) {
    const end = cpuMeter(serverPid);
    await new Promise((r) => setTimeout(r, windowMs));
    const share = end();
    const waited = (performance.now() - t0) / 1000;
    if (!share || share.others < thresholdPct) return waited;
    if (waited >= maxSeconds) {
      log(`the machine is still busy (others ${share.others.toFixed(0)}%): measuring anyway`);
      return waited;
    }
    if (!warned) log(`waiting for the machine to quieten (others ${share.others.toFixed(0)}%)`);
    warned = true;
  }
}
