/**
 * `npm run bench:engine` — rolegate's decision engine against casbin, CASL and Cedar on one
 * JRNI-style world. Asserts that all engines agree on every sampled check (exits 1 otherwise), then
 * measures warm checks and cold per-user builds, and writes bench/results/engine.md.
 *
 * Flags: `--quick` (10,000 users, shorter measurements; for trying the harness, not for results).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { compileCatalog, loadPreset } from '../../src';
import {
  buildCasbin,
  buildCasbinDomainPattern,
  Casl,
  casbinCold,
  casbinEngine,
  Cedar,
  Rolegate,
  rolePermissions,
  type Engine,
} from './engines';
import {
  fmtMB,
  fmtNs,
  fmtRate,
  gc,
  measureCold,
  measureWarm,
  percentile,
  type ColdResult,
  type WarmResult,
  WarmSeries,
} from './harness';
import {
  buildWorld,
  coldCases,
  DEFAULT_PARAMS,
  PERMISSIONS,
  requestWorkload,
  ROLES,
  ROLE_WEIGHTS,
  SAMPLE_KINDS,
  sampleWorkload,
  type Workload,
} from './world';

interface WarmPattern {
  key: 'random' | 'request';
  title: string;
  desc: string;
  w: Workload;
}

const QUICK = process.argv.includes('--quick');
const AGREEMENT_SAMPLES = 20_000;
const WORKLOAD = 65_536;
const WARM = QUICK
  ? { warmupSeconds: 0.2, seconds: 0.6, maxChecks: 2_000_000 }
  : { warmupSeconds: 0.5, seconds: 3, maxChecks: 20_000_000 };
const WARM_ROUNDS = 3;
const COLD_FAST = QUICK ? 600 : 5_000;
const COLD_CASBIN = QUICK ? 15 : 30;
const COLD_WARMUP = { fast: 500, casbin: 3 };
const PATTERN_CHECKS = QUICK ? 32 : 256;

function log(msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`);
}

function heap(): number {
  gc();
  return process.memoryUsage().heapUsed;
}

function seconds(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/** The workload's first occurrence of each (user, location) pair, truncated to whole batches. */
function firstOccurrences(w: Workload, batch: number): Workload {
  const seen = new Set<number>();
  const keep: number[] = [];
  for (let i = 0; i < w.size; i++) {
    const key = w.user[i]! * 16384 + w.loc[i]!;
    if (seen.has(key)) continue;
    seen.add(key);
    keep.push(i);
  }
  const size = keep.length - (keep.length % batch);
  const idx = keep.slice(0, size);
  return {
    size,
    user: Int32Array.from(idx, (i) => w.user[i]!),
    loc: Int32Array.from(idx, (i) => w.loc[i]!),
    perm: Uint8Array.from(idx, (i) => w.perm[i]!),
    kind: Uint8Array.from(idx, (i) => w.kind[i]!),
    kinds: w.kinds,
  };
}

