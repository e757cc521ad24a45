import { Command } from 'commander';
import { CatalogError } from '../catalog';
import { ConfigError } from '../config';
import { CommandError } from './command-error';
import { ImportFileError } from '../import';
import { StoreError } from '../store';
import { approvalsCommand } from './approvals';
import { auditCommand } from './audit';
import { catalogCommand } from './catalog';
import { importCommand } from './import';
import { migrateCommand } from './migrate';
import { initCommand, keyCommand, seedCommand, tokenCommand } from './org';
import { schemaCommand } from './schema';
import { serveCommand } from './serve';

/** The `rolegate` command line. Each subcommand lives in its own file and sets `process.exitCode`. */
const program = new Command()
  .name('rolegate')
  .description('rolegate — a GraphQL authorization gateway driven by a declarative permission catalog')
  .showHelpAfterError();

program.addCommand(serveCommand());
program.addCommand(catalogCommand());
program.addCommand(migrateCommand());
program.addCommand(auditCommand());
program.addCommand(initCommand());
program.addCommand(tokenCommand());
program.addCommand(seedCommand());
program.addCommand(keyCommand());
program.addCommand(approvalsCommand());
program.addCommand(importCommand());
program.addCommand(schemaCommand());

program.parseAsync(process.argv).catch((err: unknown) => {
  // Expected refusals (a bad option, a missing organization, the store out of reach) say what was
  // wrong in one line; anything else is a bug and keeps its stack.
  const expected =
    err instanceof StoreError ||
    err instanceof ConfigError ||
    err instanceof CommandError ||
    err instanceof CatalogError ||
    err instanceof ImportFileError ||
    (err instanceof Error && (err as NodeJS.ErrnoException).code === 'ENOENT');
  // The operator may see the driver's reason for an outage (a client never does).
  const cause =
    err instanceof StoreError && err.code === 'UNAVAILABLE' && err.cause instanceof Error
      ? ` (${err.cause.message})`
      : '';
  process.stderr.write(
    `rolegate: ${expected ? err.message + cause : err instanceof Error ? err.stack : String(err)}\n`,
  );
  process.exitCode = 1;
});
