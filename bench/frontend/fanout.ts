/**
 * `npm run bench:fanout` — live capability changes fanned out to many subscribers (issue 13, item 5):
 * N graphql-ws clients, one connection each, subscribed to `capabilitiesChanged` as Junto Technicians;
 * one write that changes every one of their grants (`setToolPolicy` of `update_ticket`, a tool every
 * Technician holds, toggled between AUTO and REQUIRE_APPROVAL); the delay from sending the write to
 * each subscriber reading its new capabilities: p50, p99 and max over every subscriber of every round.
 * Target: p99 ≤ 250 ms with 1,000 subscribers.
 *
 * Scenarios: one gateway on the embedded store (PGlite in a temp folder) with 1,000 users, one each;
 * the same with 100 users, ten subscribers each; two gateways on a throwaway PostgreSQL and Redis,
 * the write on A and every subscriber on B. The subscribers and the writer run in a child process
 * (subscribers.ts), so their instants are on one clock and their work is not the gateway's. Loopback
 * only. Writes bench/results/frontend-fanout.md (not with `--quick`) and prints it.
 *
 * Flags: `--quick` (100 subscribers, 3 rounds: for trying the harness, not results),
 * `--skip-postgres`. Exported as `runFanout` (the same options) for bench/frontend/run.ts.
 */
import { signToken } from '../http/tokens';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { exportSPKI, generateKeyPair } from 'jose';
import { startGateway, type Gateway } from '../../src/api/server';
import { createOrganization } from '../../src/cli/setup';
import type { AuthConfig } from '../../src/identity/tokens';
import { openStore, type Store } from '../../src/store';
import { startPostgres, type PostgresServer } from '../../test/support/postgres-server';
import { startRedis, type RedisServer } from '../../test/support/redis-server';
import { dist, fmt, type Dist } from '../http/stats';
import { benchLog, undoOnInterrupt } from '../interrupt';
import type { FanoutResult, FanoutSpec } from './subscribers';

export interface FanoutOptions {
  /** 100 subscribers, 3 rounds (default: 1,000 and 20, after 3 warm-up rounds). */
  quick?: boolean;
  /** Leave out the two replicas on PostgreSQL and Redis (default: run them). */
  skipPostgres?: boolean;
}

interface Settings {
  subscribers: number;
  rounds: number;
  warmup: number;
}

const settingsOf = (quick: boolean): Settings =>
  quick ? { subscribers: 100, rounds: 3, warmup: 1 } : { subscribers: 1_000, rounds: 20, warmup: 3 };
/** Between one round's last event and the next write: the gateway idle again. */
const PAUSE_MS = 300;
const TIMEOUT_MS = 5_000;
const TARGET_P99_MS = 250;

const ROOT = path.resolve(__dirname, '..', '..');
const RESULTS = path.join(ROOT, 'bench', 'results', 'frontend-fanout.md');
const log = benchLog('fanout');
const undo = undoOnInterrupt(log);

interface Keys {
  auth: AuthConfig;
  sign(orgId: string, userId: string): Promise<string>;
}

async function makeKeys(): Promise<Keys> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  return {
    auth: {
      issuer: 'rolegate',
      audience: 'rolegate',
      publicKey: await exportSPKI(publicKey),
      algorithm: 'ES256',
    },
    sign: (orgId, userId) => signToken(privateKey, orgId, userId),
  };
}

async function gateway(store: Store, keys: Keys, redisUrl?: string): Promise<Gateway> {
  const g = await startGateway({
    store,
    config: { port: 0, env: 'production', ...(redisUrl ? { redisUrl } : {}) },
    auth: keys.auth,
    host: '127.0.0.1',
    log: (e) => {
      if (e.level === 'error') log(`gateway error: ${JSON.stringify(e).slice(0, 300)}`);
    },
    approvals: false,
  });
  undo.add(() => g.close());
  return g;
}

