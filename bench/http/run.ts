/**
 * `npm run bench:http` — the gateway over HTTP, against a plain Apollo Server on the same stack.
 *
 * 1. `check` under load (autocannon, 50 connections, pipelining 1, in a child process) on rolegate
 *    (production mode, ES256 tokens; in-process cache on, its default, and off) beside a plain Apollo
 *    Server answering `{ __typename }`; and a what-if where the organization's state is never re-read
 *    (patched in this process only, to show what the remaining store query costs).
 * 2. `checks` with 1,000 inputs, sequential requests: p50/p99.
 * 3. A 1,000-object query executed in process on three schemas: guards off, rolegate's guards, and a
 *    plain graphql-shield tree (a rule on every field).
 * Plus a breakdown of one `check` request's cost, step by step.
 *
 * Over the embedded store (PGlite in a temp folder) and then over a throwaway PostgreSQL
 * (test/support/postgres-server.ts). Writes bench/results/http.md (not with `--quick`) and prints it.
 *
 * Flags: `--quick` (short runs, for trying the harness: not results), `--skip-postgres`.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse } from 'graphql';
import { exportSPKI, generateKeyPair, importSPKI, type CryptoKey } from 'jose';
import { startGateway, type Gateway } from '../../src/api/server';
import type { AuthConfig } from '../../src/identity/tokens';
import type { ContextDeps } from '../../src/api/context';
import { openGatewayServices } from '../../src/app/gateway';
import { OrgStates } from '../../src/decisions/org-state';
import { openStore, type Store } from '../../src/store';
import { startPostgres, type PostgresServer } from '../../test/support/postgres-server';
import { cpuMeter, postmasterPid, type CpuShare } from '../store/cpu';
import { Rng } from '../store/world';
import { startBaseline } from './baseline';
import type { CannonResult, CannonSpec } from './cannon';
import { cannon } from './harness';
import { signToken } from './tokens';
import {
  breakdown,
  measureQuery,
  schemaVariants,
  StoreMeter,
  VARIANT_NAMES,
  type BreakdownRow,
  type QueryResult,
  type Variant,
} from './inprocess';
import { undoOnInterrupt } from '../interrupt';
import { dist, fmt, log, ratio, verdict, type Dist } from './stats';
import { buildWorld, JRNI_PERMISSIONS, WORLD, type World } from './world';

const QUICK = process.argv.includes('--quick');
const SKIP_PG = process.argv.includes('--skip-postgres');
const ROOT = path.resolve(__dirname, '..', '..');
const RESULTS = path.join(ROOT, 'bench', 'results', 'http.md');

const LOAD = { connections: 50, pipelining: 1, warmupSeconds: QUICK ? 1 : 3, seconds: QUICK ? 3 : 10 };
const CHECKS = { inputs: 1000, warmup: QUICK ? 5 : 10, requests: QUICK ? 30 : 100 };
const EXEC = QUICK ? { warmup: 3, rounds: 2, perRound: 8 } : { warmup: 10, rounds: 4, perRound: 20 };
const EXEC_CHILDREN = QUICK ? { warmup: 1, rounds: 1, perRound: 3 } : { warmup: 2, rounds: 2, perRound: 5 };
const BREAKDOWN_N = QUICK ? 300 : 1000;
const TARGETS = { rpsShare: 0.5, p99Factor: 1.5, checksP50: 20, guardOverhead: 1.2, vsShield: 3 };

/** The in-process queries the targets apply to (the gateway's default configuration). */
const TARGET_QUERIES = ['locations', 'checks'];
const BASELINE = 'baseline';
const ROLEGATE = 'rolegate';
const ROLEGATE_UNCACHED = 'rolegate, cache off';
const WHAT_IF_ORG_STATE = 'what-if: rolegate, organization state never re-read';

const ISSUER = 'rolegate';
const AUDIENCE = 'rolegate';
const HS_SECRET = 'bench-development-secret-0123456789abcdef';

const CHECK_QUERY = 'query Check($input: CheckInput!) { check(input: $input) { allowed outcome version } }';
const CHECKS_QUERY =
  'query Checks($inputs: [CheckInput!]!) { checks(inputs: $inputs) { allowed outcome version error { code } } }';

/** Undone if the run is interrupted (SIGINT/SIGTERM), newest first: the load generator, the temp folder, PostgreSQL. */
const onInterrupt = undoOnInterrupt(log);

// ---------------------------------------------------------------------------------------------------

interface Keys {
  auth: AuthConfig;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  hsKey: Uint8Array;
}

async function makeKeys(): Promise<Keys> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const pem = await exportSPKI(publicKey);
  return {
    auth: { issuer: ISSUER, audience: AUDIENCE, publicKey: pem, algorithm: 'ES256' },
    privateKey,
    publicKey: await importSPKI(pem, 'ES256'),
    hsKey: new TextEncoder().encode(HS_SECRET),
  };
}

