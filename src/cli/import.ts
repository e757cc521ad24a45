import { readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { Command, Option } from 'commander';
import type { ImportMode, ImportProgress, ImportReport } from '../admin/import';
import { operatorContext } from '../api/context';
import { openOperatorServices } from '../app/gateway';
import { ConfigError } from '../config';
import { IMPORT_LIMITS, type ImportFormat } from '../import';
import { notFound, openStore, StoreError } from '../store';
import { storeConfig, withStoreOptions } from './store-options';

/**
 * `rolegate import users --org ID --file users.csv|users.xlsx [--dry-run] [--on-existing fail|skip|update]`.
 *
 * The command runs the API's administration rules, acting with the rights of the organization's
 * owner (its first active owner): the operator, who holds the store's credentials, could write
 * anything, but an import through the command line still obeys the catalog and every invariant
 * (roles that exist and fit their scope, Juno's organization-wide role, owners' flags, an active owner
 * left) and never gives what the organization's own owner could not. The audit entry's actor is
 * `cli`, and its summary names the owner whose rights were used (`as`).
 */
export function importCommand(): Command {
  const command = new Command('import').description('import into an organization');
  withStoreOptions(
    command
      .command('users')
      .description(
        `import users from a CSV or XLSX file, all or nothing, with the organization owner's rights (at most ${mib(IMPORT_LIMITS.fileBytes)} and ${IMPORT_LIMITS.rows.toLocaleString('en-US')} rows)`,
      ),
  )
    .requiredOption('--org <id>', 'organization id')
    .requiredOption('--file <path>', 'a .csv or .xlsx file (header: email, name, roles, flags)')
    .addOption(
      new Option('--format <format>', 'the file format (default: from the file name)').choices([
        'csv',
        'xlsx',
      ]),
    )
    .option('--dry-run', 'check every row and say what would happen, writing nothing')
    .addOption(
      new Option('--on-existing <mode>', 'a row naming an existing user: fail, skip it, or update it')
        .choices(['fail', 'skip', 'update'])
        .default('fail'),
    )
    .action(
      async (options: {
        org: string;
        file: string;
        format?: ImportFormat;
        dryRun?: boolean;
        onExisting: ImportMode;
        databaseUrl?: string;
        dataDir?: string;
      }) => {
        const format = options.format ?? formatOf(options.file);
        const name = path.basename(options.file);
        // A file far too large is not read at all (the import refuses it whole anyway).
        if ((await stat(options.file)).size > 2 * IMPORT_LIMITS.fileBytes)
          throw new ConfigError(`${name} is larger than an import takes (${mib(IMPORT_LIMITS.fileBytes)})`);
        const content = await readFile(options.file);
        const config = storeConfig(options);
        const opened = await openStore(config);
        try {
          const services = await openOperatorServices({ db: opened.db, redisUrl: config.redisUrl });
          try {
            const state = await services.orgStates.load(options.org);
            if (!state) throw notFound('organization', options.org);
            const ownerId = await services.store.assignments.activeOwner(
              options.org,
              state.catalog.ownerRole,
            );
            if (!ownerId)
              throw new StoreError('CONFLICT', `organization ${options.org} has no active owner to act as`);
            const ctx = await operatorContext(
              services,
              { kind: 'user', orgId: options.org, userId: ownerId },
              { actor: 'cli', audit: { as: ownerId } },
            );
            if (!ctx) throw notFound('organization', options.org);
            const [owner] = await services.store.users.getMany(options.org, [ownerId]);
            process.stderr.write(
              `acting with the rights of the organization's owner, ${owner?.email ?? ownerId}\n`,
            );
            const progress = progressBar(name);
            const report = await ctx.admin
              .importUsers(
                { format, content, dryRun: !!options.dryRun, onExisting: options.onExisting },
                progress.update,
              )
              .finally(progress.done);
            printReport(name, report, !!options.dryRun);
          } finally {
            await services.close();
          }
        } finally {
          await opened.close();
        }
      },
    );
  return command;
}

function formatOf(file: string): ImportFormat {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.csv' || ext === '.txt') return 'csv';
  if (ext === '.xlsx') return 'xlsx';
  throw new ConfigError(
    `cannot tell the format of ${path.basename(file)} from its name: give --format csv or xlsx`,
  );
}

/** Errors one per line on stderr; the summary on stdout; exit 1 when nothing was imported for errors. */
function printReport(name: string, report: ImportReport, dryRun: boolean): void {
  for (const e of report.errors)
    process.stderr.write(`row ${e.row}${e.column ? `, ${e.column}` : ''}: ${e.code}: ${e.message}\n`);
  const n = (x: number) => x.toLocaleString('en-US');
  const counts = `${n(report.created)} created, ${n(report.updated)} updated, ${n(report.skipped)} skipped`;
  if (report.errors.length) {
    const more = report.errors.length >= IMPORT_LIMITS.errors ? ' (the first ones: there may be more)' : '';
    process.stdout.write(
      `${name}: not imported, ${n(report.errors.length)} error${report.errors.length === 1 ? '' : 's'}${more}; nothing written\n`,
    );
    process.exitCode = 1;
  } else if (dryRun) {
    process.stdout.write(`${name}: dry run of ${n(report.rows)} rows: would be ${counts}; nothing written\n`);
  } else if (report.version === null) {
    process.stdout.write(`${name}: ${n(report.rows)} rows: ${counts}; nothing to write\n`);
  } else {
    process.stdout.write(`${name}: imported ${n(report.rows)} rows: ${counts} (version ${report.version})\n`);
  }
}

/**
 * A progress line on stderr while checking the rows of a large file, on a terminal only (a pipe or a
 * log gets the summary alone).
 */
function progressBar(name: string): { update: ImportProgress; done: () => void } {
  const tty = process.stderr.isTTY === true;
  let shown = false;
  const show = (text: string) => {
    process.stderr.write(`\r\x1b[2K${text}`);
    shown = true;
  };
  return {
    update: (step, done, total) => {
      if (!tty) return;
      if (step === 'read') show(`${name}: reading…`);
      else if (step === 'check' && total >= 1_000)
        show(
          `${name}: checking rows ${done.toLocaleString('en-US')}/${total.toLocaleString('en-US')} (${Math.floor((100 * done) / total)}%)`,
        );
      else if (step === 'write') show(`${name}: writing…`);
    },
    done: () => {
      if (shown) process.stderr.write('\r\x1b[2K');
    },
  };
}

function mib(bytes: number): string {
  return `${bytes / 1024 / 1024} MiB`;
}
