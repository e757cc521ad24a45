/**
 * `npm run bench:coprocessor` — POST /federation/coprocessor under load (autocannon, 50 connections,
 * pipelining 1, in a child process: bench/http's load generator) against bench/http's baseline, a plain
 * Apollo Server answering `{ __typename }` on the same stack. Over the embedded store (PGlite in a temp
 * folder) with bench/http's world (a JRNI organization, 1,296 locations, 3,065 users, 64 probe
 * Managers). Prints its table; `npm run bench:federation` runs it after the gateway benchmark and
 * writes both to bench/results/federation.md (`--write` here writes bench/results/federation-coprocessor.md).
 *
 * `runCoprocessorBench()` is what bench/federation/run.ts calls; it returns the rows and the markdown.
 */
import { signToken } from '../http/tokens';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { exportSPKI, generateKeyPair } from 'jose';
import { startGateway } from '../../src/api/server';
import { openStore } from '../../src/store';
import { benchLog, undoOnInterrupt } from '../interrupt';
import { startBaseline } from '../http/baseline';
import type { CannonResult, CannonSpec } from '../http/cannon';
import { cannon } from '../http/harness';
import { fmt, verdict } from '../http/stats';
import { buildWorld, type World } from '../http/world';

const log = benchLog('coprocessor');
const ROOT = path.resolve(__dirname, '..', '..');
const RESULTS = path.join(ROOT, 'bench', 'results', 'federation-coprocessor.md');
const ISSUER = 'rolegate';
const AUDIENCE = 'rolegate';
/** The target: the coprocessor answers at least as many requests per second as the baseline. */
const TARGET_SHARE = 1;
const QUERY = 'query Bookings($loc: ID!) { bookings(locationId: $loc) { id customer { name } } }';

export interface CoprocessorBenchOptions {
  /** Short runs, for trying the harness: not results. Default false. */
  quick?: boolean;
  /** Write bench/results/federation-coprocessor.md. Default false (bench:federation writes the table). */
  write?: boolean;
}

export interface CoprocessorRow {
  name: string;
  result: CannonResult;
  /** CPU of the benchmark process (the servers) as a share of one core, %. */
  serverCpuPct: number;
  /** Requests the gateway counted as decided during the measured run (null for the baseline). */
  decided: number | null;
}

export interface CoprocessorBenchResult {
  rows: CoprocessorRow[];
  baselineRps: number;
  /** Each coprocessor row's share of the baseline's requests per second. */
  shares: Record<string, number>;
  pass: boolean;
  markdown: string;
}

/** An Apollo Router SupergraphRequest (as test/fixtures/coprocessor/apollo-supergraph-request.json). */
function apolloRequest(token: string, policies: string[], loc: string, i: number) {
  return {
    version: 1,
    stage: 'SupergraphRequest',
    control: 'continue',
    id: `bench-${i}`,
    headers: { authorization: [`Bearer ${token}`], 'content-type': ['application/json'] },
    body: { query: QUERY, operationName: 'Bookings', variables: { loc } },
    context: {
      entries: {
        'apollo::authorization::required_policies': Object.fromEntries(policies.map((p) => [p, null])),
        'apollo::supergraph::operation_name': 'Bookings',
      },
    },
    method: 'POST',
  };
}

function hiveRequest(token: string, policies: string[], loc: string, i: number) {
  return {
    version: 1,
    stage: 'graphql.analysis',
    id: `bench-${i}`,
    headers: { authorization: [`Bearer ${token}`] },
    body: { query: QUERY, operationName: 'Bookings', variables: { loc } },
    context: { 'hive::authorization::required_policies': Object.fromEntries(policies.map((p) => [p, null])) },
  };
}

async function decidedCount(metricsUrl: string): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  return [
    ...text.matchAll(/^rolegate_coprocessor_requests_total\{[^}]*result="decided"[^}]*\} (\d+)/gm),
  ].reduce((n, m) => n + Number(m[1]), 0);
}