/** A Junto organization with `users` Technicians; tokens for `subscribers`, spread over the users. */
async function world(store: Store, keys: Keys, users: number, subscribers: number) {
  const { orgId, ownerId } = await createOrganization(store, {
    preset: 'junto',
    name: 'Fan-out',
    ownerEmail: 'owner@fanout.example',
  });
  const ctx = { orgId, actor: 'bench' };
  const ids: string[] = [];
  for (let i = 0; i < users; i += 20) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(20, users - i) }, (_, j) =>
        store.users.create(ctx, { email: `tech-${i + j}@fanout.example`, roles: ['technician'] }),
      ),
    );
    ids.push(...batch.map((w) => w.result.id));
  }
  const tokens = await Promise.all(ids.map((id) => keys.sign(orgId, id)));
  return {
    ownerToken: await keys.sign(orgId, ownerId),
    tokens: Array.from({ length: subscribers }, (_, i) => tokens[i % tokens.length]!),
  };
}

function probe(spec: FanoutSpec): Promise<FanoutResult> {
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'subscribers.ts')], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const stop = () => proc.kill('SIGTERM');
  undo.add(stop);
  let out = '';
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (d: string) => (out += d));
  proc.stdin.end(`${JSON.stringify(spec)}\n`);
  return new Promise((resolve, reject) => {
    proc.on('error', reject);
    proc.on('close', (code) => {
      undo.delete(stop);
      if (code !== 0) return reject(new Error(`subscribers.ts exited with ${code}`));
      resolve(JSON.parse(out) as FanoutResult);
    });
  });
}

export interface FanoutRow {
  scenario: string;
  subscribers: number;
  users: number;
  rounds: number;
  delivered: Dist;
  /** Each round's p99, then their median: how steady the rounds were. */
  roundP99s: number[];
  answered: Dist;
  missed: number;
  firstError: string | null;
}

async function scenario(
  settings: Settings,
  name: string,
  writeUrl: string,
  listen: Gateway,
  store: Store,
  keys: Keys,
  users: number,
): Promise<FanoutRow> {
  const { subscribers, rounds, warmup } = settings;
  log(`${name}: ${subscribers} subscribers over ${users} users`);
  const w = await world(store, keys, users, subscribers);
  const result = await probe({
    writeUrl,
    wsUrl: listen.url.replace(/^http/, 'ws'),
    ownerToken: w.ownerToken,
    tokens: w.tokens,
    warmup,
    rounds,
    pauseMs: PAUSE_MS,
    timeoutMs: TIMEOUT_MS,
  });
  const all = result.rounds.flatMap((r) => r.delivered);
  const row: FanoutRow = {
    scenario: name,
    subscribers,
    users,
    rounds: result.rounds.length,
    delivered: dist(all),
    roundP99s: result.rounds.map((r) => dist(r.delivered).p99),
    answered: dist(result.rounds.map((r) => r.answered)),
    missed: result.rounds.reduce((n, r) => n + r.missed, 0),
    firstError: result.firstError,
  };
  log(
    `${name}: p50 ${fmt(row.delivered.p50)} ms, p99 ${fmt(row.delivered.p99)} ms, max ${fmt(row.delivered.max)} ms, missed ${row.missed}`,
  );
  return row;
}

