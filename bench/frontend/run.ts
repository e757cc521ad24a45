/**
 * `npm run bench:frontend` — issue 13's frontend benchmark, one table against its targets, written to
 * bench/results/frontend.md (not with `--quick`) and printed:
 *
 *   1. The bootstrap of each persona (test/support/personas.ts: a JRNI User limited to staff-7 at London,
 *      a Junto Technician, a Juno member of two teams): the example app's one query
 *      (examples/frontend/src/queries.ts), the requests it takes to draw the first screen (one; the
 *      answer is checked complete), then p50/p99 over sequential warm requests. Target: one request.
 *   2. `viewerRules` for a viewer with 1,000 location assignments: bench/frontend/rules.ts (`runRules`).
 *      Target: ≤ 20 ms (p50) and ≤ 50 kB.
 *   3. `capabilitiesChanged` to 1,000 subscribers: bench/frontend/fanout.ts (`runFanout`). Target: p99
 *      ≤ 250 ms.
 *
 * Flags: `--quick` (every part small: for trying the harness, not results; nothing written),
 * `--fanout-quick` (the fan-out's small configuration only: 100 subscribers, 3 rounds; said so in the
 * file), `--skip-postgres` (the fan-out without its PostgreSQL + Redis scenario).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BOOTSTRAP } from '../../examples/frontend/src/queries';
import { gql, startTestGateway, type TestGateway } from '../../test/support/gateway';
import { createPersonas, type Persona } from '../../test/support/personas';
import { dist, fmt, type Dist } from '../http/stats';
import { benchLog, undoOnInterrupt } from '../interrupt';
import { runFanout } from './fanout';
import { runRules } from './rules';

const QUICK = process.argv.includes('--quick');
const FANOUT_QUICK = QUICK || process.argv.includes('--fanout-quick');
const SKIP_PG = process.argv.includes('--skip-postgres');
const FLAGS = process.argv.slice(2).filter((a) => a.startsWith('--'));
const REQUESTS = QUICK ? 20 : 200;
const TARGET_RULES_MS = 20;
const TARGET_RULES_BYTES = 50_000;

const ROOT = path.resolve(__dirname, '..', '..');
const RESULTS = path.join(ROOT, 'bench', 'results', 'frontend.md');
const log = benchLog('frontend');
const undo = undoOnInterrupt(log);

interface BootstrapRow {
  persona: string;
  /** HTTP requests the first screen took: the one bootstrap, its answer checked complete. */
  requests: number;
  first: number;
  warm: Dist;
  bytes: number;
  menu: string;
}

const PERSONAS: Record<Persona['name'], string> = {
  'jrni-user': 'JRNI User limited to staff-7 at London',
  'junto-technician': 'Junto Technician',
  'juno-member': 'Juno member of two teams, two team roles in each',
};

/** One persona's bootstrap, as the example app sends it. */
async function bootstrap(t: TestGateway, persona: Persona): Promise<BootstrapRow> {
  const variables = persona.locationId ? { locationId: persona.locationId } : {};
  let requests = 0;
  const ask = async () => {
    requests++;
    const r = await gql(t.url, persona.token, BOOTSTRAP, variables);
    const d = r.data;
    // Complete: nothing refused, and everything the first screen draws is there.
    if (r.errors || !d?.viewer || !d.capabilities || !d.viewerRules)
      throw new Error(`${persona.name}: incomplete bootstrap: ${r.raw.slice(0, 300)}`);
    return r;
  };
  const t0 = performance.now();
  const first = await ask();
  const firstMs = performance.now() - t0;
  const screen = requests;
  const caps = first.data!.capabilities;
  const menu =
    caps.modules.length > 0
      ? `${caps.modules.length} modules, ${caps.pages.length} pages`
      : `${caps.pages.length} pages, no modules`;
  const samples: number[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    const s = performance.now();
    await ask();
    samples.push(performance.now() - s);
  }
  return {
    persona: PERSONAS[persona.name],
    requests: screen,
    first: firstMs,
    warm: dist(samples),
    bytes: Buffer.byteLength(first.raw),
    menu,
  };
}

async function bootstraps(): Promise<BootstrapRow[]> {
  const t = await startTestGateway('pglite');
  undo.add(() => void t.close());
  try {
    const p = await createPersonas(t);
    const rows: BootstrapRow[] = [];
    for (const persona of [p.jrni, p.junto, p.juno]) {
      rows.push(await bootstrap(t, persona));
      const r = rows.at(-1)!;
      log(`${persona.name}: ${r.requests} request, p50 ${fmt(r.warm.p50)} ms, p99 ${fmt(r.warm.p99)} ms`);
    }
    return rows;
  } finally {
    await t.close();
  }
}

