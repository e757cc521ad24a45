import type { Command } from 'commander';
import { loadConfig, type Config } from '../config';

/** `--database-url` and `--data-dir`, for every command that opens the store. */
export function withStoreOptions(command: Command): Command {
  return command
    .option(
      '--database-url <url>',
      'PostgreSQL connection string (env DATABASE_URL; default: the embedded store)',
    )
    .option('--data-dir <dir>', 'embedded store folder (env ROLEGATE_DATA_DIR; default ./data)');
}

export function storeConfig(options: { databaseUrl?: string; dataDir?: string }): Config {
  return loadConfig(process.env, {
    ...(options.databaseUrl ? { databaseUrl: options.databaseUrl } : {}),
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
  });
}
