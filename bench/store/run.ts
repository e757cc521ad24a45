/**
 * `npm run bench:store` — how long the store takes to load everything the engine needs to decide for
 * a user it has not seen (a "cold" load), on PostgreSQL at 1,000,000 users and on PGlite at 100,000.
 *
 * PostgreSQL: a throwaway server (test/support/postgres-server.ts), or a fresh database created on
 * the server at DATABASE_URL and dropped at the end. PGlite: a temp folder. Each is migrated, gets one
 * organization (and a few custom roles) through the store API, then the bulk data through COPY
 * (bench/store/load.ts). Loads go through the real store API; each is checked against the generated
 * data and decided on by the engine. Writes bench/results/store.md (not with `--quick`).
 *
 * Flags: `--quick` (1% / 10% of the data, fewer samples: for trying the harness, not for results),
 * `--skip-postgres`, `--skip-pglite`.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import { loadPreset } from '../../src/catalog';
import { migrate, openDb, openStore, Store, type RoleInput } from '../../src/store';
import { startPostgres, type PostgresServer } from '../../test/support/postgres-server';
import { postmasterPid, waitForQuiet, type CpuShare } from './cpu';
import { loadPglite, loadPostgres, type LoadReport } from './load';
import {
  compileOrgCatalog,
  CountingDb,
  explainLoad,
  LOAD_DESCRIPTION,
  QUERY_NAMES,
  runBreakdown,
  runLoads,
  Samples,
  warmUp,
  type Expected,
  type Plan,
  type QueryName,
  type RunResult,
  type Stats,
} from './measure';
import {
  FULL,
  newAssignmentStats,
  PGLITE,
  ROLE_WEIGHTS,
  Rng,
  SHAPES,
  Tree,
  USER_STATES,
  type AssignmentStats,
  type WorldSize,
} from './world';

const QUICK = process.argv.includes('--quick');
const SKIP_PG = process.argv.includes('--skip-postgres');
const SKIP_PGLITE = process.argv.includes('--skip-pglite');
const SEED = 20261123;
const ROOT = path.resolve(__dirname, '..', '..');
const RESULTS = path.join(ROOT, 'bench', 'results', 'store.md');

const scale = (s: WorldSize, f: number): WorldSize => ({
  locations: Math.round(s.locations * f),
  users: Math.round(s.users * f),
  assignments: Math.round(s.assignments * f),
});
const PG_SIZE = QUICK ? scale(FULL, 0.01) : FULL;
const PGLITE_SIZE = QUICK ? scale(PGLITE, 0.1) : PGLITE;
/** Loads per run (≥ 2,000 for the reported runs). */
const N = QUICK
  ? { warmup: 50, main: 300, perUser: 200, cold: 200, breakdown: 50, pgliteMain: 200, pgliteCold: 150 }
  : {
      warmup: 200,
      main: 5_000,
      perUser: 2_000,
      cold: 2_000,
      breakdown: 1_000,
      pgliteMain: 3_000,
      pgliteCold: 2_000,
    };
const N_PGLITE_BREAKDOWN = QUICK ? 30 : 200;

const TARGETS = { pgP50: 2, pgP99: 10, pgliteP50: 5, loadMinutes: 10 };

/** A few custom roles, so `roles.list` returns what a real organization's would. */
const CUSTOM_ROLES: RoleInput[] = [
  {
    key: 'regional_manager',
    name: 'Regional manager',
    kind: 'location',
    inherits: ['manager'],
    grants: ['event:manage', 'resource:manage'],
  },
  { key: 'front_desk', name: 'Front desk', kind: 'location', grants: ['customer:manage', 'checkin:manage'] },
  {
    key: 'viewer',
    name: 'Viewer',
    kind: 'location',
    grants: ['calendar:view', 'agenda:view', 'service:view'],
  },
];

