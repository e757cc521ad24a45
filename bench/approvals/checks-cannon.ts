/**
 * The check load of `bench:approvals`, a child process with bench/http/cannon.ts's protocol (one JSON
 * spec on stdin; on stdout the line `measuring` when the measured run starts, then one line of JSON,
 * bench/http's `CannonResult`), with one difference: its connections share **one stream** of
 * requests, each with its own headers (the checker's own token), every request taking the next one
 * (autocannon's `setupRequest`), drawn at random from the distinct requests. With a `requests` list, each connection replays the list from its
 * start, so 50 connections ask about the same user at nearly the same moment: after a version bump
 * one of them would load that user's grants and 49 find them cached, which flatters the hit ratio
 * under writes. The stream continues from the warm-up into the measured run.
 */
import autocannon from 'autocannon';
import type { CannonResult, CannonSummary } from '../http/cannon';
import { Rng } from '../store/world';
import type { Item } from './driver';

export interface ChecksSpec {
  url: string;
  connections: number;
  warmupSeconds: number;
  seconds: number;
  /** The distinct requests; each one sent is drawn from them uniformly at random. */
  items: Item[];
  /** The draws' seed: the same seed, the same sequence. */
  seed: number;
  /** A response body must contain this (else it counts as a mismatch). */
  expectIncludes: string;
}

function run(spec: ChecksSpec, next: () => Item, seconds: number): Promise<autocannon.Result> {
  if (!/^http:\/\/127\.0\.0\.1:\d+\//.test(spec.url)) throw new Error(`loopback only: ${spec.url}`);
  return autocannon({
    url: spec.url,
    connections: spec.connections,
    pipelining: 1,
    duration: seconds,
    requests: [
      {
        method: 'POST',
        setupRequest: (req) => {
          const item = next();
          return {
            ...req,
            headers: { ...req.headers, 'content-type': 'application/json', ...item.headers },
            body: item.body,
          };
        },
      },
    ],
    verifyBody: (body) => typeof body === 'string' && body.includes(spec.expectIncludes),
  });
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
  const spec = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ChecksSpec;
  const rng = new Rng(spec.seed);
  const next = () => spec.items[rng.int(spec.items.length)]!;
  const warmup = summarize(await run(spec, next, spec.warmupSeconds));
  // Tells the parent the measured run starts now (it takes its meters' first readings on this line).
  process.stdout.write('measuring\n');
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const main = summarize(await run(spec, next, spec.seconds));
  const cpu = process.cpuUsage(cpu0);
  const cpuPct = ((cpu.user + cpu.system) / 1000 / (performance.now() - t0)) * 100;
  process.stdout.write(`${JSON.stringify({ warmup, main, cpuPct } satisfies CannonResult)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
