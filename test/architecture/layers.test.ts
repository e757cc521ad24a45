import * as path from 'node:path';
import {
  describeCycle,
  describeRef,
  findCycles,
  folderGraph,
  importsOf,
  pureCoreViolations,
  readSources,
  subgraphViolations,
  type Source,
} from './import-graph';

/**
 * Every arrow points down. Each top-level entry of src/ is a node (a folder, or a file directly in src/
 * such as config.ts); a relative import of any kind from one node into another is an edge. A folder that
 * imports a folder depending on it, directly or through others, is a cycle, and the test names it with an
 * example import per edge. src/index.ts, the package's public entry, stays in the graph: it imports the
 * others and nothing may import it, so it can only take part in a cycle when some folder imports the
 * public barrel, which is a cycle worth reporting. Then the pure core: engine/ and catalog/ import no I/O.
 */

const SRC = path.join(__dirname, '..', '..', 'src');
const sources = readSources(SRC);

function cycleReport(tree: Source[]): string[] {
  const graph = folderGraph(tree);
  return findCycles(graph).flatMap((cycle) => describeCycle(graph, cycle));
}

function violationReport(tree: Source[]): string[] {
  return pureCoreViolations(tree).map((v) => `${describeRef(v.ref)}: ${v.reason}`);
}

function subgraphReport(tree: Source[]): string[] {
  return subgraphViolations(tree).map((v) => `${describeRef(v.ref)}: ${v.reason}`);
}

describe('src/', () => {
  test('is read whole, generated code included', () => {
    const files = sources.map((s) => s.file);
    expect(files.length).toBeGreaterThan(50);
    expect(files).toEqual(expect.arrayContaining(['index.ts', 'api/generated/graphql.ts']));
    expect(files.filter((f) => f.startsWith('engine/')).length).toBeGreaterThan(3);
    expect(files.filter((f) => f.startsWith('catalog/')).length).toBeGreaterThan(3);
    // The graph has edges: a parser that found none would make the next test pass for nothing.
    const graph = folderGraph(sources);
    expect([...graph.values()].reduce((n, edges) => n + edges.size, 0)).toBeGreaterThan(10);
  });

  test('has no folder cycle: no folder imports a folder that depends on it', () => {
    expect({ folderCycles: cycleReport(sources) }).toEqual({ folderCycles: [] });
  });

  test('engine/ and catalog/ import no I/O and no other folder (engine -> catalog only)', () => {
    expect({ impureImports: violationReport(sources) }).toEqual({ impureImports: [] });
  });

  test('subgraph/ (rolegate/subgraph) imports only graphql, dataloader, @graphql-tools/utils and lru-cache', () => {
    expect(sources.filter((s) => s.file.startsWith('subgraph/')).length).toBeGreaterThan(2);
    expect({ subgraphImports: subgraphReport(sources) }).toEqual({ subgraphImports: [] });
  });
});

