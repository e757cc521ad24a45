import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import ts from 'typescript';

/**
 * The folder-level import graph of src/, and the two checks run on it: no folder cycle, and no I/O in the
 * engine or the catalog. Everything here works on in-memory sources, so the tests can show each check
 * failing on a small made-up tree as well as passing on the real one.
 */

/** One TypeScript file, its path relative to src/ with forward slashes (`cache/l1.ts`). */
export interface Source {
  file: string;
  text: string;
}

/** One module reference found in a file. `specifier` is null for `import(x)` / `require(x)` of a non-literal. */
export interface ImportRef {
  file: string;
  line: number;
  kind:
    | 'import'
    | 'import type'
    | 'export'
    | 'export type'
    | 'import()'
    | 'require'
    | 'import = require'
    | 'type import()';
  specifier: string | null;
}

/** from node -> to node -> every import that makes the edge (at least one). */
export type FolderGraph = Map<string, Map<string, ImportRef[]>>;

/** A cycle as its node list, first node repeated at the end: `['cache', 'decisions', 'cache']`. */
export type Cycle = string[];

export interface Violation {
  ref: ImportRef;
  reason: string;
}

/** Every *.ts file under `srcDir` (generated code included: it counts as part of its folder). */
export function readSources(srcDir: string): Source[] {
  const out: Source[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile() && /\.(ts|tsx|mts|cts)$/.test(entry.name))
        out.push({
          file: path.relative(srcDir, full).split(path.sep).join('/'),
          text: readFileSync(full, 'utf8'),
        });
    }
  };
  walk(srcDir);
  return out.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
}

/**
 * Every module reference of one file, from the TypeScript syntax tree (not a regex): import and export
 * declarations, type-only ones included, `import x = require()`, dynamic `import()`, `require()` and
 * `typeof import('x')` types. Comments and strings that merely look like imports are not references.
 */
export function importsOf(source: Source): ImportRef[] {
  const sf = ts.createSourceFile(source.file, source.text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const refs: ImportRef[] = [];
  const add = (node: ts.Node, kind: ImportRef['kind'], spec: ts.Node | undefined): void => {
    const line = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
    const specifier = spec && ts.isStringLiteralLike(spec) ? spec.text : null;
    refs.push({ file: source.file, line, kind, specifier });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      add(
        node,
        node.importClause && isTypeOnlyImport(node.importClause) ? 'import type' : 'import',
        node.moduleSpecifier,
      );
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier) {
      add(node, node.isTypeOnly ? 'export type' : 'export', node.moduleSpecifier);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node, 'import = require', node.moduleReference.expression);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      add(node, 'import()', node.arguments[0]);
    } else if (
      ts.isCallExpression(node) &&
      ts.isIdentifier(node.expression) &&
      node.expression.text === 'require'
    ) {
      add(node, 'require', node.arguments[0]);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node, 'type import()', node.argument.literal);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return refs;
}

function isTypeOnlyImport(clause: ts.ImportClause): boolean {
  if (clause.isTypeOnly) return true;
  // `import { type A, type B } from` is erased too; a default or namespace import is not.
  const bindings = clause.namedBindings;
  return (
    !clause.name &&
    !!bindings &&
    ts.isNamedImports(bindings) &&
    bindings.elements.length > 0 &&
    bindings.elements.every((e) => e.isTypeOnly)
  );
}

/** The graph node of a file under src/: its top-level folder, or for a file directly in src/ its name. */
export function nodeOf(file: string): string {
  const [first = '', ...rest] = file.split('/');
  return rest.length > 0 ? first : stripExtension(first);
}

function stripExtension(name: string): string {
  return name.replace(/(\.d)?\.(ts|tsx|mts|cts|js|jsx|mjs|cjs|json)$/, '');
}

/**
 * Where a relative specifier lands: the node inside src/ (`'..'` from a folder is `index`, src/index.ts),
 * `outside` for a path that leaves src/ (`../../package.json`), or null for a package or built-in.
 */
export function targetOf(ref: ImportRef): { node: string } | 'outside' | null {
  const spec = ref.specifier;
  if (spec === null || !(spec === '.' || spec === '..' || spec.startsWith('./') || spec.startsWith('../')))
    return null;
  const joined = path.posix.normalize(path.posix.join(path.posix.dirname(ref.file), spec));
  if (joined === '..' || joined.startsWith('../')) return 'outside';
  if (joined === '.' || joined === '') return { node: 'index' };
  return { node: nodeOf(joined) };
}

