import { Command } from 'commander';
import { writeFileSync } from 'node:fs';
import { CatalogError, catalogTypes, loadPreset } from '../catalog';
import { compileCatalog } from '../engine';

/** `rolegate catalog validate <file|preset>…`: exit 0 when every catalog is valid, 1 otherwise. */
export function catalogCommand(): Command {
  const catalog = new Command('catalog').description('work with permission catalogs');
  catalog
    .command('validate')
    .description(
      'check catalog files (or the presets junto, juno, jrni) and report every problem with its place',
    )
    .argument('<files...>', 'catalog YAML files or preset names')
    .action((files: string[]) => {
      let failed = false;
      for (const file of files) {
        try {
          const compiled = compileCatalog(loadPreset(file));
          const doc = compiled.catalog.document;
          process.stdout.write(
            `${file}: ok — ${compiled.keys.length} permissions, ${Object.keys(doc.roles).length} roles, ` +
              `${Object.keys(doc.pages ?? {}).length} pages, ${Object.keys(doc.tools ?? {}).length} tools\n`,
          );
        } catch (err) {
          if (!(err instanceof CatalogError)) throw err;
          failed = true;
          process.stderr.write(`${err.report()}\n`);
        }
      }
      if (failed) process.exitCode = 1;
    });
  catalog
    .command('types')
    .description(
      "print a catalog's permissions, pages, modules, tools, flags and roles as TypeScript unions, for typed client code",
    )
    .argument('<file>', 'a catalog YAML file or a preset name (junto, juno, jrni)')
    .option('--out <file>', 'write the module to this file instead of stdout')
    .action((file: string, options: { out?: string }) => {
      let text: string;
      try {
        text = catalogTypes(loadPreset(file), `rolegate catalog types ${file}`);
      } catch (err) {
        if (!(err instanceof CatalogError)) throw err;
        process.stderr.write(`${err.report()}\n`);
        process.exitCode = 1;
        return;
      }
      if (options.out) writeFileSync(options.out, text);
      else process.stdout.write(text);
    });
  return catalog;
}
