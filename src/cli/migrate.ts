import { Command } from 'commander';
import { describeStore } from '../config';
import { migrate, openDb } from '../store';
import { storeConfig, withStoreOptions } from './store-options';

/** `rolegate migrate`: applies the migrations the database lacks. Safe to run from several places at once. */
export function migrateCommand(): Command {
  return withStoreOptions(new Command('migrate').description('apply pending database migrations')).action(
    async (options: { databaseUrl?: string; dataDir?: string }) => {
      const config = storeConfig(options);
      const db = await openDb(config);
      try {
        const applied = await migrate(db);
        process.stdout.write(
          applied.length
            ? `${describeStore(config)}: applied ${applied.map((v) => String(v).padStart(3, '0')).join(', ')}\n`
            : `${describeStore(config)}: up to date\n`,
        );
      } finally {
        await db.close();
      }
    },
  );
}
