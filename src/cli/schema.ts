import { Command } from 'commander';
import { CatalogError, loadPreset } from '../catalog';
import { describeSchema, printDescribedSchema } from '../api/explorer/described-schema';
import { buildSchema } from '../api/schema';

/**
 * `rolegate schema print [--preset junto|juno|jrni|FILE]`: the served SDL with its directives
 * (`@requires`, `@authenticated`) and each guarded field's requirement in the catalog's words (generic
 * without a preset), for schema registries, GraphQL Code Generator and review. What development's
 * GET /schema.graphql serves.
 */
export function schemaCommand(): Command {
  const schema = new Command('schema').description("the gateway's GraphQL schema");
  schema
    .command('print')
    .description(
      "print the SDL with its @requires directives, each field's requirement described in a catalog's words",
    )
    .option('--preset <name|file>', 'junto, juno, jrni, or a catalog YAML file (default: generic wording)')
    .action((options: { preset?: string }) => {
      let catalog = null;
      if (options.preset) {
        try {
          catalog = loadPreset(options.preset).document;
        } catch (err) {
          if (!(err instanceof CatalogError)) throw err;
          process.stderr.write(`${err.report()}\n`);
          process.exitCode = 1;
          return;
        }
      }
      const { schema: served, guards } = buildSchema();
      process.stdout.write(printDescribedSchema(describeSchema(served, guards, catalog)));
    });
  return schema;
}
