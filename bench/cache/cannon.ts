/**
 * The load generator of `bench:cache`, a child process like bench/http/cannon.ts (same protocol: one
 * JSON spec on stdin; on stdout the line `measuring` when the measured run starts, then one line of
 * JSON) with two things that one lacks:
 *
 * - one **stream** of request bodies per target, shared by its connections: every request takes the
 *   next body (autocannon's `setupRequest`), so the connections together walk one sequence of Zipf
 *   draws. (With a `requests` list, autocannon's connections each replay the list from its start:
 *   50 connections would ask for the same user at nearly the same moment, and 49 of them would find
 *   it cached.) The stream continues from the warm-up into the measured run;
 * - several **targets** at once (replicas behind a round-robin balancer), each with its own
 *   connections and its own stream, started and stopped together.
 *
 * The result is bench/http's `CannonSummary` per target.
 */
import autocannon from 'autocannon';
import type { CannonSummary } from '../http/cannon';

export interface StreamTarget {
  url: string;
  connections: number;
  /** Bodies taken in order by every connection of this target; wraps around at the end (reported). */
  bodies: string[];
}

export interface StreamSpec {
  targets: StreamTarget[];
  /** Sent with every request (content-type is added). */
  headers: Record<string, string>;
  warmupSeconds: number;
  seconds: number;
  /** A response body must contain this (else it counts as a mismatch). */
  expectIncludes: string;
}

export interface StreamResult {
  warmup: CannonSummary[];
  main: CannonSummary[];
  /** CPU time this load generator used during the measured run, as a share of one core (%). */
  cpuPct: number;
  /** Bodies taken per target (warm-up and measured run), and whether its stream wrapped around. */
  taken: number[];
  wrapped: boolean[];
}

function run(spec: StreamSpec, next: (() => string)[], seconds: number): Promise<autocannon.Result[]> {
  return Promise.all(
    spec.targets.map((t, i) => {
      if (!/^http:\/\/127\.0\.0\.1:\d+\//.test(t.url)) throw new Error(`loopback only: ${t.url}`);
      const take = next[i]!;
      return autocannon({
        url: t.url,
        connections: t.connections,
        pipelining: 1,
        duration: seconds,
        requests: [
          {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...spec.headers },
            setupRequest: (req) => ({ ...req, body: take() }),
          },
        ],
        verifyBody: (body) => typeof body === 'string' && body.includes(spec.expectIncludes),
      });
    }),
  );
}

/** bench/http/cannon.ts's summary (that file runs its own main when imported, so it is not imported). */
function summarize(r: autocannon.Result): CannonSummary {
  return {
    rps: r.requests.average,
    requests: r.requests.total,
    seconds: r.duration,
    latency: {
      mean: r.latency.mean,
      p50: r.latency.p50,
      p90: r.latency.p90,
      p99: r.latency.p99,
      max: r.latency.max,
    },
    errors: r.errors,
    timeouts: r.timeouts,
    non2xx: r.non2xx,
    mismatches: r.mismatches,
  };
}

async function main(): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const spec = JSON.parse(Buffer.concat(chunks).toString('utf8')) as StreamSpec;
  const taken = spec.targets.map(() => 0);
  const next = spec.targets.map((t, i) => () => t.bodies[taken[i]!++ % t.bodies.length]!);
  const warmup = spec.warmupSeconds > 0 ? (await run(spec, next, spec.warmupSeconds)).map(summarize) : [];
  // Tells the parent the measured run starts now (it takes its meters' first readings on this line).
  process.stdout.write('measuring\n');
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const main = (await run(spec, next, spec.seconds)).map(summarize);
  const cpu = process.cpuUsage(cpu0);
  const cpuPct = ((cpu.user + cpu.system) / 1000 / (performance.now() - t0)) * 100;
  const wrapped = spec.targets.map((t, i) => taken[i]! > t.bodies.length);
  process.stdout.write(
    `${JSON.stringify({ warmup, main, cpuPct, taken, wrapped } satisfies StreamResult)}\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