function log(msg: string): void {
  process.stderr.write(`[bench:store ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

// ---------------------------------------------------------------------------------------------------
// Cleanup: everything started or created is registered here and undone at the end, also on failure
// and on SIGINT/SIGTERM.

const cleanups: { name: string; fn: () => Promise<void> | void }[] = [];
async function cleanupAll(): Promise<void> {
  while (cleanups.length) {
    const c = cleanups.pop()!;
    try {
      await c.fn();
    } catch (err) {
      log(`cleanup of ${c.name} failed: ${(err as Error).message}`);
    }
  }
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    log(`${sig}: cleaning up`);
    void cleanupAll().finally(() => process.exit(130));
  });
}

// ---------------------------------------------------------------------------------------------------
// Page cache: how much of a folder is cached by the OS, and dropping just that folder's pages.

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

function folderMB(dir: string): number {
  return filesUnder(dir).reduce((s, f) => s + statSync(f).size, 0) / 1048576;
}

/** MB of the folder's files in the OS page cache (`fincore`), or null when it cannot tell. */
function cachedMB(dir: string): number | null {
  const files = filesUnder(dir);
  let bytes = 0;
  for (let i = 0; i < files.length; i += 500) {
    const r = spawnSync(
      'fincore',
      ['--bytes', '--noheadings', '--raw', '--output', 'RES', ...files.slice(i, i + 500)],
      {
        encoding: 'utf8',
      },
    );
    if (r.status !== 0 && !r.stdout) return null;
    for (const line of r.stdout.split('\n')) if (line.trim()) bytes += Number(line.trim());
  }
  return bytes / 1048576;
}

/** Writes back and drops the folder's pages from the OS page cache (fsync + POSIX_FADV_DONTNEED per file). */
function evictFolder(dir: string): { beforeMB: number | null; afterMB: number | null } {
  const beforeMB = cachedMB(dir);
  const script =
    'import os,sys\n' +
    'for root,_,files in os.walk(sys.argv[1]):\n' +
    '  for f in files:\n' +
    '    p=os.path.join(root,f)\n' +
    '    try:\n' +
    '      fd=os.open(p,os.O_RDONLY)\n' +
    '    except OSError:\n' +
    '      continue\n' +
    '    try:\n' +
    '      os.fsync(fd); os.posix_fadvise(fd,0,0,os.POSIX_FADV_DONTNEED)\n' +
    '    finally:\n' +
    '      os.close(fd)\n';
  const py = spawnSync('python3', ['-c', script, dir], { encoding: 'utf8' });
  if (py.status !== 0) {
    spawnSync('sync');
    for (const f of filesUnder(dir)) spawnSync('dd', [`if=${f}`, 'iflag=nocache', 'count=0', 'status=none']);
  }
  return { beforeMB, afterMB: cachedMB(dir) };
}

// ---------------------------------------------------------------------------------------------------

interface Scenario {
  backend: 'PostgreSQL' | 'PGlite';
  state: string;
  result: RunResult;
  target?: { p50?: number; p99?: number; headline: boolean };
}

interface BackendReport {
  name: 'PostgreSQL' | 'PGlite';
  version: string;
  settings: Record<string, string>;
  size: WorldSize;
  tree: Tree;
  stats: AssignmentStats;
  treeSeconds: number;
  load: LoadReport;
  setupSeconds: number;
  scenarios: Scenario[];
  breakdown: Record<QueryName, Stats>;
  plans: { state: string; plans: Plan[] }[];
  eviction?: { beforeMB: number | null; afterMB: number | null };
  locationsReused: number;
  dataMB: number;
}

/** The catalog text, read once: both backends' organizations get the same document. */
let catalogText: string | undefined;

/** Waits for the machine to be quiet, then runs the loads. */
async function measured(...args: Parameters<typeof runLoads>): Promise<RunResult> {
  const waited = await waitForQuiet(args[8] ?? null, log);
  const result = await runLoads(...args);
  quietWaits.push(waited);
  return result;
}
const quietWaits: number[] = [];

async function setupOrg(store: Store): Promise<{ orgId: string }> {
  catalogText ??= loadPreset('jrni').text;
  const { result: org } = await store.organizations.create(
    { name: 'Bench org', catalogName: 'jrni', catalogSource: catalogText },
    'bench',
  );
  const ctx = { orgId: org.id, actor: 'bench', requestId: 'bench' };
  for (const r of CUSTOM_ROLES) await store.roles.create(ctx, r);
  return { orgId: org.id };
}

async function expectedFor(
  store: Store,
  orgId: string,
  tree: Tree,
  stats: AssignmentStats,
): Promise<Expected> {
  const [version] = await store.organizations.versions([orgId]);
  return { orgId, version: version!, customRoles: CUSTOM_ROLES.length, tree, assignments: stats };
}

/** A Store over a counting wrapper of the same Db `openStore` would use (PGlite: migrated as openStore does). */
async function openCounting(config: {
  databaseUrl?: string;
  dataDir?: string;
}): Promise<{ store: Store; db: CountingDb }> {
  const inner = await openDb({ ...config, poolSize: 10 });
  if (inner.kind === 'pglite') await migrate(inner);
  const db = new CountingDb(inner);
  return { store: new Store(db), db };
}

async function generate(size: WorldSize): Promise<{ tree: Tree; stats: AssignmentStats; seconds: number }> {
  const t = performance.now();
  const tree = new Tree(size.locations, new Rng(SEED));
  return { tree, stats: newAssignmentStats(size), seconds: (performance.now() - t) / 1000 };
}

async function benchPostgres(): Promise<BackendReport> {
  let url: string;
  let server: PostgresServer | null = null;
  if (process.env.DATABASE_URL) {
    const name = `rolegate_bench_${process.pid}_${Date.now()}`;
    const admin = new Client({ connectionString: process.env.DATABASE_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    cleanups.push({
      name: `database ${name}`,
      fn: async () => {
        const c = new Client({ connectionString: process.env.DATABASE_URL });
        await c.connect();
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        await c.end();
      },
    });
    const u = new URL(process.env.DATABASE_URL);
    u.pathname = `/${name}`;
    url = u.toString();
    log(`PostgreSQL: database ${name} on DATABASE_URL's server`);
  } else {
    log('PostgreSQL: starting a throwaway server');
    server = await startPostgres('rolegate_bench');
    const s = server;
    cleanups.push({ name: 'PostgreSQL server', fn: () => s.stop() });
    url = server.url;
    log(`PostgreSQL: ${server.dataDir}, port ${server.port}`);
  }

  const t0 = performance.now();
  let { store, db } = await openCounting({ databaseUrl: url });
  cleanups.push({ name: 'store', fn: () => store.close() });
  await migrate(db.inner);
  const { orgId } = await setupOrg(store);
  const setupSeconds = (performance.now() - t0) / 1000;

  const { tree, stats, seconds: treeSeconds } = await generate(PG_SIZE);
  log(`loading ${PG_SIZE.locations} locations, ${PG_SIZE.users} users, ${PG_SIZE.assignments} assignments`);
  const load = await loadPostgres(url, orgId, PG_SIZE, tree, stats, SEED, log);
  log(`loaded in ${(treeSeconds + load.total).toFixed(1)} s`);

  const [info] = await db.inner.query<Record<string, string>>(
    `SELECT current_setting('server_version') AS version, current_setting('shared_buffers') AS shared_buffers,
            current_setting('effective_cache_size') AS effective_cache_size, current_setting('work_mem') AS work_mem,
            current_setting('random_page_cost') AS random_page_cost, current_setting('jit') AS jit,
            current_setting('fsync') AS fsync, current_setting('max_connections') AS max_connections,
            pg_size_pretty(pg_database_size(current_database())) AS database_size`,
  );
  const { version, ...settings } = info!;
  const catalog = await compileOrgCatalog(store, orgId);
  const expected = await expectedFor(store, orgId, tree, stats);
  const samples = new Samples(PG_SIZE.users, PG_SIZE.locations, SEED + 10);
  const scenarios: Scenario[] = [];
  const plans: BackendReport['plans'] = [];
  const pgTarget = { p50: TARGETS.pgP50, p99: TARGETS.pgP99 };
  const pid = () => (server ? postmasterPid(server.dataDir) : null);

  const explainWith = async (state: string) => {
    const c = new Client({ connectionString: url });
    await c.connect();
    try {
      await c.query('SET track_io_timing = on');
      plans.push({
        state,
        plans: await explainLoad(
          store,
          db,
          expected,
          samples,
          async (q, p) => (await c.query(q, p as unknown[])).rows,
        ),
      });
    } finally {
      await c.end();
    }
  };

  log('warm-ish: warming up the pool and the JIT');
  await warmUp(store, db, catalog, expected, samples, N.warmup);
  const warmState = 'server up since the load (buffer cache warm-ish)';
  log(`warm-ish: ${N.main} full loads`);
  scenarios.push({
    backend: 'PostgreSQL',
    state: warmState,
    result: await measured(store, db, catalog, expected, samples, N.main, 'full', SEED + 20, pid()),
    target: { ...pgTarget, headline: true },
  });
  log(`warm-ish: ${N.perUser} per-user loads`);
  scenarios.push({
    backend: 'PostgreSQL',
    state: warmState,
    result: await measured(store, db, catalog, expected, samples, N.perUser, 'perUser', SEED + 21, pid()),
    target: { ...pgTarget, headline: false },
  });
  log(`warm-ish: per-query breakdown, ${N.breakdown} each`);
  const breakdown = await runBreakdown(store, expected, samples, N.breakdown);
  await explainWith(warmState);

  let eviction: BackendReport['eviction'];
  if (server) {
    const srv = server;
    const restart = async (evict: boolean) => {
      await store.close();
      srv.pgCtl('stop');
      if (evict) eviction = evictFolder(srv.dataDir);
      srv.pgCtl('start');
      ({ store, db } = await openCounting({ databaseUrl: url }));
      await warmUp(store, db, catalog, expected, samples, 0);
    };
    log('restart: pg_ctl stop/start (shared buffers empty, OS page cache warm)');
    await restart(false);
    scenarios.push({
      backend: 'PostgreSQL',
      state: 'just restarted: shared buffers empty, OS page cache warm',
      result: await measured(store, db, catalog, expected, samples, N.cold, 'full', SEED + 22, pid()),
      target: { ...pgTarget, headline: false },
    });
    log('restart + page cache of the data directory dropped');
    await restart(true);
    const coldState = 'just restarted and the data directory dropped from the OS page cache: reads from disk';
    await explainWith(coldState);
    scenarios.push({
      backend: 'PostgreSQL',
      state: coldState,
      result: await measured(store, db, catalog, expected, samples, N.cold, 'full', SEED + 23, pid()),
      target: { ...pgTarget, headline: false },
    });
  } else {
    log('DATABASE_URL: no restart runs (the server is not ours to restart)');
  }

  await store.close();
  cleanups.pop(); // the store
  const dataMB = server ? folderMB(server.dataDir) : NaN;
  return {
    name: 'PostgreSQL',
    version: version!,
    settings,
    size: PG_SIZE,
    tree,
    stats,
    treeSeconds,
    load,
    setupSeconds,
    scenarios,
    breakdown,
    plans,
    eviction,
    locationsReused: samples.locationsReused,
    dataMB,
  };
}