export async function runCoprocessorBench(
  options: CoprocessorBenchOptions = {},
): Promise<CoprocessorBenchResult> {
  const quick = options.quick ?? false;
  const load = { connections: 50, pipelining: 1, warmupSeconds: quick ? 1 : 3, seconds: quick ? 3 : 10 };
  const onInterrupt = undoOnInterrupt(log);
  const started = Date.now();
  const loadAtStart = os.loadavg()[0]!;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rolegate-bench-coprocessor-'));
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  onInterrupt.add(removeDir);
  const store = await openStore({ dataDir: dir });
  const rows: CoprocessorRow[] = [];
  let world: World;
  try {
    log('coprocessor: building the world (bench/http/world.ts)');
    world = await buildWorld(store);
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const auth = {
      issuer: ISSUER,
      audience: AUDIENCE,
      publicKey: await exportSPKI(publicKey),
      algorithm: 'ES256',
    };
    const gateway = await startGateway({
      store,
      config: { port: 0, env: 'production' },
      auth,
      log: () => {},
      approvals: false,
      coprocessor: { trustClaims: false, onFault: 'deny' },
    });
    const baseline = await startBaseline();
    const base = gateway.url.replace('/graphql', '');
    const endpoint = `${base}/federation/coprocessor`;
    try {
      const tokens = await Promise.all(world.probes.map((p) => signToken(privateKey, world.orgId, p.userId)));
      // Each probe: its permission at the organization (a Manager at an area: false) and at a branch
      // below its area (`@locationId`, from the operation's variable: the probe's expected answer).
      const policiesOf = (permission: string) => [permission, `${permission}@locationId`];
      const build = (kind: 'apollo' | 'hive' | 'none') =>
        world.probes.map((p, i) => {
          const payload =
            kind === 'hive'
              ? hiveRequest(tokens[i]!, policiesOf(p.permission), p.branchId, i)
              : apolloRequest(tokens[i]!, kind === 'none' ? [] : policiesOf(p.permission), p.branchId, i);
          if (kind === 'none') delete (payload as { context?: unknown }).context;
          return { headers: {}, body: JSON.stringify(payload) };
        });
      const requests = { apollo: build('apollo'), hive: build('hive'), none: build('none') };
      // Every answer checked before the load: the load only repeats known answers.
      for (const [i, p] of world.probes.entries()) {
        const res = await fetch(endpoint, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: requests.apollo[i]!.body,
        });
        const body = (await res.json()) as {
          context?: { entries?: Record<string, Record<string, boolean>> };
        };
        const answers = body.context?.entries?.['apollo::authorization::required_policies'];
        const expected = { [p.permission]: false, [`${p.permission}@locationId`]: p.expected === 'ALLOW' };
        if (JSON.stringify(answers) !== JSON.stringify(expected))
          throw new Error(
            `probe ${p.userId}: ${JSON.stringify(answers)}, expected ${JSON.stringify(expected)}`,
          );
      }

      const runs: {
        name: string;
        url: string;
        spec: CannonSpec['requests'];
        expect: string;
        counted: boolean;
      }[] = [
        {
          name: 'baseline (plain Apollo Server, `{ __typename }`)',
          url: baseline.url,
          spec: [{ headers: {}, body: JSON.stringify({ query: '{ __typename }' }) }],
          expect: '{"data":{"__typename":"Query"}}',
          counted: false,
        },
        {
          name: 'coprocessor, Apollo SupergraphRequest, 2 policies (`p`, `p@locationId`)',
          url: endpoint,
          spec: requests.apollo,
          expect: '"control":"continue","context":{"entries"',
          counted: true,
        },
        {
          name: 'coprocessor, Hive graphql.analysis, 2 policies',
          url: endpoint,
          spec: requests.hive,
          expect: '"control":"continue","context":{"hive::',
          counted: true,
        },
        {
          name: 'coprocessor, no policies key (plain continue)',
          url: endpoint,
          spec: requests.none,
          expect: '"control":"continue"}',
          counted: false,
        },
      ];
      for (const run of runs) {
        log(
          `load: ${run.name} (${load.warmupSeconds}s warm-up + ${load.seconds}s, ${load.connections} connections)`,
        );
        let cpu0 = process.cpuUsage();
        let t0 = performance.now();
        let decided0 = 0;
        let measuring: Promise<void> = Promise.resolve();
        const result = await cannon(
          { ...load, url: run.url, requests: run.spec, expectIncludes: run.expect },
          () => {
            cpu0 = process.cpuUsage();
            t0 = performance.now();
            if (run.counted) measuring = decidedCount(`${base}/metrics`).then((n) => void (decided0 = n));
          },
        );
        const cpu = process.cpuUsage(cpu0);
        const serverCpuPct = ((cpu.user + cpu.system) / 1000 / (performance.now() - t0)) * 100;
        await measuring;
        const decided = run.counted ? (await decidedCount(`${base}/metrics`)) - decided0 : null;
        const m = result.main;
        log(
          `  ${fmt(m.rps)} req/s, p50 ${m.latency.p50} ms, p99 ${m.latency.p99} ms, bad ${m.errors + m.non2xx + m.mismatches}`,
        );
        rows.push({ name: run.name, result, serverCpuPct, decided });
      }
    } finally {
      await baseline.close();
      await gateway.close();
    }
  } finally {
    await store.close();
    removeDir();
    onInterrupt.delete(removeDir);
  }

  const baselineRps = rows[0]!.result.main.rps;
  const shares = Object.fromEntries(rows.slice(1).map((r) => [r.name, r.result.main.rps / baselineRps]));
  const pass = Object.values(shares).every((s) => s >= TARGET_SHARE);
  const markdown = report(rows, world, { quick, load, seconds: (Date.now() - started) / 1000, loadAtStart });
  if (options.write ?? false) {
    mkdirSync(path.dirname(RESULTS), { recursive: true });
    writeFileSync(RESULTS, markdown);
    log(`wrote ${path.relative(ROOT, RESULTS)}`);
  }
  return { rows, baselineRps, shares, pass, markdown };
}

