/**
 * The container files (`Dockerfile`, `.dockerignore`, `docker-compose.yml`), checked offline: no Docker
 * engine is needed or used, so these checks are what keeps the files right.
 *
 * - docker-compose.yml is validated against the Compose Specification's own JSON schema
 *   (`schema/compose-spec.json` of the compose-spec project, as shipped in the `dclint` devDependency at
 *   `schemas/compose.schema.json`), with ajv.
 * - It is also held to the specification's rules that a schema cannot express, checked here by
 *   `composeProblems`: top-level keys, image or build, depends_on targets, conditions and cycles,
 *   healthchecks behind `service_healthy`, one-shot services behind `service_completed_successfully`,
 *   declared named volumes, duration and port formats, `${…}` interpolation, and a file that reads the
 *   same as YAML 1.1 and 1.2 (`no`, `22:22` and friends).
 * - `rolegateProblems` checks what the stack means for rolegate: env names the app reads, DATABASE_URL
 *   and REDIS_URL pointing at the services with the credentials they define, the migrate → gateway
 *   ordering, ports, EXPOSE and PORT agreeing, and the gateway's healthcheck being the image's.
 * - The Dockerfile is parsed (`parseDockerfile`) and `dockerfileProblems` checks its stages, its user,
 *   port, healthcheck, command and run-time files; `.dockerignore` is matched the way Docker does.
 *
 * Every checker is also fed broken input and must name what is wrong, so none of them passes vacuously.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import Ajv from 'ajv';
import { parseDocument } from 'yaml';
import { parseDockerfile, words, type Stage } from '../support/dockerfile';

const ROOT = path.resolve(__dirname, '..', '..');
const read = (file: string): string => readFileSync(path.join(ROOT, file), 'utf8');

type Dict = Record<string, unknown>;
const isDict = (value: unknown): value is Dict =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const clone = <T>(value: T): T => structuredClone(value);

// ---------------------------------------------------------------------------------------------------
// YAML and interpolation

/**
 * Parses YAML as Compose does: duplicate keys are errors. Also names every value that YAML 1.1 (older
 * tools, PyYAML) reads differently from YAML 1.2: `no`/`on` as booleans, `22:22` as a base-60 number,
 * `0755` as octal. (The `yaml` package's 1.1 schema also reads a bare `.` as NaN, which neither PyYAML
 * nor Go's yaml does, so that one is let through.)
 */
function loadYaml(text: string): { value: unknown; problems: string[] } {
  const problems: string[] = [];
  const doc = parseDocument(text, { uniqueKeys: true });
  for (const error of doc.errors) problems.push(`YAML: ${error.message}`);
  const value: unknown = doc.toJS();
  const asYaml11: unknown = parseDocument(text, { version: '1.1', uniqueKeys: true }).toJS();
  const compare = (a: unknown, b: unknown, where: string): void => {
    if (isDict(a) && isDict(b)) {
      for (const key of new Set([...Object.keys(a), ...Object.keys(b)]))
        compare(a[key], b[key], `${where}.${key}`);
    } else if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
      a.forEach((item, i) => compare(item, b[i], `${where}[${i}]`));
    } else if (!Object.is(a, b) && !(a === '.' && Number.isNaN(b))) {
      problems.push(
        `YAML: ${where} is ${JSON.stringify(a)} in YAML 1.2 but ${String(b)} in YAML 1.1: quote it`,
      );
    }
  };
  compare(value, asYaml11, 'compose');
  return { value, problems };
}

type Env = Record<string, string | undefined>;

/**
 * Compose's interpolation of `${…}` in values: `$$` is a literal `$`; `${VAR}` and `$VAR`; `${VAR:-d}`
 * (unset or empty) and `${VAR-d}` (unset) give a default; `${VAR:?e}`/`${VAR?e}` require the variable;
 * `${VAR:+r}`/`${VAR+r}` replace a set one. A variable used without a default is reported: the file
 * must work from an empty environment.
 */
function interpolate(value: unknown, env: Env, where: string, problems: string[]): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$(\$|\{([^}]*)\}|[A-Za-z_][A-Za-z0-9_]*)?/g, (match, _all, braced?: string) => {
      if (match === '$$') return '$';
      if (match === '$') {
        problems.push(`${where}: a lone "$" (write $$ for a literal dollar)`);
        return match;
      }
      const expression = braced ?? match.slice(1);
      const parsed = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^$]*))?$/.exec(expression);
      if (!parsed) {
        problems.push(`${where}: invalid interpolation "${match}"`);
        return match;
      }
      const [, name = '', operator, operand = ''] = parsed;
      const current = env[name];
      const set = current !== undefined;
      const nonEmpty = set && current !== '';
      switch (operator) {
        case ':-':
          return nonEmpty ? current : operand;
        case '-':
          return set ? current : operand;
        case ':?':
        case '?':
          if (!(operator === ':?' ? nonEmpty : set))
            problems.push(`${where}: ${name} is required: ${operand}`);
          return current ?? '';
        case ':+':
          return nonEmpty ? operand : '';
        case '+':
          return set ? operand : '';
        default:
          if (!set) problems.push(`${where}: \${${name}} has no default and is not set`);
          return current ?? '';
      }
    });
  }
  if (Array.isArray(value)) return value.map((item, i) => interpolate(item, env, `${where}[${i}]`, problems));
  if (isDict(value)) {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, interpolate(item, env, `${where}.${key}`, problems)]),
    );
  }
  return value;
}

/** A service's `environment` (map or KEY=VALUE list) as a map; a bare KEY maps to undefined. */
function environmentOf(service: Dict): Record<string, string | undefined> {
  const env = service.environment;
  if (Array.isArray(env)) {
    return Object.fromEntries(
      env.map((item) => {
        const text = String(item);
        const eq = text.indexOf('=');
        return eq < 0 ? [text, undefined] : [text.slice(0, eq), text.slice(eq + 1)];
      }),
    );
  }
  if (isDict(env)) {
    return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === null ? undefined : String(v)]));
  }
  return {};
}

// ---------------------------------------------------------------------------------------------------
// The Compose Specification's rules

