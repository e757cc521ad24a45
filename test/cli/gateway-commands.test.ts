import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { rolegate } from '../support/cli';
import { freePort } from '../support/postgres-server';

/** The gateway's commands as a newcomer runs them: serve (first start), init, token, seed, key. */

const withDir = async (fn: (dir: string) => Promise<void>) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'rolegate-cli-'));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

it('a first start in development creates a demo and prints a curl that answers', async () => {
  await withDir(async (dir) => {
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [require.resolve('tsx/cli'), 'src/cli/main.ts', 'serve', '--port', String(port), '--data-dir', dir],
      {
        env: { ...process.env, NODE_OPTIONS: '', ROLEGATE_ENV: 'development', ROLEGATE_JWT_SECRET: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    try {
      let out = '';
      child.stdout.on('data', (b: Buffer) => (out += b.toString()));
      const deadline = Date.now() + 90_000;
      while (!/^curl .*$/m.test(out)) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no curl printed:\n${out}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      const curl = /^curl (.*)$/m.exec(out)![1]!;
      // Run what the printed command would send.
      const url = /(http:\/\/\S+)/.exec(curl)![1]!;
      const auth = /-H 'authorization: ([^']+)'/.exec(curl)![1]!;
      const body = /-d '(.*)'$/.exec(curl)![1]!;
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: auth },
        body,
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({
        data: { check: { allowed: true, outcome: 'ALLOW', reason: expect.stringContaining('owner') } },
      });
      expect(await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()).toEqual({ status: 'ok' });
      expect(await (await fetch(`http://127.0.0.1:${port}/readyz`)).json()).toMatchObject({
        status: 'ready',
      });
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  });
});

it('init prints the organization, its owner and a working token; token and key create do their part', async () => {
  await withDir(async (dir) => {
    const init = await rolegate([
      'init',
      '--preset',
      'junto',
      '--org',
      'Acme',
      '--owner',
      'boss@acme.test',
      '--data-dir',
      dir,
    ]);
    expect(init.code).toBe(0);
    const { orgId, ownerId, token } = JSON.parse(init.stdout) as {
      orgId: string;
      ownerId: string;
      token: string;
    };
    expect(token.split('.')).toHaveLength(3);
    const again = await rolegate(['token', '--org', orgId, '--user', 'BOSS@acme.test', '--data-dir', dir]);
    expect(again.code).toBe(0);
    expect(JSON.parse(Buffer.from(again.stdout.trim().split('.')[1]!, 'base64url').toString())).toMatchObject(
      { org: orgId, sub: ownerId },
    );
    const missing = await rolegate([
      'token',
      '--org',
      orgId,
      '--user',
      'nobody@acme.test',
      '--data-dir',
      dir,
    ]);
    expect(missing).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('user nobody@acme.test does not exist'),
    });
    const production = await rolegate(['token', '--org', orgId, '--user', ownerId, '--data-dir', dir], {
      ROLEGATE_ENV: 'production',
    });
    expect(production).toMatchObject({ code: 1, stderr: expect.stringContaining('refused in production') });
    const key = await rolegate([
      'key',
      'create',
      '--org',
      orgId,
      '--name',
      'billing subgraph',
      '--data-dir',
      dir,
    ]);
    expect(JSON.parse(key.stdout)).toMatchObject({
      scopes: ['decisions:check'],
      token: expect.stringMatching(/^rgk_/),
    });
    const seed = await rolegate(['seed', '--preset', 'juno', '--data-dir', dir]);
    expect(JSON.parse(seed.stdout)).toMatchObject({
      orgId: expect.any(String),
      teams: { web: expect.any(String), mobile: expect.any(String) },
    });
    const badPreset = await rolegate([
      'init',
      '--preset',
      'nope',
      '--org',
      'X',
      '--owner',
      'x@x.test',
      '--data-dir',
      dir,
    ]);
    expect(badPreset).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('nope: cannot read the catalog: no such file'),
    });
  });
}, 180_000); // six CLI processes, each starting from source: a loaded 2-core machine took over 60 s
