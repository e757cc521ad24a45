import { Command } from 'commander';
import { seedDemo, type DemoUser } from './setup';
import type { ExplorerSettings } from '../api/explorer/landing-page';
import { startGateway } from '../api/server';
import { describeRedis, describeStore, loadConfig } from '../config';
import { openStore } from '../store';
import { devToken } from './org';
import { withStoreOptions } from './store-options';

interface ServeOptions {
  port?: number;
  host?: string;
  databaseUrl?: string;
  dataDir?: string;
  redisUrl?: string;
}

/**
 * `rolegate serve` (what `npm start` runs). On a first start in development with an empty store it
 * creates a demo organization and prints an owner token and a `curl` that runs a check.
 */
export function serveCommand(): Command {
  return withStoreOptions(new Command('serve').description('run the GraphQL gateway'))
    .option('--port <port>', 'HTTP port (env PORT; default 4000)', (v) => Number(v))
    .option('--host <host>', 'address to listen on (default 127.0.0.1; 0.0.0.0 in a container)')
    .option('--redis-url <url>', 'shared cache for several replicas (env REDIS_URL; default: none)')
    .action(async (options: ServeOptions) => {
      const config = loadConfig(process.env, {
        ...(options.port !== undefined ? { port: options.port } : {}),
        ...(options.redisUrl ? { redisUrl: options.redisUrl } : {}),
        ...(options.databaseUrl ? { databaseUrl: options.databaseUrl } : {}),
        ...(options.dataDir ? { dataDir: options.dataDir } : {}),
      });
      const store = await openStore(config);
      let demo: Awaited<ReturnType<typeof seedDemo>> | undefined;
      if (
        config.env === 'development' &&
        !config.databaseUrl &&
        (await store.organizations.list()).length === 0
      ) {
        demo = await seedDemo(store, 'jrni');
      }
      const host = options.host ?? process.env.HOST ?? '127.0.0.1';
      // ioredis rejects a command of a pipeline or transaction that timed out (Redis stalled) on a
      // promise no caller holds; the caller got the pipeline's own answer. That is a lost cache write,
      // not a fault of the gateway: log it instead of letting Node stop the process (seen in the
      // replica test: a replica died with "Command timed out"). Any other unhandled rejection still stops it.
      process.on('unhandledRejection', (reason) => {
        if (reason instanceof Error && reason.message === 'Command timed out') {
          process.stderr.write(
            `${JSON.stringify({ time: new Date().toISOString(), level: 'warn', msg: 'a Redis command timed out', error: reason.message })}\n`,
          );
          return;
        }
        throw reason;
      });
      // A first start's explorer (GraphiQL at /) opens with the demo owner's token and a check to run.
      const token = demo ? await devToken(store, demo.orgId, demo.ownerId) : null;
      const explorer = demo && token ? demoExplorer(token, demo.ownerId) : undefined;
      const gateway = await startGateway({ store, config, host, explorer });
      const out = (line = '') => process.stdout.write(`${line}\n`);
      const redis =
        config.redisUrl && config.databaseUrl ? `, shared cache ${describeRedis(config.redisUrl)}` : '';
      out(`rolegate ${config.env} gateway on ${gateway.url} (${describeStore(config)}${redis})`);
      if (config.env === 'development')
        out(`API explorer (GraphiQL, development only): ${gateway.url.replace(/\/graphql$/, '/')}`);
      if (demo) {
        const query = JSON.stringify({
          query: 'query($input: CheckInput!) { check(input: $input) { allowed outcome reason version } }',
          variables: { input: { userId: demo.ownerId, permission: 'user:create' } },
        });
        out('');
        for (const line of firstStartBanner({ ...demo, ownerToken: token }, { host, port: gateway.port }))
          out(line);
        out('Try it:');
        out(
          `curl -s ${gateway.url} -H 'content-type: application/json' -H 'authorization: Bearer ${token}' -d '${query}'`,
        );
      }
      const stop = async () => {
        await gateway.close();
        await store.close();
        process.exit(0);
      };
      process.once('SIGINT', () => void stop());
      process.once('SIGTERM', () => void stop());
    });
}

/** The explorer of a first start: the owner's token, and a check of theirs ready to run. */
export function demoExplorer(token: string, ownerId: string): ExplorerSettings {
  return {
    headers: { Authorization: `Bearer ${token}` },
    query: `# The owner's token is in Headers.
# Run this check (▶), then open the
# Docs: each field says what it
# requires in this catalog (JRNI).
query Check($input: CheckInput!) {
  check(input: $input) {
    allowed
    outcome
    reason
  }
}
`,
    variables: { input: { userId: ownerId, permission: 'user:create' } },
  };
}

/**
 * What a first start says about its demo: the organization, its users (email and what they hold), and
 * how to get any of their tokens while the gateway runs (POST /dev/token, or `rolegate token`, which
 * asks the gateway). /dev/token answers loopback only, so a gateway listening on every interface is
 * asked at 127.0.0.1.
 */
export function firstStartBanner(
  demo: { orgId: string; ownerId: string; ownerToken: string | null; users: DemoUser[] },
  where: { host: string; port: number },
): string[] {
  const host = ['0.0.0.0', '::', '[::]', ''].includes(where.host) ? '127.0.0.1' : where.host;
  const base = `http://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${where.port}`;
  const width = Math.max(...demo.users.map((u) => u.email.length));
  const example = demo.users[1]?.email ?? demo.users[0]!.email;
  return [
    'First start: created a demo organization from the JRNI preset (rolegate seed --preset jrni).',
    `  organization ${demo.orgId}, owner ${demo.ownerId}`,
    ...(demo.ownerToken ? [`  owner token (development, 12 h): ${demo.ownerToken}`] : []),
    '  users:',
    ...demo.users.map((u) => `    ${u.email.padEnd(width)}  ${u.role}`),
    '',
    'A token for any of them while the gateway runs (development only; loopback callers, no browsers):',
    `  curl -s ${base}/dev/token -H 'content-type: application/json' -d '${JSON.stringify({ org: demo.orgId, user: example })}'`,
    `  npx rolegate token --org ${demo.orgId} --user ${example}${where.port === 4000 ? '' : ` --url ${base}`}`,
    '',
  ];
}