const TOP_LEVEL = new Set([
  'services',
  'volumes',
  'networks',
  'configs',
  'secrets',
  'name',
  'include',
  'models',
]);
const CONDITIONS = new Set(['service_started', 'service_healthy', 'service_completed_successfully']);
const SERVICE_NAME = /^[a-zA-Z0-9._-]+$/;
/** Compose durations: `{value}{unit}` repeated, units us, ms, s, m, h (`1m30s`, `1.5s`). */
const DURATION = /^(\d+(\.\d+)?(us|ms|s|m|h))+$/;
const PORT_OR_RANGE = '\\d{1,5}(?:-\\d{1,5})?';
const HOST_IP = '(?:\\d{1,3}(?:\\.\\d{1,3}){3}|\\[[0-9A-Fa-f:.]+\\])';
/** Short port syntax: `[[HOST_IP:][HOST_PORT]:]CONTAINER_PORT[/PROTOCOL]`, ports or ranges. */
const PORT_SHORT = new RegExp(
  `^(?:(?:${HOST_IP}:)?(?:${PORT_OR_RANGE})?:)?${PORT_OR_RANGE}(?:/(?:tcp|udp|sctp))?$`,
);
const RESTART = /^(no|always|unless-stopped|on-failure(:\d+)?)$/;

/** depends_on in its long form, whichever form it was written in. */
function dependsOn(service: Dict): Record<string, Dict> {
  const deps = service.depends_on;
  if (Array.isArray(deps))
    return Object.fromEntries(deps.map((d) => [String(d), { condition: 'service_started' }]));
  if (isDict(deps)) return Object.fromEntries(Object.entries(deps).map(([k, v]) => [k, isDict(v) ? v : {}]));
  return {};
}

/** Named volumes a service mounts (not bind mounts, not anonymous volumes). */
function namedVolumes(service: Dict): string[] {
  const names: string[] = [];
  for (const volume of Array.isArray(service.volumes) ? service.volumes : []) {
    if (typeof volume === 'string') {
      const parts = volume.split(':');
      if (parts.length < 2) continue; // anonymous volume: just a target
      const source = parts[0] ?? '';
      if (!/^[./~$]/.test(source) && !/^[A-Za-z]$/.test(source)) names.push(source);
    } else if (isDict(volume) && volume.type === 'volume' && typeof volume.source === 'string') {
      names.push(volume.source);
    }
  }
  return names;
}

function portProblems(where: string, port: unknown): string[] {
  const inRange = (text: string) =>
    (text.match(/\d+/g) ?? []).every((n) => Number(n) >= 1 && Number(n) <= 65535) ||
    /^\d{1,3}(\.\d{1,3}){3}/.test(text);
  if (typeof port === 'number')
    return Number.isInteger(port) && port >= 1 && port <= 65535 ? [] : [`${where}: bad port ${port}`];
  if (typeof port === 'string') {
    const portsOnly = port.replace(new RegExp(`^${HOST_IP}:`), '').replace(/\/\w+$/, '');
    return PORT_SHORT.test(port) && inRange(portsOnly) ? [] : [`${where}: malformed port "${port}"`];
  }
  if (isDict(port)) {
    return Number.isInteger(Number(port.target))
      ? []
      : [`${where}: long-syntax port needs an integer target`];
  }
  return [`${where}: malformed port ${JSON.stringify(port)}`];
}

function healthcheckProblems(where: string, check: Dict): string[] {
  const problems: string[] = [];
  for (const key of ['interval', 'timeout', 'start_period', 'start_interval']) {
    const value = check[key];
    if (value !== undefined && !(typeof value === 'string' && DURATION.test(value))) {
      problems.push(`${where}.${key}: "${String(value)}" is not a Compose duration (e.g. 5s, 1m30s)`);
    }
  }
  if (check.retries !== undefined && !(Number.isInteger(check.retries) && Number(check.retries) >= 0)) {
    problems.push(`${where}.retries: must be a whole number`);
  }
  const test = check.test;
  if (Array.isArray(test)) {
    if (!['NONE', 'CMD', 'CMD-SHELL'].includes(String(test[0])) || test.some((t) => typeof t !== 'string')) {
      problems.push(`${where}.test: a list must start with NONE, CMD or CMD-SHELL, all strings`);
    } else if (test[0] !== 'NONE' && test.length < 2) {
      problems.push(`${where}.test: ${String(test[0])} needs a command`);
    }
  } else if (test !== undefined && typeof test !== 'string') {
    problems.push(`${where}.test: must be a string or a list`);
  }
  return problems;
}

/** A healthcheck that actually runs: present, not disabled, with a test that is not NONE. */
function hasLiveHealthcheck(service: Dict): boolean {
  const check = service.healthcheck;
  if (!isDict(check) || check.disable === true || check.disable === 'true') return false;
  const test = check.test;
  if (typeof test === 'string') return test.trim() !== '';
  return Array.isArray(test) && test.length > 1 && test[0] !== 'NONE';
}

