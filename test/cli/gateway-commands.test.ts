import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { rolegate } from '../support/cli';
import { freePort } from '../support/postgres-server';

/** The gateway's commands as a newcomer runs them: serve (first start), init, token, seed, key. */

/** A JWT's claims, unverified. */
const claims = (token: string) =>
  JSON.parse(Buffer.from(token.trim().split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;

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
      // The banner lists the demo users, each with what they hold, and how to get their tokens.
      const orgId = /organization ([0-9a-f-]{36}), owner/.exec(out)![1]!;
      for (const [email, role] of [
        ['owner@jrni.example', 'owner (organization-wide)'],
        ['admin@jrni.example', 'administrator at Parent company'],
        ['manager@jrni.example', 'manager at London'],
        ['userplus@jrni.example', 'user_plus at Leeds (limited to staff-uma)'],
        ['user@jrni.example', 'user at Bristol'],
        ['callcenter@jrni.example', 'call_center at Parent company'],
      ] as const)
        expect(out).toMatch(
          new RegExp(`^ {4}${email.replace(/\./g, '\\.')} +${role.replace(/[()]/g, '\\$&')}$`, 'm'),
        );
      // The printed /dev/token curl, run as printed: a token for that user, while the server runs.
      const devCurl = /^ {2}curl -s (\S+\/dev\/token) -H '([^:]+): ([^']+)' -d '(.*)'$/m.exec(out);
      expect(devCurl).not.toBeNull();
      const [, devUrl, header, value, devBody] = devCurl!;
      expect(JSON.parse(devBody!)).toEqual({ org: orgId, user: 'admin@jrni.example' });
      const minted = await fetch(devUrl!, { method: 'POST', headers: { [header!]: value! }, body: devBody });
      expect(minted.status).toBe(200);
      const { token: adminToken } = (await minted.json()) as { token: string };
      const viewer = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` },
        body: JSON.stringify({ query: '{ viewer { email } }' }),
      });
      expect(await viewer.json()).toEqual({ data: { viewer: { email: 'admin@jrni.example' } } });
      // The printed `rolegate token`, while the server holds the embedded store: asked of the server.
      const cli = /^ {2}npx rolegate token (.*)$/m.exec(out)![1]!.split(' ');
      expect(cli).toEqual([
        '--org',
        orgId,
        '--user',
        'admin@jrni.example',
        '--url',
        `http://127.0.0.1:${port}`,
      ]);
      const asked = await rolegate([
        'token',
        ...cli.slice(0, 3),
        'user@jrni.example',
        ...cli.slice(4),
        '--data-dir',
        dir,
      ]);
      expect(asked).toMatchObject({ code: 0, stderr: '' });
      expect(claims(asked.stdout)).toMatchObject({ org: orgId });
      const refused = await rolegate([
        'token',
        '--org',
        orgId,
        '--user',
        'nobody@jrni.example',
        '--url',
        `http://127.0.0.1:${port}`,
      ]);
      expect(refused).toMatchObject({
        code: 1,
        stderr: `rolegate: user nobody@jrni.example does not exist in organization ${orgId}\n`,
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
    // Nothing listens at PORT: `token` opens the store itself.
    const nobody = { PORT: String(await freePort()) };
    const again = await rolegate(
      ['token', '--org', orgId, '--user', 'BOSS@acme.test', '--data-dir', dir],
      nobody,
    );
    expect(again.code).toBe(0);
    expect(claims(again.stdout)).toMatchObject({ org: orgId, sub: ownerId });
    const missing = await rolegate(
      ['token', '--org', orgId, '--user', 'nobody@acme.test', '--data-dir', dir],
      nobody,
    );
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

it('token says so when what listens at --url is no development gateway', async () => {
  const server = createServer((_req, res) => res.writeHead(404).end('<h1>Not Found</h1>'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const r = await rolegate([
      'token',
      '--org',
      '00000000-0000-4000-8000-000000000000',
      '--user',
      'x@example.com',
      '--url',
      `http://127.0.0.1:${port}/graphql`,
    ]);
    expect(r).toMatchObject({
      code: 1,
      stdout: '',
      stderr: expect.stringMatching(
        /^rolegate: the server at http:\/\/127\.0\.0\.1:\d+ has no \/dev\/token: it is not a rolegate gateway in development mode/,
      ),
    });
  } finally {
    await new Promise((r) => server.close(r));
  }
});
