import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createOrganization } from '../../src/cli/setup';
import { IMPORT_LIMITS } from '../../src/import';
import { openStore, type Store } from '../../src/store';
import { rolegate } from '../support/cli';
import { openTestStore } from '../support/stores';
import { xlsx } from '../support/xlsx';

/**
 * `rolegate import users`, run as a process as an operator runs it, on PostgreSQL and on the embedded
 * store: the same files as the API's tests, the same rules (it acts with the organization owner's
 * rights, recorded as `cli`), a summary line, errors one per line, and a progress line on a terminal.
 */

const dir = mkdtempSync(path.join(tmpdir(), 'rolegate-import-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string | Buffer): string {
  const p = path.join(dir, name);
  writeFileSync(p, content);
  return p;
}

/** A JRNI organization with Parent company / London and Leeds; its owner's email. */
async function jrni(store: Store) {
  const ownerEmail = `owner-${Math.random().toString(36).slice(2)}@example.com`;
  const { orgId, ownerId } = await createOrganization(store, {
    preset: 'jrni',
    name: 'CLI import',
    ownerEmail,
  });
  const ctx = { orgId, actor: 'test' };
  const parent = (await store.locations.create(ctx, { name: 'Parent company' })).result.id;
  const london = (await store.locations.create(ctx, { name: 'London', parentId: parent })).result.id;
  await store.locations.create(ctx, { name: 'Leeds', parentId: parent });
  return { orgId, ownerId, ownerEmail, london };
}

async function roles(store: Store, orgId: string, email: string): Promise<string[] | null> {
  const user = await store.users.byEmail(orgId, email);
  if (!user) return null;
  const [list] = await store.assignments.forUsers(orgId, [user.id]);
  return list!.map((a) => a.roleKey).sort();
}

const CSV =
  '\uFEFFEmail;Name;Roles\r\n' +
  'ann@cli.test;Ann;user@Parent company/London\r\n' +
  'bob@cli.test;Bob;"manager@Leeds;user"\r\n';

describe('rolegate import users on PostgreSQL', () => {
  const env = () => ({ DATABASE_URL: process.env.ROLEGATE_TEST_DATABASE_URL! });
  let store: Store;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ store, close } = await openTestStore('postgres'));
  });
  afterAll(() => close?.());

  test("imports a CSV (BOM, ;, CRLF) with the owner's rights, recorded as cli", async () => {
    const org = await jrni(store);
    const [before] = await store.organizations.versions([org.orgId]);
    const run = await rolegate(
      ['import', 'users', '--org', org.orgId, '--file', file('users.csv', CSV)],
      env(),
    );
    expect(run).toMatchObject({
      code: 0,
      stdout: `users.csv: imported 2 rows: 2 created, 0 updated, 0 skipped (version ${Number(before) + 1})\n`,
      stderr: `acting with the rights of the organization's owner, ${org.ownerEmail}\n`,
    });
    expect(await roles(store, org.orgId, 'ann@cli.test')).toEqual(['user']);
    expect(await roles(store, org.orgId, 'bob@cli.test')).toEqual(['manager', 'user']);
    const log = await store.auditLog(org.orgId, { first: 1000 });
    expect(log[log.length - 1]).toMatchObject({
      actor: 'cli',
      action: 'importUsers',
      after: { as: org.ownerId, created: 2, rows: 2, format: 'csv' },
    });
  });

  test('an XLSX with text, number and formula cells; --on-existing skip and update; --dry-run writes nothing', async () => {
    const org = await jrni(store);
    const book = file(
      'users.xlsx',
      xlsx([
        ['email', 'name', 'roles'],
        ['cat@cli.test', 7, { formula: 'CONCAT("us","er")', cached: 'user' }],
        ['dan@cli.test', { formula: 'UPPER("dan")', cached: 'DAN' }, 'user@London'],
      ]),
    );
    const first = await rolegate(['import', 'users', '--org', org.orgId, '--file', book], env());
    expect(first.code).toBe(0);
    expect((await store.users.byEmail(org.orgId, 'cat@cli.test'))?.name).toBe('7');
    expect((await store.users.byEmail(org.orgId, 'dan@cli.test'))?.name).toBe('DAN');

    const again = file('again.csv', 'email,name,roles\ncat@cli.test,Cat,manager@Leeds\neve@cli.test,,user\n');
    const [v] = await store.organizations.versions([org.orgId]);
    const dry = await rolegate(
      ['import', 'users', '--org', org.orgId, '--file', again, '--on-existing', 'update', '--dry-run'],
      env(),
    );
    expect(dry).toMatchObject({
      code: 0,
      stdout: 'again.csv: dry run of 2 rows: would be 1 created, 1 updated, 0 skipped; nothing written\n',
    });
    expect((await store.organizations.versions([org.orgId]))[0]).toBe(v);
    const skip = await rolegate(
      ['import', 'users', '--org', org.orgId, '--file', again, '--on-existing', 'skip'],
      env(),
    );
    expect(skip.stdout).toMatch(
      /^again\.csv: imported 2 rows: 1 created, 0 updated, 1 skipped \(version \d+\)\n$/,
    );
    const update = await rolegate(
      ['import', 'users', '--org', org.orgId, '--file', again, '--on-existing', 'update'],
      env(),
    );
    expect(update.stdout).toMatch(
      /^again\.csv: imported 2 rows: 0 created, 1 updated, 1 skipped \(version \d+\)\n$/,
    );
    expect(await roles(store, org.orgId, 'cat@cli.test')).toEqual(['manager', 'user']);
    expect((await store.users.byEmail(org.orgId, 'cat@cli.test'))?.name).toBe('Cat');
  });

  test('errors: one per line with row and column, exit 1, nothing written', async () => {
    const org = await jrni(store);
    const [before] = await store.organizations.versions([org.orgId]);
    const bad = file(
      'bad.csv',
      'email,roles,flags\nok@cli.test,user,\nnope@cli.test,nope,\nnot-an-email,,\n,,vip\n',
    );
    const run = await rolegate(['import', 'users', '--org', org.orgId, '--file', bad], env());
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('bad.csv: not imported, 4 errors; nothing written\n');
    expect(run.stderr.split('\n').slice(1)).toEqual([
      'row 3, roles: BAD_USER_INPUT: unknown role "nope"',
      'row 4, email: BAD_USER_INPUT: email must be an address like name@example.com, not "not-an-email"',
      'row 5, email: BAD_USER_INPUT: email is required',
      'row 5, flags: BAD_USER_INPUT: unknown flag "vip"; the catalog has: none',
      '',
    ]);
    expect((await store.organizations.versions([org.orgId]))[0]).toBe(before);
    expect(await store.users.byEmail(org.orgId, 'ok@cli.test')).toBeNull();
  });

  test('a file refused whole, an unknown organization, a file of no known format', async () => {
    const org = await jrni(store);
    const notXlsx = await rolegate(
      ['import', 'users', '--org', org.orgId, '--file', file('fake.xlsx', 'email\n')],
      env(),
    );
    expect(notXlsx).toMatchObject({
      code: 1,
      stderr: `acting with the rights of the organization's owner, ${org.ownerEmail}\nrolegate: content is not an XLSX workbook: it is not a zip archive\n`,
    });
    const unknown = await rolegate(
      ['import', 'users', '--org', '00000000-0000-4000-8000-000000000000', '--file', file('u.csv', CSV)],
      env(),
    );
    expect(unknown).toMatchObject({
      code: 1,
      stderr: 'rolegate: organization 00000000-0000-4000-8000-000000000000 does not exist\n',
    });
    const odd = await rolegate(
      ['import', 'users', '--org', org.orgId, '--file', file('users.json', '[]')],
      env(),
    );
    expect(odd).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/cannot tell the format of users\.json.*--format csv or xlsx/),
    });
  });

  test('10,000 rows, with a progress line on a terminal (and only there)', async () => {
    const org = await jrni(store);
    const rows = ['email,roles'];
    for (let i = 0; i < IMPORT_LIMITS.rows; i++) rows.push(`many${i}@cli.test,user@London`);
    const big = file('many.csv', rows.join('\r\n') + '\r\n');
    // Under a pseudo-terminal (script(1)), as an operator at a shell sees it.
    const command = [
      process.execPath,
      require.resolve('tsx/cli'),
      'src/cli/main.ts',
      'import',
      'users',
      '--org',
      org.orgId,
      '--file',
      big,
    ]
      .map((a) => `'${a}'`)
      .join(' ');
    const shown = await new Promise<{ code: number; out: string }>((resolve) =>
      execFile(
        'script',
        ['-qec', command, '/dev/null'],
        { env: { ...process.env, NODE_OPTIONS: '', ...env() }, encoding: 'utf8', timeout: 120_000 },
        (err, stdout) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout }),
      ),
    );
    expect(shown.code).toBe(0);
    expect(shown.out).toContain('many.csv: checking rows 5,000/10,000 (50%)');
    expect(shown.out).toMatch(
      /many\.csv: imported 10,000 rows: 10,000 created, 0 updated, 0 skipped \(version \d+\)/,
    );
    const count = await store.db.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM users WHERE org_id = $1 AND email LIKE 'many%'`,
      [org.orgId],
    );
    expect(count[0]!.n).toBe('10000');
    // Not a terminal: the summary alone.
    const piped = await rolegate(
      ['import', 'users', '--org', org.orgId, '--file', big, '--on-existing', 'skip', '--dry-run'],
      env(),
    );
    expect(piped.stdout).toBe(
      'many.csv: dry run of 10,000 rows: would be 0 created, 0 updated, 10,000 skipped; nothing written\n',
    );
    expect(piped.stderr).not.toContain('checking rows');
  }, 180_000);
});

describe('rolegate import users on the embedded store', () => {
  test('imports the same CSV into a stopped embedded store', async () => {
    const data = mkdtempSync(path.join(tmpdir(), 'rolegate-import-data-'));
    try {
      let store = await openStore({ dataDir: data });
      const org = await jrni(store);
      await store.close();
      const run = await rolegate([
        'import',
        'users',
        '--org',
        org.orgId,
        '--file',
        file('embedded.csv', CSV),
        '--data-dir',
        data,
      ]);
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(
        /^embedded\.csv: imported 2 rows: 2 created, 0 updated, 0 skipped \(version \d+\)\n$/,
      );
      store = await openStore({ dataDir: data });
      try {
        expect(await roles(store, org.orgId, 'bob@cli.test')).toEqual(['manager', 'user']);
      } finally {
        await store.close();
      }
    } finally {
      rmSync(data, { recursive: true, force: true });
    }
  });
});
