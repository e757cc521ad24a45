import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { freePort } from './postgres-server';
import { TEST_AUTH } from './gateway';

/** A gateway running in its own process (`rolegate serve`), as a replica would in production. */
export interface Replica {
  name: string;
  url: string;
  /** What it wrote to stderr (its log lines). */
  stderr(): string;
  /** Its exit code, or null while it runs. */
  exitCode(): number | null;
  stop(): Promise<void>;
}

const ROOT = path.resolve(__dirname, '..', '..');

/** Starts `rolegate serve` from source on a free loopback port, over PostgreSQL and Redis. */
export async function startReplica(
  name: string,
  env: { databaseUrl: string; redisUrl?: string },
): Promise<Replica> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    process.execPath,
    [require.resolve('tsx/cli'), 'src/cli/main.ts', 'serve', '--port', String(port)],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        NODE_OPTIONS: '',
        DATABASE_URL: env.databaseUrl,
        REDIS_URL: env.redisUrl ?? '',
        ROLEGATE_ENV: 'development',
        ROLEGATE_JWT_SECRET: TEST_AUTH.secret,
        ROLEGATE_JWT_ISSUER: TEST_AUTH.issuer,
        ROLEGATE_JWT_AUDIENCE: TEST_AUTH.audience,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`replica ${name} did not start: ${err}`)), 60_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('gateway on')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`replica ${name} exited with ${code}: ${err}`));
    });
  });
  return {
    name,
    url: `http://127.0.0.1:${port}/graphql`,
    stderr: () => err,
    exitCode: () => child.exitCode ?? (child.signalCode ? -1 : null),
    async stop() {
      if (child.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
      });
    },
  };
}