function report(settings: Settings, rows: FanoutRow[], date: string): string {
  const { subscribers, warmup } = settings;
  const median = (xs: number[]) => dist(xs).p50;
  const lines = [
    '# Frontend: capabilitiesChanged fan-out',
    '',
    `Measured ${date} by \`npm run bench:fanout\` (bench/frontend/fanout.ts). Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, ` +
      `${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, load average at the start ${os
        .loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')}.`,
    '',
    `${subscribers} graphql-ws clients (one connection each) subscribed to \`capabilitiesChanged\` as Junto Technicians; each round one`,
    '`setToolPolicy` of `update_ticket` (a tool every Technician holds) changes all of their grants versions. Delivery = from',
    'sending the write to a subscriber reading its event, over every subscriber of every measured round',
    `(${warmup} warm-up rounds first; ${PAUSE_MS} ms between rounds). Subscribers and writer share one child process and clock.`,
    '',
    '| scenario | subscribers / users | rounds | delivery p50 | p99 | max | median of round p99s | write answered p50 | missed | p99 ≤ 250 ms |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${r.scenario} | ${r.subscribers} / ${r.users} | ${r.rounds} | ${fmt(r.delivered.p50)} ms | ${fmt(r.delivered.p99)} ms | ${fmt(r.delivered.max)} ms | ${fmt(median(r.roundP99s))} ms | ${fmt(r.answered.p50)} ms | ${r.missed} | ${r.delivered.p99 <= TARGET_P99_MS && r.missed === 0 ? 'met' : '**missed**'} |`,
    ),
    '',
    ...rows.filter((r) => r.firstError).map((r) => `- ${r.scenario}: first error seen: \`${r.firstError}\``),
    '',
    'What a write costs the gateway that holds the subscribers: one recomputation of the watched users’ grants versions',
    '(one grants load and one subtree load for all of them, src/decisions/grants-watch.ts), then per subscriber a fresh',
    'context (its credentials checked again), its capabilities, and the event executed and sent. With ten subscribers per',
    'user the grants are shared, the per-subscriber work is not.',
    '',
  ];
  return lines.join('\n');
}

export async function runFanout(
  options: FanoutOptions = {},
): Promise<{ rows: FanoutRow[]; markdown: string; target: number }> {
  const settings = settingsOf(options.quick ?? false);
  const { subscribers } = settings;
  const date = new Date().toISOString().slice(0, 16).replace('T', ' ');
  const keys = await makeKeys();
  const rows: FanoutRow[] = [];

  const dir = mkdtempSync(path.join(os.tmpdir(), 'rolegate-fanout-'));
  undo.add(() => rmSync(dir, { recursive: true, force: true }));
  {
    const store = await openStore({ dataDir: dir });
    const g = await gateway(store, keys);
    rows.push(await scenario(settings, 'embedded store, one gateway', g.url, g, g.store, keys, subscribers));
    rows.push(
      await scenario(settings, 'embedded store, one gateway', g.url, g, g.store, keys, subscribers / 10),
    );
    await g.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }

  if (!options.skipPostgres) {
    let pg: PostgresServer | undefined;
    let redis: RedisServer | undefined;
    try {
      pg = await startPostgres('rolegate_bench_fanout');
      const server = pg;
      undo.add(() => server.stop().catch(() => {}));
      redis = await startRedis();
      const rs = redis;
      undo.add(() => rs.stop().catch(() => {}));
      const storeA = await openStore({ databaseUrl: pg.url, migrate: true });
      const storeB = await openStore({ databaseUrl: pg.url });
      const a = await gateway(storeA, keys, redis.url);
      const b = await gateway(storeB, keys, redis.url);
      rows.push(
        await scenario(
          settings,
          'PostgreSQL + Redis, write on A, subscribers on B',
          a.url,
          b,
          a.store,
          keys,
          subscribers,
        ),
      );
      await b.close();
      await a.close();
      await storeB.close();
      await storeA.close();
    } finally {
      await redis?.stop();
      await pg?.stop();
    }
  }

  return { rows, markdown: report(settings, rows, date), target: TARGET_P99_MS };
}

if (require.main === module) {
  const quick = process.argv.includes('--quick');
  runFanout({ quick, skipPostgres: process.argv.includes('--skip-postgres') }).then(
    ({ markdown }) => {
      process.stdout.write(`${markdown}\n`);
      if (!quick) {
        mkdirSync(path.dirname(RESULTS), { recursive: true });
        writeFileSync(RESULTS, markdown);
        log(`wrote ${path.relative(ROOT, RESULTS)}`);
      }
      process.exit(0);
    },
    (err: unknown) => {
      log(err instanceof Error ? (err.stack ?? err.message) : String(err));
      process.exit(1);
    },
  );
}
