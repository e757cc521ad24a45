import { Command } from 'commander';
import { catalogCommand } from './catalog';
import { serveCommand } from './serve';

/** The `rolegate` command line. Each subcommand lives in its own file and sets `process.exitCode`. */
const program = new Command()
  .name('rolegate')
  .description('rolegate — a GraphQL authorization gateway driven by a declarative permission catalog')
  .showHelpAfterError();

program.addCommand(serveCommand());
program.addCommand(catalogCommand());

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`rolegate: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
