/**
 * `npm run bench:approvals` — the approval flow over HTTP, and whether it disturbs decisions.
 *
 * 1. The flow's cost: `requestApproval` (Junto, kind tool_use, tool invoices, an agent's API key with
 *    `approvals:request` for a Technician with Billing Admin), then `approveRequest` of each (an
 *    Operator), then `executeApproved` of each (the agent): a closed loop of FLOW.connections clients
 *    per mutation, FLOW.requests measured after FLOW.warmup: requests/s, p50/p90/p99.
 * 2. The design claim: approval transitions are audited without bumping the organization's version
 *    (src/store/write.ts `recorder`), so cached permission sets stay good. Technicians' own `check`s
 *    under load (autocannon in a child, checks-cannon.ts) alone; with a stream of approval cycles
 *    (`requestApproval` + `approveRequest`); with a stream of permission writes at the same number of
 *    mutations per second (`setUserFlags` toggling a bystander's flag: each bumps the version). After
 *    an untimed run, each condition twice, in the order A B C C B A. Per phase: throughput, latency,
 *    L1 hit ratio from /metrics, the version and audit sequence before and after.
 * 3. From `requestApproval` returning to an Operator's inbox subscription (graphql-ws,
 *    `approvalRequestChanged`) reading it: one gateway on the embedded store; one gateway and two
 *    gateways (ask on one, listen on the other) on PostgreSQL + Redis.
 *
 * 1 and 2 run on the embedded store (PGlite in a temp folder) and on a throwaway PostgreSQL
 * (test/support/postgres-server.ts, no Redis); 3 as said. Every gateway is `startGateway` (the
 * composition root) with `approvals: { notify: false }` (the expiry sweep runs; no outbox worker).
 * Writes bench/results/approvals.md (not with `--quick`) and prints it.
 *
 * Flags: `--quick` (short runs, for trying the harness: not results), `--skip-postgres`.
 */
import { signToken } from '../http/tokens';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { exportSPKI, generateKeyPair, type CryptoKey } from 'jose';
import { startGateway, type Gateway } from '../../src/api/server';
import type { AuthConfig } from '../../src/identity/tokens';
import { openStore, type Store } from '../../src/store';
import { findPostgresBin, startPostgres, type PostgresServer } from '../../test/support/postgres-server';
import { findRedisServer, startRedis, type RedisServer } from '../../test/support/redis-server';
import type { CannonResult } from '../http/cannon';
import { dist, type Dist } from '../http/stats';
import { cpuMeter, postmasterPid, waitForQuiet, type CpuShare } from '../store/cpu';
import type { ClosedResult, Item, Mutation, StreamResult, StreamSpec } from './driver';
import {
  cannon,
  closedLoop,
  counts,
  liveProbe,
  log,
  onInterrupt,
  orgRow,
  scrape,
  startStream,
  type Counts,
  type OrgRow,
  type Sample,
} from './harness';
import type { LiveResult } from './live';
import { report } from './report';
import {
  APPROVE_MUTATION,
  CHECK_LOAD,
  CHECK_QUERY,
  CHECK_SEED,
  CHECK_WARMUP,
  EXECUTE_MUTATION,
  FLOW,
  LIVE,
  QUICK,
  REQUEST_MUTATION,
  STREAM_RATE,
} from './settings';
import { buildWorld, CHECK_PERMISSIONS, TOGGLED_FLAG, type ApprovalWorld } from './world';

const SKIP_PG = process.argv.includes('--skip-postgres');
const ROOT = path.resolve(__dirname, '..', '..');
const RESULTS = path.join(ROOT, 'bench', 'results', 'approvals.md');

const ISSUER = 'rolegate';
const AUDIENCE = 'rolegate';

// ---------------------------------------------------------------------------------------------------

interface Keys {
  auth: AuthConfig;
  privateKey: CryptoKey;
}

async function makeKeys(): Promise<Keys> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  return {
    auth: { issuer: ISSUER, audience: AUDIENCE, publicKey: await exportSPKI(publicKey), algorithm: 'ES256' },
    privateKey,
  };
}

function signer(keys: Keys) {
  return (orgId: string, userId: string) => signToken(keys.privateKey, orgId, userId);
}

interface Running {
  gateway: Gateway;
  /** Errors the gateway logged (unexpected ones only: expected refusals are not logged). */
  logged: Record<string, unknown>[];
}

