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
      expect(first).toMatchObject({
        code: 0,
        stdout: `embedded store in ${dir}: applied 001, 002, 003, 004, 005, 006\n`,
      });
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

describe('rolegate approvals list', () => {
  it('lists every request of the organization, newest first, filtered by status and kind', async () => {
    const { store, close } = await openTestStore('postgres');
    try {
      const { orgId, ctx } = await newOrg(store);
      const { result: user } = await store.users.create(ctx, { email: `approvals-cli@example.com` });
      const open = (kind: string, summary: string) =>
        store.approvals.open(
          { ...ctx, actor: user.id },
          {
            kind,
            tool: null,
            subjectId: user.id,
            requestedBy: user.id,
            summary,
            arguments: { secret: 'not printed' },
            argumentsHash: 'a'.repeat(64),
            locationId: null,
            lifetimeSeconds: 60,
          },
          [],
        );
      const first = await open('escalation', 'first');
      const second = await open('action_request', 'second');
      await store.approvals.decide({ ...ctx, actor: 'cli' }, first.id, 'CANCELLED', {
        userId: null,
        note: null,
      });
      const env = { DATABASE_URL: process.env.ROLEGATE_TEST_DATABASE_URL! };
      const all = await rolegate(['approvals', 'list', '--org', orgId], env);
      expect(all.code).toBe(0);
      const lines = all.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(lines.map((l) => [l.id, l.kind, l.status])).toEqual([
        [second.id, 'action_request', 'PENDING'],
        [first.id, 'escalation', 'CANCELLED'],
      ]);
      expect(all.stdout).not.toContain('not printed');
      const pending = await rolegate(['approvals', 'list', '--org', orgId, '--status', 'pending'], env);
      expect(
        pending.stdout
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l).id),
      ).toEqual([second.id]);
      const kind = await rolegate(['approvals', 'list', '--org', orgId, '--kind', 'escalation'], env);
      expect(
        kind.stdout
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l).id),
      ).toEqual([first.id]);
      const bad = await rolegate(['approvals', 'list', '--org', orgId, '--status', 'MAYBE'], env);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(
        /expected one of PENDING, APPROVED, DISMISSED, EXPIRED, CANCELLED, EXECUTED/,
      );
      const none = await rolegate(
        ['approvals', 'list', '--org', '00000000-0000-4000-8000-000000000000'],
        env,
      );
      expect(none).toMatchObject({
        code: 1,
        stderr: 'rolegate: organization 00000000-0000-4000-8000-000000000000 does not exist\n',
      });
    } finally {
      await close();
    }
  });
});

describe('rolegate key revoke', () => {
  it('revokes a key: its token authenticates nothing more, and the revocation is audited', async () => {
    const { store, close } = await openTestStore('postgres');
    try {
      const { orgId, ctx } = await newOrg(store);
      const { result } = await store.apiKeys.create(ctx, { name: 'agent', scopes: ['approvals:request'] });
      expect(await store.apiKeys.verify(result.token)).not.toBeNull();
      const env = { DATABASE_URL: process.env.ROLEGATE_TEST_DATABASE_URL! };
      const run = await rolegate(['key', 'revoke', '--org', orgId, '--id', result.key.id], env);
      expect(run.code).toBe(0);
      expect(JSON.parse(run.stdout)).toMatchObject({ id: result.key.id, revokedAt: expect.any(String) });
      expect(await store.apiKeys.verify(result.token)).toBeNull();
      const entries = await store.auditLog(orgId, { first: 100 });
      expect(entries.at(-1)).toMatchObject({
        action: 'revokeApiKey',
        actor: 'cli',
        target: `apikey:${result.key.id}`,
      });
      const unknown = await rolegate(['key', 'revoke', '--org', orgId, '--id', 'nope'], env);
      expect(unknown).toMatchObject({ code: 1, stderr: 'rolegate: API key nope does not exist\n' });
    } finally {
      await close();
    }
  });
});

describe('rolegate key create', () => {
  it('refuses a scope no API key can hold, naming the ones it can', async () => {
    const { store, close } = await openTestStore('postgres');
    try {
      const { orgId } = await newOrg(store);
      const env = { DATABASE_URL: process.env.ROLEGATE_TEST_DATABASE_URL! };
      const run = await rolegate(
        ['key', 'create', '--org', orgId, '--name', 'agent', '--scope', 'approval:request'],
        env,
      );
      expect(run).toMatchObject({
        code: 1,
        stderr:
          'rolegate: unknown scope "approval:request"; expected one of: decisions:check, directory:read, approvals:request\n',
      });
      expect(await store.auditLog(orgId, { first: 100 })).toHaveLength(1);
    } finally {
      await close();
    }
  });
});