function report(
  rows: CoprocessorRow[],
  world: World,
  run: {
    quick: boolean;
    load: { connections: number; pipelining: number; warmupSeconds: number; seconds: number };
    seconds: number;
    loadAtStart: number;
  },
): string {
  const cpus = os.cpus();
  const base = rows[0]!.result.main;
  const lines = [
    '# Router coprocessor benchmark: POST /federation/coprocessor against a plain Apollo Server',
    '',
    `- Date: ${new Date().toISOString()}`,
    `- Machine: ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${cpus.length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GB RAM; Node ${process.version}`,
    `- Command: \`npm run bench:coprocessor\` → \`NODE_ENV=production tsx bench/federation/coprocessor.ts${run.quick ? ' --quick' : ''}\` (NODE_ENV in this run: \`${process.env.NODE_ENV ?? 'unset'}\`); from code: \`runCoprocessorBench()\` in bench/federation/coprocessor.ts`,
    `- Whole run: ${fmt(run.seconds, 0)} s; load average (1 min) ${fmt(run.loadAtStart, 2)} at start, ${fmt(os.loadavg()[0]!, 2)} at the end, on ${cpus.length} cores`,
    ...(Math.max(run.loadAtStart, os.loadavg()[0]!) > cpus.length
      ? [
          '- **The machine was busy with other work during this run** (load average above its cores): every row lost CPU to it, unevenly (see the server CPU column); the shares are indicative only; the CPU per request is the steadier comparison. Rerun on a quiet machine for figures to quote.',
        ]
      : []),
    ...(run.quick ? ['- **`--quick` run: short durations, not results.**'] : []),
    '',
    '## Setup',
    '',
    `- The world of bench/http (bench/http/world.ts) on the embedded store (PGlite in a temp folder): one JRNI organization, ${world.counts.locations} locations, ${world.counts.users} users, ${world.counts.assignments} assignments; ${world.probes.length} probe users, each Manager at one area.`,
    '- The gateway: `startGateway` in production mode (ES256 tokens, the gateway given the SPKI PEM), its default in-process cache, claims not trusted (every request verifies its `Authorization` header; verified tokens are kept, as on /graphql), faults answered false.',
    "- The baseline: bench/http/baseline.ts, a plain `ApolloServer` on the same Fastify integration answering `{ __typename }` (bench/http's baseline).",
    `- Load: bench/http/cannon.ts (autocannon) in a child process, ${run.load.connections} connections, pipelining ${run.load.pipelining}, ${run.load.warmupSeconds} s warm-up then ${run.load.seconds} s measured, loopback only. The connections share the machine's ${cpus.length} cores with the server: compare the rows, do not quote the absolutes.`,
    `- Coprocessor requests: each connection cycles through ${world.probes.length} requests, one per probe, with the probe's own token in \`headers.authorization\`, the operation \`${QUERY}\` with \`loc\` = a branch below the probe's area, and two policies: the probe's permission (\`p\`, at the organization: false) and \`p@locationId\` (at the branch: ALLOW for 48 probes, DENY for 16). Every answer was checked before the load. Under load every body must carry the answered policies key; "decided" is the gateway's own count (\`rolegate_coprocessor_requests_total{result="decided"}\`) from just before to just after the measured run (so a little above its requests: those in flight at both ends); a request answered false because of a fault would show as a shortfall.`,
    '',
    '## Results',
    '',
    '| server | req/s | vs baseline | p50 ms | p90 ms | p99 ms | max ms | requests | bad | decided | server process CPU (% of a core) | server CPU per request (µs) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map((r) => {
      const m = r.result.main;
      const bad = m.errors + m.non2xx + m.mismatches + m.timeouts;
      const share = r === rows[0] ? '–' : `${fmt((100 * m.rps) / base.rps, 0)}%`;
      return `| ${r.name} | ${fmt(m.rps, 0)} | ${share} | ${m.latency.p50} | ${m.latency.p90} | ${m.latency.p99} | ${m.latency.max} | ${m.requests.toLocaleString('en-US')} | ${bad} | ${r.decided === null ? '–' : r.decided.toLocaleString('en-US')} | ${fmt(r.serverCpuPct, 0)} | ${fmt((r.serverCpuPct / 100) * (1e6 / m.rps), 0)} |`;
    }),
    '',
    ...rows.slice(1).map((r) => {
      const share = r.result.main.rps / base.rps;
      return `- Target ≥ ${TARGET_SHARE * 100}% of the baseline's req/s, ${r.name}: ${verdict(share >= TARGET_SHARE)} — ${fmt(r.result.main.rps, 0)} vs ${fmt(base.rps, 0)} req/s = ${fmt(100 * share, 1)}%`;
    }),
    '',
  ];
  return lines.join('\n');
}

if (require.main === module) {
  runCoprocessorBench({ quick: process.argv.includes('--quick'), write: process.argv.includes('--write') })
    .then((r) => {
      process.stdout.write(r.markdown);
      // The benchmark's own servers are closed; the load generator's child has exited.
      process.exit(0);
    })
    .catch((err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    });
}