/** The folder graph: an edge for every relative import from one node into another (within a node: none). */
export function folderGraph(sources: Source[]): FolderGraph {
  const graph: FolderGraph = new Map();
  for (const source of sources) {
    const from = nodeOf(source.file);
    if (!graph.has(from)) graph.set(from, new Map());
    for (const ref of importsOf(source)) {
      const target = targetOf(ref);
      if (target === null || target === 'outside' || target.node === from) continue;
      const edges = graph.get(from)!;
      const refs = edges.get(target.node) ?? [];
      refs.push(ref);
      edges.set(target.node, refs);
    }
  }
  return graph;
}

/**
 * The cycles of the graph: for each edge that lies on one (an edge inside a strongly connected component),
 * the shortest cycle through it, each cycle once, rotated to start at its alphabetically first node. So
 * every edge that takes part in a cycle is shown, and a component never explodes into all its cycles.
 */
export function findCycles(graph: FolderGraph): Cycle[] {
  const nodes = [...new Set([...graph.keys(), ...[...graph.values()].flatMap((e) => [...e.keys()])])].sort();
  const next = (n: string): string[] => [...(graph.get(n)?.keys() ?? [])].sort();
  const component = stronglyConnected(nodes, next);
  const seen = new Set<string>();
  const cycles: Cycle[] = [];
  for (const from of nodes)
    for (const to of next(from)) {
      if (component.get(from) !== component.get(to)) continue;
      const back = shortestPath(to, from, (n) =>
        next(n).filter((m) => component.get(m) === component.get(from)),
      );
      if (!back) continue; // unreachable: same component means a path exists
      const cycle = rotate([from, ...back]);
      const key = cycle.join(' -> ');
      if (!seen.has(key)) {
        seen.add(key);
        cycles.push(cycle);
      }
    }
  return cycles.sort((a, b) => a.length - b.length || a.join().localeCompare(b.join()));
}

/** Tarjan's algorithm: node -> component number. */
function stronglyConnected(nodes: string[], next: (n: string) => string[]): Map<string, number> {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const component = new Map<string, number>();
  const stack: string[] = [];
  let counter = 0;
  let components = 0;
  const connect = (n: string): void => {
    index.set(n, counter);
    low.set(n, counter);
    counter++;
    stack.push(n);
    for (const m of next(n)) {
      if (!index.has(m)) {
        connect(m);
        low.set(n, Math.min(low.get(n)!, low.get(m)!));
      } else if (!component.has(m)) {
        low.set(n, Math.min(low.get(n)!, index.get(m)!));
      }
    }
    if (low.get(n) === index.get(n)) {
      let m: string;
      do {
        m = stack.pop()!;
        component.set(m, components);
      } while (m !== n);
      components++;
    }
  };
  for (const n of nodes) if (!index.has(n)) connect(n);
  return component;
}

/** Breadth-first: the nodes from `from` to `to`, both included, or null. */
function shortestPath(from: string, to: string, next: (n: string) => string[]): string[] | null {
  const parent = new Map<string, string | null>([[from, null]]);
  const queue = [from];
  while (queue.length > 0) {
    const n = queue.shift()!;
    if (n === to) {
      const route: string[] = [];
      for (let m: string | null = n; m !== null; m = parent.get(m)!) route.unshift(m);
      return route;
    }
    for (const m of next(n))
      if (!parent.has(m)) {
        parent.set(m, n);
        queue.push(m);
      }
  }
  return null;
}

/** `[b, c, a, b]` -> `[a, b, c, a]`. */
function rotate(cycle: Cycle): Cycle {
  const ring = cycle.slice(0, -1);
  const start = ring.indexOf([...ring].sort()[0]!);
  const turned = [...ring.slice(start), ...ring.slice(0, start)];
  return [...turned, turned[0]!];
}

/**
 * A cycle as lines for a failure message: the cycle, then each edge with how many imports make it and one
 * example. The edge with the fewest imports is usually the one that points up.
 */
export function describeCycle(graph: FolderGraph, cycle: Cycle): string[] {
  const lines = [cycle.join(' -> ')];
  for (let i = 0; i + 1 < cycle.length; i++) {
    const refs = graph.get(cycle[i]!)?.get(cycle[i + 1]!) ?? [];
    const files = new Set(refs.map((r) => r.file)).size;
    lines.push(
      `  ${cycle[i]} -> ${cycle[i + 1]} (${refs.length} import${refs.length === 1 ? '' : 's'} in ${files} file${files === 1 ? '' : 's'}), e.g. ${describeRef(refs[0])}`,
    );
  }
  return lines;
}

export function describeRef(ref: ImportRef | undefined): string {
  if (!ref) return '(none)';
  const spec = ref.specifier === null ? '<not a string literal>' : `'${ref.specifier}'`;
  return `src/${ref.file}:${ref.line} ${ref.kind} ${spec}`;
}