function uptime(): string {
  try {
    return execFileSync('uptime', { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

/** A part's own report as a section of this file: its headings one level down, and who ran it. */
function section(markdown: string, fn: string): string {
  const [title, ...rest] = markdown.replace(/\n## /g, '\n### ').split('\n');
  return [
    title!.replace(/^# /, '## '),
    '',
    `Run by this benchmark (\`${fn}\`); the command below runs this part alone.`,
    ...rest,
  ].join('\n');
}

const met = (pass: boolean) => (pass ? 'met' : '**missed**');
const kb = (n: number) => `${fmt(n / 1000, 1)} kB`;

async function main(): Promise<void> {
  const started = Date.now();
  const uptimeBefore = uptime();

  log('1/3 bootstrap of each persona');
  const boot = await bootstraps();
  log('2/3 viewerRules (bench/frontend/rules.ts)');
  const rules = await runRules();
  log(
    `3/3 capabilitiesChanged fan-out (bench/frontend/fanout.ts${FANOUT_QUICK ? ', small configuration' : ''})`,
  );
  const fanout = await runFanout({ quick: FANOUT_QUICK, skipPostgres: SKIP_PG });

  const table = [
    '| part | measured | target | verdict |',
    '| --- | --- | --- | --- |',
    ...boot.map(
      (r) =>
        `| bootstrap: ${r.persona} (${r.menu}) | ${r.requests} request; warm p50 ${fmt(r.warm.p50)} ms, p99 ${fmt(r.warm.p99)} ms (${REQUESTS} in a row); first ${fmt(r.first)} ms; ${kb(r.bytes)} | one request per persona | ${met(r.requests === 1)} |`,
    ),
    ...rules.rows.map(
      (r) =>
        `| \`viewerRules\`: ${r.viewer} | p50 ${fmt(r.http.p50)} ms (p90 ${fmt(r.http.p90)}, p99 ${fmt(r.http.p99)}); ${kb(r.rulesBytes)} of rules (${kb(r.responseBytes)} answer) | ≤ ${TARGET_RULES_MS} ms and ≤ ${TARGET_RULES_BYTES / 1000} kB | ${met(r.http.p50 <= TARGET_RULES_MS && r.rulesBytes <= TARGET_RULES_BYTES)} |`,
    ),
    ...fanout.rows.map(
      (r) =>
        `| \`capabilitiesChanged\` fan-out: ${r.scenario}, ${r.subscribers} subscribers / ${r.users} users | p99 ${fmt(r.delivered.p99)} ms (p50 ${fmt(r.delivered.p50)}, max ${fmt(r.delivered.max)}); ${r.rounds} rounds; ${r.missed} missed | p99 ≤ ${fanout.target} ms | ${met(r.delivered.p99 <= fanout.target && r.missed === 0)} |`,
    ),
  ];
  const allRows = [
    ...boot.map((r) => r.requests === 1),
    ...rules.rows.map((r) => r.http.p50 <= TARGET_RULES_MS && r.rulesBytes <= TARGET_RULES_BYTES),
    ...fanout.rows.map((r) => r.delivered.p99 <= fanout.target && r.missed === 0),
  ];
  const missed = allRows.filter((ok) => !ok).length;
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const markdown = [
    '# Frontend benchmark (issue 13)',
    '',
    `- Date: ${new Date(started).toISOString()}`,
    `- Machine: ${cpu}, ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GB RAM, ${os.type()} ${os.release()}; Node ${process.version}`,
    `- Command: \`npm run bench:frontend${FLAGS.length ? ` -- ${FLAGS.join(' ')}` : ''}\``,
    `- Whole run: ${Math.round((Date.now() - started) / 1000)} s`,
    `- \`uptime\` before: \`${uptimeBefore}\``,
    `- \`uptime\` after: \`${uptime()}\``,
    ...(FANOUT_QUICK
      ? [
          '- **The fan-out ran its small configuration** (100 subscribers, 3 rounds), not the 1,000 subscribers the target is about: its rows say how the harness behaves, not whether the target is met.',
        ]
      : []),
    '',
    `${allRows.length - missed} of ${allRows.length} rows meet their target${missed ? `; ${missed} missed` : ''}.`,
    '',
    ...table,
    '',
    '## Bootstrap',
    '',
    "Each persona in its own organization on the embedded store (PGlite in a temp folder), made through the API (test/support/personas.ts); a development gateway over loopback. The request is the example app's `Bootstrap` query (examples/frontend/src/queries.ts): `viewer` with its scopes, `capabilities` (pages, modules, operations, tools, grantsVersion) at the persona's location (the JRNI User's London; the organization for the others) and `viewerRules`, sent with the persona's token and timed from sending to the parsed answer. An answer counts only when complete: no error, and `viewer`, `capabilities` and `viewerRules` all there. The first request reads the persona's grants from the store; the rest from the in-process cache, as every later request of a session does. The Chromium test (test/browser/example-app.test.ts) checks in a real browser that the app sends this one request and no other.",
    '',
    '| persona | menu | requests | first | warm p50 / p90 / p99 | answer |',
    '| --- | --- | ---: | ---: | --- | ---: |',
    ...boot.map(
      (r) =>
        `| ${r.persona} | ${r.menu} | ${r.requests} | ${fmt(r.first)} ms | ${fmt(r.warm.p50)} / ${fmt(r.warm.p90)} / ${fmt(r.warm.p99)} ms | ${kb(r.bytes)} |`,
    ),
    '',
    section(rules.markdown, 'runRules'),
    '',
    section(fanout.markdown, 'runFanout'),
    '',
  ].join('\n');

  process.stdout.write(markdown);
  if (!QUICK) {
    mkdirSync(path.dirname(RESULTS), { recursive: true });
    writeFileSync(RESULTS, markdown);
    log(`wrote ${path.relative(ROOT, RESULTS)}`);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    log(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(1);
  },
);
