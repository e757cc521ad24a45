/** One thing wrong with a catalog: where it is and what was expected. */
export interface CatalogIssue {
  /** The file it came from (or a label such as `<inline>`). */
  file: string;
  /** Where inside the document, e.g. `roles.owner.inherits[0]`. Empty for the whole document. */
  path: string;
  /** 1-based position in the file, when known. */
  line?: number;
  column?: number;
  message: string;
}

export function formatIssue(issue: CatalogIssue): string {
  const at = issue.line ? `${issue.file}:${issue.line}:${issue.column ?? 1}` : issue.file;
  return issue.path ? `${at}: ${issue.path}: ${issue.message}` : `${at}: ${issue.message}`;
}

/** A catalog that cannot be used. Nothing is ever decided from a catalog that failed to load. */
export class CatalogError extends Error {
  readonly issues: readonly CatalogIssue[];

  constructor(issues: readonly CatalogIssue[]) {
    const first = issues[0];
    const head = first ? formatIssue(first) : 'invalid catalog';
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
    super(`invalid catalog: ${head}${more}`);
    this.name = 'CatalogError';
    this.issues = issues;
  }

  /** Every issue, one per line. */
  report(): string {
    return this.issues.map(formatIssue).join('\n');
  }
}

export type Path = readonly (string | number)[];

export function pathToString(path: Path): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${part}` : part;
  }
  return out;
}