/** Problems with a (parsed, interpolated) compose document, by the Compose Specification's rules. */
function composeProblems(doc: unknown): string[] {
  if (!isDict(doc)) return ['the document is not a mapping'];
  const problems: string[] = [];
  for (const key of Object.keys(doc)) {
    if (key === 'version')
      problems.push('top-level "version" is obsolete in the Compose Specification: remove it');
    else if (!TOP_LEVEL.has(key) && !key.startsWith('x-'))
      problems.push(`top-level key "${key}" is not allowed`);
  }
  const services = doc.services;
  if (!isDict(services) || Object.keys(services).length === 0) return [...problems, 'no services'];
  const declaredVolumes = isDict(doc.volumes) ? doc.volumes : {};

  for (const [name, service] of Object.entries(services)) {
    const where = `services.${name}`;
    if (!SERVICE_NAME.test(name)) problems.push(`${where}: service names are [a-zA-Z0-9._-]+`);
    if (!isDict(service)) {
      problems.push(`${where}: not a mapping`);
      continue;
    }
    if (service.image === undefined && service.build === undefined)
      problems.push(`${where}: has neither image nor build`);

    for (const [target, dep] of Object.entries(dependsOn(service))) {
      const at = `${where}.depends_on.${target}`;
      const condition = String(dep.condition);
      if (target === name) problems.push(`${at}: a service cannot depend on itself`);
      if (!CONDITIONS.has(condition)) {
        problems.push(`${at}: condition "${condition}" is not one of ${[...CONDITIONS].join(', ')}`);
      }
      const other = services[target];
      if (!isDict(other)) {
        problems.push(`${at}: no service "${target}"`);
        continue;
      }
      if (condition === 'service_healthy' && !hasLiveHealthcheck(other)) {
        problems.push(`${at}: service_healthy, but "${target}" has no healthcheck with a test`);
      }
      if (condition === 'service_completed_successfully' && other.restart !== undefined) {
        if (!/^(no|on-failure(:\d+)?)$/.test(String(other.restart))) {
          problems.push(
            `${at}: service_completed_successfully, but "${target}" restarts "${String(other.restart)}"`,
          );
        }
      }
    }

    for (const volume of namedVolumes(service)) {
      if (!(volume in declaredVolumes))
        problems.push(`${where}.volumes: named volume "${volume}" is not declared`);
    }
    if (service.healthcheck !== undefined) {
      if (isDict(service.healthcheck))
        problems.push(...healthcheckProblems(`${where}.healthcheck`, service.healthcheck));
      else problems.push(`${where}.healthcheck: not a mapping`);
    }
    if (service.stop_grace_period !== undefined && !DURATION.test(String(service.stop_grace_period))) {
      problems.push(`${where}.stop_grace_period: not a Compose duration`);
    }
    if (service.ports !== undefined) {
      if (Array.isArray(service.ports))
        service.ports.forEach((p, i) => problems.push(...portProblems(`${where}.ports[${i}]`, p)));
      else problems.push(`${where}.ports: must be a list`);
    }
    if (service.restart !== undefined && !RESTART.test(String(service.restart))) {
      problems.push(
        `${where}.restart: "${String(service.restart)}" is not no, always, on-failure[:N] or unless-stopped`,
      );
    }
    if (Array.isArray(service.environment)) {
      service.environment.forEach((item, i) => {
        if (typeof item !== 'string' || !/^[^=\s]+(=|$)/.test(item))
          problems.push(`${where}.environment[${i}]: not KEY=VALUE`);
      });
    } else if (isDict(service.environment)) {
      for (const [key, value] of Object.entries(service.environment)) {
        if (value !== null && !['string', 'number', 'boolean'].includes(typeof value)) {
          problems.push(`${where}.environment.${key}: must be a string, number, boolean or null`);
        }
      }
    }
  }

  // depends_on must not loop.
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, trail: string[]): void => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') {
      problems.push(`depends_on cycle: ${[...trail.slice(trail.indexOf(name)), name].join(' -> ')}`);
      return;
    }
    state.set(name, 'visiting');
    const service = services[name];
    for (const target of isDict(service) ? Object.keys(dependsOn(service)) : []) {
      if (target !== name && target in services) visit(target, [...trail, name]);
    }
    state.set(name, 'done');
  };
  for (const name of Object.keys(services)) visit(name, []);
  return problems;
}

/** Loads a compose file's text: YAML problems, interpolation problems, then the document. */
function loadCompose(text: string, env: Env = {}): { doc: unknown; problems: string[] } {
  const { value, problems } = loadYaml(text);
  const doc = interpolate(value, env, 'compose', problems);
  return { doc, problems };
}

// ---------------------------------------------------------------------------------------------------
// Dockerfile

function envOfStage(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const { keyword, args } of stage.instructions) {
    if (keyword !== 'ENV') continue;
    if (!args.includes('=')) {
      const [key = '', ...rest] = args.split(/\s+/);
      env[key] = rest.join(' ');
      continue;
    }
    for (const pair of args.match(/[^\s=]+=(?:"(?:[^"\\]|\\.)*"|'[^']*'|\S*)/g) ?? []) {
      const eq = pair.indexOf('=');
      env[pair.slice(0, eq)] = words(pair.slice(eq + 1))[0] ?? '';
    }
  }
  return env;
}

function execForm(args: string): string[] | undefined {
  if (!args.trim().startsWith('[')) return undefined;
  try {
    const value: unknown = JSON.parse(args);
    return Array.isArray(value) && value.every((v) => typeof v === 'string') ? value : undefined;
  } catch {
    return undefined;
  }
}

interface DockerfileFacts {
  exposed: number[];
  healthcheck?: { flags: Record<string, string>; command: string[] };
  cmd?: string[];
  env: Record<string, string>;
}

function dockerfileFacts(stages: Stage[]): DockerfileFacts {
  const final = stages[stages.length - 1];
  const facts: DockerfileFacts = { exposed: [], env: final ? envOfStage(final) : {} };
  for (const { keyword, args } of final?.instructions ?? []) {
    if (keyword === 'EXPOSE') facts.exposed.push(...words(args).map((p) => Number(p.replace(/\/\w+$/, ''))));
    if (keyword === 'CMD') facts.cmd = execForm(args) ?? ['/bin/sh', '-c', args];
    if (keyword === 'HEALTHCHECK') {
      const parsed = /^((?:--[a-z-]+=\S+\s+)*)(CMD|NONE)\b\s*([\s\S]*)$/.exec(args);
      if (parsed?.[2] === 'CMD') {
        const flags = Object.fromEntries(
          (parsed[1] ?? '')
            .trim()
            .split(/\s+/)
            .filter(Boolean)
            .map((flag) => flag.slice(2).split('=') as [string, string]),
        );
        facts.healthcheck = {
          flags,
          command: execForm(parsed[3] ?? '') ?? ['/bin/sh', '-c', parsed[3] ?? ''],
        };
      } else {
        delete facts.healthcheck;
      }
    }
  }
  return facts;
}

/** The files the gateway needs at run time (SPEC "Stack"; src/catalog/load.ts, src/store/migrate.ts). */
const RUNTIME_FILES = ['dist', 'bin', 'catalogs', 'migrations', 'package.json'];

