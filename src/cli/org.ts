import { Command, Option } from 'commander';
import { developmentTokenFor } from '../identity/dev-token';
import { authConfigFromEnv, developmentSecret, signDevelopmentToken } from '../identity/tokens';
import { tokenFromServer } from './dev-token-client';
import { createOrganization, seedDemo } from './setup';
import { openWriterServices } from '../app/gateway';
import { ConfigError, loadConfig } from '../config';
import { openStore, type Store } from '../store';
import { storeConfig, withStoreOptions } from './store-options';

type StoreOptions = { databaseUrl?: string; dataDir?: string };

/**
 * Opens the store for a command. With PostgreSQL and REDIS_URL, writes go through the shared cache as
 * the gateway's do (marked before they commit, published after), so running replicas see them at once.
 */
async function withStore<T>(options: StoreOptions, fn: (store: Store) => Promise<T>): Promise<T> {
  const config = storeConfig(options);
  const opened = await openStore(config);
  try {
    const writer = await openWriterServices({ db: opened.db, redisUrl: config.redisUrl });
    try {
      return await fn(writer.store);
    } finally {
      await writer.close();
    }
  } finally {
    await opened.close();
  }
}

/** A development token, or null in production (where tokens come from the identity provider). */
export async function devToken(store: Store, orgId: string, userId: string): Promise<string | null> {
  if (loadConfig().env === 'production') return null;
  const auth = authConfigFromEnv();
  return signDevelopmentToken(await developmentSecret(store, auth), { orgId, userId }, auth);
}

/** `rolegate init --preset --org --owner`: prints {orgId, ownerId, token}. */
export function initCommand(): Command {
  return withStoreOptions(
    new Command('init').description(
      'create an organization from a preset (or a catalog file) with its owner',
    ),
  )
    .requiredOption('--preset <name|file>', 'junto, juno, jrni, or a catalog YAML file')
    .requiredOption('--org <name>', "the organization's name")
    .requiredOption('--owner <email>', "the owner's email")
    .action(async (options: StoreOptions & { preset: string; org: string; owner: string }) => {
      await withStore(options, async (store) => {
        const { orgId, ownerId } = await createOrganization(store, {
          preset: options.preset,
          name: options.org,
          ownerEmail: options.owner,
        });
        const token = await devToken(store, orgId, ownerId);
        process.stdout.write(`${JSON.stringify({ orgId, ownerId, token }, null, 2)}\n`);
      });
    });
}

/**
 * `rolegate token --org --user [--url]`: a development token (refused in production). It asks the
 * running gateway first (POST /dev/token at --url, default http://127.0.0.1:$PORT), since the embedded
 * store is one process's; when nothing listens there, it opens the store itself.
 */
export function tokenCommand(): Command {
  return withStoreOptions(
    new Command('token').description(
      'print a development token for a user (development only): from the running gateway, else from the store',
    ),
  )
    .requiredOption('--org <id>', 'organization id')
    .requiredOption('--user <email|id>', "the user's email or id")
    .option('--url <url>', 'the running gateway (default http://127.0.0.1:$PORT, PORT default 4000)')
    .action(async (options: StoreOptions & { org: string; user: string; url?: string }) => {
      const config = loadConfig();
      if (config.env === 'production')
        throw new ConfigError('development tokens are refused in production (ROLEGATE_ENV=production)');
      const served = await tokenFromServer(
        options.url ?? `http://127.0.0.1:${config.port}`,
        options.org,
        options.user,
      );
      const token =
        served ??
        (await withStore(
          options,
          async (store) =>
            (await developmentTokenFor(store, authConfigFromEnv(), options.org, options.user)).token,
        ));
      process.stdout.write(`${token}\n`);
    });
}

/** `rolegate seed --preset`: a demo organization with locations, teams and users. */
export function seedCommand(): Command {
  return withStoreOptions(new Command('seed').description('create a demo organization for a preset'))
    .addOption(
      new Option('--preset <name>', 'the preset').choices(['junto', 'juno', 'jrni']).makeOptionMandatory(),
    )
    .action(async (options: StoreOptions & { preset: 'junto' | 'juno' | 'jrni' }) => {
      await withStore(options, async (store) => {
        const demo = await seedDemo(store, options.preset);
        const token = await devToken(store, demo.orgId, demo.ownerId);
        process.stdout.write(`${JSON.stringify({ ...demo, token }, null, 2)}\n`);
      });
    });
}

/** `rolegate key create --org --name --scope`: an API key for a service; the token is printed once. */
export function keyCommand(): Command {
  const key = new Command('key').description('API keys for services (subgraphs)');
  withStoreOptions(
    key.command('create').description('create an API key; its token is shown once, only a hash is kept'),
  )
    .requiredOption('--org <id>', 'organization id')
    .requiredOption('--name <name>', 'what the key is for, e.g. "billing subgraph"')
    .option('--scope <scope...>', 'scopes, e.g. decisions:check (default: decisions:check)', [
      'decisions:check',
    ])
    .action(async (options: StoreOptions & { org: string; name: string; scope: string[] }) => {
      await withStore(options, async (store) => {
        const { result } = await store.apiKeys.create(
          { orgId: options.org, actor: 'cli' },
          { name: options.name, scopes: options.scope },
        );
        process.stdout.write(
          `${JSON.stringify({ id: result.key.id, scopes: result.key.scopes, token: result.token }, null, 2)}\n`,
        );
      });
    });
  withStoreOptions(
    key.command('revoke').description('revoke an API key: its token authenticates nothing more'),
  )
    .requiredOption('--org <id>', 'organization id')
    .requiredOption('--id <keyId>', "the key's id (printed by `key create`)")
    .action(async (options: StoreOptions & { org: string; id: string }) => {
      await withStore(options, async (store) => {
        const { result } = await store.apiKeys.revoke({ orgId: options.org, actor: 'cli' }, options.id);
        process.stdout.write(`${JSON.stringify({ id: result.id, revokedAt: result.revokedAt }, null, 2)}\n`);
      });
    });
  return key;
}
