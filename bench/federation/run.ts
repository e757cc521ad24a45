/**
 * `npm run bench:federation` — what delegating a subgraph's decisions to rolegate costs, through
 * @apollo/gateway: the same query touching 1,000 bookings (in 50 locations) with `@can` on two of
 * their fields (rolegate/subgraph: one `checks` call per request, or none when its cache answers), and
 * with the directive removed. Target (issue 14): ≤ 1.3× the time without it.
 *
 * Everything on 127.0.0.1 in this process: rolegate (development, embedded store in a temp folder, the
 * JRNI demo organization with 50 locations), and per variant a bookings subgraph (Apollo Server 5) and a
 * gateway (@apollo/gateway 2.14 in Apollo Server 5), composed from rolegate's `_service.sdl` and
 * bookings'. Sequential requests, variants interleaved round by round so that the machine's load
 * weighs on each alike. Writes bench/results/federation.md (not with `--quick`) and prints it.
 *
 * Flags: `--quick` (short runs, for trying the harness: not results).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startGateway, type Gateway } from '../../src/api/server';
import { devToken } from '../../src/cli/org';
import { seedDemo } from '../../src/cli/setup';
import { openStore } from '../../src/store';
import { demoLocations, startFederation } from '../../examples/federation/stack';
import { benchLog, undoOnInterrupt } from '../interrupt';
import { dist, fmt, ratio, verdict, type Dist } from '../http/stats';
import { runCoprocessorBench } from './coprocessor';

const QUICK = process.argv.includes('--quick');
const RESULTS = path.resolve(__dirname, '..', 'results', 'federation.md');

const RUN = QUICK ? { warmup: 5, rounds: 2, perRound: 5 } : { warmup: 20, rounds: 8, perRound: 25 };
const TARGET = 1.3;
const BOOKINGS = 1000;
const QUERY = '{ bookings(first: 1000) { id startsAt customer notes location { id } } }';

const log = benchLog('federation');

/** Runs kept for the record, newest first: the target is not met in every run. */
const EARLIER = [
  '2026-11-29 21:41 UTC, load average 7–9: baseline p50 29.2 ms; cache on 1.08×, cache off 1.24× (met), 2/3 denied 3.89×.',
  '2026-11-29 21:37 UTC, load average 11.5: baseline p50 44.6 ms; cache on 1.09×, cache off **1.44× (missed)**, 2/3 denied 3.98×.',
  '2026-11-29 21:27 UTC, load average 6–8, before denials were located and stackless: baseline p50 22.0 ms; cache on 1.10×, cache off **1.37× (missed)**, 2/3 denied 11.22×.',
  '2026-11-29 21:22 UTC (`--quick`), before the list asked for its objects at once: cache on 1.19×, cache off **2.20×**; and before `peek` (20:58, load 13): 2.04× and 3.60×.',
];
const onInterrupt = undoOnInterrupt(log);

interface Variant {
  name: string;
  /** Who asks (their token is forwarded to bookings, and by bookings to rolegate). */
  viewer: string;
  guarded: boolean;
  cacheTtlMs?: number;
  gatewayUrl?: string;
  token?: string;
  samples: number[];
  /** rolegate `checks` POSTs during the measured requests. */
  calls: number;
  errors: number;
  stop?: () => Promise<void>;
}

