import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { openTestStore, newOrg } from '../support/stores';
import { rolegate } from '../support/cli';

/** `rolegate migrate` and `rolegate audit verify`, run as processes against real stores. */

describe('rolegate migrate', () => {
  it('creates the schema of a new embedded store, then finds it up to date', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'rolegate-cli-'));
    try {
      const first = await rolegate(['migrate', '--data-dir', dir]);
      expect(first).toMatchObject({ code: 0, stdout: `embedded store in ${dir}: applied 001, 002, 003\n` });
      const again = await rolegate(['migrate'], { ROLEGATE_DATA_DIR: dir });
      expect(again).toMatchObject({ code: 0, stdout: `embedded store in ${dir}: up to date\n` });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('works on PostgreSQL from DATABASE_URL, and never prints the connection string', async () => {
    const url = process.env.ROLEGATE_TEST_DATABASE_URL!;
    const run = await rolegate(['migrate'], { DATABASE_URL: url });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^PostgreSQL at 127\.0\.0\.1:\d+\/rolegate_test: up to date\n$/);
  });

  it('says plainly when PostgreSQL is out of reach', async () => {
    const run = await rolegate(['migrate', '--database-url', 'postgres://nobody:secret@127.0.0.1:1/none']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /^rolegate: the store is unavailable \(connect ECONNREFUSED 127\.0\.0\.1:1\)\n$/,
    );
    expect(run.stderr).not.toContain('secret');
  });
});

describe('rolegate audit verify', () => {
  it('passes a whole chain and names the first tampered entry', async () => {
    const { store, close } = await openTestStore('postgres');
    try {
      const { orgId, ctx } = await newOrg(store);
      for (let i = 0; i < 4; i++) await store.users.create(ctx, { email: `cli${i}@example.com` });
      const env = { DATABASE_URL: process.env.ROLEGATE_TEST_DATABASE_URL! };
      expect(await rolegate(['audit', 'verify', '--org', orgId], env)).toMatchObject({
        code: 0,
        stdout: 'ok: 5 entries, chained from 1 to 5\n',
      });
      await store.db.query(
        `UPDATE audit_log SET after = '{"email":"evil@example.com"}' WHERE org_id = $1 AND seq = 3`,
        [orgId],
      );
      expect(await rolegate(['audit', 'verify', '--org', orgId], env)).toMatchObject({
        code: 1,
        stdout: 'TAMPERED: entry 3: its content was edited\n',
      });
      const unknown = await rolegate(
        ['audit', 'verify', '--org', '00000000-0000-4000-8000-000000000000'],
        env,
      );
      expect(unknown).toMatchObject({
        code: 1,
        stderr: 'rolegate: organization 00000000-0000-4000-8000-000000000000 does not exist\n',
      });
    } finally {
      await close();
    }
  });
});

describe('the embedded store', () => {
  it('is opened by one process at a time', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'rolegate-lock-'));
    const { openStore } = await import('../../src/store');
    const store = await openStore({ dataDir: dir });
    try {
      const other = await rolegate(['migrate', '--data-dir', dir]);
      expect(other.code).toBe(1);
      expect(other.stderr).toMatch(
        new RegExp(`the embedded store in .* is in use by process ${process.pid}: stop it first`),
      );
    } finally {
      await store.close();
    }
    // Closed: the lock is gone and the next process gets the store.
    expect((await rolegate(['migrate', '--data-dir', dir])).code).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  });
});
