/**
 * `check` under load on one gateway per store, side by side in one process, in alternating order
 * (embedded, PostgreSQL, PostgreSQL, embedded, …): CPU per request in this process for each window.
 * Run under `node --cpu-prof --import tsx`; the windows' monotonic µs bounds are printed (and written to
 * `--windows FILE`) so a profile can be split per store (bench/http/profile-split.ts).
 *
 * Flags: `--seconds N` (each window, default 5), `--rounds N` (default 2), `--windows FILE`,
 * `--only pglite|postgres`, `--variants pglite-eager,postgres-lax,baseline` (baseline: the plain Apollo Server answering `{ __typename }`).
 * Example: `NODE_ENV=production node --cpu-prof --cpu-prof-dir=/tmp/p --import tsx bench/http/store-profile.ts
 * --seconds 4 --rounds 2 --variants pglite-eager,postgres-lax --windows /tmp/p/windows.json`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { exportSPKI, generateKeyPair } from 'jose';
import { startGateway, type Gateway } from '../../src/api/server';
import { Versions } from '../../src/consistency/versions';
import { openStore, type Store } from '../../src/store';
import { startPostgres, type PostgresServer } from '../../test/support/postgres-server';
import { startBaseline } from './baseline';
import { cannon } from './harness';
import { log } from './stats';
import { signToken } from './tokens';
import { buildWorld } from './world';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : dflt;
};
const SECONDS = Number(arg('seconds', '5'));
const ROUNDS = Number(arg('rounds', '2'));
const WINDOWS = arg('windows', '');
const ONLY = arg('only', '');
/**
 * Extra gateways (experiments): `pglite-eager` (each request reads its organization's version from
 * memory at once, as before the version was read at the end of the turn: `Versions.nextTurn` patched
 * out for that window) and `postgres-lax` (`strictVersions: false`: no version read at all, unsafe).
 */
const VARIANTS = arg('variants', '').split(',').filter(Boolean);
let eager = false;
type Turn = { nextTurn(): Promise<void> };
const proto = Versions.prototype as unknown as Turn;
const nextTurn = proto.nextTurn;
proto.nextTurn = function (this: Turn) {
  return eager ? Promise.resolve() : nextTurn.call(this);
};
const CHECK_QUERY = 'query Check($input: CheckInput!) { check(input: $input) { allowed outcome version } }';
const nowUs = () => Number(process.hrtime.bigint() / 1000n);

async function main(): Promise<void> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const auth = {
    issuer: 'rolegate',
    audience: 'rolegate',
    publicKey: await exportSPKI(publicKey),
    algorithm: 'ES256' as const,
  };
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'rolegate-store-profile-'));
  let pg: PostgresServer | null = null;
  const stores: [string, Store][] = [];
  const gateways: Pick<Gateway, 'close'>[] = [];
  try {
    if (ONLY !== 'postgres') stores.push(['pglite', await openStore({ dataDir })]);
    if (ONLY !== 'pglite') {
      pg = await startPostgres('rolegate_store_profile');
      stores.push(['postgres', await openStore({ databaseUrl: pg.url, migrate: true })]);
    }
    const targets: {
      name: string;
      url: string;
      eager: boolean;
      requests: { headers: Record<string, string>; body: string }[];
    }[] = [];
    const runs: [string, Store, boolean][] = [];
    for (const [name, store] of stores) {
      runs.push([name, store, true]);
      if (VARIANTS.includes(`${name}-eager`)) runs.push([`${name}-eager`, store, true]);
      if (VARIANTS.includes(`${name}-lax`)) runs.push([`${name}-lax`, store, false]);
    }
    const worlds = new Map<Store, Awaited<ReturnType<typeof buildWorld>>>();
    for (const [name, store, strict] of runs) {
      let world = worlds.get(store);
      if (!world) worlds.set(store, (world = await buildWorld(store)));
      const gateway = await startGateway({
        store,
        config: { port: 0, env: 'production' },
        auth,
        log: () => {},
        ...(strict ? {} : { strictVersions: false as const }),
      });
      gateways.push(gateway);
      const requests = [];
      for (const p of world.probes)
        requests.push({
          headers: { authorization: `Bearer ${await signToken(privateKey, world.orgId, p.userId)}` },
          body: JSON.stringify({
            query: CHECK_QUERY,
            variables: { input: { userId: p.userId, permission: p.permission, locationId: p.branchId } },
          }),
        });
      // Every token verified once before the load, as bench:http does (its probes): 50 connections would
      // otherwise all verify the same token at once, and keep verifying while the first pass lasts.
      for (const r of requests) {
        const res = await fetch(gateway.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...r.headers },
          body: r.body,
        });
        if (!(await res.text()).includes('"outcome":')) throw new Error(`${name}: a probe failed`);
      }
      targets.push({ name, url: gateway.url, eager: name.endsWith('-eager'), requests });
    }
    if (VARIANTS.includes('baseline')) {
      const baseline = await startBaseline();
      gateways.push(baseline);
      targets.push({
        name: 'baseline',
        url: baseline.url,
        eager: false,
        requests: [{ headers: {}, body: JSON.stringify({ query: '{ __typename }' }) }],
      });
    }
    const windows: {
      name: string;
      start: number;
      end: number;
      requests: number;
      rps: number;
      cpuUsPerReq: number;
    }[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 === 0 ? targets : [...targets].reverse();
      for (const t of order) {
        eager = t.eager;
        let cpu0 = process.cpuUsage();
        let start = nowUs();
        const res = await cannon(
          {
            url: t.url,
            requests: t.requests,
            expectIncludes: t.name === 'baseline' ? '"__typename"' : '"outcome":',
            connections: 50,
            pipelining: 1,
            warmupSeconds: 2,
            seconds: SECONDS,
          },
          () => {
            cpu0 = process.cpuUsage();
            start = nowUs();
          },
        );
        const cpu = process.cpuUsage(cpu0);
        const end = nowUs();
        const m = res.main;
        const w = {
          name: t.name,
          start,
          end,
          requests: m.requests,
          rps: m.rps,
          cpuUsPerReq: (cpu.user + cpu.system) / m.requests,
        };
        windows.push(w);
        log(
          `round ${r} ${t.name}: ${Math.round(m.rps)} req/s, p99 ${m.latency.p99} ms, bad ${m.errors + m.non2xx + m.mismatches}, CPU ${Math.round(w.cpuUsPerReq)} µs/request, ${(((cpu.user + cpu.system) / (end - start)) * 100).toFixed(0)}% of a core`,
        );
      }
    }
    if (WINDOWS) writeFileSync(WINDOWS, JSON.stringify(windows, null, 2));
  } finally {
    for (const g of gateways) await g.close();
    for (const [, s] of stores) await s.close();
    rmSync(dataDir, { recursive: true, force: true });
    await pg?.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
