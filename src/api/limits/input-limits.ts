import {
  isInputObjectType,
  isListType,
  isNonNullType,
  Kind,
  visit,
  type DocumentNode,
  type GraphQLInputType,
  type TypeNode,
  type ValueNode,
} from 'graphql';

/**
 * How long an input may be, by the name of the input field or argument: the one table the gateway
 * enforces before any resolver runs, states in the schema's descriptions, and migrations/003_limits.sql
 * backs with CHECK constraints. Lengths count characters (Unicode code points), as PostgreSQL does.
 * Errors never say these numbers; the schema does.
 */
export interface InputLimit {
  /** The most characters a string may have (for a list: each item). */
  chars?: number;
  /** The most items a list may have. */
  items?: number;
}

const KEY = 100;
const ID = 128;
const PERMISSION = 200;
const NAME = 200;

export const INPUT_LIMITS: Readonly<Record<string, InputLimit>> = {
  // Free text.
  name: { chars: NAME },
  description: { chars: 2_000 },
  email: { chars: 320 },
  // Catalog names: permissions (`module:action`, `page:x`, `tool:x`), role keys, flags, tools.
  permission: { chars: PERMISSION },
  grants: { chars: PERMISSION, items: 500 },
  inherits: { chars: KEY, items: 500 },
  key: { chars: KEY },
  newKey: { chars: KEY },
  role: { chars: KEY },
  roles: { chars: KEY, items: 100 },
  flags: { chars: KEY, items: 100 },
  tool: { chars: KEY },
  // Ids, restrictions, and the tokens clients hand back (cursors, versions).
  personId: { chars: ID },
  groupIds: { chars: ID, items: 100 },
  teamIds: { chars: ID, items: 100 },
  after: { chars: ID },
  atLeastVersion: { chars: ID },
  assignments: { items: 100 },
  // Approvals (migrations/004_approvals.sql). `arguments` (JSON) is limited by its scalar.
  kind: { chars: KEY },
  summary: { chars: 2_000 },
  note: { chars: 2_000 },
  argumentsHash: { chars: 64 },
  slackBotToken: { chars: 500 },
  teamsWebhookUrl: { chars: 2_000 },
  slackMemberId: { chars: 32 },
  teamsAddress: { chars: 320 },
};

/** Every ID-typed input without a rule of its own. */
const ID_LIMIT: InputLimit = { chars: ID };

/** The limit of an input field or argument named `name` whose innermost type is `typeName`. */
export function inputLimit(name: string, typeName: string): InputLimit | undefined {
  return Object.hasOwn(INPUT_LIMITS, name) ? INPUT_LIMITS[name] : typeName === 'ID' ? ID_LIMIT : undefined;
}

/** The sentence the schema's description gets for a limit, e.g. "At most 200 characters." */
export function describeLimit(limit: InputLimit, list: boolean): string {
  const chars = (n: number) => `${n.toLocaleString('en-US')} characters`;
  if (list && limit.items !== undefined)
    return limit.chars !== undefined
      ? `At most ${limit.items.toLocaleString('en-US')} items, each at most ${chars(limit.chars)}.`
      : `At most ${limit.items.toLocaleString('en-US')} items.`;
  return limit.chars !== undefined ? `${list ? 'Each at most' : 'At most'} ${chars(limit.chars)}.` : '';
}

/**
 * The SDL with every limited input field and argument saying its limit in its description, from
 * INPUT_LIMITS: so the introspected schema states what the gateway enforces.
 */
export function describeInputLimits(document: DocumentNode): DocumentNode {
  return visit(document, {
    InputValueDefinition(node) {
      const { name, list } = innermost(node.type);
      const limit = inputLimit(node.name.value, name);
      const sentence = limit ? describeLimit(limit, list) : '';
      if (!sentence) return undefined;
      const text = node.description ? `${node.description.value.trimEnd()} ${sentence}` : sentence;
      return {
        ...node,
        description: { kind: Kind.STRING, value: text, block: node.description?.block ?? false },
      };
    },
  });
}

function innermost(type: TypeNode): { name: string; list: boolean } {
  let list = false;
  while (type.kind !== Kind.NAMED_TYPE) {
    if (type.kind === Kind.LIST_TYPE) list = true;
    type = type.type;
  }
  return { name: type.name.value, list };
}

/** One input over its limit: where (`input.assignments[2].personId`) and what is wrong. */
export interface LimitViolation {
  path: string;
  problem: 'is too long' | 'has too many items';
}

