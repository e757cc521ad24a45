/**
 * The image, built the way its Dockerfile says, with no Docker engine: each stage's instructions are read
 * from the Dockerfile and run in a temporary folder that stands for the stage's file system, then the
 * gateway is started from the runtime stage with the image's environment and command, and answers.
 *
 * - The build context is a temporary copy of the files git knows (tracked, and untracked ones it does not
 *   ignore) less what .dockerignore leaves out: what `docker build .` sends from a checkout.
 * - WORKDIR, ENV, COPY (from the context or `--from` a stage) and RUN are carried out; RUN runs the `npm`
 *   commands exactly as written, in the stage's WORKDIR with the stage's ENV. An instruction or command
 *   this file does not know fails the test and names the line: the test follows the Dockerfile, it does
 *   not restate it.
 * - Differences from a container, on purpose: the tests' Node runs everything (the image's is the LTS of
 *   its FROM line; both are within package.json's engines); ownership (`chown`, USER) is not changed;
 *   `npm cache clean` is skipped, so npm reuses this machine's cache (the image drops its own to stay
 *   small); the gateway listens on 127.0.0.1 and a free port, in development mode (the image's production
 *   default needs a real token issuer), with its data in the runtime stage's ROLEGATE_DATA_DIR.
 *
 * Two `npm ci` and a TypeScript build: minutes, not seconds. Needs the npm registry (or a warm cache).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { dockerignored, envOf, execForm, parseDockerfile, words, type Stage } from '../support/dockerfile';

const ROOT = path.resolve(__dirname, '..', '..');
const read = (file: string): string => readFileSync(path.join(ROOT, file), 'utf8');

const parsed = parseDockerfile(read('Dockerfile'));
if (parsed.problems.length) throw new Error(parsed.problems.join('\n'));
const stages = parsed.stages;
const pkg = JSON.parse(read('package.json')) as { dependencies: Record<string, string> };
const lock = JSON.parse(read('package-lock.json')) as {
  packages: Record<string, { dev?: boolean; optional?: boolean; devOptional?: boolean }>;
};

/** One stage's file system, as a host folder, and its state while its instructions run. */
interface BuiltStage {
  name?: string;
  root: string;
  workdir: string;
  env: Record<string, string>;
  healthcheck?: { timeoutMs: number; command: string[] };
  cmd?: string[];
}

/** A path of the stage's file system (absolute, or relative to its WORKDIR) on the host. */
const onHost = (stage: BuiltStage, containerPath: string): string =>
  path.join(stage.root, path.posix.resolve(stage.workdir, containerPath));

/**
 * The environment npm runs in: this machine's (its PATH, HOME, proxies and npm settings such as the
 * registry and cache), without what the test run itself adds (npm's lifecycle variables from `npm test`,
 * jest's NODE_ENV, NODE_OPTIONS) or what the tests configure rolegate with.
 */
function hostEnv(): Record<string, string> {
  const env: Record<string, string> = { PATH: hostPath() };
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined || key === 'PATH') continue;
    if (/^npm_/.test(key) && !/^npm_config_/.test(key)) continue;
    if (/^(npm_config_local_prefix|NODE_ENV|NODE_OPTIONS|INIT_CWD|JEST_WORKER_ID)$/.test(key)) continue;
    if (/^(ROLEGATE_|DATABASE_URL$|REDIS_URL$|PORT$|HOST$)/.test(key)) continue;
    env[key] = value;
  }
  return env;
}

/**
 * This machine's PATH without the `node_modules/.bin` folders `npm test` puts first: a stage must find its
 * own tools (npm run adds the stage's), never the repository's.
 */
const hostPath = (): string =>
  (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin')
    .split(path.delimiter)
    .filter((dir) => !dir.split(path.sep).includes('node_modules'))
    .join(path.delimiter);

/** Runs a program to its end; rejects with the end of its output when it fails. */
function run(command: string, args: string[], options: { cwd: string; env: Record<string, string> }) {
  return new Promise<void>((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-20_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else
        reject(
          new Error(`${command} ${args.join(' ')} (in ${options.cwd}) ended ${signal ?? code}:\n${output}`),
        );
    });
  });
}