async function gateway(store: Store, keys: Keys, redisUrl?: string): Promise<Running> {
  const logged: Record<string, unknown>[] = [];
  const g = await startGateway({
    store,
    config: { port: 0, env: 'production', ...(redisUrl ? { redisUrl } : {}) },
    auth: keys.auth,
    host: '127.0.0.1',
    log: (e) => logged.push(e),
    approvals: { notify: false },
  });
  return { gateway: g, logged };
}

async function post(url: string, token: string, query: string, variables: unknown) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: Record<string, unknown>; errors?: { message: string }[] };
  if (res.status !== 200 || body.errors?.length)
    throw new Error(`${res.status}: ${JSON.stringify(body.errors ?? body).slice(0, 300)}`);
  return body.data!;
}

// --- 1. the flow ---------------------------------------------------------------------------------------

export interface FlowStep {
  mutation: string;
  result: ClosedResult;
  ms: Dist;
  /** Measured mutations answered per second (closed loop). */
  rps: number;
  /** CPU of this process (the gateway; the store too when embedded) per mutation, warm-up included, ms. */
  gatewayCpuMs: number;
  /** Statements the gateway sent to the store per mutation (its /metrics), warm-up included. */
  storeQueries: number;
  /** CPU of the client process (start-up included) over the step's wall time, % of one core. */
  clientsPct: number;
  machine: CpuShare | null;
}

export interface FlowSection {
  steps: FlowStep[];
  before: OrgRow;
  after: OrgRow;
  /** Requests executed in the end (every one requested should be). */
  executed: number;
}

const invoice = (world: ApprovalWorld, i: number) => ({
  kind: 'tool_use',
  tool: 'invoices',
  userId: world.subject.id,
  summary: `Send invoice INV-${i} to Acme for $${1000 + i}`,
  arguments: { invoice: `INV-${i}`, to: 'acme', amount: 1000 + i },
});

async function flowStep(
  mutation: string,
  url: string,
  all: Item[],
  expectIncludes: string,
  extract: string[],
  pgPid: number | null,
): Promise<FlowStep> {
  await waitForQuiet(pgPid, log, { maxSeconds: 15, windowMs: 1000, thresholdPct: 15 });
  const warmup = all.slice(0, FLOW.warmup);
  const items = all.slice(FLOW.warmup);
  log(`flow: ${mutation} (${warmup.length} warm-up + ${items.length}, ${FLOW.connections} connections)`);
  const scraped = await scrape(url);
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  const meter = cpuMeter(pgPid);
  const result = await closedLoop({
    mode: 'closed',
    url,
    connections: FLOW.connections,
    warmup,
    items,
    expectIncludes,
    extract,
  });
  const machine = meter();
  const cpu = process.cpuUsage(cpu0);
  const wall = performance.now() - wall0;
  const c = counts(scraped, await scrape(url));
  const ms = dist(result.ms.filter((x) => !Number.isNaN(x)));
  const step: FlowStep = {
    mutation,
    result,
    ms,
    rps: ms.n / result.seconds,
    gatewayCpuMs: (cpu.user + cpu.system) / 1000 / all.length,
    storeQueries: c.storeQueries / all.length,
    clientsPct: (100 * result.totalCpuMs) / wall,
    machine,
  };
  log(
    `  ${step.rps.toFixed(0)} /s, p50 ${ms.p50.toFixed(1)} ms, p99 ${ms.p99.toFixed(1)} ms, errors ${result.errors}${result.firstError ? ` (${result.firstError})` : ''}`,
  );
  return step;
}

async function flowSection(
  r: Running,
  store: Store,
  world: ApprovalWorld,
  pgPid: number | null,
): Promise<FlowSection> {
  const url = r.gateway.url;
  const before = await orgRow(store, world.orgId);
  const as = (token: string, query: string, input: unknown): Item => ({
    headers: { authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables: { input } }),
  });
  const n = FLOW.warmup + FLOW.requests;
  const requested = await flowStep(
    'requestApproval',
    url,
    Array.from({ length: n }, (_, i) => as(world.agent.token, REQUEST_MUTATION, invoice(world, i))),
    '"PENDING"',
    ['data', 'requestApproval', 'request'],
    pgPid,
  );
  const open = requested.result.values.filter(Boolean) as { id: string; argumentsHash: string }[];
  const approved = await flowStep(
    'approveRequest',
    url,
    open.map((q) => as(world.operator.token, APPROVE_MUTATION, { id: q.id, note: 'ok' })),
    '"APPROVED"',
    ['data', 'approveRequest', 'request', 'id'],
    pgPid,
  );
  const ok = new Set(approved.result.values.filter(Boolean) as string[]);
  const executed = await flowStep(
    'executeApproved',
    url,
    open
      .filter((q) => ok.has(q.id))
      .map((q) => as(world.agent.token, EXECUTE_MUTATION, { id: q.id, argumentsHash: q.argumentsHash })),
    '"EXECUTED"',
    ['data', 'executeApproved', 'request', 'id'],
    pgPid,
  );
  return {
    steps: [requested, approved, executed],
    before,
    after: await orgRow(store, world.orgId),
    executed: executed.result.values.filter(Boolean).length,
  };
}

