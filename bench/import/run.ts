/**
 * `npm run bench:import` — importUsers through the API: 10,000 users with roles, one request, on the
 * embedded store (PGlite in a temp folder) and on a throwaway PostgreSQL (durable: fsync on, as in
 * production). Target: at most 5 s for each real import.
 *
 * Each import goes into a fresh JRNI organization (Parent company with 20 branches; the file's rows
 * give 1–2 location roles each, by path of names and by id), as its owner (CSV, XLSX), as an Owner at
 * Parent company (no owner shortcut: every row's scopes are decided), and as a dry run; each timed from
 * sending the request to the parsed answer, over loopback. Then, in process, reading the files alone.
 * Writes bench/results/import.md (not with `--quick`) and prints it.
 *
 * Flags: `--quick` (one run each: for trying the harness, not results), `--skip-postgres`.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { exportSPKI, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { startGateway, type Gateway } from '../../src/api/server';
import { createOrganization } from '../../src/cli/setup';
import { IMPORT_LIMITS, readImportFile } from '../../src/import';
import { openStore, type Store } from '../../src/store';
import { startPostgres, type PostgresServer } from '../../test/support/postgres-server';
import { xlsx } from '../../test/support/xlsx';
import { dist, fmt } from '../http/stats';
import { benchLog, undoOnInterrupt } from '../interrupt';

const QUICK = process.argv.includes('--quick');
const SKIP_PG = process.argv.includes('--skip-postgres');
const ROOT = path.resolve(__dirname, '..', '..');
const RESULTS = path.join(ROOT, 'bench', 'results', 'import.md');
const RUNS = QUICK ? 1 : 3;
const ROWS = IMPORT_LIMITS.rows;
const BRANCHES = 20;
const TARGET_MS = 5_000;
const ISSUER = 'rolegate';
const AUDIENCE = 'rolegate';

const IMPORT = `mutation Import($i: ImportUsersInput!) {
  importUsers(input: $i) { created updated skipped version errors { row column message } }
}`;

const log = benchLog('import');
/** Undone if the run is interrupted (SIGINT/SIGTERM), newest first. */
const onInterrupt = undoOnInterrupt(log);

interface Org {
  orgId: string;
  ownerId: string;
  parentOwnerId: string;
  branches: { name: string; id: string }[];
}

/** A fresh JRNI organization: Parent company with BRANCHES branches, its owner, an Owner at Parent company. */
async function organization(store: Store, n: number): Promise<Org> {
  const { orgId, ownerId } = await createOrganization(store, {
    preset: 'jrni',
    name: `import bench ${n}`,
    ownerEmail: `owner${n}@bench.example`,
  });
  const ctx = { orgId, actor: 'bench' };
  const parent = (await store.locations.create(ctx, { name: 'Parent company' })).result.id;
  const branches = [];
  for (let b = 1; b <= BRANCHES; b++) {
    const name = `Branch ${String(b).padStart(2, '0')}`;
    branches.push({ name, id: (await store.locations.create(ctx, { name, parentId: parent })).result.id });
  }
  const { result: po } = await store.users.create(ctx, { email: `parent-owner${n}@bench.example` });
  await store.assignments.assign(ctx, { userId: po.id, roleKey: 'owner', locationId: parent });
  return { orgId, ownerId, parentOwnerId: po.id, branches };
}

/** The file's rows: a third each with a role by path, two roles (one by id), a role at Parent company. */
function rows(org: Org): string[][] {
  const out = [['email', 'name', 'roles']];
  for (let i = 0; i < ROWS; i++) {
    const b = org.branches[i % BRANCHES]!;
    const roles =
      i % 3 === 0
        ? `user@Parent company/${b.name}`
        : i % 3 === 1
          ? `manager@${b.id}; user@${b.name}`
          : 'call_center@Parent company';
    out.push([`user${i}@bench.example`, `User ${i}`, roles]);
  }
  return out;
}

/** How many assignments the file's rows give. */
function assignments(): number {
  let n = 0;
  for (let i = 0; i < ROWS; i++) n += i % 3 === 1 ? 2 : 1;
  return n;
}