/** Where a walk reports, and what it reads variables from. */
export interface Walk {
  /** The request's variables as sent (not coerced: coercing them twice would double that work). */
  variables: Readonly<Record<string, unknown>>;
  /** The operation's variable defaults, for variables the request leaves out. */
  defaults: ReadonlyMap<string, ValueNode>;
  found: LimitViolation[];
  /** Stop after this many violations. */
  max: number;
}

/**
 * Walks an argument's value as written, a literal of the document or a variable of the request,
 * against its input type, and reports each string and list over its limit, in order. Nested input
 * objects and lists of them are walked too, so `checks(inputs: [CheckInput])` and
 * `createUser(input: { assignments: [...] })` are covered. A value that does not fit its type is
 * skipped: execution refuses it with its own error.
 */
export function findViolations(
  walk: Walk,
  type: GraphQLInputType,
  node: ValueNode,
  name: string,
  path: string,
): void {
  if (walk.found.length >= walk.max) return;
  if (node.kind === Kind.VARIABLE) {
    const variable = node.name.value;
    if (Object.hasOwn(walk.variables, variable))
      return findInValue(walk, type, walk.variables[variable], name, path);
    const fallback = walk.defaults.get(variable);
    return fallback ? findViolations(walk, type, fallback, name, path) : undefined;
  }
  if (isNonNullType(type)) return findViolations(walk, type.ofType, node, name, path);
  if (isListType(type)) {
    if (node.kind !== Kind.LIST) return findViolations(walk, type.ofType, node, name, path);
    if (tooManyItems(type, name, node.values.length)) return report(walk, path, 'has too many items');
    node.values.forEach((item, i) => findViolations(walk, type.ofType, item, name, `${path}[${i}]`));
    return;
  }
  if (isInputObjectType(type)) {
    if (node.kind !== Kind.OBJECT) return;
    const fields = type.getFields();
    for (const f of node.fields) {
      const field = Object.hasOwn(fields, f.name.value) ? fields[f.name.value] : undefined;
      if (field) findViolations(walk, field.type, f.value, field.name, `${path}.${field.name}`);
    }
    return;
  }
  if (node.kind === Kind.STRING && tooLong(type, name, node.value)) report(walk, path, 'is too long');
}

/** The same walk over a variable's value, as the request sent it (JSON). */
function findInValue(walk: Walk, type: GraphQLInputType, value: unknown, name: string, path: string): void {
  if (value == null || walk.found.length >= walk.max) return;
  if (isNonNullType(type)) return findInValue(walk, type.ofType, value, name, path);
  if (isListType(type)) {
    if (!Array.isArray(value)) return findInValue(walk, type.ofType, value, name, path);
    if (tooManyItems(type, name, value.length)) return report(walk, path, 'has too many items');
    for (let i = 0; i < value.length && walk.found.length < walk.max; i++)
      findInValue(walk, type.ofType, value[i], name, `${path}[${i}]`);
    return;
  }
  if (isInputObjectType(type)) {
    if (typeof value !== 'object' || Array.isArray(value)) return;
    const fields = type.getFields();
    for (const key in fields) {
      const field = fields[key]!;
      const v = Object.hasOwn(value, field.name) ? (value as Record<string, unknown>)[field.name] : undefined;
      if (v != null) findInValue(walk, field.type, v, field.name, `${path}.${field.name}`);
    }
    return;
  }
  if (typeof value === 'string' && tooLong(type, name, value)) report(walk, path, 'is too long');
}

function tooManyItems(type: GraphQLInputType, name: string, items: number): boolean {
  const limit = inputLimit(name, namedTypeName(type))?.items;
  return limit !== undefined && items > limit;
}

function tooLong(type: { name: string }, name: string, value: string): boolean {
  const limit = inputLimit(name, type.name)?.chars;
  return limit !== undefined && longerThan(value, limit);
}

function report(walk: Walk, path: string, problem: LimitViolation['problem']): void {
  if (walk.found.length < walk.max) walk.found.push({ path, problem });
}

function namedTypeName(type: GraphQLInputType): string {
  let t = type;
  while (isListType(t) || isNonNullType(t)) t = t.ofType;
  return t.name;
}

/** Whether `s` has more than `max` characters (code points, as PostgreSQL's length() counts them). */
export function longerThan(s: string, max: number): boolean {
  if (s.length <= max) return false; // code points <= UTF-16 units
  if (s.length > 2 * max) return true; // each code point is at most 2 units
  let n = 0;
  for (const _ of s) if (++n > max) return true;
  return false;
}