/** What the image must be: multi-stage, non-root, the port, the healthcheck, `serve`, its files. */
function dockerfileProblems(text: string, options: { nodeMajor: number }): string[] {
  const { stages, problems } = parseDockerfile(text);
  if (stages.length < 2)
    problems.push('Dockerfile: expected a multi-stage build (a build stage, then the runtime)');
  const final = stages[stages.length - 1];
  if (!final) return problems;
  const names = new Set<string>();
  stages.forEach((stage, i) => {
    for (const { keyword, args, line } of stage.instructions) {
      const from = /--from=(\S+)/.exec(args)?.[1];
      if (keyword === 'COPY' && from !== undefined && !names.has(from) && !(Number(from) < i)) {
        problems.push(`Dockerfile:${line}: COPY --from=${from} names no earlier stage`);
      }
    }
    if (stage.name) names.add(stage.name);
  });

  const base = /^node:(\d+)(?:[.-][\w.-]*)?$/.exec(final.base);
  if (!base)
    problems.push(`Dockerfile: the runtime stage is built on ${final.base}, not an official node image`);
  else if (Number(base[1]) < options.nodeMajor) {
    problems.push(
      `Dockerfile: node ${base[1]} in the runtime stage; package.json needs ${options.nodeMajor}+`,
    );
  }
  if (!/slim|alpine|distroless/.test(final.base))
    problems.push(`Dockerfile: runtime base ${final.base} is not a slim image`);

  const users = final.instructions.filter((i) => i.keyword === 'USER').map((i) => i.args.split(':')[0]);
  const user = users[users.length - 1];
  if (user === undefined) problems.push('Dockerfile: the runtime stage sets no USER, so it runs as root');
  else if (user === 'root' || user === '0') problems.push('Dockerfile: the runtime stage runs as root');

  const runs = final.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
  if (!runs.some((r) => /\bnpm ci\b/.test(r) && /--omit=dev\b/.test(r))) {
    problems.push('Dockerfile: the runtime stage does not install with `npm ci --omit=dev`');
  }
  const facts = dockerfileFacts(stages);
  if (facts.env.NODE_ENV !== 'production')
    problems.push('Dockerfile: NODE_ENV is not production in the runtime stage');
  const dataDir = facts.env.ROLEGATE_DATA_DIR;
  if (!dataDir?.startsWith('/'))
    problems.push('Dockerfile: ROLEGATE_DATA_DIR is not set to an absolute folder');
  else if (!runs.some((r) => r.includes(dataDir) && /\bchown\b/.test(r) && /\bnode\b/.test(r))) {
    problems.push(`Dockerfile: ${dataDir} (ROLEGATE_DATA_DIR) is not made writable for the node user`);
  }

  const copied = final.instructions
    .filter((i) => i.keyword === 'COPY' || i.keyword === 'ADD')
    .flatMap((i) =>
      words(i.args)
        .filter((w) => !w.startsWith('--'))
        .slice(0, -1),
    )
    .map((source) =>
      source
        .replace(/^\/app\//, '')
        .replace(/^\.\//, '')
        .replace(/\/+$/, ''),
    );
  for (const file of RUNTIME_FILES) {
    if (!copied.includes(file)) problems.push(`Dockerfile: the runtime stage does not copy ${file}`);
  }

  if (facts.exposed.length === 0) problems.push('Dockerfile: the runtime stage EXPOSEs no port');
  if (facts.env.PORT !== undefined && !facts.exposed.includes(Number(facts.env.PORT))) {
    problems.push(`Dockerfile: ENV PORT=${facts.env.PORT} is not EXPOSEd`);
  }
  if (!facts.healthcheck) problems.push('Dockerfile: the runtime stage has no HEALTHCHECK');
  else {
    if (!facts.healthcheck.command.join(' ').includes('/healthz'))
      problems.push('Dockerfile: HEALTHCHECK does not ask /healthz');
    if (/\b(curl|wget)\b/.test(facts.healthcheck.command.join(' '))) {
      problems.push('Dockerfile: HEALTHCHECK uses curl/wget, which the slim image lacks');
    }
    for (const [flag, value] of Object.entries(facts.healthcheck.flags)) {
      if (flag !== 'retries' && !DURATION.test(value))
        problems.push(`Dockerfile: HEALTHCHECK --${flag}=${value} is not a duration`);
    }
  }
  const cmd = facts.cmd;
  if (!cmd) problems.push('Dockerfile: no CMD');
  else if (cmd[0] !== 'node' || cmd[1] !== 'bin/rolegate.js' || cmd[2] !== 'serve' || cmd.length !== 3) {
    problems.push(`Dockerfile: CMD is ${JSON.stringify(cmd)}, not ["node","bin/rolegate.js","serve"]`);
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------------
// .dockerignore

/** Whether Docker leaves `file` out of the build context: last matching rule wins, `!` re-includes. */
function dockerignore(text: string): (file: string) => boolean {
  const rules = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const include = line.startsWith('!');
      const pattern = path.posix.normalize((include ? line.slice(1) : line).trim()).replace(/^\/+|\/+$/g, '');
      const source = pattern
        .split(/(\*\*\/?|\*|\?)/)
        .map((part) => {
          if (part === '**/') return '(?:.*/)?';
          if (part === '**') return '.*';
          if (part === '*') return '[^/]*';
          if (part === '?') return '[^/]';
          return part.replace(/[.+^${}()|[\]\\]/g, '\\$&');
        })
        .join('');
      return { include, regex: new RegExp(`^${source}$`) };
    });
  return (file) => {
    // A rule that matches a folder leaves out everything in it.
    const parts = file.split('/');
    const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let excluded = false;
    for (const rule of rules) {
      if (prefixes.some((prefix) => rule.regex.test(prefix))) excluded = !rule.include;
    }
    return excluded;
  };
}

function filesUnder(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir)).flatMap((entry) => {
    const rel = `${dir}/${entry}`;
    return statSync(path.join(ROOT, rel)).isDirectory() ? filesUnder(rel) : [rel];
  });
}

