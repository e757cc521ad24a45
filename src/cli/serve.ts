import { Command } from 'commander';

/**
 * `rolegate serve`: the GraphQL gateway. It arrives with the gateway issue (API, store, guards); until
 * then the command says so plainly and fails, rather than pretending to serve.
 */
export function serveCommand(): Command {
  return new Command('serve').description('run the GraphQL gateway (not built yet)').action(() => {
    process.stderr.write(
      'rolegate serve: the GraphQL gateway is not built yet. Today rolegate is the catalog and the decision\n' +
        'engine: try `npm run rolegate -- catalog validate junto juno jrni`, the tests (`npm test`) and `npm run bench:engine`.\n',
    );
    process.exitCode = 1;
  });
}
