/**
 * The load generator, run as a child process of `run.ts` (so that it does not share the servers'
 * event loop): reads one JSON `CannonSpec` on stdin, runs autocannon for a warm-up and then for the
 * measured duration against a loopback URL. On stdout: the line `measuring` when the measured run
 * starts, then one line of JSON, the `CannonResult`.
 */
import autocannon from 'autocannon';

export interface CannonSpec {
  url: string;
  connections: number;
  pipelining: number;
  warmupSeconds: number;
  seconds: number;
  /** Cycled through by every connection. */
  requests: { headers: Record<string, string>; body: string }[];
  /** A response body must contain this (else it counts as a mismatch). */
  expectIncludes: string;
}

export interface CannonSummary {
  rps: number;
  requests: number;
  seconds: number;
  latency: { mean: number; p50: number; p90: number; p99: number; max: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  mismatches: number;
}

export interface CannonResult {
  warmup: CannonSummary;
  main: CannonSummary;
  /** CPU time the load generator used during the measured run, as a share of one core (%). */
  cpuPct: number;
}

function run(spec: CannonSpec, seconds: number): Promise<autocannon.Result> {
  if (!/^http:\/\/127\.0\.0\.1:\d+\//.test(spec.url)) throw new Error(`loopback only: ${spec.url}`);
  return autocannon({
    url: spec.url,
    connections: spec.connections,
    pipelining: spec.pipelining,
    duration: seconds,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    requests: spec.requests.map((r) => ({
      method: 'POST',
      headers: { 'content-type': 'application/json', ...r.headers },
      body: r.body,
    })),
    verifyBody: (body) => typeof body === 'string' && body.includes(spec.expectIncludes),
  });
}

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
  const spec = JSON.parse(Buffer.concat(chunks).toString('utf8')) as CannonSpec;
  const warmup = summarize(await run(spec, spec.warmupSeconds));
  // Tells the parent the measured run starts now (it starts its own meters on this line).
  process.stdout.write('measuring\n');
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const main = summarize(await run(spec, spec.seconds));
  const cpu = process.cpuUsage(cpu0);
  const cpuPct = ((cpu.user + cpu.system) / 1000 / (performance.now() - t0)) * 100;
  process.stdout.write(`${JSON.stringify({ warmup, main, cpuPct } satisfies CannonResult)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