/** Carries out one stage's instructions, in order; `context` is the build context, `built` the earlier stages. */
async function buildStage(stage: Stage, root: string, context: string, built: BuiltStage[]) {
  const state: BuiltStage = {
    root,
    workdir: '/',
    env: {},
    ...(stage.name ? { name: stage.name } : {}),
  };
  mkdirSync(root, { recursive: true });
  for (const { keyword, args, line } of stage.instructions) {
    const where = `Dockerfile:${line}: ${keyword} ${args}`;
    switch (keyword) {
      case 'WORKDIR':
        state.workdir = path.posix.resolve(state.workdir, args);
        mkdirSync(onHost(state, '.'), { recursive: true });
        break;
      case 'ENV':
        Object.assign(state.env, envOf(args));
        break;
      case 'COPY':
        copy(state, args, context, built, where);
        break;
      case 'RUN':
        await runShell(state, args, where);
        break;
      case 'USER': // ownership is the image's (see the top of the file)
      case 'EXPOSE': // the gateway gets a free port here
        break;
      case 'HEALTHCHECK': {
        const parsed = /^((?:--[a-z-]+=\S+\s+)*)CMD\s+([\s\S]*)$/.exec(args);
        const command = parsed && execForm(parsed[2] ?? '');
        if (!command) throw new Error(`${where}: expected HEALTHCHECK [flags] CMD ["…"]`);
        const timeout = /--timeout=(\d+)s\b/.exec(parsed[1] ?? '')?.[1];
        state.healthcheck = { timeoutMs: Number(timeout ?? 30) * 1000, command };
        break;
      }
      case 'CMD': {
        const command = execForm(args);
        if (!command) throw new Error(`${where}: expected the exec form, CMD ["…"]`);
        state.cmd = command;
        break;
      }
      default:
        throw new Error(`${where}: test/deploy/image.test.ts does not know ${keyword}; teach it`);
    }
  }
  return state;
}

/** COPY [--from=stage] src… dest: a folder's contents, or files, into the stage, as Docker copies them. */
function copy(stage: BuiltStage, args: string, context: string, built: BuiltStage[], where: string) {
  const parts = words(args);
  const flags = parts.filter((p) => p.startsWith('--'));
  const paths = parts.filter((p) => !p.startsWith('--'));
  let from: BuiltStage | undefined;
  for (const flag of flags) {
    const [name = '', value = ''] = flag.slice(2).split('=');
    if (name === 'from') {
      from = built.find((b, i) => b.name === value || String(i) === value);
      if (!from) throw new Error(`${where}: no earlier stage ${value}`);
    } else if (name !== 'chown' && name !== 'chmod' && name !== 'link') {
      throw new Error(`${where}: the flag --${name} is not understood here`);
    }
  }
  const dest = paths.pop();
  if (!dest || paths.length === 0) throw new Error(`${where}: expected COPY src… dest`);
  const target = onHost(stage, dest);
  const intoFolder = dest.endsWith('/') || paths.length > 1;
  for (const source of paths) {
    if (/[*?[]/.test(source)) throw new Error(`${where}: wildcards are not understood here`);
    const hostSource = from
      ? path.join(from.root, path.posix.resolve('/', source))
      : path.join(context, path.posix.normalize(`/${source}`));
    if (!existsSync(hostSource)) throw new Error(`${where}: ${source} does not exist`);
    if (statSync(hostSource).isDirectory()) cpSync(hostSource, target, { recursive: true });
    else cpSync(hostSource, intoFolder ? path.join(target, path.basename(source)) : target);
  }
}

/** RUN in the shell form: `&&`-joined commands this test knows how to carry out. */
async function runShell(stage: BuiltStage, args: string, where: string) {
  if (execForm(args) || /[;|<>`$\n]/.test(args))
    throw new Error(`${where}: only commands joined by && are understood here`);
  for (const command of args.split('&&').map((c) => words(c.trim()))) {
    const [program = '', ...rest] = command;
    if (program === 'npm' && rest[0] === 'cache') continue; // the machine's cache: kept for the next run
    if (program === 'npm') {
      await run('npm', rest, { cwd: onHost(stage, '.'), env: { ...hostEnv(), ...stage.env } });
    } else if (program === 'mkdir') {
      for (const dir of rest.filter((a) => !a.startsWith('-')))
        mkdirSync(onHost(stage, dir), { recursive: true });
    } else if (program === 'chown') {
      // Ownership is the image's; here the folders must only exist.
      for (const file of rest.slice(1).filter((a) => !a.startsWith('-'))) {
        if (!existsSync(onHost(stage, file))) throw new Error(`${where}: chown of a missing ${file}`);
      }
    } else {
      throw new Error(
        `${where}: test/deploy/image.test.ts does not know how to run \`${program}\`; teach it`,
      );
    }
  }
}

