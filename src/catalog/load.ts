import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { isNode, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { CatalogError, pathToString, type CatalogIssue, type Path } from './errors';
import { OPERATIONS } from './operations';
import { catalogSchema, type CatalogDocument } from './schema';
import { validateCatalog } from './validate';

/** The presets shipped in `catalogs/`, reproducing the three seed documents. */
export const PRESETS = ['junto', 'juno', 'jrni'] as const;
export type PresetName = (typeof PRESETS)[number];

export const CATALOG_DIR = path.resolve(__dirname, '..', '..', 'catalogs');

/** A catalog that passed every check: safe to compile. */
export interface Catalog {
  /** Where it came from: a file path or a label. */
  source: string;
  /** The YAML text, as stored with an organization so every replica compiles the same catalog. */
  text: string;
  document: CatalogDocument;
}

/** Parses and validates a catalog from YAML text. Throws `CatalogError` listing every problem found. */
export function parseCatalog(text: string, source = '<inline>'): Catalog {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  const issue = (p: Path, message: string, offset?: number): CatalogIssue => {
    const at = offset ?? nodeOffset(doc, p);
    const pos = at === undefined ? undefined : lines.linePos(at);
    return { file: source, path: pathToString(p), line: pos?.line, column: pos?.col, message };
  };

  if (doc.errors.length) {
    throw new CatalogError(doc.errors.map((e) => issue([], yamlMessage(e.message), e.pos[0])));
  }
  const parsed = catalogSchema.safeParse(doc.toJS(), { reportInput: true });
  if (!parsed.success) {
    throw new CatalogError(
      parsed.error.issues.flatMap((i) =>
        // One issue per unknown key, located at the key itself.
        i.code === 'unrecognized_keys'
          ? i.keys.map((k) => issue([...(i.path as Path), k], unknownField(i.path as Path, k)))
          : [issue(i.path as Path, zodMessage(i))],
      ),
    );
  }
  const problems = validateCatalog(parsed.data);
  if (problems.length) throw new CatalogError(problems.map((p) => issue(p.path, p.message)));
  return { source, text, document: parsed.data };
}

/** Reads and validates a catalog file. */
export function loadCatalogFile(file: string): Catalog {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw new CatalogError([{ file, path: '', message: `cannot read the catalog: ${reason}` }]);
  }
  return parseCatalog(text, file);
}

/** Loads a shipped preset by name (`junto`, `juno`, `jrni`) or, failing that, a catalog file by path. */
export function loadPreset(nameOrFile: string): Catalog {
  if ((PRESETS as readonly string[]).includes(nameOrFile)) {
    return loadCatalogFile(path.join(CATALOG_DIR, `${nameOrFile}.yaml`));
  }
  return loadCatalogFile(nameOrFile);
}

/** The offset of the deepest node of `path` that exists in the document. */
function nodeOffset(doc: Document, p: Path): number | undefined {
  for (let n = p.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(p.slice(0, n), true);
    if (isNode(node) && node.range) return node.range[0];
  }
  return undefined;
}

function unknownField(at: Path, key: string): string {
  if (at.length === 1 && at[0] === 'operations') {
    return `unknown operation "${key}"; expected one of: ${OPERATIONS.join(', ')}`;
  }
  return `unknown field "${key}"`;
}

function yamlMessage(message: string): string {
  return `YAML: ${message.split('\n')[0]}`;
}

function zodMessage(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_key':
      return `invalid key: ${issue.issues.map((i) => i.message).join('; ')}`;
    case 'invalid_type':
      return issue.input === undefined
        ? `missing; expected ${issue.expected}`
        : `expected ${issue.expected}${given(issue.input)}`;
    case 'invalid_value':
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}${given(issue.input)}`;
    default:
      return issue.message;
  }
}

/** ` (got "x")` for short scalar inputs; nothing for objects, so messages stay one line. */
function given(input: unknown): string {
  if (input === null || ['string', 'number', 'boolean'].includes(typeof input)) {
    const text = JSON.stringify(input);
    return text.length <= 60 ? `, got ${text}` : '';
  }
  return Array.isArray(input) ? ', got a list' : typeof input === 'object' ? ', got a mapping' : '';
}