// --- 2. checks beside the streams ------------------------------------------------------------------------

/** The three conditions of section 2. */
export const CONDITIONS = ['checks alone', 'checks + approval stream', 'checks + permission writes'] as const;
export type Condition = (typeof CONDITIONS)[number];

/**
 * The order of the measured phases: each condition twice, the second round reversed (A B C C B A), so a
 * drift over the section (the heap growing, the store's files) weighs on every condition alike.
 */
export const ORDER: readonly Condition[] = [...CONDITIONS, ...[...CONDITIONS].reverse()];

export interface LoadPhase {
  condition: Condition;
  /** 1 or 2. */
  round: number;
  check: CannonResult;
  counts: Counts;
  /** Process (gateway) CPU during the measured window, % of one core. */
  gatewayCpuPct: number;
  machine: CpuShare | null;
  before: OrgRow;
  after: OrgRow;
  /** The stream, if any: all its mutations, and those answered inside the measured window. */
  streamResult: StreamResult | null;
  inWindow: Mutation[];
  windowSeconds: number;
}

export interface LoadSection {
  phases: LoadPhase[];
  /** The checks' answers before the load (each distinct question once). */
  outcomes: Record<string, number>;
  questions: number;
  /** The untimed first run (checks alone), whose figures are not used: req/s. */
  warmupRps: number;
}

async function loadPhase(
  condition: Condition,
  round: number,
  r: Running,
  store: Store,
  world: ApprovalWorld,
  items: Item[],
  stream: StreamSpec['stream'] | null,
  pgPid: number | null,
): Promise<LoadPhase> {
  await waitForQuiet(pgPid, log, { maxSeconds: 15, windowMs: 1000, thresholdPct: 15 });
  const url = r.gateway.url;
  log(
    `load: ${condition}, round ${round} (${CHECK_LOAD.warmupSeconds} s warm-up + ${CHECK_LOAD.seconds} s, ${CHECK_LOAD.connections} connections${stream ? `; ${STREAM_RATE} mutations/s` : ''})`,
  );
  const before = await orgRow(store, world.orgId);
  const s = stream ? startStream({ mode: 'stream', url, rate: STREAM_RATE, stream }) : null;
  await s?.started;
  let scraped: Sample = new Map();
  let startMs = 0;
  let cpu0 = process.cpuUsage();
  let wall0 = performance.now();
  let meter = cpuMeter(pgPid);
  let check: CannonResult;
  try {
    check = await cannon(
      { ...CHECK_LOAD, url, items, seed: CHECK_SEED, expectIncludes: '"outcome":' },
      async () => {
        startMs = Date.now();
        cpu0 = process.cpuUsage();
        wall0 = performance.now();
        meter = cpuMeter(pgPid);
        scraped = await scrape(url);
      },
    );
  } catch (err) {
    await s?.done().catch(() => {});
    throw err;
  }
  const endMs = Date.now();
  const machine = meter();
  const cpu = process.cpuUsage(cpu0);
  const wall = performance.now() - wall0;
  const after = await scrape(url);
  const streamResult = s ? await s.done() : null;
  const inWindow = streamResult?.mutations.filter((m) => m.endMs >= startMs && m.endMs <= endMs) ?? [];
  const phase: LoadPhase = {
    condition,
    round,
    check,
    counts: counts(scraped, after),
    gatewayCpuPct: ((cpu.user + cpu.system) / 1000 / wall) * 100,
    machine,
    before,
    after: await orgRow(store, world.orgId),
    streamResult,
    inWindow,
    windowSeconds: (endMs - startMs) / 1000,
  };
  const m = check.main;
  const c = phase.counts;
  const streamed = inWindow.filter((x) => x.ok).length / phase.windowSeconds;
  log(
    `  ${m.rps.toFixed(0)} checks/s, p50 ${m.latency.p50} ms, p99 ${m.latency.p99} ms, bad ${m.errors + m.non2xx + m.mismatches}; L1 hit ${((100 * c.l1Hit) / (c.l1Hit + c.l1Miss)).toFixed(1)}%; version ${before.version} → ${phase.after.version}${streamResult ? `; stream ${streamed.toFixed(1)}/s in window, skipped ${streamResult.skipped}${streamResult.firstError ? `, error: ${streamResult.firstError}` : ''}` : ''}`,
  );
  return phase;
}