async function main(): Promise<void> {
  const started = process.hrtime.bigint();
  const loadAtStart = os.loadavg();
  if (!(globalThis as { gc?: unknown }).gc)
    log('warning: run with --expose-gc for stable numbers (npm run bench:engine does)');
  if (!process.execArgv.includes('--no-turbo-inline-js-wasm-calls')) {
    log(
      'warning: without --no-turbo-inline-js-wasm-calls, Node 20 may crash in the Cedar loop (npm run bench:engine sets it)',
    );
  }
  const params = QUICK ? { ...DEFAULT_PARAMS, users: 10_000 } : DEFAULT_PARAMS;

  // ---- world ------------------------------------------------------------------------------------
  let t = process.hrtime.bigint();
  const world = buildWorld(params);
  const compiled = compileCatalog(loadPreset('jrni'));
  const perms = rolePermissions(compiled);
  const assignments = world.userStart[params.users]!;
  log(
    `world: ${world.mainLocations} locations, ${params.users} users, ${assignments} assignments (${seconds(t).toFixed(1)} s)`,
  );

  const builds: { name: string; seconds: number; heap: number; note?: string }[] = [];
  let h0 = heap();
  t = process.hrtime.bigint();
  const rolegate = new Rolegate(world, compiled);
  builds.push({
    name: 'rolegate',
    seconds: seconds(t),
    heap: heap() - h0,
    note: `${params.users} \`UserGrants\``,
  });
  log(`rolegate built (${builds.at(-1)!.seconds.toFixed(1)} s)`);

  h0 = heap();
  t = process.hrtime.bigint();
  const casl = new Casl(world, perms);
  builds.push({
    name: '@casl/ability',
    seconds: seconds(t),
    heap: heap() - h0,
    note: `${params.users} abilities`,
  });
  log(`casl built (${builds.at(-1)!.seconds.toFixed(1)} s)`);

  h0 = heap();
  t = process.hrtime.bigint();
  const cedarModel = new Cedar(world, perms);
  builds.push({
    name: '@cedar-policy/cedar-wasm',
    seconds: seconds(t),
    heap: heap() - h0,
    note: `${params.users} user entities + ${world.locIds.length} location chains (JS heap only)`,
  });
  log(`cedar built (${builds.at(-1)!.seconds.toFixed(1)} s)`);

  h0 = heap();
  t = process.hrtime.bigint();
  const casbin = await buildCasbin(world, perms);
  builds.push({
    name: 'casbin',
    seconds: seconds(t),
    heap: heap() - h0,
    note: `${casbin.pRules} p rules, ${casbin.gRules} g rules`,
  });
  log(`casbin built (${builds.at(-1)!.seconds.toFixed(1)} s)`);

  const engines: Engine[] = [
    rolegate.memo(),
    rolegate.noMemo(),
    casbinEngine(world, casbin.enforcer),
    casl.engine(),
    cedarModel.engine(),
  ];

  // ---- agreement --------------------------------------------------------------------------------
  const sample = sampleWorkload(world, AGREEMENT_SAMPLES, params.seed + 1);
  t = process.hrtime.bigint();
  const counts = { ALLOW: 0, DENY: 0 };
  const byKind = SAMPLE_KINDS.map(() => ({ ALLOW: 0, DENY: 0 }));
  const byPerm = PERMISSIONS.map(() => ({ ALLOW: 0, DENY: 0 }));
  const disagreements: string[] = [];
  const ref = engines[0]!;
  for (let i = 0; i < sample.size; i++) {
    const u = sample.user[i]!;
    const l = sample.loc[i]!;
    const p = sample.perm[i]!;
    const expected = ref.check(u, l, p);
    const outcome = expected ? 'ALLOW' : 'DENY';
    counts[outcome]++;
    byPerm[p]![outcome]++;
    byKind[sample.kind[i]!]![outcome]++;
    for (const e of engines.slice(1)) {
      let got: boolean | string;
      try {
        got = e.check(u, l, p);
      } catch (err) {
        got = `error: ${(err as Error).message}`;
      }
      if (got !== expected) {
        disagreements.push(
          `${e.name}: user ${world.userIds[u]} (${[
            ...Array(world.userStart[u + 1]! - world.userStart[u]!).keys(),
          ]
            .map(
              (k) =>
                `${ROLES[world.assignRole[world.userStart[u]! + k]!]}@${world.locIds[world.assignLoc[world.userStart[u]! + k]!]}`,
            )
            .join(
              ', ',
            )}) ${PERMISSIONS[p]} at ${world.paths[l]!.join('<')}: rolegate ${outcome}, ${e.name} ${got}`,
        );
      }
    }
  }
  log(
    `agreement: ${sample.size} checks × ${engines.length} engines, ${disagreements.length} disagreements (${seconds(t).toFixed(1)} s)`,
  );
  if (disagreements.length) {
    for (const d of disagreements.slice(0, 30)) console.error(`DISAGREEMENT ${d}`);
    console.error(`${disagreements.length} disagreements in total; no benchmark numbers are reported.`);
    process.exit(1);
  }

  // ---- warm -------------------------------------------------------------------------------------
  const patterns: WarmPattern[] = [
    {
      key: 'random',
      title: 'Independent checks (each a random user)',
      desc: `${WORKLOAD.toLocaleString('en-US')} checks sampled independently (random user, location and permission as in the agreement sample), so consecutive checks touch different users' state anywhere in the 100k-user world: the cache-hostile case.`,
      w: sampleWorkload(world, WORKLOAD, params.seed + 2),
    },
    {
      key: 'request',
      title: 'Request-shaped checks (64 per user)',
      desc: `${(WORKLOAD / 64).toLocaleString('en-US')} "requests": each is one random user checking 64 random permissions at 4 locations (16 each, locations drawn as in the agreement sample), as a gateway does for one GraphQL request. One timed batch = one request.`,
      w: requestWorkload(world, WORKLOAD / 64, 64, 4, params.seed + 4),
    },
  ];
  const warm = new Map<string, WarmResult>();

  // rolegate, first check of each (user, location): fresh UserGrants, each pair checked once. The JIT
  // is already warm from the agreement pass.
  const firstEngine: Engine = {
    ...rolegate.memo(),
    name: 'rolegate (first check at a location)',
    form: '`decide()` on freshly built `UserGrants`, each (user, location) checked once: memo miss, set computed and stored',
  };
  rolegate.rebuild();
  gc();
  {
    const firsts = firstOccurrences(patterns[0]!.w, 64);
    const r = measureWarm(firstEngine, firsts, {
      warmupSeconds: 0,
      seconds: 60,
      maxChecks: Infinity,
      onePass: true,
    }).result();
    warm.set(`random|${firstEngine.name}`, r);
    log(
      `warm random ${firstEngine.name}: ${fmtRate(r.perSecond)}, p50 ${fmtNs(r.p50)}, p99 ${fmtNs(r.p99)} (${r.checks} checks)`,
    );
  }

  // Everything else: WARM_ROUNDS rounds, each giving every (workload, engine) an equal slice of time
  // in turn, so a transient slowdown of the machine is spread over all engines instead of hitting one.
  const cedarFloor = cedarModel.floor();
  const series = new Map<string, WarmSeries>();
  const roundP50 = new Map<string, number[]>();
  for (const pattern of patterns) engines[0]!.batch(pattern.w, 0, pattern.w.size); // fill rolegate's memos
  for (let round = 0; round < WARM_ROUNDS; round++) {
    for (const pattern of patterns) {
      for (const e of pattern.key === 'random' ? [...engines, cedarFloor] : engines) {
        // A full collection before every slice: each engine pays for its own garbage, not for the
        // incremental marking another engine's allocations started.
        gc();
        const key = `${pattern.key}|${e.name}`;
        const s = series.get(key) ?? new WarmSeries();
        series.set(key, s);
        const before = s.perCheck.length;
        measureWarm(
          e,
          pattern.w,
          { ...WARM, warmupSeconds: round ? 0.1 : WARM.warmupSeconds, seconds: WARM.seconds / WARM_ROUNDS },
          s,
        );
        const slice = Float64Array.from(s.perCheck.slice(before)).sort();
        roundP50.set(key, [...(roundP50.get(key) ?? []), percentile(slice, 0.5)]);
        log(
          `  round ${round + 1} ${key}: p50 ${fmtNs(percentile(slice, 0.5))}, p99 ${fmtNs(percentile(slice, 0.99))}`,
        );
      }
    }
    log(`warm round ${round + 1}/${WARM_ROUNDS} done`);
  }
  for (const [key, s] of series) {
    const r = s.result();
    warm.set(key, r);
    log(
      `warm ${key}: ${fmtRate(r.perSecond)}, p50 ${fmtNs(r.p50)}, p99 ${fmtNs(r.p99)} (${r.checks} checks)`,
    );
  }

  // ---- casbin's documented domain-pattern form, on a small sample -------------------------------
  t = process.hrtime.bigint();
  const pattern_ = await buildCasbinDomainPattern(world, perms);
  const patternBuild = seconds(t);
  log(`casbin domain-pattern built (${patternBuild.toFixed(1)} s)`);
  const patternTimes: number[] = [];
  let patternDisagree = 0;
  let patternTotal = 0;
  for (let i = 0; i < PATTERN_CHECKS; i++) {
    const t0 = process.hrtime.bigint();
    const got = pattern_.check(sample.user[i]!, sample.loc[i]!, sample.perm[i]!);
    const dt = Number(process.hrtime.bigint() - t0);
    if (got !== ref.check(sample.user[i]!, sample.loc[i]!, sample.perm[i]!)) patternDisagree++;
    if (i >= 8) {
      patternTimes.push(dt);
      patternTotal += dt;
    }
  }
  patternTimes.sort((a, b) => a - b);
  log(`casbin domain-pattern: p50 ${fmtNs(percentile(patternTimes, 0.5))}, ${patternDisagree} disagreements`);
  if (patternDisagree) {
    console.error(
      `DISAGREEMENT casbin (domain pattern) disagreed with rolegate on ${patternDisagree} of ${PATTERN_CHECKS} checks`,
    );
    process.exit(1);
  }

  // ---- cold -------------------------------------------------------------------------------------
  const cases = coldCases(world, COLD_FAST + COLD_WARMUP.fast, params.seed + 3);
  const cold = new Map<string, { what: string; r: ColdResult }>();
  for (const b of [rolegate.cold(), casl.cold(), cedarModel.cold()]) {
    const r = await measureCold(b, cases, COLD_WARMUP.fast);
    cold.set(b.name, { what: b.what, r });
    log(`cold ${b.name}: p50 ${fmtNs(r.p50)}, p99 ${fmtNs(r.p99)}`);
  }
  {
    const b = casbinCold(world, casbin.enforcer);
    const r = await measureCold(b, cases.slice(0, COLD_CASBIN + COLD_WARMUP.casbin), COLD_WARMUP.casbin);
    cold.set(b.name, { what: b.what, r });
    log(`cold ${b.name}: p50 ${fmtNs(r.p50)}, p99 ${fmtNs(r.p99)}`);
  }

  // ---- report -----------------------------------------------------------------------------------
  const get = (key: string, name: string) => warm.get(`${key}|${name}`)!;
  const rgCold = cold.get('rolegate')!.r;
  const pass = (ok: boolean) => (ok ? '**PASS**' : '**MISS**');
  const ratio = (a: number, b: number) => `${(a / b).toFixed(a / b >= 100 ? 0 : 1)}×`;

  const cpu = os.cpus()[0]?.model ?? 'unknown';
  const lines: string[] = [];
  const row = (...cells: (string | number)[]) => lines.push(`| ${cells.join(' | ')} |`);
  lines.push('# Engine benchmark: rolegate vs casbin, CASL, Cedar', '');
  if (QUICK)
    lines.push('> **QUICK RUN (`--quick`): 10,000 users and short measurements. Not for comparison.**', '');
  lines.push(
    `- Date: ${new Date().toISOString()}`,
    `- Machine: ${cpu}, ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GB RAM, ${os.type()} ${os.release()}`,
    `- Node ${process.version}; casbin ${pkgVersion('casbin')}, @casl/ability ${pkgVersion('@casl/ability')}, @cedar-policy/cedar-wasm ${pkgVersion('@cedar-policy/cedar-wasm')} (Cedar ${cedarVersion()})`,
    `- Command: \`npm run bench:engine\` → \`tsx --expose-gc --no-turbo-inline-js-wasm-calls --max-old-space-size=6144 bench/engine/run.ts${QUICK ? ' --quick' : ''}\` (gc exposed: ${!!(globalThis as { gc?: unknown }).gc})`,
    `- Whole run: ${seconds(started).toFixed(0)} s, peak RSS ${fmtMB(process.resourceUsage().maxRSS * 1024)}`,
    `- Load average (1 min) at start ${loadAtStart[0]!.toFixed(2)}, at end ${os.loadavg()[0]!.toFixed(2)} on ${os.cpus().length} cores: anything well above 1 means other processes shared the machine during the run (the p50-per-round spread shows how much that moved the figures)`,
    '',
    '## World',
    '',
    `One organization, catalog \`catalogs/jrni.yaml\`. ${world.mainLocations.toLocaleString('en-US')} locations in a tree of depth ${params.levels.length} under the org root (per level: ${params.levels.join(', ')}; each location under a random one of the level above), plus a separate ${params.coldDepth}-deep branch (B1…B${params.coldDepth}) for the cold build. ${params.users.toLocaleString('en-US')} users, each with ${params.minAssignments}–${params.maxAssignments} assignments (${assignments.toLocaleString('en-US')} in all) at uniformly random locations; roles ${ROLES.map((r, i) => `${r} ${Math.round(ROLE_WEIGHTS[i]! * 100)}%`).join(', ')}. Seeded PRNG (mulberry32, seed ${params.seed}): every run builds the same world and samples. Every engine holds the **full** world (no engine was loaded with fewer users).`,
    '',
    'Checks are drawn from the twelve matrix rows (' +
      PERMISSIONS.map((p) => `\`${p}\``).join(', ') +
      '). A sampled check picks a random user and one of their assignments, then a location: 45% at or below the assignment (walking down, stopping with p = 0.4 per level), 15% strictly above it, 40% uniformly random.',
    '',
    '## Agreement',
    '',
    `${sample.size.toLocaleString('en-US')} sampled (user, location, permission) checks, asked of rolegate (memo and no-memo paths), casbin, CASL and Cedar: **all agree on every check** (the run exits non-zero and prints the disagreements otherwise). Outcomes: **${counts.ALLOW.toLocaleString('en-US')} ALLOW, ${counts.DENY.toLocaleString('en-US')} DENY** (${((100 * counts.ALLOW) / sample.size).toFixed(1)}% ALLOW). By where the location lies (ALLOW / DENY): ${SAMPLE_KINDS.map((k, i) => `${k} ${byKind[i]!.ALLOW}/${byKind[i]!.DENY}`).join(', ')}. casbin's documented domain-pattern form (below) also agreed on the first ${PATTERN_CHECKS} of them.`,
    '',
    'Per permission (ALLOW / DENY): ' +
      PERMISSIONS.map((p, i) => `\`${p}\` ${byPerm[i]!.ALLOW}/${byPerm[i]!.DENY}`).join(', ') +
      '.',
    '',
    '## Warm checks',
    '',
    `Per-user state already built (rolegate: \`UserGrants\`; casbin: enforcer with all policies and role links; CASL: one ability per user; Cedar: policy set preparsed, entities prebuilt). Each engine replays each workload after ${WARM.warmupSeconds} s of warm-up for ${WARM.seconds} s of measured time, in ${WARM_ROUNDS} rounds of ${(WARM.seconds / WARM_ROUNDS).toFixed(1)} s that visit every engine in turn (so a transient slowdown of this shared VM lands on all engines alike), with a full GC before every slice so each engine pays for its own garbage collection only. **Timing: \`process.hrtime.bigint()\` around each batch of 64 checks; p50/p99 are percentiles of the batch means (batch time ÷ 64), not of single checks**; "p50 per round" (µs) shows the spread between rounds; checks/s is measured checks ÷ summed batch time. All engines live in the same process with the whole world resident.`,
  );
  const order = [
    'rolegate',
    'rolegate (no memo)',
    'rolegate (first check at a location)',
    'casbin',
    '@casl/ability',
    '@cedar-policy/cedar-wasm',
    'cedar-wasm floor',
  ];
  const all = [...engines, firstEngine, cedarFloor];
  for (const pattern of patterns) {
    lines.push('', `### ${pattern.title}`, '', pattern.desc, '');
    const memo = get(pattern.key, 'rolegate');
    const noMemo = get(pattern.key, 'rolegate (no memo)');
    row(
      'Engine',
      'Form used',
      'checks/s',
      'p50 / check',
      'p99 / check',
      'p50 per round',
      'rolegate (memo) is',
      'rolegate (no memo) is',
    );
    row('---', '---', '---:', '---:', '---:', '---:', '---:', '---:');
    for (const name of order) {
      const r = warm.get(`${pattern.key}|${name}`);
      if (!r) continue;
      const e = all.find((x) => x.name === name)!;
      const form = name.startsWith('rolegate (first')
        ? `${e.form} (one pass, ${r.checks.toLocaleString('en-US')} checks)`
        : e.form;
      const peer = !name.startsWith('rolegate');
      row(
        name === 'cedar-wasm floor' ? `_${name}_` : `**${name}**`,
        form,
        fmtRate(r.perSecond),
        fmtNs(r.p50),
        fmtNs(r.p99),
        (roundP50.get(`${pattern.key}|${name}`) ?? []).map((x) => fmtNs(x).replace(' µs', '')).join(' / ') ||
          '—',
        peer ? ratio(memo.perSecond, r.perSecond) : '',
        peer ? ratio(noMemo.perSecond, r.perSecond) : '',
      );
    }
    if (pattern.key === 'random') {
      const patternMean = patternTotal / patternTimes.length;
      row(
        '_casbin (domain pattern)_',
        `${pattern_.form}; checks 9–${PATTERN_CHECKS} of the agreement sample (the first 8 untimed), each timed alone (built in ${patternBuild.toFixed(1)} s)`,
        fmtRate(1e9 / patternMean),
        fmtNs(percentile(patternTimes, 0.5)),
        fmtNs(percentile(patternTimes, 0.99)),
        '—',
        ratio(memo.perSecond, 1e9 / patternMean),
        ratio(noMemo.perSecond, 1e9 / patternMean),
      );
    }
  }
  lines.push(
    '',
    '## Cold: building one user',
    '',
    `A fresh user with ${params.coldAssignments} assignments: one at each of B1…B${params.coldDepth} (so the check at B${params.coldDepth} folds a path of ${params.coldDepth}) and ${params.coldAssignments - params.coldDepth} at random locations of the main tree, random roles; a new user id each time. Each build is timed on its own with \`process.hrtime.bigint()\` after ${COLD_WARMUP.fast} (casbin: ${COLD_WARMUP.casbin}) unmeasured builds.`,
    '',
  );
  row('Engine', 'What one sample measures', 'samples', 'p50', 'p99', 'mean');
  row('---', '---', '---:', '---:', '---:', '---:');
  for (const [name, { what, r }] of cold)
    row(`**${name}**`, what, r.samples, fmtNs(r.p50), fmtNs(r.p99), fmtNs(r.mean));
  lines.push('', '## Targets', '');
  row('Target', 'Workload', 'Measured', 'Result');
  row('---', '---', '---', '---');
  for (const pattern of patterns) {
    const peers = ['casbin', '@casl/ability', '@cedar-policy/cedar-wasm'].map((n) => ({
      n,
      r: get(pattern.key, n),
    }));
    const fastest = peers.reduce((x, y) => (y.r.perSecond > x.r.perSecond ? y : x));
    const casbinR = get(pattern.key, 'casbin');
    for (const variant of ['rolegate', 'rolegate (no memo)']) {
      const r = get(pattern.key, variant);
      const label = variant === 'rolegate' ? 'memo hit' : 'no memo';
      row(`rolegate warm check p50 ≤ 1 µs (${label})`, pattern.key, fmtNs(r.p50), pass(r.p50 <= 1000));
      row(
        `rolegate warm throughput ≥ 10× casbin (${label})`,
        pattern.key,
        `${fmtRate(r.perSecond)} vs ${fmtRate(casbinR.perSecond)} = ${ratio(r.perSecond, casbinR.perSecond)}`,
        pass(r.perSecond >= 10 * casbinR.perSecond),
      );
      row(
        `rolegate warm throughput ≥ 1.5× the fastest peer, ${fastest.n} (${label})`,
        pattern.key,
        `${fmtRate(r.perSecond)} vs ${fmtRate(fastest.r.perSecond)} = ${ratio(r.perSecond, fastest.r.perSecond)}`,
        pass(r.perSecond >= 1.5 * fastest.r.perSecond),
      );
    }
  }
  row(
    `rolegate cold build (${params.coldAssignments} assignments, depth ${params.coldDepth}) p50 ≤ 50 µs`,
    'cold',
    fmtNs(rgCold.p50),
    pass(rgCold.p50 <= 50_000),
  );
  lines.push('', '## Building the warm state (whole world)', '');
  row('Engine', 'Built', 'Time', 'JS heap after GC');
  row('---', '---', '---:', '---:');
  for (const b of builds) row(`**${b.name}**`, b.note ?? '', `${b.seconds.toFixed(2)} s`, fmtMB(b.heap));
  lines.push(
    '',
    '## How each engine models the world',
    '',
    '- **rolegate**: `UserGrants` per user (role closures bucketed by location); `decide()` folds the bitsets of the location and its ancestors. "memo hit" replays (user, location) pairs already checked; "no memo" asks the same check with a resource in a staff group no assignment is restricted to, which bypasses the per-location memo and computes the set on every call (same answers: nothing in this world is restricted); "first check at a location" uses freshly built `UserGrants` and checks each (user, location) once.',
    '- **casbin**: RBAC with domains, one domain per role type. In domain R the role graph holds the location tree (`g, child, parent, R`) and each assignment of R at A as `g, A, user, R`; the matcher `r.act == p.act && g(r.loc, r.sub, p.role)` walks up from the checked location to a holder — the cascade. The policy is the role matrix (`p, role, permission`, inheritance resolved). Loaded with one `addPolicies` and one `addNamedGroupingPolicies` into an empty enforcer. casbin\'s documented hierarchical-domain form (domains as materialized paths, `g, user, role, /…/A/*`, `addNamedDomainMatchingFunc("g", keyMatch)`) gives the same answers but its role manager scans every domain (~10k here) on each `g()` call; it is reported separately on a small sample.',
    '- **@casl/ability**: one `createMongoAbility(rawRules)` per user (what `AbilityBuilder.build()` produces), one rule per assignment `{ action: <role\'s permissions>, subject: "Location", conditions: { path: A } }`; the subject is `subject("Location", { id, path: [location, ...ancestors] })`, built once per location, so "path contains A" is the cascade.',
    '- **@cedar-policy/cedar-wasm**: six `permit` policies (one per role: `action in [...]` its permissions, `when { principal has <role> && resource in principal.<role> }`) parsed once with `preparsePolicySet`; `statefulIsAuthorized` per check with entities = the user (attributes: per role, the set of Locations where the user holds it) and the checked location with its ancestors (`parents` = parent location). No schema, no request validation.',
  );
  {
    const rMemo = get('random', 'rolegate');
    const rNoMemo = get('random', 'rolegate (no memo)');
    const qMemo = get('request', 'rolegate');
    const cedarR = get('random', '@cedar-policy/cedar-wasm');
    const floorR = get('random', 'cedar-wasm floor');
    lines.push(
      '',
      '## Notes',
      '',
      `- **Access pattern matters more than the engine's arithmetic.** With independent checks, every check lands on another user's state somewhere in a heap of several hundred MB, so each costs a handful of cache misses whatever the engine does: rolegate's memo-hit p50 is ${fmtNs(rMemo.p50)} there against ${fmtNs(qMemo.p50)} when a request's 64 checks share one user.${
        rNoMemo.perSecond >= rMemo.perSecond
          ? ` In that pattern the memo does not even pay: the memo entries were allocated after the user's other state and live elsewhere in the heap, so the hit (${fmtRate(rMemo.perSecond)}) is no faster than recomputing the set from the compactly allocated buckets (${fmtRate(rNoMemo.perSecond)}).`
          : ''
      }`,
      `- **Cedar** pays on every call for crossing into wasm, converting the request and the entities from JS objects, and building an entity store (with its hierarchy) from them — the stateful API caches only the policy set: an empty call costs ${fmtNs(floorR.p50)} p50 here, the real check with the user and a location chain ${fmtNs(cedarR.p50)}. A modelling that passes fewer entities (e.g. the ancestor path in \`context\`) can only approach the floor row, which is itself ${ratio(rMemo.perSecond, floorR.perSecond)} slower than rolegate.`,
      `- **casbin cold build** is dominated by \`addNamedGroupingPolicies\` checking each new rule against every existing \`g\` rule (a linear \`hasPolicy\` scan over ${casbin.gRules.toLocaleString('en-US')} rules), so adding a user gets slower as the organization grows; the check itself walks ≤ 8 role-graph hops.`,
      '- **`--no-turbo-inline-js-wasm-calls`**: on Node 20.20 (V8 11.3) the Cedar loop crashes the process (`Fatal error … unreachable code` in `Deoptimizer::DoComputeBuiltinContinuation`) when TurboFan-optimized JS that inlined the JS→Wasm call deoptimizes; reproducible with this benchmark. The flag turns that inlining off. It only touches JS→Wasm calls, i.e. Cedar; in isolated probes the effect on a Cedar call was within run-to-run noise.',
      ...[...cold]
        .filter(([, { r }]) => r.mean > r.p99)
        .map(
          ([name, { r }]) =>
            `- **${name} cold mean (${fmtNs(r.mean)}) above its p99 (${fmtNs(r.p99)})**: a heavy tail — most likely a few samples absorbing a garbage collection of the ~1 GB heap (the whole world of every engine is resident); p50 is the representative figure.`,
        ),
      '- Only the sampled permissions are checked, but every engine holds the whole catalog (78 role grants with inheritance resolved, `nav:` and page permissions included), so no engine is helped by a trimmed policy.',
    );
  }
  const md = lines.join('\n') + '\n';
  const out = path.join(__dirname, '..', 'results', 'engine.md');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, md);
  console.log(md);
  log(`wrote ${path.relative(process.cwd(), out)} (${seconds(started).toFixed(0)} s in all)`);
}

function pkgVersion(name: string): string {
  try {
    const file = require.resolve(`${name}/package.json`, { paths: [process.cwd()] });
    return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    // Packages whose "exports" hide package.json: read it from node_modules directly.
    const file = path.join(process.cwd(), 'node_modules', name, 'package.json');
    return fs.existsSync(file)
      ? (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version
      : '?';
  }
}

function cedarVersion(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('@cedar-policy/cedar-wasm/nodejs') as { getCedarVersion(): string }).getCedarVersion();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