async function benchPglite(): Promise<BackendReport> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rolegate-bench-pglite-'));
  cleanups.push({ name: `PGlite folder ${dir}`, fn: () => rmSync(dir, { recursive: true, force: true }) });
  log(`PGlite: ${dir}`);

  const t0 = performance.now();
  const setupStore = await openStore({ dataDir: dir });
  const { orgId } = await setupOrg(setupStore).finally(() => setupStore.close());
  const setupSeconds = (performance.now() - t0) / 1000;

  const { tree, stats, seconds: treeSeconds } = await generate(PGLITE_SIZE);
  log(
    `loading ${PGLITE_SIZE.locations} locations, ${PGLITE_SIZE.users} users, ${PGLITE_SIZE.assignments} assignments`,
  );
  const load = await loadPglite(dir, orgId, PGLITE_SIZE, tree, stats, SEED, log);
  log(`loaded in ${(treeSeconds + load.total).toFixed(1)} s`);

  let { store, db } = await openCounting({ dataDir: dir });
  cleanups.push({ name: 'PGlite store', fn: () => store.close() });
  const [info] = await db.inner.query<Record<string, string>>(
    `SELECT version() AS version, current_setting('shared_buffers') AS shared_buffers, current_setting('work_mem') AS work_mem,
            current_setting('random_page_cost') AS random_page_cost`,
  );
  const { version, ...settings } = info!;
  const catalog = await compileOrgCatalog(store, orgId);
  const expected = await expectedFor(store, orgId, tree, stats);
  const samples = new Samples(PGLITE_SIZE.users, PGLITE_SIZE.locations, SEED + 30);
  const scenarios: Scenario[] = [];
  const plans: BackendReport['plans'] = [];
  const explainWith = async (state: string) =>
    plans.push({
      state,
      plans: await explainLoad(store, db, expected, samples, (q, p) => db.inner.query(q, p)),
    });

  await warmUp(store, db, catalog, expected, samples, 0);
  log(`PGlite reopened: ${N.cold} full loads`);
  scenarios.push({
    backend: 'PGlite',
    state: 'just opened: its buffers empty, OS page cache warm',
    result: await measured(store, db, catalog, expected, samples, N.cold, 'full', SEED + 40),
    target: { p50: TARGETS.pgliteP50, headline: false },
  });
  const warmState = 'open since the run above (buffer cache warm-ish)';
  log(`PGlite continued: ${N.pgliteMain} full loads`);
  scenarios.push({
    backend: 'PGlite',
    state: warmState,
    result: await measured(store, db, catalog, expected, samples, N.pgliteMain, 'full', SEED + 41),
    target: { p50: TARGETS.pgliteP50, headline: true },
  });
  scenarios.push({
    backend: 'PGlite',
    state: warmState,
    result: await measured(
      store,
      db,
      catalog,
      expected,
      samples,
      Math.round(N.perUser / 2),
      'perUser',
      SEED + 42,
    ),
    target: { p50: TARGETS.pgliteP50, headline: false },
  });
  const breakdown = await runBreakdown(store, expected, samples, N_PGLITE_BREAKDOWN);
  await explainWith(warmState);

  log('PGlite: close, drop the folder from the OS page cache, reopen');
  await store.close();
  const eviction = evictFolder(dir);
  ({ store, db } = await openCounting({ dataDir: dir }));
  const coldState = 'just opened, folder dropped from the OS page cache: reads from disk';
  await explainWith(coldState);
  scenarios.push({
    backend: 'PGlite',
    state: coldState,
    result: await measured(store, db, catalog, expected, samples, N.pgliteCold, 'full', SEED + 43),
    target: { p50: TARGETS.pgliteP50, headline: false },
  });
  await store.close();
  cleanups.pop();
  return {
    name: 'PGlite',
    version: `${pgliteVersion()} (${version})`,
    settings,
    size: PGLITE_SIZE,
    tree,
    stats,
    treeSeconds,
    load,
    setupSeconds,
    scenarios,
    breakdown,
    plans,
    eviction,
    locationsReused: samples.locationsReused,
    dataMB: folderMB(dir),
  };
}