async function post(url: string, token: string | null, query: string, variables?: unknown) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: Record<string, unknown>; errors?: { message: string }[] };
  if (res.status !== 200 || body.errors?.length)
    throw new Error(`${res.status}: ${JSON.stringify(body.errors ?? body).slice(0, 300)}`);
  return body.data!;
}

interface LoadRun {
  name: string;
  result: CannonResult;
  /** CPU of this process (the servers) as a share of one core, %. */
  serverCpuPct: number;
  machine: CpuShare | null;
  /** Store queries per request, and the share of the run with a store query in flight (%). */
  queriesPerRequest: number;
  storeBusyPct: number;
}

async function load(
  name: string,
  url: string,
  requests: CannonSpec['requests'],
  expectIncludes: string,
  pgPid: number | null,
  storeMeter: StoreMeter,
): Promise<LoadRun> {
  log(`load: ${name} (${LOAD.warmupSeconds}s warm-up + ${LOAD.seconds}s, ${LOAD.connections} connections)`);
  let cpu0 = process.cpuUsage();
  let t0 = performance.now();
  let meter = cpuMeter(pgPid);
  const store = storeMeter;
  const result = await cannon({ ...LOAD, url, requests, expectIncludes }, () => {
    cpu0 = process.cpuUsage();
    t0 = performance.now();
    meter = cpuMeter(pgPid);
    store.reset();
  });
  const cpu = process.cpuUsage(cpu0);
  const wall = performance.now() - t0;
  const serverCpuPct = ((cpu.user + cpu.system) / 1000 / wall) * 100;
  const queries = store.queries;
  const storeBusyPct = (100 * store.ms) / wall;
  const m = result.main;
  log(
    `  ${fmt(m.rps)} req/s, p50 ${m.latency.p50} ms, p99 ${m.latency.p99} ms, errors ${m.errors}, non2xx ${m.non2xx}, mismatches ${m.mismatches}`,
  );
  return {
    name,
    result,
    serverCpuPct,
    machine: meter(),
    queriesPerRequest: queries / Math.max(1, m.requests),
    storeBusyPct,
  };
}

// ---------------------------------------------------------------------------------------------------

interface ChecksRun {
  name: string;
  ms: Dist;
  allow: number;
  deny: number;
  errors: number;
}

async function checksRun(
  url: string,
  name: string,
  token: string,
  inputs: Record<string, unknown>[],
): Promise<ChecksRun> {
  log(`checks: ${name} (${CHECKS.requests} sequential requests of ${inputs.length} inputs)`);
  const ms: number[] = [];
  let first: { outcome: string; error: unknown }[] = [];
  for (let i = 0; i < CHECKS.warmup + CHECKS.requests; i++) {
    const t0 = performance.now();
    const data = (await post(url, token, CHECKS_QUERY, { inputs })) as {
      checks: { outcome: string; error: unknown }[];
    };
    const dt = performance.now() - t0;
    if (data.checks.length !== inputs.length) throw new Error('checks: wrong number of decisions');
    if (i === 0) first = data.checks;
    if (i >= CHECKS.warmup) ms.push(dt);
  }
  const r = {
    name,
    ms: dist(ms),
    allow: first.filter((d) => d.outcome === 'ALLOW').length,
    deny: first.filter((d) => d.outcome !== 'ALLOW').length,
    errors: first.filter((d) => d.error).length,
  };
  log(`  p50 ${fmt(r.ms.p50)} ms, p99 ${fmt(r.ms.p99)} ms (${r.allow} ALLOW, ${r.deny} DENY)`);
  return r;
}

function checkInputs(world: World, kind: 'mix' | 'self', seed: number): Record<string, unknown>[] {
  const rng = new Rng(seed);
  return Array.from({ length: CHECKS.inputs }, () => ({
    userId: kind === 'self' ? world.ownerId : world.userIds[rng.int(world.userIds.length)]!,
    permission: JRNI_PERMISSIONS[rng.int(JRNI_PERMISSIONS.length)]!,
    locationId: rng.float() < 0.15 ? null : world.locationIds[rng.int(world.locationIds.length)]!,
  }));
}

// ---------------------------------------------------------------------------------------------------

interface Section {
  backend: string;
  world: World;
  loads: LoadRun[];
  checks: ChecksRun[];
  queries: QueryResult[];
  breakdown: BreakdownRow[];
  logged: number;
}

