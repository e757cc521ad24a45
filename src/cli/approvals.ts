import { Command, InvalidArgumentError } from 'commander';
import { APPROVAL_STATUSES, notFound, openStore, type ApprovalStatus } from '../store';
import { storeConfig, withStoreOptions } from './store-options';

/**
 * `rolegate approvals list --org ID [--status S] [--kind K] [--limit N]`: every approval request of an
 * organization, newest first, for operators (the API shows each viewer only what they may see). One
 * JSON object per line; the arguments are left out (their hash says what they were).
 */
export function approvalsCommand(): Command {
  const approvals = new Command('approvals').description("an organization's approval requests");
  withStoreOptions(approvals.command('list').description('list approval requests, newest first (JSON lines)'))
    .requiredOption('--org <id>', 'organization id')
    .option('--status <status>', `only this status (${APPROVAL_STATUSES.join(', ')})`, (value: string) => {
      const status = value.toUpperCase();
      if (!(APPROVAL_STATUSES as readonly string[]).includes(status))
        throw new InvalidArgumentError(`expected one of ${APPROVAL_STATUSES.join(', ')}`);
      return status;
    })
    .option('--kind <kind>', 'only this approval kind, e.g. tool_use')
    .option('--limit <n>', 'at most this many (default 100)', (value: string) => {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 1 || n > 10_000)
        throw new InvalidArgumentError('expected a whole number from 1 to 10000');
      return n;
    })
    .action(
      async (options: {
        org: string;
        status?: ApprovalStatus;
        kind?: string;
        limit?: number;
        databaseUrl?: string;
        dataDir?: string;
      }) => {
        const store = await openStore(storeConfig(options));
        try {
          if (!(await store.organizations.get(options.org))) throw notFound('organization', options.org);
          const requests = await store.approvals.listAll(options.org, {
            status: options.status,
            kind: options.kind,
            first: options.limit ?? 100,
          });
          for (const r of requests) {
            const { arguments: _omitted, orgId: _org, ...shown } = r;
            process.stdout.write(`${JSON.stringify(shown)}\n`);
          }
        } finally {
          await store.close();
        }
      },
    );
  return approvals;
}