function pgliteVersion(): string {
  const pkg = path.join(ROOT, 'node_modules', '@electric-sql', 'pglite', 'package.json');
  return `@electric-sql/pglite ${(JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version}`;
}

// ---------------------------------------------------------------------------------------------------
// Report

const ms = (v: number) => (v < 10 ? v.toFixed(2) : v.toFixed(1));
const int = (v: number) => Math.round(v).toLocaleString('en-US');
const sec = (v: number) => `${v.toFixed(1)} s`;
const pct = (a: number, b: number) => `${((100 * a) / b).toFixed(1)}%`;

function cpuText(c: CpuShare | null): string {
  return c ? `${c.self.toFixed(0)}% / ${c.server.toFixed(0)}% / ${c.others.toFixed(0)}%` : '?';
}

function verdict(s: Scenario): string {
  if (!s.target) return '';
  const parts: string[] = [];
  if (s.target.p50 !== undefined)
    parts.push(`p50 ≤ ${s.target.p50} ms: **${s.result.latency.p50 <= s.target.p50 ? 'PASS' : 'MISS'}**`);
  if (s.target.p99 !== undefined)
    parts.push(`p99 ≤ ${s.target.p99} ms: **${s.result.latency.p99 <= s.target.p99 ? 'PASS' : 'MISS'}**`);
  return parts.join(', ') + (s.target.headline ? ' (headline)' : ' (informational)');
}