/** The files git knows of (tracked, and untracked ones it does not ignore), less what .dockerignore leaves out. */
async function buildContext(into: string): Promise<string[]> {
  const listing = await new Promise<string>((resolve, reject) => {
    const git = spawn('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT });
    let out = '';
    git.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    git.on('error', reject);
    git.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`git ls-files ended ${code}`))));
  });
  const ignored = dockerignored(read('.dockerignore'));
  const files = [...new Set(listing.split('\0'))].filter(
    (file) => file !== '' && !ignored(file) && existsSync(path.join(ROOT, file)),
  );
  for (const file of files) cpSync(path.join(ROOT, file), path.join(into, file));
  return files;
}

/** A TCP port nobody listens on right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** Resolves with the first match of `pattern` in what the process prints; rejects if it ends or takes too long. */
function waitForOutput(child: ChildProcess, output: () => string, pattern: RegExp, timeoutMs: number) {
  return new Promise<RegExpExecArray>((resolve, reject) => {
    const check = () => {
      const match = pattern.exec(output());
      if (match) finish(() => resolve(match));
    };
    const ended = (code: number | null, signal: string | null) =>
      finish(() =>
        reject(new Error(`the gateway ended (${signal ?? code}) before it printed ${pattern}:\n${output()}`)),
      );
    const timer = setTimeout(
      () => finish(() => reject(new Error(`no ${pattern} within ${timeoutMs} ms:\n${output()}`))),
      timeoutMs,
    );
    const finish = (then: () => void) => {
      clearTimeout(timer);
      child.stdout?.off('data', check);
      child.off('exit', ended);
      then();
    };
    child.stdout?.on('data', check);
    child.on('exit', ended);
    check();
  });
}

/** Runs a command (exec form, `node` being this Node) and gives its exit code. */
function exitCode(command: string[], env: Record<string, string>, cwd: string, timeoutMs: number) {
  const [program, ...args] = command;
  if (program !== 'node') throw new Error(`expected a node command, got ${command.join(' ')}`);
  return new Promise<number | null>((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd, env, stdio: 'ignore', timeout: timeoutMs });
    child.on('error', reject);
    child.on('exit', (code) => resolve(code));
  });
}