async function main() {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'rolegate-bench-federation-'));
  onInterrupt.add(() => rmSync(dataDir, { recursive: true, force: true }));
  const store = await openStore({ dataDir });
  const demo = await seedDemo(store, 'jrni');
  const locationIds = await demoLocations(store, demo.orgId, demo.locations as never);
  const rolegate: Gateway = await startGateway({
    store,
    config: { port: 0, env: 'development' },
    approvals: { notify: false },
    log: () => undefined,
  });
  let posts = 0;
  rolegate.app.server.on('request', (req) => {
    if (req.method === 'POST' && req.url === '/graphql') posts++;
  });
  log(`rolegate on ${rolegate.url}; ${locationIds.length} locations, ${BOOKINGS} bookings`);
  // The gateways compose from rolegate's `_service { sdl }`, which needs credentials.
  const { result: key } = await rolegate.store.apiKeys.create(
    { orgId: demo.orgId, actor: 'bench' },
    { name: 'bench gateway', scopes: [] },
  );

  const variants: Variant[] = [
    {
      name: 'directive removed (baseline)',
      viewer: 'callcenter@jrni.example',
      guarded: false,
      samples: [],
      calls: 0,
      errors: 0,
    },
    {
      name: '`@can`, client cache on (default 5 s)',
      viewer: 'callcenter@jrni.example',
      guarded: true,
      samples: [],
      calls: 0,
      errors: 0,
    },
    {
      name: '`@can`, client cache off',
      viewer: 'callcenter@jrni.example',
      guarded: true,
      cacheTtlMs: 0,
      samples: [],
      calls: 0,
      errors: 0,
    },
    {
      name: '`@can`, cache off, 2/3 denied (Manager at London)',
      viewer: 'manager@jrni.example',
      guarded: true,
      cacheTtlMs: 0,
      samples: [],
      calls: 0,
      errors: 0,
    },
  ];
  for (const v of variants) {
    const fed = await startFederation({
      rolegateUrl: rolegate.url,
      rolegateHeaders: { authorization: `Bearer ${key.token}` },
      locationIds,
      bookings: BOOKINGS,
      guarded: v.guarded,
      client: { timeoutMs: 5_000, ...(v.cacheTtlMs !== undefined ? { cacheTtlMs: v.cacheTtlMs } : {}) },
    });
    v.gatewayUrl = fed.gatewayUrl;
    v.stop = fed.stop;
    v.token = (await devToken(store, demo.orgId, demo.people[v.viewer]!))!;
  }

  const ask = async (v: Variant): Promise<number> => {
    const t0 = performance.now();
    const res = await fetch(v.gatewayUrl!, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${v.token}` },
      body: JSON.stringify({ query: QUERY }),
    });
    const body = (await res.json()) as { data?: { bookings?: unknown[] }; errors?: unknown[] };
    const took = performance.now() - t0;
    if (body.data?.bookings?.length !== BOOKINGS)
      throw new Error(`${v.name}: ${JSON.stringify(body).slice(0, 300)}`);
    v.errors = body.errors?.length ?? 0;
    return took;
  };

  for (const v of variants) for (let i = 0; i < RUN.warmup; i++) await ask(v);
  for (let round = 0; round < RUN.rounds; round++) {
    for (const v of variants) {
      const before = posts;
      for (let i = 0; i < RUN.perRound; i++) v.samples.push(await ask(v));
      v.calls += posts - before;
    }
    log(`round ${round + 1}/${RUN.rounds}`);
  }

  const base = dist(variants[0]!.samples);
  const off = dist(variants[2]!.samples);
  const offPass = off.p50 / base.p50 <= TARGET;
  const rows = variants.map((v) => ({ v, d: dist(v.samples) }));
  const table = [
    '| variant | viewer | requests | rolegate calls / request | errors / response | p50 ms | p90 ms | p99 ms | mean ms | p50 vs baseline | mean vs baseline |',
    '| --- | --- | --: | --: | --: | --: | --: | --: | --: | --: | --: |',
    ...rows.map(
      ({ v, d }) =>
        `| ${v.name} | ${v.viewer} | ${d.n} | ${fmt(v.calls / d.n, 2)} | ${v.errors} | ${fmt(d.p50)} | ${fmt(d.p90)} | ${fmt(d.p99)} | ${fmt(d.mean)} | ${ratio(d.p50, base.p50)} | ${ratio(d.mean, base.mean)} |`,
    ),
  ];
  const verdicts = rows
    .slice(1, 3)
    .map(
      ({ v, d }: { v: Variant; d: Dist }) =>
        `- ${v.name}: p50 ${ratio(d.p50, base.p50)} the baseline, target ≤ ${TARGET}×: ${verdict(d.p50 / base.p50 <= TARGET)}`,
    );
  const load = os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(', ');
  const report = [
    '# Federation: a subgraph delegating its decisions to rolegate',
    '',
    `Run ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC with \`npm run bench:federation\` on ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, Node ${process.version}; load average at the end ${load}.`,
    '',
    `One query through @apollo/gateway 2.14 (Apollo Server 5) touching ${BOOKINGS} bookings in ${locationIds.length} locations, two of whose fields (\`customer\`, \`notes\`) carry \`@can\`:`,
    '',
    '```graphql',
    QUERY,
    '```',
    '',
    `Sequential requests from one client; ${RUN.rounds} rounds of ${RUN.perRound} requests per variant, interleaved, after ${RUN.warmup} warm-up requests each. All on 127.0.0.1 in one process (rolegate with its embedded store, the bookings subgraphs, the gateways, the client), so every variant shares the 2 cores with the others' idle servers. The Call Center at Parent company holds both permissions at all 50 locations (every field answered); the Manager at London holds them at London and its 16 branches (1,320 fields null with FORBIDDEN).`,
    '',
    ...table,
    '',
    ...verdicts,
    '',
    '"rolegate calls / request" is counted on rolegate\'s HTTP server: with the client\'s cache off, every request is one `checks` POST of 100 questions (2 permissions × 50 locations); with it on, only a request after the 5 s TTL runs out asks.',
    '',
    '## Reading it',
    '',
    "- **The target is met with the client as shipped** (its cache on, the default): a request whose decisions are cached costs a map lookup per distinct question, and the 2,000 guarded fields resolve without a promise each (`peek`, and the list asking for its objects' questions at once).",
    `- **With the cache off it is ${offPass ? 'met in this run, at the edge' : 'missed'}** (p50 ${ratio(off.p50, base.p50)}, mean ${ratio(off.mean, base.mean)}): the one \`checks\` call (100 questions; the viewer's token verified by rolegate, then decided) is on the request's critical path, since bookings cannot answer before it. In process on this machine that call alone took about 5 ms at p50 (a \`{ __typename }\` POST to the same rolegate: about 1.4 ms), against a baseline request of 20–45 ms through the gateway. What it costs is that round trip, not the per-field work.`,
    '- **Denials cost what errors cost.** 1,320 FORBIDDEN errors travel from bookings through @apollo/gateway, which re-creates and re-paths each one. In process, the bookings subgraph executes that query in about 18 ms; before `@can` made its denials located, stackless GraphQLErrors it took about 310 ms (graphql-js wrapped each in a second error, and every stack was captured and source-mapped).',
    "- The numbers move with the machine: other engineers' tests share these 2 cores (the load average is printed above). Compare the ratios, which are measured side by side, rather than the milliseconds across runs.",
    '',
    'Earlier runs the same evening (the same command; the machine shared with other test runs):',
    '',
    ...EARLIER.map((line) => `- ${line}`),
    '',
  ].join('\n');

  for (const v of variants) await v.stop?.();
  await rolegate.close();
  await store.close();
  rmSync(dataDir, { recursive: true, force: true });

  // The second target, in the same run and file: the coprocessor's throughput beside the plain Apollo
  // baseline of bench/http (bench/federation/coprocessor.ts), its headings one level down.
  log('the router coprocessor under load');
  const coprocessor = await runCoprocessorBench({ quick: QUICK, write: false });
  const whole = `${report}\n\n${coprocessor.markdown.replace(/^(#+) /gm, '#$1 ')}`;
  if (!QUICK) writeFileSync(RESULTS, `${whole}\n`);
  process.stdout.write(`${whole}\n`);
  // The gateways' HTTP agents keep idle sockets open: do not wait for them.
  process.exit(0);
}

main().catch((err) => {
  log(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exit(1);
});
