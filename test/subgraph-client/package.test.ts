import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import ts from 'typescript';

/**
 * `rolegate/subgraph` as another team's subgraph gets it: the package's own package.json (its `exports`
 * and `typesVersions`) over src/subgraph compiled as `npm run build` compiles it, installed in a
 * node_modules beside ONLY the four packages it may use. Then `require`, `import` and the TypeScript
 * compiler (node16 resolution, which reads `exports`, and the older node10, which reads `typesVersions`)
 * each resolve it. A full `npm run build` and `npm pack` take about a minute here; this takes seconds.
 */

const ROOT = path.join(__dirname, '..', '..');
const DEPENDENCIES = ['graphql', 'dataloader', 'lru-cache', '@graphql-tools/utils'];

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'rolegate-subgraph-package-'));
  const pkg = path.join(dir, 'node_modules', 'rolegate');
  mkdirSync(pkg, { recursive: true });
  writeFileSync(path.join(pkg, 'package.json'), readFileSync(path.join(ROOT, 'package.json')));
  // tsconfig.build.json's options (rootDir src, outDir dist), for src/subgraph alone.
  const build = ts.getParsedCommandLineOfConfigFile(
    path.join(ROOT, 'tsconfig.build.json'),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  )!;
  const program = ts.createProgram([path.join(ROOT, 'src', 'subgraph', 'index.ts')], {
    ...build.options,
    outDir: path.join(pkg, 'dist'),
    sourceMap: false,
  });
  const emitted = program.emit();
  const problems = [...ts.getPreEmitDiagnostics(program), ...emitted.diagnostics];
  expect(problems.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))).toEqual([]);
  for (const dep of DEPENDENCIES) {
    mkdirSync(path.dirname(path.join(dir, 'node_modules', dep)), { recursive: true });
    symlinkSync(path.join(ROOT, 'node_modules', dep), path.join(dir, 'node_modules', dep), 'dir');
  }
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const node = (file: string, text: string) => {
  writeFileSync(path.join(dir, file), text);
  return execFileSync(process.execPath, [file], { cwd: dir, encoding: 'utf8', stdio: 'pipe' }).trim();
};

test('the build puts the subgraph helpers in dist/subgraph, with their types', () => {
  const built = path.join(dir, 'node_modules', 'rolegate', 'dist', 'subgraph');
  for (const f of ['index.js', 'index.d.ts', 'client.js', 'directive.js', 'errors.d.ts'])
    expect(readFileSync(path.join(built, f), 'utf8').length).toBeGreaterThan(100);
});

test("require('rolegate/subgraph') and import('rolegate/subgraph') resolve through the exports map", () => {
  expect(
    node(
      'cjs.cjs',
      `const s = require('rolegate/subgraph');
       console.log(require.resolve('rolegate/subgraph').split('node_modules/')[1], typeof s.createRolegateClient, typeof s.canDirectiveTransformer, new s.RolegateUnavailableError('timeout', 'x') instanceof s.RolegateError);`,
    ),
  ).toBe('rolegate/dist/subgraph/index.js function function true');
  expect(
    node(
      'esm.mjs',
      `import { createRolegateClient, canDirectiveTypeDefs } from 'rolegate/subgraph';
       console.log(typeof createRolegateClient, canDirectiveTypeDefs.startsWith('directive @can('));`,
    ),
  ).toBe('function true');
  // The exports map keeps the rest of the package private: no deep imports.
  expect(() => node('deep.cjs', "require('rolegate/dist/subgraph/client.js')")).toThrow(
    /ERR_PACKAGE_PATH_NOT_EXPORTED|not defined by "exports"/,
  );
});

test.each([
  ['node16', { module: ts.ModuleKind.Node16, moduleResolution: ts.ModuleResolutionKind.Node16 }],
  [
    'node10 (typesVersions)',
    { module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10 },
  ],
])('TypeScript finds the types with %s resolution, and catches misuse', (_, resolution) => {
  const file = path.join(dir, 'consumer.ts');
  writeFileSync(
    file,
    `import { createRolegateClient, type RolegateRequest } from 'rolegate/subgraph';
     const client = createRolegateClient({ url: 'http://127.0.0.1:4000/graphql', apiKey: 'rgk_…' });
     const request: RolegateRequest = client.forRequest({ userId: 'u1' });
     export const answer: Promise<boolean> = request.can('booking:manage', { locationId: 'l1' });
     // @ts-expect-error: a scope has no "place"
     request.can('booking:manage', { place: 'l1' });
    `,
  );
  const program = ts.createProgram([file], {
    ...resolution,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
    lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
  });
  const problems = ts
    .getPreEmitDiagnostics(program)
    .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  expect(problems).toEqual([]);
  const resolved = program
    .getSourceFiles()
    .map((f) => f.fileName)
    .find((f) => f.includes('rolegate/dist/subgraph/index.d.ts'));
  expect(resolved).toBeDefined();
});