describe('the image, built from its Dockerfile without Docker', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'rolegate-image-'));
  const context = path.join(tmp, 'context');
  const built: BuiltStage[] = [];
  let gateway: ChildProcess | undefined;

  afterAll(async () => {
    if (gateway && gateway.exitCode === null && gateway.signalCode === null) {
      const exited = new Promise((resolve) => gateway?.once('exit', resolve));
      gateway.kill('SIGKILL');
      await exited;
    }
    // Two node_modules trees (about 50,000 files): deleting them took 30-70 s of this file's time on a
    // loaded 2-core machine, and checks nothing. A detached `rm -rf` deletes them while the next test
    // files run; if rm cannot be started, they are deleted here as before.
    const rm = spawn('rm', ['-rf', tmp], { detached: true, stdio: 'ignore' });
    rm.on('error', () => rmSync(tmp, { recursive: true, force: true }));
    rm.unref();
  });

  it('has a build context: the sources, the lock file, no node_modules and no local state', async () => {
    const files = await buildContext(context);
    for (const needed of ['package.json', 'package-lock.json', 'tsconfig.build.json', 'bin/rolegate.js'])
      expect(files).toContain(needed);
    expect(files.filter((f) => /(^|\/)(node_modules|dist|data|\.git)\//.test(f))).toEqual([]);
  });

  stages.forEach((stage, i) => {
    it(`builds stage ${stage.name ?? i} (FROM ${stage.base}) as its instructions say`, async () => {
      expect(existsSync(path.join(context, 'package.json'))).toBe(true);
      built.push(await buildStage(stage, path.join(tmp, `stage-${i}`), context, built));
    }, 900_000);
  });

  it('has, in the runtime stage, the production dependencies only and the compiled code, not the sources', () => {
    const runtime = built[stages.length - 1];
    if (!runtime) throw new Error('the runtime stage was not built');
    const app = onHost(runtime, '.');
    // The lock file says which packages production needs (not `dev`); optional ones depend on the platform.
    const present = (where: string) => existsSync(path.join(app, where, 'package.json'));
    const packages = Object.entries(lock.packages).filter(([where]) => where !== '');
    expect(
      packages.filter(([where, p]) => !p.dev && !p.optional && !p.devOptional && !present(where)),
    ).toEqual([]);
    expect(packages.filter(([where, p]) => p.dev && present(where)).map(([where]) => where)).toEqual([]);
    expect(Object.keys(pkg.dependencies).filter((name) => !present(`node_modules/${name}`))).toEqual([]);
    expect(present('node_modules/typescript')).toBe(false);
    expect(existsSync(path.join(app, 'dist', 'cli', 'main.js'))).toBe(true);
    // The development landing page's explorer, bundled at build time (graphiql itself is a dev dependency).
    expect(existsSync(path.join(app, 'dist', 'explorer', 'index.html'))).toBe(true);
    expect(existsSync(path.join(app, 'src'))).toBe(false);
    expect(existsSync(path.join(app, 'tsconfig.json'))).toBe(false);
  });

  it('serves /healthz, /readyz and GraphQL, passes its HEALTHCHECK, and stops on SIGTERM', async () => {
    const runtime = built[stages.length - 1];
    if (!runtime?.cmd || !runtime.healthcheck) throw new Error('the runtime stage has no CMD or HEALTHCHECK');
    const [program, ...args] = runtime.cmd;
    expect(program).toBe('node');
    const port = await freePort();
    const dataDir = runtime.env.ROLEGATE_DATA_DIR;
    if (!dataDir) throw new Error('the runtime stage sets no ROLEGATE_DATA_DIR');
    // The image's environment, with development tokens, loopback and a free port (see the top of the file).
    const env: Record<string, string> = {
      PATH: hostPath(),
      ...runtime.env,
      ROLEGATE_ENV: 'development',
      HOST: '127.0.0.1',
      PORT: String(port),
      ROLEGATE_DATA_DIR: onHost(runtime, dataDir),
    };
    const cwd = onHost(runtime, '.');
    let output = '';
    gateway = spawn(process.execPath, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    gateway.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    gateway.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));

    // A first start in development with an empty store seeds a demo organization and prints a curl to try.
    const [, url = '', token = '', body = ''] = await waitForOutput(
      gateway,
      () => output,
      /^curl -s (\S+) -H 'content-type: application\/json' -H 'authorization: Bearer (\S+)' -d '(.+)'$/m,
      120_000,
    );
    expect(url).toBe(`http://127.0.0.1:${port}/graphql`);
    const base = url.replace(/\/graphql$/, '');

    const health = await fetch(`${base}/healthz`);
    expect([health.status, await health.json()]).toEqual([200, { status: 'ok' }]);
    const ready = await fetch(`${base}/readyz`);
    expect([ready.status, await ready.json()]).toEqual([
      200,
      { status: 'ready', store: 'ok', redis: 'not configured' },
    ]);

    const ask = (authorization?: string) =>
      fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
        body,
      }).then(async (r) => ({ status: r.status, json: (await r.json()) as any }));
    const answer = await ask(`Bearer ${token}`);
    expect(answer.json.errors).toBeUndefined();
    expect(answer.json.data.check).toMatchObject({ allowed: true });
    const anonymous = await ask();
    expect(anonymous.json.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    // Development's landing page (GraphiQL) and each file it names come from the image itself.
    const landing = await fetch(`${base}/`);
    expect(landing.status).toBe(200);
    const html = await landing.text();
    const assets = [...html.matchAll(/(?:src|href)="(\/explorer\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThan(0);
    for (const asset of assets)
      expect([asset, (await fetch(`${base}${asset}`)).status]).toEqual([asset, 200]);

    const { command, timeoutMs } = runtime.healthcheck;
    // A loaded test machine starts node more slowly than a container host: at least 10 s.
    const probeTimeout = Math.max(timeoutMs, 10_000);
    expect(await exitCode(command, env, cwd, probeTimeout)).toBe(0);

    const exited = new Promise<number | string | null>((resolve) => {
      const timer = setTimeout(() => resolve('still running 15 s after SIGTERM'), 15_000);
      gateway?.once('exit', (code, signal) => {
        clearTimeout(timer);
        resolve(signal ? `killed by ${signal}` : code);
      });
    });
    // `docker stop` sends SIGTERM: `rolegate serve` closes the gateway and the store, then exits with 0.
    gateway.kill('SIGTERM');
    expect(await exited).toBe(0);
    // The healthcheck is not vacuous: with the gateway gone it fails.
    expect(await exitCode(command, env, cwd, probeTimeout)).not.toBe(0);
    // The embedded store wrote to the data folder the image makes writable.
    expect(readdirSync(onHost(runtime, dataDir)).length).toBeGreaterThan(0);
  }, 180_000);
});