/** Every measurement over one store. */
async function section(
  backend: string,
  store: Store,
  keys: Keys,
  pgPid: number | null,
  withQueries: boolean,
): Promise<Section> {
  log(`${backend}: building the world`);
  const world = await buildWorld(store);
  const meter = new StoreMeter(store);
  log(
    `${backend}: ${world.counts.locations} locations (depth ≤ ${world.counts.maxDepth}), ${world.counts.users} users, ${world.counts.assignments} assignments in ${fmt(world.seconds)} s`,
  );
  const tokens = new Map<string, string>();
  for (const id of [world.ownerId, ...world.probes.map((p) => p.userId)])
    tokens.set(id, await signToken(keys.privateKey, world.orgId, id));
  const ownerToken = tokens.get(world.ownerId)!;

  const logged: Record<string, unknown>[] = [];
  const gatewayOptions = {
    store,
    config: { port: 0, env: 'production' as const },
    auth: keys.auth,
    log: (e: Record<string, unknown>) => logged.push(e),
  };
  const gateway: Gateway = await startGateway(gatewayOptions);
  const uncached: Gateway = await startGateway({ ...gatewayOptions, cache: false });
  const baseline = await startBaseline();
  const loads: LoadRun[] = [];
  const checks: ChecksRun[] = [];
  try {
    // Every probe's answer first, through both gateways: the load then only repeats known answers.
    for (const url of [gateway.url, uncached.url])
      for (const p of world.probes) {
        const data = (await post(url, tokens.get(p.userId)!, CHECK_QUERY, {
          input: { userId: p.userId, permission: p.permission, locationId: p.branchId },
        })) as { check: { outcome: string } };
        if (data.check.outcome !== p.expected)
          throw new Error(`probe ${p.userId} ${p.permission}: ${data.check.outcome}, expected ${p.expected}`);
      }
    await post(baseline.url, null, '{ __typename }');

    const checkRequests = world.probes.map((p) => ({
      headers: { authorization: `Bearer ${tokens.get(p.userId)!}` },
      body: JSON.stringify({
        query: CHECK_QUERY,
        variables: { input: { userId: p.userId, permission: p.permission, locationId: p.branchId } },
      }),
    }));
    const ok = '"outcome":';
    loads.push(
      await load(
        BASELINE,
        baseline.url,
        [{ headers: {}, body: JSON.stringify({ query: '{ __typename }' }) }],
        '{"data":{"__typename":"Query"}}',
        pgPid,
        meter,
      ),
    );
    loads.push(await load(ROLEGATE, gateway.url, checkRequests, ok, pgPid, meter));
    loads.push(await load(ROLEGATE_UNCACHED, uncached.url, checkRequests, ok, pgPid, meter));
    // What-if: the organization's state read once and kept, without even reading its version (never
    // invalidated: unsafe, benchmark only): the gateway with no store query at all on a warm check.
    const loadState = Object.getOwnPropertyDescriptor(OrgStates.prototype, 'load')!;
    const states = new Map<string, ReturnType<OrgStates['load']>>();
    OrgStates.prototype.load = function (orgId) {
      let state = states.get(orgId);
      if (!state) states.set(orgId, (state = (loadState.value as OrgStates['load']).call(this, orgId)));
      return state;
    };
    try {
      loads.push(await load(WHAT_IF_ORG_STATE, gateway.url, checkRequests, ok, pgPid, meter));
    } finally {
      Object.defineProperty(OrgStates.prototype, 'load', loadState);
    }

    for (const [g, cache] of [
      [gateway, 'cache on'],
      [uncached, 'cache off'],
    ] as const) {
      checks.push(
        await checksRun(g.url, `any users (owner token), ${cache}`, ownerToken, checkInputs(world, 'mix', 7)),
      );
      checks.push(
        await checksRun(g.url, `self-checks (owner), ${cache}`, ownerToken, checkInputs(world, 'self', 8)),
      );
    }
  } finally {
    await baseline.close();
    await uncached.close();
    await gateway.close();
  }

  // The gateway's own dependencies, built by the composition root as startGateway builds them: with the
  // in-process cache (its default) and without.
  const services = await openGatewayServices({ db: store.db, env: 'production', auth: keys.auth });
  const servicesUncached = await openGatewayServices({
    db: store.db,
    env: 'production',
    auth: keys.auth,
    cache: false,
  });
  const deps: ContextDeps = services;
  const depsUncached: ContextDeps = servicesUncached;
  const queries: QueryResult[] = [];
  if (withQueries) {
    const schemas = schemaVariants();
    const locations = {
      document: parse(
        'query L($p: ID) { locations(parentId: $p) { id name parent { id name } path { id } } }',
      ),
      variables: { p: world.depotId },
      token: ownerToken,
    };
    const anyChecks = {
      document: parse(CHECKS_QUERY),
      variables: { inputs: checkInputs(world, 'mix', 7) },
      token: ownerToken,
    };
    const cases = [
      {
        ...locations,
        name: 'locations',
        description:
          '`locations(parentId: Depot) { id name parent { id name } path { id } }`: 1,000 Locations',
        deps,
        plan: EXEC,
      },
      {
        ...anyChecks,
        name: 'checks',
        description:
          '`checks(inputs: 1,000 any-user inputs) { allowed outcome version error { code } }` (owner token)',
        deps,
        plan: EXEC,
      },
      {
        ...anyChecks,
        name: 'checks, cache off',
        description: 'the same `checks`, without the in-process cache',
        deps: depsUncached,
        plan: EXEC,
      },
      {
        name: 'locations + children',
        description:
          '`locations(parentId: Depot) { id name parent { id } path { id } children { id } }`: the five Location fields',
        document: parse(
          'query L($p: ID) { locations(parentId: $p) { id name parent { id } path { id } children { id } } }',
        ),
        variables: { p: world.depotId },
        token: ownerToken,
        deps,
        plan: EXEC_CHILDREN,
      },
    ];
    for (const c of cases) {
      log(`execute: ${c.name} (${c.plan.rounds}×${c.plan.perRound} per variant)`);
      const r = await measureQuery(c.deps, meter, schemas, c, c.plan);
      log(
        `  median ms: off ${fmt(r.perVariant.unguarded.p50)}, rolegate ${fmt(r.perVariant.guarded.p50)}, plain shield ${fmt(r.perVariant.plainShield.p50)}`,
      );
      queries.push(r);
    }
  }

  log(`${backend}: breakdown of one check request (${BREAKDOWN_N} each)`);
  const probe = world.probes[0]!;
  const rows = await breakdown(
    { cached: deps, uncached: depsUncached },
    meter,
    {
      token: tokens.get(probe.userId)!,
      hsToken: await signToken(keys.hsKey, world.orgId, probe.userId, 'HS256'),
      hsKey: keys.hsKey,
      esKey: keys.publicKey,
      orgId: world.orgId,
      check: { userId: probe.userId, permission: probe.permission, locationId: probe.branchId },
    },
    BREAKDOWN_N,
  );
  return { backend, world, loads, checks, queries, breakdown: rows, logged: logged.length };
}