async function loadSection(
  r: Running,
  store: Store,
  world: ApprovalWorld,
  pgPid: number | null,
): Promise<LoadSection> {
  const url = r.gateway.url;
  const questions = world.checkers.flatMap((c) =>
    CHECK_PERMISSIONS.map((permission) => ({ checker: c, permission })),
  );
  // Every question's answer once first: the load then only repeats known questions.
  const outcomes: Record<string, number> = {};
  for (const { checker, permission } of questions) {
    const data = (await post(url, checker.token, CHECK_QUERY, {
      input: { userId: checker.id, permission },
    })) as { check: { outcome: string } };
    outcomes[data.check.outcome] = (outcomes[data.check.outcome] ?? 0) + 1;
  }
  // The connections share one stream of these, drawn at random (checks-cannon.ts): at any moment
  // they ask about different checkers.
  const items: Item[] = questions.map(({ checker, permission }) => ({
    headers: { authorization: `Bearer ${checker.token}` },
    body: JSON.stringify({ query: CHECK_QUERY, variables: { input: { userId: checker.id, permission } } }),
  }));
  const streams: Record<Condition, StreamSpec['stream'] | null> = {
    'checks alone': null,
    'checks + approval stream': {
      kind: 'approvals',
      agentToken: world.agent.token,
      operatorToken: world.operator.token,
      subjectId: world.subject.id,
    },
    'checks + permission writes': {
      kind: 'flags',
      ownerToken: world.owner.token,
      userId: world.bystander.id,
      flag: TOGGLED_FLAG,
    },
  };
  // An untimed first run: the check path's code warmed up before any measured phase.
  log(`load: untimed warm-up run (${CHECK_WARMUP.warmupSeconds} + ${CHECK_WARMUP.seconds} s)`);
  const warm = await cannon(
    { ...CHECK_LOAD, ...CHECK_WARMUP, url, items, seed: CHECK_SEED, expectIncludes: '"outcome":' },
    async () => {},
  );
  const phases: LoadPhase[] = [];
  const rounds = new Map<Condition, number>();
  for (const condition of ORDER) {
    const round = (rounds.get(condition) ?? 0) + 1;
    rounds.set(condition, round);
    phases.push(await loadPhase(condition, round, r, store, world, items, streams[condition], pgPid));
  }
  return { phases, outcomes, questions: questions.length, warmupRps: warm.main.rps };
}

// --- 3. from the answer to the approver's event ----------------------------------------------------------

export interface LiveRun {
  name: string;
  result: LiveResult;
  afterAnswer: Dist;
  afterSend: Dist;
  answered: Dist;
  /** Version reads of the listening gateway during the run (each event is decided at a fresh version). */
  listener: Counts;
  machine: CpuShare | null;
}

async function liveRun(
  name: string,
  asker: Running,
  listener: Running,
  world: ApprovalWorld,
  pgPid: number | null,
): Promise<LiveRun> {
  await waitForQuiet(pgPid, log, { maxSeconds: 15, windowMs: 1000, thresholdPct: 15 });
  log(`live: ${name} (${LIVE.warmup} warm-up + ${LIVE.count} requests, one at a time)`);
  const before = await scrape(listener.gateway.url);
  const meter = cpuMeter(pgPid);
  const result = await liveProbe({
    requestUrl: asker.gateway.url,
    wsUrl: listener.gateway.url.replace(/^http/, 'ws'),
    agentToken: world.agent.token,
    operatorToken: world.operator.token,
    subjectId: world.subject.id,
    ...LIVE,
  });
  const machine = meter();
  const listenerCounts = counts(before, await scrape(listener.gateway.url));
  const run: LiveRun = {
    name,
    result,
    afterAnswer: dist(result.samples.map((s) => s.afterAnswer)),
    afterSend: dist(result.samples.map((s) => s.afterSend)),
    answered: dist(result.samples.map((s) => s.answered)),
    listener: listenerCounts,
    machine,
  };
  log(
    `  answer → event p50 ${run.afterAnswer.p50.toFixed(2)} ms, p99 ${run.afterAnswer.p99.toFixed(2)} ms; missed ${result.missed}${result.firstError ? `; ${result.firstError}` : ''}`,
  );
  return run;
}

// ---------------------------------------------------------------------------------------------------

export interface BackendSection {
  backend: string;
  flow: FlowSection;
  load: LoadSection;
  logged: number;
  worldSeconds: number;
}

