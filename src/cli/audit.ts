import { Command } from 'commander';
import { openStore } from '../store';
import { storeConfig, withStoreOptions } from './store-options';

/** `rolegate audit verify --org ID`: exit 0 when the chain is whole, 1 naming the first bad entry. */
export function auditCommand(): Command {
  const audit = new Command('audit').description("check an organization's tamper-evident audit log");
  withStoreOptions(
    audit
      .command('verify')
      .description('recompute the hash chain and name the first entry edited, deleted or reordered'),
  )
    .requiredOption('--org <id>', 'organization id')
    .action(async (options: { org: string; databaseUrl?: string; dataDir?: string }) => {
      const store = await openStore(storeConfig(options));
      try {
        const verdict = await store.verifyAudit(options.org);
        if (verdict.ok) {
          process.stdout.write(`ok: ${verdict.checked} entries, chained from 1 to ${verdict.version}\n`);
        } else {
          process.stdout.write(`TAMPERED: entry ${verdict.firstBad!.seq}: ${verdict.firstBad!.problem}\n`);
          process.exitCode = 1;
        }
      } finally {
        await store.close();
      }
    });
  return audit;
}