// ---------------------------------------------------------------------------------------------------

function report(
  sections: Section[],
  meta: { seconds: number; load: [number, number] },
  checkInputsSample: unknown,
): string {
  const cpus = os.cpus();
  const lines: string[] = [];
  const p = (s = '') => lines.push(s);
  const misses: string[] = [];
  const target = (name: string, pass: boolean, figures: string) => {
    if (!pass) misses.push(name);
    return `${verdict(pass)} — ${figures}`;
  };

  p('# HTTP benchmark: the gateway against a plain Apollo Server');
  p();
  p(`- Date: ${new Date().toISOString()}`);
  p(
    `- Machine: ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${cpus.length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GB RAM, ${os.type()} ${os.release()}`,
  );
  p(
    `- Node ${process.version}; @apollo/server ${pkg('@apollo/server')}, @as-integrations/fastify ${pkg('@as-integrations/fastify')}, fastify ${pkg('fastify')}, graphql ${pkg('graphql')}, graphql-shield ${pkg('graphql-shield')}, jose ${pkg('jose')}, autocannon ${pkg('autocannon')}`,
  );
  p(
    `- Command: \`npm run bench:http\` → \`NODE_ENV=production tsx bench/http/run.ts${QUICK ? ' --quick' : ''}\` (NODE_ENV in this run: \`${process.env.NODE_ENV ?? 'unset'}\`; the Dockerfile sets \`production\`, which among other things turns off graphql-js's development-mode \`instanceOf\` checks)`,
  );
  p(
    `- Whole run: ${fmt(meta.seconds, 0)} s; load average (1 min) ${fmt(meta.load[0])} at start, ${fmt(meta.load[1])} at end on ${cpus.length} cores`,
  );
  if (QUICK) p('- **`--quick` run: short durations, not results.**');
  p();
  p('## Setup');
  p();
  const w = sections[0]!.world.counts;
  p(
    `- One JRNI organization made by \`createOrganization(store, { preset: 'jrni' })\` (its owner holds \`owner\` org-wide), then, inserted in bulk with parameterized SQL (no audit entries): a location tree HQ → ${WORLD.regions} regions → ${WORLD.regions * WORLD.areasPerRegion} areas → ${WORLD.regions * WORLD.areasPerRegion * WORLD.branchesPerArea} branches (depth 4), plus a "Depot" under HQ with ${WORLD.depotChildren.toLocaleString('en-US')} child locations — ${w.locations.toLocaleString('en-US')} locations; ${w.users.toLocaleString('en-US')} users with ${w.assignments.toLocaleString('en-US')} assignments (1–3 per user at random locations, the six JRNI role types; ${WORLD.probes} "probe" users hold exactly one Manager assignment at an area).`,
  );
  p(
    "- The gateway: `startGateway({ store, config: { port: 0, env: 'production' }, auth: { issuer, audience, publicKey, algorithm: 'ES256' } })` on 127.0.0.1 — production mode (introspection off, landing page off), tokens signed with an ES256 key pair made by jose's `generateKeyPair` (the gateway gets the SPKI PEM), claims `org`, `sub`, `iss`, `aud`, `iat`, `exp`.",
  );
  p(
    '- The baseline: a plain `ApolloServer` (same version) with `type Query { hello: String }` on the same Fastify integration (`@as-integrations/fastify`), answering `{ __typename }`, landing page off, no context function.',
  );
  p(
    `- Load: autocannon in a **child process** (its own event loop; the servers are in the benchmark's process), ${LOAD.connections} connections, pipelining ${LOAD.pipelining}, ${LOAD.warmupSeconds} s warm-up (discarded) then ${LOAD.seconds} s measured, loopback only. The ${LOAD.connections} connections share the machine's ${cpus.length} cores with the server: **compare the rows, do not quote the absolutes.** Every response body is checked (autocannon's \`verifyBody\`: a \`check\` body must carry an \`outcome\`, the baseline's must be \`{"data":{"__typename":"Query"}}\`); "bad" counts connection errors, non-2xx and mismatched bodies.`,
  );
  p(
    `- \`check\` under load: each connection cycles through ${WORLD.probes} requests, one per probe user, each checking **themselves** (\`input.userId\` = the token's \`sub\`) for a JRNI permission at a branch (depth 4) below the area they are Manager at: 48 ALLOW (cascade), 16 DENY (permissions Manager lacks), all verified before the load. Query: \`${CHECK_QUERY}\`.`,
  );
  p(
    `- "${ROLEGATE}" is the gateway as \`startGateway\` builds it by default, with its in-process cache (\`L1Cache\`, through \`src/cache/read-through.ts\`: verified tokens, organization states, subjects, compiled grants and location paths, every key carrying the organization's version, which each request learns first — see the "store queries / request" column); "${ROLEGATE_UNCACHED}" is a second gateway started with \`cache: false\` over the same store (every request verifies its token and reads everything).`,
  );
  p(
    `- "${WHAT_IF_ORG_STATE}": the default gateway with \`OrgStates.prototype.load\` memoized per organization in the benchmark process, so not even the version is read — never invalidated, so not a design (a write would go unseen), meant as the upper bound of what the remaining per-request store query costs; it also skips the wait for the end of the event-loop turn that \`Versions.current\` makes the requests of one turn share (see the note under each store's figures).`,
  );
  p();

  for (const s of sections) {
    const loads = Object.fromEntries(s.loads.map((l) => [l.name, l]));
    const base = loads.baseline!.result.main;
    const rg = loads.rolegate!.result.main;
    p(`## ${s.backend}`);
    p();
    p(
      `World built in ${fmt(s.world.seconds)} s. Errors the gateway logged during the run: ${s.logged} (unexpected errors only; expected refusals are not logged).`,
    );
    p();
    p(`### 1. \`check\` under load (${LOAD.connections} connections, ${LOAD.seconds} s)`);
    p();
    p(
      '| server | req/s | vs baseline | p50 ms | p90 ms | p99 ms | max ms | requests | bad | store queries / request | store busy (% of the run) | server process CPU (% of a core) | autocannon CPU | machine: this process / PostgreSQL / others (% of all cores) |',
    );
    p('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
    for (const l of s.loads) {
      const m = l.result.main;
      const bad = m.errors + m.non2xx + m.mismatches;
      const mach = l.machine
        ? `${fmt(l.machine.self, 0)} / ${fmt(l.machine.server, 0)} / ${fmt(l.machine.others, 0)}`
        : '–';
      p(
        `| ${l.name} | ${fmt(m.rps, 0)} | ${l.name === 'baseline' ? '–' : `${fmt((100 * m.rps) / base.rps, 0)}%`} | ${m.latency.p50} | ${m.latency.p90} | ${m.latency.p99} | ${m.latency.max} | ${m.requests.toLocaleString('en-US')} | ${bad} | ${fmt(l.queriesPerRequest, 1)} | ${fmt(l.storeBusyPct, 0)} | ${fmt(l.serverCpuPct, 0)} | ${fmt(l.result.cpuPct, 0)} | ${mach} |`,
      );
    }
    p();
    p(
      `- Target rolegate ≥ ${TARGETS.rpsShare * 100}% of the baseline's req/s: ${target(`${s.backend}: check throughput`, rg.rps >= TARGETS.rpsShare * base.rps, `${fmt(rg.rps, 0)} vs ${fmt(base.rps, 0)} req/s = ${fmt((100 * rg.rps) / base.rps, 1)}%`)}`,
    );
    p(
      `- Target rolegate p99 ≤ ${TARGETS.p99Factor}× the baseline's: ${target(`${s.backend}: check p99`, rg.latency.p99 <= TARGETS.p99Factor * base.latency.p99, `${rg.latency.p99} ms vs ${base.latency.p99} ms = ${ratio(rg.latency.p99, base.latency.p99)}`)}`,
    );
    p();
    p(`### 2. \`checks\` with ${CHECKS.inputs.toLocaleString('en-US')} inputs, sequential requests`);
    p();
    p(
      `${CHECKS.requests} measured requests after ${CHECKS.warmup} warm-up ones, one at a time, each timed from sending to the parsed JSON (fetch in the benchmark process); inputs as variables: random permissions of the JRNI catalog, random locations (15% the root). Query: \`${CHECKS_QUERY}\`.`,
    );
    p();
    p('| inputs | p50 ms | p90 ms | p99 ms | max ms | ALLOW / DENY | input errors |');
    p('| --- | ---: | ---: | ---: | ---: | --- | ---: |');
    for (const c of s.checks)
      p(
        `| ${c.name} | ${fmt(c.ms.p50)} | ${fmt(c.ms.p90)} | ${fmt(c.ms.p99)} | ${fmt(c.ms.max)} | ${c.allow} / ${c.deny} | ${c.errors} |`,
      );
    p();
    // The target is the product's, in its default configuration (cache on); cache off is for reading.
    for (const c of s.checks.filter((x) => !x.name.includes('cache off')))
      p(
        `- Target p50 ≤ ${TARGETS.checksP50} ms (${c.name}): ${target(`${s.backend}: checks p50 (${c.name})`, c.ms.p50 <= TARGETS.checksP50, `${fmt(c.ms.p50)} ms`)}`,
      );
    for (const inproc of s.queries.filter((q) => q.name.startsWith('checks'))) {
      const cacheState = inproc.name.includes('cache off') ? 'cache off' : 'cache on';
      p(
        `- Where the time goes (${cacheState}): executing the same any-user \`checks\` in process (section 3, guards off) takes ${fmt(inproc.perVariant.unguarded.p50)} ms at p50, of which ${fmt(inproc.storeMs.unguarded.p50)} ms with a store query in flight (${inproc.queries.unguarded} queries) and ${fmt(inproc.restMs.unguarded.p50)} ms for the rest (compiling or fetching each user's grants, deciding, GraphQL). Over HTTP come on top the ${fmt(JSON.stringify(checkInputsSample).length / 1024, 0)} kB of variables to parse and coerce, \`buildContext\` and the response.`,
      );
    }
    p();

    if (s.queries.length) {
      p('### 3. Guards on a 1,000-object result (in process, `graphql` `execute`)');
      p();
      p(
        `Each schema executes the same document with the same variables; every execution gets a fresh context from the gateway's \`buildContext\` (owner token, real store; built outside the timed part) over dependencies built as \`startGateway\` builds them: its request loaders start empty as a request's would, and the in-process cache is shared across executions as across requests (warm after the first: subjects, compiled grants and location paths come from it; Location rows and children are not cached), except for "checks, cache off", which has none. ${EXEC.warmup} warm-up executions per variant, then ${EXEC.rounds} rounds × ${EXEC.perRound} that visit the variants in turn (the children query, whose 1,002 store queries make it slow: ${EXEC_CHILDREN.rounds} × ${EXEC_CHILDREN.perRound}). Variants: **off** = ${VARIANT_NAMES.unguarded}; **rolegate** = ${VARIANT_NAMES.guarded}: the generated shield tree pruned to the root fields; **plain shield** = ${VARIANT_NAMES.plainShield}: rolegate's root guards unchanged plus, for every other object type, \`{ '*': rule({ cache: 'no_cache' })(() => true) }\` (\`shield(tree, { fallbackRule: allow })\` via \`applyMiddleware\`) — what the gateway's tree would cost without its pruning. Every variant returned the same data without errors: ${s.queries.every((q) => q.identical) ? 'yes' : '**NO**'}.`,
      );
      p();
      p(
        '| query | field values | off p50 / p99 ms | rolegate p50 / p99 ms | plain shield p50 / p99 ms | rolegate ÷ off (p50) | plain shield ÷ rolegate (p50) |',
      );
      p('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
      const cell = (d: Dist) => `${fmt(d.p50)} / ${fmt(d.p99)}`;
      for (const q of s.queries) {
        const v = q.perVariant as Record<Variant, Dist>;
        p(
          `| ${q.description} | ${q.fields.toLocaleString('en-US')} | ${cell(v.unguarded)} | ${cell(v.guarded)} | ${cell(v.plainShield)} | ${ratio(v.guarded.p50, v.unguarded.p50)} | ${ratio(v.plainShield.p50, v.guarded.p50)} |`,
        );
      }
      p();
      p(
        'Where the time goes: each execution split into the time with at least one store query in flight ("store", measured by wrapping `store.db.query` in this process) and the rest (GraphQL execution, guards, the engine, DataLoader). The guards can only change the rest.',
      );
      p();
      p(
        '| query | variant | queries / execution | store p50 ms | rest p50 ms | rest p99 ms | rest ÷ rolegate rest (p50) |',
      );
      p('| --- | --- | ---: | ---: | ---: | ---: | ---: |');
      for (const q of s.queries)
        for (const v of ['unguarded', 'guarded', 'plainShield'] as const)
          p(
            `| ${q.name} | ${{ unguarded: 'off', guarded: 'rolegate', plainShield: 'plain shield' }[v]} | ${q.queries[v]} | ${fmt(q.storeMs[v].p50)} | ${fmt(q.restMs[v].p50)} | ${fmt(q.restMs[v].p99)} | ${ratio(q.restMs[v].p50, q.restMs.guarded.p50)} |`,
          );
      p();
      for (const q of s.queries.filter((x) => TARGET_QUERIES.includes(x.name))) {
        const v = q.perVariant;
        p(
          `- \`${q.name}\`: target rolegate ≤ ${TARGETS.guardOverhead}× off: ${target(`${s.backend}: ${q.name} guard overhead`, v.guarded.p50 <= TARGETS.guardOverhead * v.unguarded.p50, `${fmt(v.guarded.p50)} vs ${fmt(v.unguarded.p50)} ms = ${ratio(v.guarded.p50, v.unguarded.p50)}`)}; target rolegate ≥ ${TARGETS.vsShield}× faster than plain shield: ${target(`${s.backend}: ${q.name} vs plain shield`, v.plainShield.p50 >= TARGETS.vsShield * v.guarded.p50, `${fmt(v.plainShield.p50)} vs ${fmt(v.guarded.p50)} ms = ${ratio(v.plainShield.p50, v.guarded.p50)}`)}`,
        );
      }
      for (const q of s.queries.filter((x) => x.name !== 'locations + children')) {
        const st = q.storeMs;
        const rest = q.restMs;
        p(
          `- \`${q.name}\`: rolegate's guards add ${fmt(rest.guarded.p50 - rest.unguarded.p50)} ms to the non-store part (p50); the plain shield tree adds ${fmt(rest.plainShield.p50 - rest.unguarded.p50)} ms (${fmt((1000 * (rest.plainShield.p50 - rest.unguarded.p50)) / q.fields, 1)} µs per field value) — ${ratio(rest.plainShield.p50, rest.guarded.p50)} rolegate's non-store time. The store's ${fmt(st.unguarded.p50)} ms (${q.queries.unguarded} queries) is the same for every variant, so end to end no guard design can be more than ${ratio(st.unguarded.p50 + rest.plainShield.p50, st.unguarded.p50 + rest.unguarded.p50)} faster than this plain shield on this query.`,
        );
      }
      p();
    }

    p('### One `check` request, step by step (in process, sequential)');
    p();
    p(
      `${BREAKDOWN_N} runs of each step after a warm-up, one at a time: what a request costs on one core without HTTP, Apollo's request pipeline or concurrency.`,
    );
    p();
    p('| step | p50 µs | mean µs | p99 µs | store queries | store p50 µs |');
    p('| --- | ---: | ---: | ---: | ---: | ---: |');
    for (const r of s.breakdown)
      p(
        `| ${r.step} | ${fmt(r.us.p50, 0)} | ${fmt(r.us.mean, 0)} | ${fmt(r.us.p99, 0)} | ${r.queries} | ${fmt(r.storeUs.p50, 0)} |`,
      );
    p();
    for (const line of why(s)) p(line);
    p();
  }

  p('## Targets');
  p();
  p(misses.length ? `Missed: ${misses.join('; ')}.` : 'All targets met.');
  p();
  return lines.join('\n');
}

/** Where a `check` request's time goes, from this section's own figures. */
function why(s: Section): string[] {
  const loads = Object.fromEntries(s.loads.map((l) => [l.name, l]));
  const cpuPerRequest = (l: LoadRun) => (l.serverCpuPct / 100) * (1e6 / l.result.main.rps);
  const base = loads[BASELINE]!;
  const rg = loads[ROLEGATE]!;
  const off = loads[ROLEGATE_UNCACHED]!;
  const kept = loads[WHAT_IF_ORG_STATE]!;
  const row = (prefix: string) => s.breakdown.find((r) => r.step.startsWith(prefix))!;
  const es = row('jose `jwtVerify`, ES256');
  const ctxOn = row('`buildContext`, cache on');
  const ctxOff = row('`buildContext`, cache off');
  const exOn = row('`execute` of `check` on the guarded schema, cache on');
  const exOff = row('`execute` of `check` on the guarded schema, cache off');
  const exOnUnguarded = row('`execute` of `check` on the unguarded schema, cache on');
  const share = (l: LoadRun) => `${fmt((100 * l.result.main.rps) / base.result.main.rps, 0)}%`;
  const out = [
    `**Where a \`check\` request's time goes (${s.backend}).** CPU per request in the server process under load: baseline ${fmt(cpuPerRequest(base), 0)} µs; rolegate ${fmt(cpuPerRequest(rg), 0)} µs (${ratio(cpuPerRequest(rg), cpuPerRequest(base))}), cache off ${fmt(cpuPerRequest(off), 0)} µs. Store queries per request under load: rolegate ${fmt(rg.queriesPerRequest, 1)}, cache off ${fmt(off.queriesPerRequest, 1)}, the what-if ${fmt(kept.queriesPerRequest, 1)}.`,
    `In process, one warm \`check\` with the cache is \`buildContext\` ${fmt(ctxOn.us.p50, 0)} µs (${
      ctxOn.queries === 0
        ? "no store query: the organization's version is known in memory — this process is the embedded store's only writer — and the rest comes from the cache"
        : `${ctxOn.queries} store ${ctxOn.queries === 1 ? 'query' : 'queries'}: the organization's version, read from the database on every request (other replicas may have written) so that no decision uses state older than the last write`
    }) + \`execute\` ${fmt(exOn.us.p50, 0)} µs (${exOn.queries} queries; ${fmt(exOnUnguarded.us.p50, 0)} µs without guards); without the cache, ${fmt(ctxOff.us.p50, 0)} µs (${ctxOff.queries} queries) + ${fmt(exOff.us.p50, 0)} µs (${exOff.queries} queries). An ES256 verification costs ${fmt(es.us.p50, 0)} µs (with the cache, only a token's first request pays it).`,
    kept.result.main.rps < rg.result.main.rps * 0.9
      ? `The what-if (not even the version read) was slower, not faster: ${fmt(kept.result.main.rps, 0)} against rolegate's ${fmt(rg.result.main.rps, 0)} req/s, ${fmt(cpuPerRequest(kept), 0)} against ${fmt(cpuPerRequest(rg), 0)} µs of CPU per request. Memoizing \`OrgStates.load\` also skips \`Versions.current\`, where the requests of one event-loop turn wait together (the batched version read on PostgreSQL, the end-of-turn wait on the embedded store); answered one by one as they arrive, requests cost about twice the CPU under this load (bench/results/http-embedded-profile.md). It bounds nothing here.`
      : rg.queriesPerRequest < 0.05
        ? `The what-if (not even the version read) changes nothing here — ${fmt(kept.result.main.rps, 0)} against ${fmt(rg.result.main.rps, 0)} req/s — since a warm check reads nothing from this store already.`
        : `Reading nothing at all (the what-if: unsafe, a write would go unseen) gave ${fmt(kept.result.main.rps, 0)} req/s, ${share(kept)} of the baseline, p99 ${kept.result.main.latency.p99} ms, against rolegate's ${fmt(rg.result.main.rps, 0)} req/s (${share(rg)}): the difference between the two is the store round trip per request (${fmt(rg.queriesPerRequest, 1)} queries) that the consistency rule needs.`,
  ];
  if (s.backend.includes('PGlite'))
    out.push(
      "The embedded store runs PostgreSQL compiled to WASM on the gateway's own thread: every query is CPU time on the event loop that serves HTTP, and queries run one at a time.",
    );
  return out.flatMap((x) => [x, '']).slice(0, -1);
}