describe('the checks fail when they should', () => {
  const file = (f: string, text: string): Source => ({ file: f, text });

  test('every kind of module reference is found, and nothing that only looks like one', () => {
    const refs = importsOf(
      file(
        'a/x.ts',
        [
          "import { b } from '../b';",
          "import type { C } from '../c';",
          "import { type D } from '../d';",
          "export { e } from '../e';",
          "export type { F } from '../f';",
          "export * from '../g';",
          "import h = require('../h');",
          "const i = () => import('../i');",
          "const j = require('../j');",
          "type K = typeof import('../k');",
          'const l = import(name);',
          "// import { m } from '../m';",
          'const n = "import { n } from \'../n\'";',
        ].join('\n'),
      ),
    );
    expect(refs.map((r) => [r.line, r.kind, r.specifier])).toEqual([
      [1, 'import', '../b'],
      [2, 'import type', '../c'],
      [3, 'import type', '../d'],
      [4, 'export', '../e'],
      [5, 'export type', '../f'],
      [6, 'export', '../g'],
      [7, 'import = require', '../h'],
      [8, 'import()', '../i'],
      [9, 'require', '../j'],
      [10, 'type import()', '../k'],
      [11, 'import()', null],
    ]);
  });

  test('a two-folder cycle, through a type-only import', () => {
    const tree = [
      file('decisions/authz.ts', "import { L1 } from '../cache/l1';\nimport { Store } from '../store';"),
      file('cache/l1.ts', "import type { OrgState } from '../decisions/org-state';"),
      file('store/index.ts', 'export const x = 1;'),
    ];
    expect(cycleReport(tree)).toEqual([
      'cache -> decisions -> cache',
      "  cache -> decisions (1 import in 1 file), e.g. src/cache/l1.ts:1 import type '../decisions/org-state'",
      "  decisions -> cache (1 import in 1 file), e.g. src/decisions/authz.ts:1 import '../cache/l1'",
    ]);
  });

  test('a three-folder transitive cycle, through a dynamic import and a file directly in src/', () => {
    const tree = [
      file('api/server.ts', "import { loadConfig } from '../config';"),
      file('config.ts', "export async function f() { return import('./store/db'); }"),
      file('store/db.ts', "import { a } from '../api/server';\nimport { b } from '../api/context';"),
      file('store/pglite.ts', "import { c } from '../api';"),
    ];
    expect(cycleReport(tree)).toEqual([
      'api -> config -> store -> api',
      "  api -> config (1 import in 1 file), e.g. src/api/server.ts:1 import '../config'",
      "  config -> store (1 import in 1 file), e.g. src/config.ts:1 import() './store/db'",
      "  store -> api (3 imports in 2 files), e.g. src/store/db.ts:1 import '../api/server'",
    ]);
  });

  test('each edge on a cycle is shown, and an acyclic graph passes', () => {
    // a <-> b and b <-> c: two cycles sharing b, each reported once.
    const tree = [
      file('a/x.ts', "import '../b';"),
      file('b/x.ts', "import '../a';\nimport '../c';"),
      file('c/x.ts', "import '../b';"),
    ];
    expect(cycleReport(tree).filter((l) => !l.startsWith(' '))).toEqual(['a -> b -> a', 'b -> c -> b']);
    expect(
      cycleReport(tree.slice(0, 1).concat(file('b/x.ts', "import '../c';"), file('c/x.ts', ''))),
    ).toEqual([]);
  });

  test('a folder that imports the public entry (src/index.ts) closes a cycle with it', () => {
    const tree = [
      file('index.ts', "export * from './engine';"),
      file('engine/decide.ts', "import { x } from '..';"),
    ];
    expect(cycleReport(tree)[0]).toBe('engine -> index -> engine');
  });

  test('engine/ importing ioredis, a bare built-in, or a folder other than catalog/', () => {
    const tree = [
      file(
        'engine/decide.ts',
        [
          "import Redis from 'ioredis';",
          "import { request } from 'http';",
          "import { Pool } from 'pg/lib';",
          "import type { Store } from '../store';",
          "import { own } from '../catalog/validate';",
          "import { createHash } from 'node:crypto';",
          "import { z } from 'zod';",
        ].join('\n'),
      ),
    ];
    expect(violationReport(tree)).toEqual([
      "src/engine/decide.ts:1 import 'ioredis': ioredis does I/O",
      "src/engine/decide.ts:2 import 'http': Node's http does I/O",
      "src/engine/decide.ts:3 import 'pg/lib': pg does I/O",
      "src/engine/decide.ts:4 import type '../store': engine/ may import only catalog/ within src/, not store",
    ]);
  });

  test('catalog/load.ts may read files; catalog/other.ts may not, nor import the engine', () => {
    const tree = [
      file('catalog/load.ts', "import { readFileSync } from 'node:fs';\nimport * as path from 'node:path';"),
      file(
        'catalog/other.ts',
        [
          "import { readFileSync } from 'node:fs';",
          "import { readFile } from 'fs/promises';",
          "import { compileCatalog } from '../engine';",
          "import { x } from './load';",
          'const m = require(name);',
          "import pkg from '../../package.json';",
        ].join('\n'),
      ),
    ];
    expect(violationReport(tree)).toEqual([
      "src/catalog/other.ts:1 import 'node:fs': file system access (only src/catalog/load.ts may read files)",
      "src/catalog/other.ts:2 import 'fs/promises': file system access (only src/catalog/load.ts may read files)",
      "src/catalog/other.ts:3 import '../engine': catalog/ may import no other part of src/, not engine",
      'src/catalog/other.ts:5 require <not a string literal>: a module named at run time cannot be checked',
      "src/catalog/other.ts:6 import '../../package.json': reaches outside src/",
    ]);
  });

  test('the families of I/O packages, and folders outside the pure core are not checked', () => {
    const specs = [
      'pg-copy-streams',
      '@electric-sql/pglite',
      '@fastify/cors',
      '@apollo/server',
      '@as-integrations/fastify',
      'fastify',
      'graphql-shield',
      'graphql-middleware',
      'dataloader',
      'prom-client',
      'node:https',
      'node:net',
      'node:child_process',
      'child_process',
      'net',
      'node:worker_threads',
    ];
    const engine = file('engine/x.ts', specs.map((s) => `import '${s}';`).join('\n'));
    expect(pureCoreViolations([engine]).map((v) => v.ref.specifier)).toEqual(specs);
    expect(violationReport([file('store/x.ts', engine.text)])).toEqual([]);
  });

  test('subgraph/ importing another folder, a gateway package, a built-in, or outside src/', () => {
    const tree = [
      file(
        'subgraph/client.ts',
        [
          "import DataLoader from 'dataloader';",
          "import { LRUCache } from 'lru-cache';",
          "import { GraphQLError } from 'graphql';",
          "import { mapSchema } from '@graphql-tools/utils';",
          "import { RolegateError } from './errors';",
          "import type { Access } from '../decisions/access';",
          "import { Pool } from 'pg';",
          "import Fastify from 'fastify';",
          "import { createHash } from 'node:crypto';",
          "import { makeExecutableSchema } from '@graphql-tools/schema';",
          "import pkg from '../../package.json';",
        ].join('\n'),
      ),
      file('store/x.ts', "import { Pool } from 'pg';"),
    ];
    expect(subgraphReport(tree)).toEqual([
      "src/subgraph/client.ts:6 import type '../decisions/access': subgraph/ may import no other part of src/, not decisions",
      "src/subgraph/client.ts:7 import 'pg': subgraph/ may import only graphql, dataloader, @graphql-tools/utils, lru-cache, not pg",
      "src/subgraph/client.ts:8 import 'fastify': subgraph/ may import only graphql, dataloader, @graphql-tools/utils, lru-cache, not fastify",
      "src/subgraph/client.ts:9 import 'node:crypto': subgraph/ may import only graphql, dataloader, @graphql-tools/utils, lru-cache, not node:crypto",
      "src/subgraph/client.ts:10 import '@graphql-tools/schema': subgraph/ may import only graphql, dataloader, @graphql-tools/utils, lru-cache, not @graphql-tools/schema",
      "src/subgraph/client.ts:11 import '../../package.json': reaches outside src/",
    ]);
  });
});