export interface Results {
  backends: BackendSection[];
  live: LiveRun[];
  liveLogged: number;
  seconds: number;
  load: [number, number];
  machine: { nproc: string; cores: number; cpu: string; memGb: number; kernel: string };
  versions: { node: string; postgres: string; redis: string; autocannon: string; graphqlWs: string };
  date: string;
}

async function backend(
  name: string,
  store: Store,
  keys: Keys,
  pgPid: number | null,
  live: LiveRun[] | null,
): Promise<BackendSection> {
  const r = await gateway(store, keys);
  try {
    const t0 = performance.now();
    const world = await buildWorld(r.gateway.store, signer(keys), `Approvals bench (${name})`);
    const worldSeconds = (performance.now() - t0) / 1000;
    log(`${name}: world built in ${worldSeconds.toFixed(1)} s`);
    const flow = await flowSection(r, store, world, pgPid);
    const load = await loadSection(r, store, world, pgPid);
    if (live) live.push(await liveRun('one gateway, embedded store (PGlite)', r, r, world, pgPid));
    return { backend: name, flow, load, logged: r.logged.length, worldSeconds };
  } finally {
    await r.gateway.close();
  }
}

function version(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8' }).trim();
  } catch {
    return '?';
  }
}

function pkg(name: string): string {
  try {
    return (
      JSON.parse(readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as {
        version: string;
      }
    ).version;
  } catch {
    return '?';
  }
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const load0 = os.loadavg()[0]!;
  const date = new Date().toISOString();
  const keys = await makeKeys();
  const backends: BackendSection[] = [];
  const live: LiveRun[] = [];
  let liveLogged = 0;

  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'rolegate-bench-approvals-'));
  const removeDir = () => rmSync(dataDir, { recursive: true, force: true });
  onInterrupt.add(removeDir);
  try {
    const store = await openStore({ dataDir });
    try {
      backends.push(await backend('Embedded store (PGlite)', store, keys, null, live));
    } finally {
      await store.close();
    }
  } finally {
    removeDir();
    onInterrupt.delete(removeDir);
  }

  if (!SKIP_PG) {
    let pg: PostgresServer | null = null;
    let redis: RedisServer | null = null;
    try {
      log('PostgreSQL: starting a throwaway server');
      pg = await startPostgres('rolegate_bench_approvals');
      const server = pg;
      onInterrupt.add(() => server.stop().catch(() => {}));
      const pgPid = postmasterPid(pg.dataDir);
      const store = await openStore({ databaseUrl: pg.url, migrate: true });
      try {
        backends.push(await backend('PostgreSQL', store, keys, pgPid, null));
      } finally {
        await store.close();
      }

      log('Redis: starting a throwaway server; two gateways, each over its own Store');
      redis = await startRedis();
      const rs = redis;
      onInterrupt.add(() => rs.stop().catch(() => {}));
      const storeA = await openStore({ databaseUrl: pg.url });
      const storeB = await openStore({ databaseUrl: pg.url });
      const a = await gateway(storeA, keys, redis.url);
      const b = await gateway(storeB, keys, redis.url);
      try {
        const world = await buildWorld(a.gateway.store, signer(keys), 'Approvals bench (live)');
        live.push(await liveRun('one gateway, PostgreSQL + Redis', a, a, world, pgPid));
        live.push(
          await liveRun('two gateways: ask on A, listen on B (PostgreSQL + Redis)', a, b, world, pgPid),
        );
        liveLogged = a.logged.length + b.logged.length;
      } finally {
        await b.gateway.close();
        await a.gateway.close();
        await storeB.close();
        await storeA.close();
      }
    } finally {
      await redis?.stop();
      await pg?.stop();
    }
  }

  const results: Results = {
    backends,
    live,
    liveLogged,
    seconds: (performance.now() - t0) / 1000,
    load: [load0, os.loadavg()[0]!],
    machine: {
      nproc: version('nproc', []),
      cores: os.cpus().length,
      cpu: os.cpus()[0]?.model ?? '?',
      memGb: Math.round(os.totalmem() / 2 ** 30),
      kernel: `${os.type()} ${os.release()}`,
    },
    versions: {
      node: process.version,
      postgres: SKIP_PG ? '–' : version(path.join(findPostgresBin(), 'postgres'), ['--version']),
      redis: SKIP_PG ? '–' : version(findRedisServer(), ['--version']),
      autocannon: pkg('autocannon'),
      graphqlWs: pkg('graphql-ws'),
    },
    date,
  };
  const md = report(results);
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