/** What the image build reads must stay in the context; local state and secrets must not. */
function dockerignoreProblems(text: string, needed: string[]): string[] {
  const ignored = dockerignore(text);
  const problems: string[] = [];
  for (const file of needed)
    if (ignored(file)) problems.push(`.dockerignore leaves out ${file}, which the build needs`);
  for (const file of [
    'node_modules/x/index.js',
    'dist/index.js',
    'data/PG_VERSION',
    '.git/HEAD',
    '.env',
    'coverage/x',
    'bench/results/x.md',
  ]) {
    if (!ignored(file)) problems.push(`.dockerignore lets ${file} into the build context`);
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------------
// What the stack means for rolegate

/** Env names the app reads: every `env.NAME` in src/, and those of the parts still landing. */
function appEnvNames(): Set<string> {
  const names = new Set<string>();
  for (const file of filesUnder('src').filter((f) => f.endsWith('.ts'))) {
    for (const match of read(file).matchAll(
      /\benv\.([A-Z][A-Z0-9_]*)\b|\benv\[\s*['"]([A-Z][A-Z0-9_]*)['"]\s*\]/g,
    )) {
      names.add((match[1] ?? match[2])!);
    }
  }
  return names;
}
/** Read by the gateway's authentication (landing with the gateway), and by Node and npm themselves. */
const PENDING_ENV = [
  'ROLEGATE_JWT_SECRET',
  'ROLEGATE_JWKS_URL',
  'ROLEGATE_JWT_PUBLIC_KEY',
  'ROLEGATE_JWT_ALGORITHM',
  'ROLEGATE_JWT_ISSUER',
  'ROLEGATE_JWT_AUDIENCE',
];
const RUNTIME_ENV = ['NODE_ENV', 'NODE_OPTIONS'];

/** Substitutes `${VAR}`/`$VAR` from a container's environment (what its shell will do). */
const shellExpand = (text: string, env: Record<string, string | undefined>) =>
  text.replace(
    /\$\{([A-Za-z_]\w*)\}|\$([A-Za-z_]\w*)/g,
    (_m, a?: string, b?: string) => env[(a ?? b)!] ?? '',
  );

function rolegateProblems(doc: unknown, dockerfile: DockerfileFacts, knownEnv: Set<string>): string[] {
  if (!isDict(doc) || !isDict(doc.services)) return ['no services'];
  const services = doc.services as Record<string, Dict>;
  const problems: string[] = [];
  for (const name of ['postgres', 'redis', 'migrate', 'gateway']) {
    if (!isDict(services[name])) problems.push(`no "${name}" service`);
  }
  for (const [name, service] of Object.entries(services)) {
    const image = service.image;
    if (typeof image === 'string' && !/^[^:/]+(?:\/[^:]+)*:(?!latest$)[\w.-]+$/.test(image)) {
      problems.push(`services.${name}: image "${image}" is not pinned to a tag`);
    }
  }
  const postgres = services.postgres ?? {};
  const redis = services.redis ?? {};
  const migrate = services.migrate ?? {};
  const gateway = services.gateway ?? {};

  // PostgreSQL: credentials, a volume for its data, a check that asks the database it defines.
  const pg = environmentOf(postgres);
  const user = pg.POSTGRES_USER ?? 'postgres';
  const db = pg.POSTGRES_DB ?? user;
  if (!pg.POSTGRES_PASSWORD) problems.push('postgres: no POSTGRES_PASSWORD');
  if (
    !(Array.isArray(postgres.volumes) ? postgres.volumes : []).some((v) =>
      String(v).endsWith(':/var/lib/postgresql/data'),
    )
  ) {
    problems.push('postgres: /var/lib/postgresql/data is not on a volume');
  }
  const pgCheck = isDict(postgres.healthcheck) ? postgres.healthcheck.test : undefined;
  const pgCheckText = shellExpand(
    Array.isArray(pgCheck) ? pgCheck.slice(1).join(' ') : String(pgCheck),
    pg,
  ).replace(/"/g, '');
  if (!new RegExp(`^pg_isready\\b.*-U ${user}\\b.*-d ${db}\\b`).test(pgCheckText)) {
    problems.push(`postgres: the healthcheck is not pg_isready -U ${user} -d ${db} (it is: ${pgCheckText})`);
  }
  const redisCheck = isDict(redis.healthcheck) ? redis.healthcheck.test : undefined;
  if (!(Array.isArray(redisCheck) ? redisCheck.join(' ') : String(redisCheck)).includes('redis-cli ping')) {
    problems.push('redis: the healthcheck is not redis-cli ping');
  }

  const databaseUrlProblems = (who: string, url: string | undefined): string[] => {
    if (!url) return [`${who}: no DATABASE_URL`];
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return [`${who}: DATABASE_URL "${url}" is not a URL`];
    }
    const out: string[] = [];
    if (!['postgres:', 'postgresql:'].includes(parsed.protocol))
      out.push(`${who}: DATABASE_URL is not postgres://`);
    if (parsed.hostname !== 'postgres')
      out.push(`${who}: DATABASE_URL host is ${parsed.hostname}, not the postgres service`);
    if (!['', '5432'].includes(parsed.port))
      out.push(`${who}: DATABASE_URL port ${parsed.port} is not PostgreSQL's 5432`);
    if (decodeURIComponent(parsed.username) !== user)
      out.push(`${who}: DATABASE_URL user is not POSTGRES_USER (${user})`);
    if (decodeURIComponent(parsed.password) !== (pg.POSTGRES_PASSWORD ?? '')) {
      out.push(`${who}: DATABASE_URL password is not POSTGRES_PASSWORD`);
    }
    if (decodeURIComponent(parsed.pathname.slice(1)) !== db)
      out.push(`${who}: DATABASE_URL database is not POSTGRES_DB (${db})`);
    return out;
  };

  // The gateway: what it reads, where it connects, what it waits for.
  const env = environmentOf(gateway);
  for (const name of Object.keys(env)) {
    if (!knownEnv.has(name)) problems.push(`gateway: environment ${name} is not read by rolegate`);
  }
  problems.push(...databaseUrlProblems('gateway', env.DATABASE_URL));
  if (!env.REDIS_URL) problems.push('gateway: no REDIS_URL');
  else {
    const url = new URL(env.REDIS_URL);
    if (!['redis:', 'rediss:'].includes(url.protocol) || url.hostname !== 'redis') {
      problems.push(`gateway: REDIS_URL ${env.REDIS_URL} does not point at the redis service`);
    }
  }
  // src/identity/tokens.ts: production verifies with a JWKS or a public key and refuses development tokens;
  // development signs them with ROLEGATE_JWT_SECRET when given (32+ characters), otherwise with a random
  // key the store keeps for every replica. A secret written into this public file would let anyone sign.
  if (env.ROLEGATE_ENV === 'development') {
    if (env.ROLEGATE_JWT_SECRET !== undefined && env.ROLEGATE_JWT_SECRET.length < 32) {
      problems.push(
        'gateway: development mode sets a ROLEGATE_JWT_SECRET shorter than 32 characters (HS256)',
      );
    }
  } else if (env.ROLEGATE_ENV === 'production') {
    if (!env.ROLEGATE_JWKS_URL && !env.ROLEGATE_JWT_PUBLIC_KEY) {
      problems.push('gateway: production mode needs ROLEGATE_JWKS_URL or ROLEGATE_JWT_PUBLIC_KEY');
    }
    if (env.ROLEGATE_JWT_SECRET)
      problems.push('gateway: ROLEGATE_JWT_SECRET is a development setting, set in production');
  } else
    problems.push(`gateway: ROLEGATE_ENV is "${String(env.ROLEGATE_ENV)}", not development or production`);

  const port = Number(env.PORT ?? dockerfile.env.PORT ?? 4000);
  const published = (Array.isArray(gateway.ports) ? gateway.ports : []).map((p) =>
    Number(
      isDict(p)
        ? p.target
        : String(p)
            .replace(/\/\w+$/, '')
            .split(':')
            .pop(),
    ),
  );
  if (!published.includes(port)) problems.push(`gateway: port ${port} (PORT) is not published`);
  if (!dockerfile.exposed.includes(port))
    problems.push(`gateway: port ${port} is not EXPOSEd by the Dockerfile`);

  const expectDep = (who: string, deps: Record<string, Dict>, target: string, condition: string) => {
    if (deps[target]?.condition !== condition)
      problems.push(`${who}: does not wait for ${target} (${condition})`);
  };
  const gatewayDeps = dependsOn(gateway);
  expectDep('gateway', gatewayDeps, 'postgres', 'service_healthy');
  expectDep('gateway', gatewayDeps, 'redis', 'service_healthy');
  expectDep('gateway', gatewayDeps, 'migrate', 'service_completed_successfully');
  if (gateway.build === undefined) problems.push('gateway: not built from this repository');
  const command = gateway.command ?? dockerfile.cmd;
  if (!(Array.isArray(command) ? command : String(command).split(/\s+/)).includes('serve')) {
    problems.push('gateway: does not run `rolegate serve`');
  }
  const check = isDict(gateway.healthcheck) ? gateway.healthcheck.test : undefined;
  if (JSON.stringify(check) !== JSON.stringify(['CMD', ...(dockerfile.healthcheck?.command ?? [])])) {
    problems.push("gateway: the healthcheck is not the same as the Dockerfile's HEALTHCHECK");
  }
  if (gateway.restart !== 'unless-stopped') problems.push('gateway: restart is not unless-stopped');

  // migrate: the same image, run once against the same database.
  if (JSON.stringify(migrate.build) !== JSON.stringify(gateway.build))
    problems.push('migrate: not built like the gateway');
  if (JSON.stringify(migrate.command) !== JSON.stringify(['node', 'bin/rolegate.js', 'migrate'])) {
    problems.push('migrate: command is not node bin/rolegate.js migrate');
  }
  const migrateEnv = environmentOf(migrate);
  for (const name of Object.keys(migrateEnv)) {
    if (!knownEnv.has(name)) problems.push(`migrate: environment ${name} is not read by rolegate`);
  }
  problems.push(...databaseUrlProblems('migrate', migrateEnv.DATABASE_URL));
  expectDep('migrate', dependsOn(migrate), 'postgres', 'service_healthy');
  if (migrate.restart !== 'no') problems.push('migrate: restart is not "no"');
  return problems;
}

// ---------------------------------------------------------------------------------------------------
// The tests

const composeText = read('docker-compose.yml');
const dockerfileText = read('Dockerfile');
const dockerignoreText = read('.dockerignore');
const nodeMajor = Number(/(\d+)/.exec(JSON.parse(read('package.json')).engines.node)?.[1]);
const facts = dockerfileFacts(parseDockerfile(dockerfileText).stages);
/** The runtime stage's FROM line, as the Dockerfile writes it (its base moves with Node's LTS line). */
const runtimeFrom = /^FROM \S+ AS runtime$/m.exec(dockerfileText)?.[0] ?? 'FROM (no runtime stage)';
const knownEnv = new Set([...appEnvNames(), ...PENDING_ENV, ...RUNTIME_ENV]);

function composeSchemaValidator() {
  const pkg = require.resolve('dclint/package.json');
  const schema = JSON.parse(
    readFileSync(path.join(path.dirname(pkg), 'schemas', 'compose.schema.json'), 'utf8'),
  );
  expect(schema.title).toBe('Compose Specification');
  // Draft-07, which is ajv's default; its "$schema" spells the draft's address in a way ajv does not know.
  delete schema.$schema;
  return new Ajv({ allErrors: true, strict: false }).compile(schema);
}

describe('docker-compose.yml', () => {
  const { doc, problems } = loadCompose(composeText);

  it('parses, interpolates from an empty environment and reads the same as YAML 1.1', () => {
    expect(problems).toEqual([]);
    expect(isDict(doc)).toBe(true);
  });

  it("is valid by the Compose Specification's JSON schema", () => {
    const validate = composeSchemaValidator();
    expect(validate(doc) ? [] : validate.errors).toEqual([]);
  });

  it("keeps the Compose Specification's rules", () => {
    expect(composeProblems(doc)).toEqual([]);
  });

  it('runs rolegate with its database, cache and migrations, consistently', () => {
    expect(rolegateProblems(doc, facts, knownEnv)).toEqual([]);
  });

  it('stays consistent when the credentials are overridden from the environment', () => {
    const overridden = loadCompose(composeText, {
      POSTGRES_USER: 'alice',
      POSTGRES_PASSWORD: 's3cret-Pa55',
      POSTGRES_DB: 'authz',
      ROLEGATE_JWT_SECRET: 'x'.repeat(40),
    });
    expect(overridden.problems).toEqual([]);
    expect(rolegateProblems(overridden.doc, facts, knownEnv)).toEqual([]);
    const services = (overridden.doc as { services: Record<string, Dict> }).services;
    expect(environmentOf(services.gateway!).DATABASE_URL).toBe(
      'postgres://alice:s3cret-Pa55@postgres:5432/authz',
    );
  });

  it('switches to production as its comments say', () => {
    const copy = clone(doc) as { services: Record<string, Dict> };
    const env = copy.services.gateway!.environment as Dict;
    env.ROLEGATE_ENV = 'production';
    delete env.ROLEGATE_JWT_SECRET;
    Object.assign(env, {
      ROLEGATE_JWKS_URL: 'https://issuer.example/.well-known/jwks.json',
      ROLEGATE_JWT_ISSUER: 'https://issuer.example/',
      ROLEGATE_JWT_AUDIENCE: 'rolegate',
    });
    expect(rolegateProblems(copy, facts, knownEnv)).toEqual([]);
    for (const name of [
      'ROLEGATE_ENV: production',
      'ROLEGATE_JWKS_URL',
      'ROLEGATE_JWT_ISSUER',
      'ROLEGATE_JWT_AUDIENCE',
    ]) {
      expect(composeText).toContain(name);
    }
  });

  it('the env names checked against come from the source (the scan finds the config)', () => {
    const scanned = appEnvNames();
    for (const name of ['PORT', 'DATABASE_URL', 'ROLEGATE_DATA_DIR', 'REDIS_URL', 'ROLEGATE_ENV']) {
      expect(scanned).toContain(name);
    }
    for (const name of Object.keys(facts.env)) expect(knownEnv).toContain(name);
  });
});

describe('Dockerfile and .dockerignore', () => {
  it('builds a non-root runtime image that serves on its port with a healthcheck', () => {
    expect(dockerfileProblems(dockerfileText, { nodeMajor })).toEqual([]);
    expect(facts.exposed).toEqual([4000]);
    expect(facts.cmd).toEqual(['node', 'bin/rolegate.js', 'serve']);
  });

  it('keeps in the build context what the build reads, and leaves out local state', () => {
    const needed = [
      'package.json',
      'package-lock.json',
      'tsconfig.json',
      'tsconfig.build.json',
      ...['src', 'bin', 'catalogs', 'migrations', 'schema', 'explorer']
        .filter((d) => existsSync(path.join(ROOT, d)))
        .flatMap(filesUnder),
    ];
    expect(needed.length).toBeGreaterThan(10);
    expect(dockerignoreProblems(dockerignoreText, needed)).toEqual([]);
  });
});

// Each checker must catch what it is for: broken inputs, and the expected complaint about each.
describe('the checkers catch broken files', () => {
  const broken = `
version: '3.8'
servces: {}
services:
  db:
    image: postgres:latest
    volumes: ['dbdata:/var/lib/postgresql/data']
    healthcheck:
      test: ['pg_isready']
      interval: 5 seconds
  cache:
    environment: [REDIS=1]
  worker:
    build: .
    restart: always
    depends_on:
      db: { condition: service_ready }
      cache: { condition: service_healthy }
      ghost: { condition: service_started }
      gateway: { condition: service_started }
  gateway:
    build: .
    ports: ['4000:40o0', '70000:4000']
    restart: sometimes
    depends_on:
      worker: { condition: service_completed_successfully }
    environment:
      PORT: \${PORT}
volumes: {}
`;

  it('composeProblems', () => {
    const { doc, problems } = loadCompose(broken);
    expect(problems).toEqual([
      'compose.services.gateway.environment.PORT: ${PORT} has no default and is not set',
    ]);
    const found = composeProblems(doc);
    for (const expected of [
      'top-level "version" is obsolete',
      'top-level key "servces" is not allowed',
      'services.cache: has neither image nor build',
      'services.worker.depends_on.db: condition "service_ready" is not one of',
      'services.worker.depends_on.cache: service_healthy, but "cache" has no healthcheck',
      'services.worker.depends_on.ghost: no service "ghost"',
      'services.gateway.depends_on.worker: service_completed_successfully, but "worker" restarts "always"',
      'services.db.volumes: named volume "dbdata" is not declared',
      'services.db.healthcheck.interval: "5 seconds" is not a Compose duration',
      'services.db.healthcheck.test: a list must start with NONE, CMD or CMD-SHELL',
      'services.gateway.ports[0]: malformed port "4000:40o0"',
      'services.gateway.ports[1]: malformed port "70000:4000"',
      'services.gateway.restart: "sometimes" is not',
      'depends_on cycle: worker -> gateway -> worker',
    ]) {
      expect(found.filter((p) => p.startsWith(expected))).toHaveLength(1);
    }
    expect(found).toHaveLength(14);
  });

  it('the JSON schema', () => {
    const validate = composeSchemaValidator();
    const { doc } = loadCompose(broken.replace('restart: always', 'restart: always\n    helthcheck: {}'));
    expect(validate(doc)).toBe(false);
    const messages = (validate.errors ?? []).map(
      (e) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`,
    );
    expect(messages.join('\n')).toContain('servces');
    expect(messages.join('\n')).toContain('helthcheck');
  });

  it('YAML that YAML 1.1 reads differently, duplicate keys and bad interpolation', () => {
    expect(
      loadCompose('services:\n  a:\n    build: .\n    restart: no\n    ports: [22:22, 4000:4000]\n').problems,
    ).toEqual([
      'YAML: compose.services.a.restart is "no" in YAML 1.2 but false in YAML 1.1: quote it',
      'YAML: compose.services.a.ports[0] is "22:22" in YAML 1.2 but 1342 in YAML 1.1: quote it',
    ]);
    expect(loadCompose('services: {}\nservices: {}\n').problems).toEqual([expect.stringContaining('YAML: ')]);
    expect(loadCompose("x-a: 'cost: 5$'\nx-b: '${A B}'\nx-c: '${NEED:?set it}'\n").problems).toEqual([
      'compose.x-a: a lone "$" (write $$ for a literal dollar)',
      'compose.x-b: invalid interpolation "${A B}"',
      'compose.x-c: NEED is required: set it',
    ]);
  });

  const { doc: good } = loadCompose(composeText);
  const mutate = (change: (services: Record<string, Dict>) => void): unknown => {
    const copy = clone(good) as { services: Record<string, Dict> };
    change(copy.services);
    return copy;
  };
  const gatewayEnv = (services: Record<string, Dict>) => services.gateway!.environment as Dict;

  test.each<[string, (services: Record<string, Dict>) => void, string | string[]]>([
    [
      'a wrong password',
      (s) =>
        void (gatewayEnv(s).DATABASE_URL = String(gatewayEnv(s).DATABASE_URL).replace(/:[^:@]*@/, ':nope@')),
      'gateway: DATABASE_URL password is not POSTGRES_PASSWORD',
    ],
    [
      'another host',
      (s) =>
        void (gatewayEnv(s).DATABASE_URL = String(gatewayEnv(s).DATABASE_URL).replace('@postgres:', '@db:')),
      'gateway: DATABASE_URL host is db',
    ],
    [
      'another database',
      (s) => void ((s.postgres!.environment as Dict).POSTGRES_DB = 'other'),
      [
        'gateway: DATABASE_URL database is not POSTGRES_DB (other)',
        'migrate: DATABASE_URL database is not POSTGRES_DB (other)',
      ],
    ],
    [
      'an env name the app does not read',
      (s) => void (gatewayEnv(s).ROLEGATE_SECRET = 'x'),
      'gateway: environment ROLEGATE_SECRET is not read',
    ],
    [
      'a short dev secret',
      (s) => void (gatewayEnv(s).ROLEGATE_JWT_SECRET = 'short'),
      'development mode sets a ROLEGATE_JWT_SECRET shorter than 32 characters',
    ],
    [
      'production without JWKS',
      (s) =>
        void Object.assign(gatewayEnv(s), {
          ROLEGATE_ENV: 'production',
          ROLEGATE_JWT_SECRET: 'x'.repeat(40),
        }),
      [
        'production mode needs ROLEGATE_JWKS_URL or ROLEGATE_JWT_PUBLIC_KEY',
        'ROLEGATE_JWT_SECRET is a development setting',
      ],
    ],
    [
      'another port',
      (s) => void (gatewayEnv(s).PORT = '8080'),
      ['gateway: port 8080 (PORT) is not published', 'gateway: port 8080 is not EXPOSEd by the Dockerfile'],
    ],
    [
      'not waiting for migrate',
      (s) => void delete (s.gateway!.depends_on as Dict).migrate,
      'gateway: does not wait for migrate',
    ],
    [
      'a different healthcheck',
      (s) => void ((s.gateway!.healthcheck as Dict).test = ['CMD', 'true']),
      "is not the same as the Dockerfile's",
    ],
    ['migrate restarting', (s) => void (s.migrate!.restart = 'always'), 'migrate: restart is not "no"'],
    [
      'migrate serving',
      (s) => void (s.migrate!.command = ['node', 'bin/rolegate.js', 'serve']),
      'migrate: command is not',
    ],
    ['a latest image', (s) => void (s.redis!.image = 'redis'), 'services.redis: image "redis" is not pinned'],
    [
      'pg_isready for another user',
      (s) => void ((s.postgres!.healthcheck as Dict).test = ['CMD', 'pg_isready', '-U', 'postgres']),
      'postgres: the healthcheck is not pg_isready',
    ],
  ])('rolegateProblems: %s', (_name, change, expected) => {
    expect(rolegateProblems(good, facts, knownEnv)).toEqual([]);
    const found = rolegateProblems(mutate(change), facts, knownEnv);
    expect(found).toEqual([expected].flat().map((e) => expect.stringContaining(e)));
  });

  test.each<[string, string, string]>([
    ['USER node', 'USER root', 'runs as root'],
    ['USER node\n', '', 'sets no USER'],
    ['EXPOSE 4000', 'EXPOSE 8080', 'ENV PORT=4000 is not EXPOSEd'],
    ['HEALTHCHECK', '# HEALTHCHECK', 'no HEALTHCHECK'],
    ['"bin/rolegate.js", "serve"]', '"bin/rolegate.js", "start"]', 'CMD is'],
    ['npm ci --omit=dev', 'npm ci', '`npm ci --omit=dev`'],
    [runtimeFrom, 'FROM node:18-bookworm-slim AS runtime', 'node 18 in the runtime stage'],
    ['COPY --from=build /app/migrations ./migrations\n', '', 'does not copy migrations'],
    [
      'COPY --from=build /app/dist',
      'COPY --from=builder /app/dist',
      'COPY --from=builder names no earlier stage',
    ],
    ['&& chown node:node /app/data', '', 'is not made writable'],
    ['NODE_ENV=production', 'NODE_ENV=development', 'NODE_ENV is not production'],
  ])('dockerfileProblems: %s → %s', (from, to, expected) => {
    expect(dockerfileText).toContain(from);
    const found = dockerfileProblems(dockerfileText.replace(from, to), { nodeMajor });
    expect(found).toEqual([expect.stringContaining(expected)]);
  });

  it('dockerfileProblems: a single-stage image', () => {
    const single = dockerfileText.slice(dockerfileText.indexOf(runtimeFrom));
    expect(dockerfileProblems(single, { nodeMajor })).toEqual([
      expect.stringContaining('expected a multi-stage build'),
      ...['dist', 'bin', 'catalogs', 'migrations', 'schema'].map(() =>
        expect.stringContaining('names no earlier stage'),
      ),
    ]);
  });

  it('dockerignoreProblems', () => {
    const needed = ['src/index.ts', 'package.json', 'migrations/001_init.sql'];
    expect(dockerignoreProblems(`${dockerignoreText}\nsrc\n*.json\n`, needed)).toEqual([
      '.dockerignore leaves out src/index.ts, which the build needs',
      '.dockerignore leaves out package.json, which the build needs',
    ]);
    expect(dockerignoreProblems(`${dockerignoreText}\n**/*.sql\n!migrations/001_init.sql\n`, needed)).toEqual(
      [],
    );
    expect(
      dockerignoreProblems(
        dockerignoreText.replace(/^(node_modules|\*\*\/node_modules|\*\*\/\.env)$/gm, ''),
        needed,
      ),
    ).toEqual([
      '.dockerignore lets node_modules/x/index.js into the build context',
      '.dockerignore lets .env into the build context',
    ]);
  });
});
