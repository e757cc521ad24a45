/**
 * `NODE_ENV=production npx tsx bench/frontend/rules.ts` — `viewerRules` for a viewer with 1,000
 * location assignments: the request's p50 over loopback (warm: the viewer's grants and paths cached, as
 * for every request after the first), the JSON size of the rules and of the whole answer, and the same
 * export in process (`exportRules` + `packRules` + `JSON.stringify`). Then the client side: CASL's
 * `unpackRules` + `createMongoAbility`, and `ability.can`. Targets (issue 13): ≤ 20 ms and ≤ 50 kB.
 *
 * The organization: a JRNI preset with 10 regions of 100 branches each (1,010 locations) on the
 * embedded store (PGlite in a temp folder). Viewers:
 *   - one role: `manager` at each of the 1,000 branches;
 *   - mixed: `user`, `manager` or `administrator` at each branch (a third each), every tenth of them
 *     restricted to a staff person, plus `user` at each region (so some branches repeat their region).
 *
 * Writes bench/results/frontend-rules.md (not with `--quick`) and prints it. Exported as `runRules` so
 * that a later bench/frontend/run.ts can call it as one section.
 */
import { writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { createMongoAbility, subject } from '@casl/ability';
import { unpackRules } from '@casl/ability/extra';
import { loadPreset } from '../../src/catalog';
import { compileCatalog, exportRules, packRules, UserGrants } from '../../src/engine';
import { gql, newTenant, startTestGateway } from '../../test/support/gateway';
import { dist, fmt, verdict } from '../http/stats';
import { benchLog, undoOnInterrupt } from '../interrupt';

const QUICK = process.argv.includes('--quick');
const ROOT = path.resolve(__dirname, '..', '..');
const RESULTS = path.join(ROOT, 'bench', 'results', 'frontend-rules.md');
const REGIONS = 10;
const BRANCHES = 100;
const REQUESTS = QUICK ? 20 : 300;
const TARGET_MS = 20;
const TARGET_BYTES = 50_000;
const QUERY = '{ viewerRules { count expiresAt version rules } }';

const log = benchLog('frontend-rules');
const onInterrupt = undoOnInterrupt(log);

interface Row {
  viewer: string;
  assignments: number;
  rules: number;
  rulesBytes: number;
  responseBytes: number;
  first: number;
  http: ReturnType<typeof dist>;
  inProcess: ReturnType<typeof dist>;
  unpack: ReturnType<typeof dist>;
  can: ReturnType<typeof dist>;
}

export async function runRules(): Promise<{ rows: Row[]; markdown: string }> {
  const started = Date.now();
  const uptimeBefore = uptime();
  const t = await startTestGateway('pglite');
  onInterrupt.add(() => void t.close());
  try {
    const { orgId, ownerToken } = await newTenant(t, 'jrni', 'rules bench');
    void ownerToken;
    const ctx = { orgId, actor: 'bench' };
    log(`creating ${REGIONS} regions of ${BRANCHES} branches`);
    const regions: string[] = [];
    const branches: { id: string; region: string }[] = [];
    for (let r = 0; r < REGIONS; r++) {
      const region = (await t.store.locations.create(ctx, { name: `Region ${r}` })).result.id;
      regions.push(region);
      for (let b = 0; b < BRANCHES; b++) {
        const id = (await t.store.locations.create(ctx, { name: `Branch ${r}.${b}`, parentId: region }))
          .result.id;
        branches.push({ id, region });
      }
    }

    const viewers: { name: string; assign: (userId: string) => Promise<number> }[] = [
      {
        name: 'one role (`manager`) at 1,000 branches',
        assign: async (userId) => {
          for (const b of branches)
            await t.store.assignments.assign(ctx, { userId, roleKey: 'manager', locationId: b.id });
          return branches.length;
        },
      },
      {
        name: 'mixed: `user`/`manager`/`administrator` at 1,000 branches (1 in 10 restricted to a person), `user` at 10 regions',
        assign: async (userId) => {
          const roles = ['user', 'manager', 'administrator'];
          let n = 0;
          for (const [i, b] of branches.entries()) {
            await t.store.assignments.assign(ctx, {
              userId,
              roleKey: roles[i % 3]!,
              locationId: b.id,
              ...(i % 10 === 0 ? { personId: `staff-${i}` } : {}),
            });
            n++;
          }
          for (const r of regions) {
            await t.store.assignments.assign(ctx, { userId, roleKey: 'user', locationId: r });
            n++;
          }
          return n;
        },
      },
    ];

    const rows: Row[] = [];
    for (const [v, viewer] of viewers.entries()) {
      const { result: user } = await t.store.users.create(ctx, { email: `viewer${v}@bench.example` });
      log(`viewer ${v}: assigning`);
      const assignments = await viewer.assign(user.id);
      const token = await t.token(orgId, user.id);

      const ask = async () => {
        const r = await gql(t.url, token, QUERY);
        if (r.errors) throw new Error(JSON.stringify(r.errors));
        return r;
      };
      const t0 = performance.now();
      const firstAnswer = await ask();
      const first = performance.now() - t0;
      const samples: number[] = [];
      for (let i = 0; i < REQUESTS; i++) {
        const s = performance.now();
        await ask();
        samples.push(performance.now() - s);
      }
      const packed = firstAnswer.data!.viewerRules.rules;

      // In process: the export alone, from the same inputs the gateway reads.
      const compiled = compileCatalog(loadPreset('jrni'));
      const [subj] = await t.store.subjects(orgId, [user.id]);
      const ids = [...new Set(subj!.assignments.flatMap((a) => (a.locationId ? [a.locationId] : [])))];
      const found = await t.store.locations.paths(orgId, ids);
      const paths = new Map(ids.map((id, i) => [id, found[i]!]));
      const inProcess: number[] = [];
      for (let i = 0; i < REQUESTS; i++) {
        // A fresh UserGrants each time: the gateway's is cached, but its memo would make this too kind.
        const s = performance.now();
        const grants = new UserGrants(compiled, subj!, Date.now());
        JSON.stringify(packRules(exportRules(compiled, grants, { paths }).rules));
        inProcess.push(performance.now() - s);
      }

      // The client: building the ability, then deciding.
      const unpack: number[] = [];
      let ability = createMongoAbility();
      for (let i = 0; i < REQUESTS; i++) {
        const s = performance.now();
        ability = createMongoAbility(unpackRules(packed) as never);
        ability.can('staff:view', subject('Resource', { locationPath: [branches[0]!.id] }));
        unpack.push(performance.now() - s);
      }
      const can: number[] = [];
      for (let i = 0; i < REQUESTS * 10; i++) {
        const b = branches[i % branches.length]!;
        const resource = subject('Resource', {
          locationPath: [b.id, b.region],
          personId: `staff-${i % 1000}`,
        });
        const s = performance.now();
        ability.can(i % 2 ? 'staff:view' : 'resource:manage', resource);
        can.push((performance.now() - s) * 1000);
      }

      rows.push({
        viewer: viewer.name,
        assignments,
        rules: firstAnswer.data!.viewerRules.count,
        rulesBytes: Buffer.byteLength(JSON.stringify(packed)),
        responseBytes: Buffer.byteLength(firstAnswer.raw),
        first,
        http: dist(samples),
        inProcess: dist(inProcess),
        unpack: dist(unpack),
        can: dist(can),
      });
      log(`viewer ${v}: p50 ${fmt(rows.at(-1)!.http.p50)} ms, ${rows.at(-1)!.rulesBytes} bytes`);
    }

    const markdown = report(rows, { started, uptimeBefore, uptimeAfter: uptime() });
    return { rows, markdown };
  } finally {
    await t.close();
  }
}

function report(rows: Row[], run: { started: number; uptimeBefore: string; uptimeAfter: string }): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const kb = (n: number) => `${fmt(n / 1000, 1)} kB`;
  return [
    '# Frontend benchmark: `viewerRules` for a viewer with 1,000 location assignments',
    '',
    `- Date: ${new Date(run.started).toISOString()}`,
    `- Machine: ${cpu}, ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GB RAM, ${os.type()} ${os.release()}`,
    `- Node ${process.version}`,
    '- Command: `NODE_ENV=production npx tsx bench/frontend/rules.ts`',
    `- Whole run: ${Math.round((Date.now() - run.started) / 1000)} s`,
    `- \`uptime\` before: \`${run.uptimeBefore}\``,
    `- \`uptime\` after: \`${run.uptimeAfter}\``,
    '',
    '## Setup',
    '',
    `- A JRNI organization with ${REGIONS} regions of ${BRANCHES} branches (${REGIONS * (BRANCHES + 1)} locations), on the embedded store (PGlite in a temp folder); a development gateway over loopback (test/support/gateway.ts).`,
    `- Each request: \`${QUERY}\` with the viewer's own token, timed from sending to the parsed answer; ${REQUESTS} in a row after the first (the first reads the viewer's grants and the 1,000 paths from the store; the rest from the in-process cache, as every later request of a session does).`,
    `- In process: \`exportRules\` + \`packRules\` + \`JSON.stringify\` with a freshly compiled \`UserGrants\` each time (no memo), ${REQUESTS} times.`,
    `- Client: CASL's \`unpackRules\` + \`createMongoAbility\` + one \`can\` (its rule index is built on first use), ${REQUESTS} times; then \`ability.can\` on a resource at a branch, ${REQUESTS * 10} times (µs).`,
    '',
    '## Results',
    '',
    '| viewer | assignments | rules | rules JSON | whole answer | first request | request p50 / p90 / p99 | in process p50 | unpack + ability p50 | `can` p50 / p99 | target ≤ 20 ms, ≤ 50 kB |',
    '| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${r.viewer} | ${fmt(r.assignments, 0)} | ${r.rules} | ${kb(r.rulesBytes)} | ${kb(r.responseBytes)} | ${fmt(r.first)} ms | ${fmt(r.http.p50)} / ${fmt(r.http.p90)} / ${fmt(r.http.p99)} ms | ${fmt(r.inProcess.p50)} ms | ${fmt(r.unpack.p50)} ms | ${fmt(r.can.p50)} / ${fmt(r.can.p99)} µs | ${verdict(r.http.p50 <= TARGET_MS && r.rulesBytes <= TARGET_BYTES)} |`,
    ),
    '',
    '- Size: each branch id (a UUID, 39 bytes with quotes and comma) appears once, in the `$in` list of the rule whose actions that branch adds; branches that add the same actions share one rule. A branch that adds nothing to its region (mixed viewer: `user` at a branch whose region gives `user` already) is left out.',
    '- The whole answer is the rules plus `count`, `expiresAt`, `version` and the JSON envelope.',
    '',
  ].join('\n');
}

function uptime(): string {
  try {
    return execFileSync('uptime', { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

if (require.main === module) {
  runRules()
    .then(({ markdown }) => {
      if (!QUICK) writeFileSync(RESULTS, markdown);
      process.stdout.write(markdown);
      process.exit(0);
    })
    .catch((err) => {
      log(String(err instanceof Error ? err.stack : err));
      process.exit(1);
    });
}