const csvOf = (r: string[][]) =>
  r.map((cells) => cells.map((c) => (/[,;"]/.test(c) ? `"${c}"` : c)).join(',')).join('\r\n') + '\r\n';

interface Variant {
  name: string;
  format: 'CSV' | 'XLSX';
  as: 'owner' | 'parentOwner';
  dryRun: boolean;
  /** The users exist already (imported first, untimed): the file gives each a role more, onExisting UPDATE. */
  update?: boolean;
}

const VARIANTS: Variant[] = [
  { name: 'CSV, as the owner', format: 'CSV', as: 'owner', dryRun: false },
  { name: 'XLSX, as the owner', format: 'XLSX', as: 'owner', dryRun: false },
  { name: 'CSV, as an Owner at Parent company', format: 'CSV', as: 'parentOwner', dryRun: false },
  { name: 'CSV, as the owner, dry run', format: 'CSV', as: 'owner', dryRun: true },
  {
    name: 'CSV, as an Owner at Parent company, UPDATE of 10,000 existing users (a role more each)',
    format: 'CSV',
    as: 'parentOwner',
    dryRun: false,
    update: true,
  },
];

interface Timing {
  variant: Variant;
  ms: number[];
  bytes: number;
  requestBytes: number;
}

interface Section {
  backend: string;
  timings: Timing[];
  reads: { format: string; ms: number[]; bytes: number }[];
  logged: number;
}

async function section(backend: string, store: Store, key: CryptoKey, publicPem: string): Promise<Section> {
  const logged: unknown[] = [];
  const gateway: Gateway = await startGateway({
    store,
    config: { port: 0, env: 'production' },
    auth: { issuer: ISSUER, audience: AUDIENCE, publicKey: publicPem, algorithm: 'ES256' },
    log: (e) => {
      if (e.level === 'error') logged.push(e);
    },
    approvals: false,
  });
  const timings: Timing[] = [];
  /** The files of the first runs, read again alone below. */
  const files = new Map<'csv' | 'xlsx', Buffer>();
  let n = 0;
  try {
    for (const variant of VARIANTS) {
      const timing: Timing = { variant, ms: [], bytes: 0, requestBytes: 0 };
      for (let run = 0; run < RUNS; run++) {
        const org = await organization(gateway.store, ++n);
        const table = rows(org);
        const file = variant.format === 'CSV' ? Buffer.from(csvOf(table)) : xlsx(table);
        const content = variant.format === 'CSV' ? file.toString('utf8') : file.toString('base64');
        if (!files.has(variant.format === 'CSV' ? 'csv' : 'xlsx'))
          files.set(variant.format === 'CSV' ? 'csv' : 'xlsx', file);
        const token = (as: Variant['as']) =>
          new SignJWT({ org: org.orgId })
            .setProtectedHeader({ alg: 'ES256' })
            .setSubject(as === 'owner' ? org.ownerId : org.parentOwnerId)
            .setIssuer(ISSUER)
            .setAudience(AUDIENCE)
            .setIssuedAt()
            .setExpirationTime('1h')
            .sign(key);
        const send = async (as: Variant['as'], input: Record<string, unknown>) => {
          const body = JSON.stringify({ query: IMPORT, variables: { i: input } });
          const t0 = performance.now();
          const res = await fetch(gateway.url, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${await token(as)}` },
            body,
          });
          const answer = (await res.json()) as {
            data?: { importUsers: Record<string, unknown> };
            errors?: unknown;
          };
          const ms = performance.now() - t0;
          const out = answer.data?.importUsers;
          if (res.status !== 200 || !out || (out.errors as unknown[]).length)
            throw new Error(`${variant.name}: ${res.status} ${JSON.stringify(answer).slice(0, 500)}`);
          return { ms, out, bytes: Buffer.byteLength(body) };
        };
        let input: Record<string, unknown> = { format: variant.format, content, dryRun: variant.dryRun };
        if (variant.update) {
          // The users first (untimed), then a file giving each of them one role more.
          await send('owner', input);
          const more = table.map((r, k) =>
            k === 0 ? r : [r[0]!, r[1]!, `user_plus@${org.branches[(k - 1) % BRANCHES]!.name}`],
          );
          input = { format: 'CSV', content: csvOf(more), onExisting: 'UPDATE' };
        }
        const [before] = await gateway.store.organizations.versions([org.orgId]);
        const { ms, out, bytes } = await send(variant.as, input);
        if (out[variant.update ? 'updated' : 'created'] !== ROWS)
          throw new Error(`${variant.name}: ${JSON.stringify(out).slice(0, 300)}`);
        const [after] = await gateway.store.organizations.versions([org.orgId]);
        const [counts] = await gateway.store.db.query<{ users: string; assignments: string }>(
          `SELECT (SELECT count(*) FROM users WHERE org_id = $1 AND email LIKE 'user%@bench.example')::text AS users,
                  (SELECT count(*) FROM assignments a JOIN users u ON u.org_id = a.org_id AND u.id = a.user_id
                    WHERE a.org_id = $1 AND u.email LIKE 'user%@bench.example')::text AS assignments`,
          [org.orgId],
        );
        const expected = variant.dryRun
          ? { users: 0, assignments: 0 }
          : { users: ROWS, assignments: assignments() + (variant.update ? ROWS : 0) };
        if (
          Number(counts!.users) !== expected.users ||
          Number(counts!.assignments) !== expected.assignments ||
          Number(after) !== Number(before) + (variant.dryRun ? 0 : 1)
        )
          throw new Error(`${variant.name}: ${JSON.stringify(counts)}, version ${before} → ${after}`);
        timing.ms.push(ms);
        timing.bytes = Buffer.byteLength(
          input.content as string,
          variant.format === 'XLSX' && !variant.update ? 'base64' : 'utf8',
        );
        timing.requestBytes = bytes;
        log(`${backend}: ${variant.name}: ${fmt(ms, 0)} ms`);
      }
      timings.push(timing);
    }
  } finally {
    await gateway.close();
  }
  // Reading alone, in process: what of the time is the file's.
  const reads = [];
  for (const [format, file] of files) {
    const ms: number[] = [];
    for (let i = 0; i < Math.max(RUNS, 3); i++) {
      const t0 = performance.now();
      const read = await readImportFile(
        format,
        format === 'csv' ? file.toString('utf8') : file.toString('base64'),
      );
      ms.push(performance.now() - t0);
      if (read.rows.length !== ROWS + 1) throw new Error(`read ${read.rows.length} rows`);
    }
    reads.push({ format, ms, bytes: file.length });
  }
  return { backend, timings, reads, logged: logged.length };
}

function uptime(): string {
  try {
    return execFileSync('uptime', { encoding: 'utf8' }).trim();
  } catch {
    return `load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(', ')}`;
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

function report(
  sections: Section[],
  meta: { seconds: number; before: string; after: string; pg: string | null; load: [number, number] },
): string {
  const cpus = os.cpus();
  const lines: string[] = [];
  const p = (s = '') => lines.push(s);
  p('# Import benchmark: 10,000 users with roles through importUsers');
  p();
  p(`- Date: ${new Date().toISOString()}`);
  p(
    `- Machine: ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${cpus.length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GB RAM, ${os.type()} ${os.release()}`,
  );
  p(
    `- Node ${process.version}; csv-parse ${pkg('csv-parse')}, yauzl ${pkg('yauzl')}, sax ${pkg('sax')}, @electric-sql/pglite ${pkg('@electric-sql/pglite')}, pg ${pkg('pg')}${meta.pg ? `; ${meta.pg}` : ''}`,
  );
  p(
    `- Command: \`npm run bench:import\` → \`NODE_ENV=production tsx bench/import/run.ts${QUICK ? ' --quick' : ''}\``,
  );
  p(`- Whole run: ${fmt(meta.seconds, 0)} s`);
  p(`- \`uptime\` before: \`${meta.before}\``);
  p(`- \`uptime\` after: \`${meta.after}\``);
  if (QUICK) p('- **`--quick` run: one import each, not results.**');
  p();
  p('## Setup');
  p();
  p(
    `- Each import goes into a fresh JRNI organization (\`createOrganization\`, preset jrni) with "Parent company" and ${BRANCHES} branches under it, its owner, and a user holding \`owner\` at Parent company. The file: a header and ${ROWS.toLocaleString('en-US')} rows (email, name, roles); a third give \`user@Parent company/Branch NN\` (a path of names), a third \`manager@<branch id>; user@Branch NN\` (an id and a name), a third \`call_center@Parent company\` — ${assignments().toLocaleString('en-US')} assignments in all. CSV with CRLF; the XLSX is built by test/support/xlsx.ts (shared strings, deflate), sent in base64.`,
  );
  p(
    '- The gateway: `startGateway` in production mode (ES256 tokens), over loopback; each import is one `fetch` timed from sending to the parsed answer.',
  );
  p(
    `- Variants: as the organization's owner (an active owner covers everyone, but every role's closure and every new user's gain are still checked), as an Owner at Parent company (no owner shortcut: the import permission at each row's scopes), a dry run (everything but the write), and an UPDATE of the 10,000 users once they exist (imported first, untimed), each gaining \`user_plus\` at their branch, as the Owner at Parent company (each user covered, each new role checked like assignRole, each user's gain checked; users of one shape, here all, share the answers). ${RUNS} runs each, a fresh organization every time. After each, the benchmark checks the users and assignments in the store and that the version moved by exactly one (a dry run: none).`,
  );
  p(
    '- PostgreSQL: a throwaway server started from the local binaries (test/support/postgres-server.ts) with its default durability (fsync, synchronous_commit, full_page_writes on). The embedded store: PGlite in a temp folder.',
  );
  p();
  const misses: string[] = [];
  for (const s of sections) {
    p(`## ${s.backend}`);
    p();
    p(`Errors the gateway logged: ${s.logged}.`);
    p();
    p('| import (10,000 rows) | file | request body | runs (ms) | median ms | target ≤ 5,000 ms |');
    p('| --- | ---: | ---: | --- | ---: | --- |');
    for (const t of s.timings) {
      const d = dist(t.ms);
      const pass = d.p50 <= TARGET_MS;
      if (!pass && !t.variant.dryRun) misses.push(`${s.backend}: ${t.variant.name}`);
      p(
        `| ${t.variant.name} | ${fmt(t.bytes / 1024, 0)} KiB | ${fmt(t.requestBytes / 1024, 0)} KiB | ${t.ms.map((m) => fmt(m, 0)).join(', ')} | ${fmt(d.p50, 0)} | ${t.variant.dryRun ? '(no write)' : pass ? '**PASS**' : '**MISS**'} |`,
      );
    }
    p();
    p('Reading the file alone, in process (`readImportFile`, the same 10,000 rows):');
    p();
    p('| format | file | runs (ms) | median ms |');
    p('| --- | ---: | --- | ---: |');
    for (const r of s.reads)
      p(
        `| ${r.format} | ${fmt(r.bytes / 1024, 0)} KiB | ${r.ms.map((m) => fmt(m, 0)).join(', ')} | ${fmt(dist(r.ms).p50, 0)} |`,
      );
    p();
  }
  p('## Reading');
  p();
  for (const line of reading(sections, meta.load)) p(`- ${line}`);
  p();
  p('## Verdict');
  p();
  const real = sections.flatMap((s) => s.timings.filter((t) => !t.variant.dryRun).map((t) => ({ s, t })));
  const slowest = real
    .flatMap(({ s, t }) => t.ms.map((ms) => ({ ms, what: `${s.backend}, ${t.variant.name}` })))
    .sort((a, b) => b.ms - a.ms)[0];
  p(
    misses.length
      ? `Target missed: ${misses.join('; ')}.`
      : `Every real import of ${ROWS.toLocaleString('en-US')} users finished within ${TARGET_MS / 1000} s (medians).`,
  );
  if (slowest)
    p(
      `The slowest single run: ${fmt(slowest.ms, 0)} ms (${slowest.what}), ${slowest.ms <= TARGET_MS ? 'within' : '**past**'} the target.`,
    );
  return lines.join('\n');
}

/** What the figures say, computed from them: where the time goes, and how busy the machine was. */
function reading(sections: Section[], load: [number, number]): string[] {
  const cores = os.cpus().length;
  const out: string[] = [];
  const median = (s: Section, name: string) => dist(s.timings.find((t) => t.variant.name === name)!.ms).p50;
  if (Math.max(...load) > cores)
    out.push(
      `The machine was busy: load average ${fmt(load[0])} at the start and ${fmt(load[1])} at the end on ${cores} cores (other work shares it), so every figure includes waiting for a core; the rows compare, the absolutes are upper bounds.`,
    );
  else
    out.push(`Load average ${fmt(load[0])} at the start and ${fmt(load[1])} at the end on ${cores} cores.`);
  for (const s of sections) {
    const csv = median(s, VARIANTS[0]!.name);
    const xl = median(s, VARIANTS[1]!.name);
    const scoped = median(s, VARIANTS[2]!.name);
    const dry = median(s, VARIANTS[3]!.name);
    const update = median(s, VARIANTS[4]!.name);
    const readCsv = dist(s.reads.find((r) => r.format === 'csv')!.ms).p50;
    const readXlsx = dist(s.reads.find((r) => r.format === 'xlsx')!.ms).p50;
    out.push(
      `${s.backend}: a CSV import of 10,000 users takes ${fmt(csv, 0)} ms; its dry run (the request, reading the file, every row's checks, no write) ${fmt(dry, 0)} ms, of which reading the CSV ${fmt(readCsv, 0)} ms; so the write (one transaction: 10,000 users, ${assignments().toLocaleString('en-US')} assignments, one audit entry) is about ${fmt(csv - dry, 0)} ms, ${fmt((100 * (csv - dry)) / csv, 0)}% of the import. The XLSX is ${fmt(xl, 0)} ms (reading it ${fmt(readXlsx, 0)} ms, its file ${fmt((100 * s.timings[1]!.bytes) / s.timings[0]!.bytes, 0)}% the size of the CSV); as an Owner at Parent company, with every row's scopes decided, ${fmt(scoped, 0)} ms (${fmt(scoped / csv, 2)}× the owner's: rows sharing a role set share their checks); an UPDATE of 10,000 existing users (each to be covered, each new role checked like assignRole, each gain checked; users of one shape share the answers) ${fmt(update, 0)} ms.`,
    );
  }
  return out;
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const load0 = os.loadavg()[0]!;
  const before = uptime();
  log(`uptime: ${before}`);
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const pem = await exportSPKI(publicKey);
  const sections: Section[] = [];

  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'rolegate-bench-import-'));
  const removeDir = () => rmSync(dataDir, { recursive: true, force: true });
  onInterrupt.add(removeDir);
  try {
    const store = await openStore({ dataDir });
    try {
      sections.push(await section('Embedded store (PGlite)', store, privateKey, pem));
    } finally {
      await store.close();
    }
  } finally {
    removeDir();
    onInterrupt.delete(removeDir);
  }

  let pgVersion: string | null = null;
  if (!SKIP_PG) {
    let pg: PostgresServer | null = null;
    try {
      log('PostgreSQL: starting a throwaway server (durable settings)');
      pg = await startPostgres('rolegate_bench_import', { durable: true });
      const server = pg;
      onInterrupt.add(() => server.stop().catch(() => {}));
      const store = await openStore({ databaseUrl: pg.url, migrate: true });
      try {
        pgVersion = (await store.db.query<{ v: string }>('SHOW server_version'))[0]?.v ?? null;
        if (pgVersion) pgVersion = `PostgreSQL ${pgVersion}`;
        sections.push(await section('PostgreSQL', store, privateKey, pem));
      } finally {
        await store.close();
      }
    } finally {
      await pg?.stop();
    }
  }
  const after = uptime();
  log(`uptime: ${after}`);
  const md = report(sections, {
    seconds: (performance.now() - t0) / 1000,
    before,
    after,
    pg: pgVersion,
    load: [load0, os.loadavg()[0]!],
  });
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