function report(
  reports: BackendReport[],
  meta: { started: Date; seconds: number; loadavg: number[][] },
): string {
  const L: string[] = [];
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  L.push('# Store benchmark: loading what the engine needs for a user it has not seen');
  L.push('');
  L.push(`- Date: ${meta.started.toISOString()}`);
  L.push(
    `- Machine: ${cpu}, ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GB RAM, ${os.type()} ${os.release()}; ` +
      `load average at start ${meta.loadavg[0]!.map((x) => x.toFixed(2)).join(' / ')}, at end ${meta.loadavg[1]!.map((x) => x.toFixed(2)).join(' / ')} (1/5/15 min; the machine is shared, other benchmarks may have been running)`,
  );
  L.push(`- Node ${process.version}`);
  for (const r of reports) {
    L.push(
      `- ${r.name} ${r.version}; ${Object.entries(r.settings)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')}`,
    );
  }
  L.push(
    `- Command: \`npm run bench:store\` → \`tsx --max-old-space-size=6144 bench/store/run.ts\`${QUICK ? ' --quick (NOT a result run)' : ''}`,
  );
  L.push(`- Whole run: ${sec(meta.seconds)}, peak RSS ${int(process.resourceUsage().maxRSS / 1024)} MB`);
  L.push(
    `- Before each measured run, the benchmark waits (up to 3 min) until the rest of the machine used < 15% of its CPU over 3 s; it waited ${sec(quietWaits.reduce((a, b) => a + b, 0))} in all (${quietWaits.map((w) => w.toFixed(0)).join(', ')} s)`,
  );
  L.push('');

  L.push('## Data');
  L.push('');
  L.push(
    `One organization created through \`store.organizations.create\` with the text of \`catalogs/jrni.yaml\`, plus ${CUSTOM_ROLES.length} custom roles through \`store.roles.create\` (${CUSTOM_ROLES.map((r) => `\`${r.key}\``).join(', ')}); no tool policy rows (JRNI defines no agent tools). ` +
      `Then, by COPY: a location tree (level k has 10·6^k locations, the deepest level takes the rest; each location under a random one of the level above; \`path\` = ancestors top-down then itself, \`parent_id\` set), ` +
      `users (${pct(USER_STATES.locked, 1)} locked, ${pct(USER_STATES.deleted, 1)} deleted, ${pct(USER_STATES.flagged, 1)} with a flag), ` +
      `and assignments to uniformly random users with roles ${ROLE_WEIGHTS.map(([k, w]) => `${k} ${Math.round(w * 100)}%`).join(', ')}; ` +
      `~${Math.round(SHAPES.orgWide * 100)}% org-wide (location_id NULL), the rest at a uniformly random location; ~${SHAPES.expiring * 100}% with expires_at (half already expired at the engine's \`now\`), ~${SHAPES.person * 100}% with a person_id, ~${SHAPES.groups * 100}% with group_ids. ` +
      `Seeded (every run builds the same data); ids are derived from the row index.`,
  );
  L.push('');
  L.push(
    '| Backend | Locations (per level) | Users | Assignments | Org-wide / expiring / person / groups | On disk |',
  );
  L.push('| --- | --- | ---: | ---: | --- | --- |');
  for (const r of reports) {
    const a = r.stats;
    const n = r.size.assignments;
    L.push(
      `| ${r.name} | ${int(r.size.locations)}, depth ${r.tree.depth} (${r.tree.levels.map(int).join(', ')}) | ${int(r.size.users)} | ${int(n)} | ${pct(a.orgWide, n)} / ${pct(a.expiring, n)} / ${pct(a.person, n)} / ${pct(a.groups, n)} | ` +
        `${r.load.sizes.map((s) => `${s.table} ${int(s.tableMB)} MB + indexes ${int(s.indexesMB)} MB`).join('; ')}; folder ${Number.isNaN(r.dataMB) ? '?' : `${int(r.dataMB)} MB`} |`,
    );
  }
  L.push('');
  L.push('### Load time');
  L.push('');
  L.push(
    'Rows are generated while they are sent (1 MB chunks of COPY text, never arrays of row objects). Before the COPY, the loaded tables lose their primary keys, indexes and foreign keys (and `team_members → users`); ' +
      'the COPY runs `WITH (FREEZE)` into the tables truncated in the same transaction (rows land frozen and all-visible, as after a VACUUM); then every key, index and foreign key is recreated from its own `pg_get_constraintdef` / `pg_get_indexdef` text, the schema (every constraint and index) is checked identical to what the migration made, and the tables are `VACUUM (ANALYZE)`d. ' +
      "PostgreSQL: `pg-copy-streams`, `maintenance_work_mem = 1GB` for the session. PGlite: `COPY … FROM '/dev/blob'` with a ~16 MB Blob per statement.",
  );
  L.push('');
  L.push(
    '| Backend | Generator total | Tree | Drop | COPY locations | COPY users | COPY assignments | Keys + indexes | Foreign keys | VACUUM (ANALYZE) | COPY text | Target < 10 min |',
  );
  L.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
  for (const r of reports) {
    const total = r.treeSeconds + r.load.total;
    L.push(
      `| ${r.name} | **${sec(total)}** | ${sec(r.treeSeconds)} | ${sec(r.load.drop)} | ${sec(r.load.copy.locations)} | ${sec(r.load.copy.users)} | ${sec(r.load.copy.assignments)} | ${sec(r.load.keysAndIndexes)} | ${sec(r.load.foreignKeys)} | ${sec(r.load.analyze)} | ${int(r.load.bytes / 1048576)} MB | ${r.name === 'PostgreSQL' ? (total < TARGETS.loadMinutes * 60 ? '**PASS**' : '**MISS**') : ''} |`,
    );
  }
  L.push('');
  L.push(
    `All-visible pages after the load (relallvisible / relpages): ${reports
      .map(
        (r) =>
          `${r.name}: ${r.load.sizes.map((s) => `${s.table} ${s.allVisiblePct.toFixed(0)}%`).join(', ')}`,
      )
      .join('; ')}.`,
  );
  L.push('');

  L.push('## What one cold load is');
  L.push('');
  L.push(
    '"Everything the engine needs to decide for a user at a location", as a gateway with no cached state would fetch it, through the real store API, the independent calls run concurrently with `Promise.all` (PostgreSQL: a `pg` pool of 10, opened beforehand; PGlite runs them one at a time internally):',
  );
  L.push('');
  L.push(
    `- **full** — ${LOAD_DESCRIPTION.full}. The catalog itself is compiled once per organization version (not per load) and is not included.`,
  );
  L.push(
    `- **per-user** — ${LOAD_DESCRIPTION.perUser}: what a load costs when the organization's custom roles and tool policies are already cached for the current version.`,
  );
  L.push('');
  L.push(
    "Cold = every load is for a user and a location not drawn before in the run (no application cache can help; the database may have the pages cached — the State column says how much). Loads run one after another; latency = wall time of the `Promise.all`, taken with `performance.now()`. The queries per load are counted at the `Db` the store runs on (a counting wrapper around `openDb`'s). " +
      "Every load is checked against the generated data (the user found, exactly the assignments generated for them, the location's path equal to the generated ancestry, the organization's version and its custom roles) — the run fails otherwise — and then decided on: `new UserGrants(catalog, subject, now)` + `decide()` for a random catalog permission at that location.",
  );
  L.push('');

  L.push('## Results');
  L.push('');
  L.push(
    'The last column: share of the whole machine\'s CPU (all cores, from /proc) during the run, used by this benchmark process (Node, and PGlite inside it), by the PostgreSQL server (postmaster and backends), and by anything else on the machine. The machine is shared: where "others" is not near 0%, the run competed with other work and its latencies are inflated by it.',
  );
  L.push('');
  L.push(
    '| Backend | State | Load | Queries / load | Loads | p50 ms | p99 ms | mean ms | max ms | Target | CPU: bench / server / others |',
  );
  L.push('| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |');
  for (const r of reports) {
    for (const s of r.scenarios) {
      const l = s.result.latency;
      L.push(
        `| ${s.backend} (${int(r.size.users)} users) | ${s.state} | ${s.result.kind === 'full' ? 'full' : 'per-user'} | ${s.result.queries} | ${int(s.result.samples)} | **${ms(l.p50)}** | **${ms(l.p99)}** | ${ms(l.mean)} | ${ms(l.max)} | ${verdict(s)} | ${cpuText(s.result.cpu)} |`,
      );
    }
  }
  L.push('');
  for (const r of reports) {
    if (r.eviction) {
      L.push(
        `${r.name}: the data folder's pages in the OS page cache (fincore) before dropping: ${r.eviction.beforeMB === null ? '?' : `${int(r.eviction.beforeMB)} MB`}, after: ${r.eviction.afterMB === null ? '?' : `${int(r.eviction.afterMB)} MB`}.`,
      );
    }
  }
  L.push('');

  L.push('### The engine on the loaded data');
  L.push('');
  L.push(
    '| Backend | State | Load | ALLOW | DENY | REQUIRES_APPROVAL | assignments / user p50 (max) | UserGrants + decide p50 / p99 |',
  );
  L.push('| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |');
  for (const r of reports) {
    for (const s of r.scenarios) {
      const o = s.result.outcomes;
      L.push(
        `| ${s.backend} | ${s.state} | ${s.result.kind} | ${int(o.ALLOW)} | ${int(o.DENY)} | ${int(o.REQUIRES_APPROVAL)} | ${s.result.assignmentsLoaded.p50} (${s.result.assignmentsLoaded.max}) | ${s.result.engineMicros.p50.toFixed(1)} µs / ${s.result.engineMicros.p99.toFixed(1)} µs |`,
      );
    }
  }
  L.push('');

  L.push('### Each store call alone');
  L.push('');
  L.push(
    'Each call of a full load on its own, one after another, fresh user/location every time, in the warm-ish state (ms).',
  );
  L.push('');
  L.push(`| Backend | ${QUERY_NAMES.map((q) => `\`${q}\``).join(' | ')} |`);
  L.push(`| --- | ${QUERY_NAMES.map(() => '---:').join(' | ')} |`);
  for (const r of reports) {
    L.push(
      `| ${r.name} (p50 / p99, n=${r.breakdown[QUERY_NAMES[0]].n}) | ${QUERY_NAMES.map((q) => `${ms(r.breakdown[q].p50)} / ${ms(r.breakdown[q].p99)}`).join(' | ')} |`,
    );
  }
  L.push('');
  for (const r of reports) {
    if (r.locationsReused)
      L.push(
        `${r.name}: every location had been drawn once; locations were reused ${r.locationsReused} time(s) after that.`,
      );
  }
  L.push('');

  L.push('## Plans');
  L.push('');
  L.push(
    'EXPLAIN (ANALYZE, BUFFERS) of the exact statements a full load sends (recorded at the `Db`), with a user and a location not touched before. Each statement is planned once (EXPLAIN without ANALYZE) on the same connection first, so the planning time shown is not that of a first look by the connection at the catalog. PostgreSQL with `track_io_timing = on` on a connection of its own.',
  );
  L.push('');
  for (const r of reports) {
    for (const p of r.plans) {
      L.push(`<details><summary>${r.name} — ${p.state}</summary>`);
      L.push('');
      for (const q of p.plans) {
        L.push(`**${q.query}** — \`${q.sql}\``);
        L.push('');
        L.push('```');
        L.push(q.plan);
        L.push('```');
        L.push('');
      }
      L.push('</details>');
      L.push('');
    }
  }
  return L.join('\n');
}

async function main(): Promise<void> {
  const started = new Date();
  const t0 = performance.now();
  const loadStart = os.loadavg();
  const reports: BackendReport[] = [];
  if (!SKIP_PG) reports.push(await benchPostgres());
  if (!SKIP_PGLITE) reports.push(await benchPglite());
  const md = report(reports, {
    started,
    seconds: (performance.now() - t0) / 1000,
    loadavg: [loadStart, os.loadavg()],
  });
  process.stdout.write(`${md}\n`);
  if (!QUICK && !SKIP_PG && !SKIP_PGLITE) {
    mkdirSync(path.dirname(RESULTS), { recursive: true });
    writeFileSync(RESULTS, `${md}\n`);
    log(`wrote ${path.relative(ROOT, RESULTS)}`);
  }
}

main()
  .catch((err: unknown) => {
    process.exitCode = 1;
    log(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  })
  .finally(() => cleanupAll());
