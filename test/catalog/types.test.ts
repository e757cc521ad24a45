import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as ts from 'typescript';
import { catalogTypes, loadPreset } from '../../src/catalog';
import { rolegate } from '../support/cli';

/**
 * `rolegate catalog types`: a catalog's names as TypeScript unions. Checked by the TypeScript compiler
 * itself: the catalog's own names compile, a typo does not.
 */

/** The compiler's errors for `client` importing the generated module as `./catalog`. */
function typeErrors(generated: string, client: string): string[] {
  const dir = mkdtempSync(path.join(tmpdir(), 'rolegate-types-'));
  writeFileSync(path.join(dir, 'catalog.ts'), generated);
  writeFileSync(path.join(dir, 'client.ts'), client);
  const program = ts.createProgram([path.join(dir, 'client.ts')], {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.CommonJS,
    skipLibCheck: true,
    types: [],
  });
  return ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
}

describe.each(['junto', 'juno', 'jrni'] as const)('catalog types for %s', (preset) => {
  const catalog = loadPreset(preset);
  const doc = catalog.document;
  const generated = catalogTypes(catalog, `rolegate catalog types ${preset}`);
  const [module, actions] = Object.entries(doc.permissions)[0]!;
  const permission = `${module}:${Object.keys(actions)[0]}`;

  test('every name of the catalog compiles, and the lists hold them all', () => {
    const page = Object.keys(doc.pages ?? {})[0];
    const nav = Object.keys(doc.navigation ?? {})[0];
    const tool = Object.keys(doc.tools ?? {})[0];
    const client = [
      `import { PERMISSIONS, type Checkable, type Permission, type Role } from './catalog';`,
      `const p: Permission = '${permission}';`,
      `const c: Checkable[] = [p${page ? `, 'page:${page}'` : ''}${nav ? `, 'nav:${nav}'` : ''}${tool ? `, 'tool:${tool}'` : ''}];`,
      `const r: Role = '${doc.owner.role}';`,
      `export const all: readonly Permission[] = PERMISSIONS;`,
      `export { c, r };`,
    ].join('\n');
    expect(typeErrors(generated, client)).toEqual([]);
    const count = Object.values(doc.permissions).reduce((n, a) => n + Object.keys(a).length, 0);
    const union = generated.slice(generated.indexOf('export type Permission ='));
    expect(union.slice(0, union.indexOf(';')).match(/^ {2}\| '[a-z0-9_]+:[a-z0-9_]+'$/gm)?.length).toBe(
      count,
    );
  });

  test('a typo in a permission, a page or a role does not compile', () => {
    const typo = `${permission.slice(0, -1)}x`;
    const errors = typeErrors(
      generated,
      [
        `import type { Checkable, Permission, Role } from './catalog';`,
        `export const p: Permission = '${typo}';`,
        `export const c: Checkable = 'page:no_such_page';`,
        `export const r: Role = 'no_such_role';`,
      ].join('\n'),
    );
    expect(errors).toHaveLength(3);
    expect(errors[0]).toContain(typo);
  });
});

test('the CLI prints the module, or writes it with --out; a bad catalog is reported with its place', async () => {
  const printed = await rolegate(['catalog', 'types', 'jrni']);
  expect(printed.code).toBe(0);
  expect(printed.stdout).toBe(catalogTypes(loadPreset('jrni'), 'rolegate catalog types jrni'));
  expect(printed.stdout).toContain("  | 'booking:manage'");

  const dir = mkdtempSync(path.join(tmpdir(), 'rolegate-types-'));
  const out = path.join(dir, 'jrni.ts');
  expect((await rolegate(['catalog', 'types', 'jrni', '--out', out])).code).toBe(0);
  expect(readFileSync(out, 'utf8')).toBe(printed.stdout);

  const bad = path.join(dir, 'bad.yaml');
  writeFileSync(bad, 'catalog: bad\nname: Bad\n');
  const refused = await rolegate(['catalog', 'types', bad]);
  expect(refused.code).toBe(1);
  expect(refused.stdout).toBe('');
  expect(refused.stderr).toContain('bad.yaml');
});