function pkg(name: string): string {
  try {
    const file = path.join(ROOT, 'node_modules', name, 'package.json');
    return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return '?';
  }
}

// ---------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const t0 = performance.now();
  const load0 = os.loadavg()[0]!;
  const keys = await makeKeys();
  const sections: Section[] = [];

  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'rolegate-bench-http-'));
  const removeDir = () => rmSync(dataDir, { recursive: true, force: true });
  onInterrupt.add(removeDir);
  try {
    const store = await openStore({ dataDir });
    try {
      sections.push(await section('Embedded store (PGlite)', store, keys, null, true));
    } finally {
      await store.close();
    }
  } finally {
    removeDir();
    onInterrupt.delete(removeDir);
  }

  if (!SKIP_PG) {
    let pg: PostgresServer | null = null;
    try {
      log('PostgreSQL: starting a throwaway server');
      pg = await startPostgres('rolegate_bench');
      // pg_ctl stop and the folder's removal are synchronous: safe in a signal handler.
      const server = pg;
      onInterrupt.add(() => server.stop().catch(() => {}));
      const store = await openStore({ databaseUrl: pg.url, migrate: true });
      try {
        sections.push(await section('PostgreSQL', store, keys, postmasterPid(pg.dataDir), false));
      } finally {
        await store.close();
      }
    } finally {
      await pg?.stop();
    }
  }

  const md = report(
    sections,
    { seconds: (performance.now() - t0) / 1000, load: [load0, os.loadavg()[0]!] },
    { inputs: checkInputs(sections[0]!.world, 'mix', 7) },
  );
  if (!QUICK) {
    mkdirSync(path.dirname(RESULTS), { recursive: true });
    writeFileSync(RESULTS, `${md}\n`);
    log(`wrote ${path.relative(ROOT, RESULTS)}`);
  }
  process.stdout.write(`${md}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
