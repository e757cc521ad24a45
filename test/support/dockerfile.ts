/**
 * A Dockerfile and a .dockerignore read the way Docker reads them, for the tests that check the image with
 * no Docker engine (test/deploy/image.test.ts runs the Dockerfile's steps). Only what rolegate's files
 * use is understood; anything else is an error that names the line, never a silent guess.
 */

export interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

export interface Stage {
  base: string;
  name?: string;
  instructions: Instruction[];
}

/**
 * Splits a Dockerfile into stages of instructions: comments dropped, `\` continuations joined. What
 * cannot be read is named in `problems` (with its line), never guessed at.
 */
export function parseDockerfile(text: string): { stages: Stage[]; problems: string[] } {
  const problems: string[] = [];
  const stages: Stage[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const startLine = i + 1;
    let line = lines[i] ?? '';
    if (/^\s*(#|$)/.test(line)) continue;
    while (/\\\s*$/.test(line) && i + 1 < lines.length) {
      line = line.replace(/\\\s*$/, ' ');
      i++;
      const next = lines[i] ?? '';
      if (!/^\s*#/.test(next)) line += next;
    }
    const match = /^\s*([A-Za-z]+)\s+([\s\S]*?)\s*$/.exec(line);
    if (!match) {
      problems.push(`Dockerfile:${startLine}: not an instruction: ${line.trim()}`);
      continue;
    }
    const keyword = (match[1] ?? '').toUpperCase();
    const args = match[2] ?? '';
    if (keyword === 'FROM') {
      const from = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (!from) problems.push(`Dockerfile:${startLine}: cannot read FROM ${args}`);
      stages.push({ base: from?.[1] ?? args, ...(from?.[2] ? { name: from[2] } : {}), instructions: [] });
    } else if (stages.length === 0) {
      if (keyword !== 'ARG') problems.push(`Dockerfile:${startLine}: ${keyword} before the first FROM`);
    } else {
      stages[stages.length - 1]?.instructions.push({ keyword, args, line: startLine });
    }
  }
  return { stages, problems };
}

/** Words of a shell-like string, honouring quotes (ENV, EXPOSE, COPY and RUN arguments). */
export function words(text: string): string[] {
  return (text.match(/"(?:[^"\\]|\\.)*"|'[^']*'|\S+/g) ?? []).map((word) =>
    word.replace(/^"([\s\S]*)"$/, '$1').replace(/^'([\s\S]*)'$/, '$1'),
  );
}

/** The variables one ENV instruction sets: `KEY=value …` pairs, or the legacy `KEY value` form. */
export function envOf(args: string): Record<string, string> {
  if (args.includes('$')) throw new Error(`ENV ${args}: variable expansion is not understood here`);
  if (!/^[^\s=]+=/.test(args)) {
    const [key = '', ...rest] = args.split(/\s+/);
    return { [key]: rest.join(' ') };
  }
  const env: Record<string, string> = {};
  for (const pair of args.match(/[^\s=]+=(?:"(?:[^"\\]|\\.)*"|'[^']*'|\S*)/g) ?? []) {
    const eq = pair.indexOf('=');
    env[pair.slice(0, eq)] = words(pair.slice(eq + 1))[0] ?? '';
  }
  return env;
}

/** A JSON ("exec form") argument list, or undefined for the shell form. */
export function execForm(args: string): string[] | undefined {
  if (!args.trim().startsWith('[')) return undefined;
  const value: unknown = JSON.parse(args);
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string'))
    throw new Error(`not a list of strings: ${args}`);
  return value;
}

/**
 * One .dockerignore pattern as a regular expression, as Docker's patternmatcher builds it: `*` and `?`
 * stay within a path segment, `**` spans segments (`**\/x` matches `x` at any depth, the root included),
 * `\` escapes the next character; a leading `/` and `./` mean the context's root.
 */
function patternRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i] ?? '';
    if (ch === '*') {
      if (pattern[i + 1] === '*') {
        i++;
        if (pattern[i + 1] === '/') i++;
        re += i + 1 >= pattern.length ? '.*' : '(?:.*/)?';
      } else {
        re += '[^/]*';
      }
    } else if (ch === '?') {
      re += '[^/]';
    } else if (ch === '\\' && i + 1 < pattern.length) {
      i++;
      re += (pattern[i] ?? '').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    } else if (ch === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) throw new Error(`.dockerignore: unterminated [ in ${pattern}`);
      re += `[${pattern.slice(i + 1, end).replace(/^!/, '^')}]`;
      i = end;
    } else {
      re += ch.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    }
  }
  return new RegExp(`^${re}$`);
}

/**
 * Whether .dockerignore leaves a context path (`a/b/c`, relative, `/`-separated) out of the build
 * context: the last pattern that matches the path or one of its parent folders decides, `!` keeps it.
 */
export function dockerignored(dockerignoreText: string): (file: string) => boolean {
  const rules = dockerignoreText
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const keep = line.startsWith('!');
      const pattern = (keep ? line.slice(1) : line)
        .trim()
        .replace(/^(\.?\/)+/, '')
        .replace(/\/+$/, '');
      return { keep, re: patternRegExp(pattern) };
    });
  return (file) => {
    const parts = file.split('/');
    const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let ignored = false;
    for (const { keep, re } of rules) {
      if (prefixes.some((prefix) => re.test(prefix))) ignored = !keep;
    }
    return ignored;
  };
}