// ---------------------------------------------------------------------------------------------------------
// The pure core: engine/ and catalog/ do no I/O.

/** The folders that must stay pure, and the one src/ folder each may import (engine -> catalog only). */
export const PURE_FOLDERS: Readonly<Record<string, readonly string[]>> = { engine: ['catalog'], catalog: [] };

/** The catalog's loader reads the preset files; it alone may use the file system. */
export const FS_ALLOWED = new Set(['catalog/load.ts']);

/** Packages that do I/O (or only make sense around it): exact names, and `prefix*` for families. */
const IO_PACKAGES = [
  'pg',
  'pg-*',
  '@electric-sql/pglite',
  'ioredis',
  'fastify',
  '@fastify/*',
  '@apollo/*',
  '@as-integrations/*',
  'graphql-shield',
  'graphql-middleware',
  'dataloader',
  'prom-client',
];

/** Node built-ins that do I/O, matched with or without the `node:` prefix (`fs` is `node:fs`). */
const IO_BUILTINS = new Set([
  'fs',
  'http',
  'https',
  'http2',
  'net',
  'tls',
  'dgram',
  'dns',
  'child_process',
  'cluster',
  'worker_threads',
]);

/** The package a bare specifier names: `pg/lib/x` -> `pg`, `@apollo/server/x` -> `@apollo/server`. */
function packageOf(spec: string): string {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

function isIoPackage(name: string): boolean {
  return IO_PACKAGES.some((p) => (p.endsWith('*') ? name.startsWith(p.slice(0, -1)) : name === p));
}

/** Every import of engine/ and catalog/ that reaches for I/O or for another src/ folder. */
export function pureCoreViolations(sources: Source[]): Violation[] {
  const out: Violation[] = [];
  for (const source of sources) {
    const from = nodeOf(source.file);
    const allowed = PURE_FOLDERS[from];
    if (!allowed) continue;
    for (const ref of importsOf(source)) {
      const reason = pureCoreReason(ref, from, allowed);
      if (reason) out.push({ ref, reason });
    }
  }
  return out;
}

function pureCoreReason(ref: ImportRef, from: string, allowed: readonly string[]): string | null {
  const spec = ref.specifier;
  if (spec === null) return 'a module named at run time cannot be checked';
  const target = targetOf(ref);
  if (target === 'outside') return 'reaches outside src/';
  if (target !== null) {
    if (target.node === from || allowed.includes(target.node)) return null;
    return allowed.length > 0
      ? `${from}/ may import only ${allowed.map((a) => `${a}/`).join(', ')} within src/, not ${target.node}`
      : `${from}/ may import no other part of src/, not ${target.node}`;
  }
  const builtin = (spec.startsWith('node:') ? spec.slice('node:'.length) : spec).split('/')[0]!;
  if (IO_BUILTINS.has(builtin)) {
    if (builtin === 'fs' && FS_ALLOWED.has(ref.file)) return null;
    return builtin === 'fs'
      ? `file system access (only ${[...FS_ALLOWED].map((f) => `src/${f}`).join(', ')} may read files)`
      : `Node's ${builtin} does I/O`;
  }
  if (isIoPackage(packageOf(spec))) return `${packageOf(spec)} does I/O`;
  return null;
}

// ---------------------------------------------------------------------------------------------------------
// The subgraph client: shipped as `rolegate/subgraph` to other teams' servers, so it brings nothing of
// the gateway with it.

/** The only packages src/subgraph/ may import (besides its own files). */
export const SUBGRAPH_PACKAGES: readonly string[] = [
  'graphql',
  'dataloader',
  '@graphql-tools/utils',
  'lru-cache',
];

/** Every import of src/subgraph/ that is not one of its own files or SUBGRAPH_PACKAGES. */
export function subgraphViolations(sources: Source[]): Violation[] {
  const out: Violation[] = [];
  for (const source of sources) {
    if (nodeOf(source.file) !== 'subgraph') continue;
    for (const ref of importsOf(source)) {
      const spec = ref.specifier;
      let reason: string | null = null;
      if (spec === null) reason = 'a module named at run time cannot be checked';
      else {
        const target = targetOf(ref);
        if (target === 'outside') reason = 'reaches outside src/';
        else if (target !== null) {
          if (target.node !== 'subgraph')
            reason = `subgraph/ may import no other part of src/, not ${target.node}`;
        } else if (!SUBGRAPH_PACKAGES.includes(packageOf(spec)))
          reason = `subgraph/ may import only ${SUBGRAPH_PACKAGES.join(', ')}, not ${packageOf(spec)}`;
      }
      if (reason) out.push({ ref, reason });
    }
  }
  return out;
}
