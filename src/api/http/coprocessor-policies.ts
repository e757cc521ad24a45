import {
  Kind,
  parse,
  valueFromASTUntyped,
  type DirectiveNode,
  type DocumentNode,
  type FragmentDefinitionNode,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { LRUCache } from 'lru-cache';

/**
 * What a router's `@policy` names mean to rolegate, as plain data: no I/O. A policy is a catalog
 * permission, optionally `permission@argumentName`: then the permission is required at every location
 * that an argument (or input field) of that name holds anywhere in the operation (fragments included,
 * variables resolved). The router sends one boolean per policy per request and no field path, so the
 * scopes found are AND-ed: a decision per object is the subgraph client's (`rolegate/subgraph`).
 */

/** A policy name taken apart; null when it cannot be one (then it is answered false). */
export interface PolicyName {
  permission: string;
  /** The argument whose values are the scopes; null: the organization. */
  argument: string | null;
}

/** The longest policy name read (longer ones are unknown: false). */
export const MAX_POLICY_CHARS = 300;
/** The most locations one policy is decided at; more, and it is answered false. */
export const MAX_SCOPES = 1_000;
/** The same token limit as /graphql's parser (src/api/server.ts LIMITS.tokens). */
const MAX_TOKENS = 20_000;

const NAME = /^[_A-Za-z][_0-9A-Za-z]*$/;

/** `booking:manage@locationId` → { booking:manage, locationId }; split at the last `@`. */
export function parsePolicyName(policy: string): PolicyName | null {
  if (!policy || policy.length > MAX_POLICY_CHARS) return null;
  const at = policy.lastIndexOf('@');
  if (at < 0) return { permission: policy, argument: null };
  const permission = policy.slice(0, at);
  const argument = policy.slice(at + 1);
  return permission && NAME.test(argument) ? { permission, argument } : null;
}

/** The operation as the router sends it (`body` of the request). */
export interface OperationBody {
  query?: string | null;
  operationName?: string | null;
  variables?: Record<string, unknown> | null;
}

/**
 * Where each argument name points in the operation: for every name asked, the values found (a list
 * value gives each element; a variable its value, or its default). `undefined` and `null` values mean
 * "no scope given here" and are the organization. An Error when the operation cannot be read (no query,
 * a syntax error, no such operation, several and none named): the caller answers false.
 */
export function argumentValues(
  body: OperationBody | undefined,
  names: ReadonlySet<string>,
): Map<string, unknown[]> | Error {
  const document = parsed(body?.query);
  if (document instanceof Error) return document;
  const operation = pickOperation(document, body?.operationName ?? null);
  if (operation instanceof Error) return operation;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions)
    if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);

  // Defaults first, then what the request sent.
  const variables: Record<string, unknown> = {};
  for (const v of operation.variableDefinitions ?? [])
    if (v.defaultValue) variables[v.variable.name.value] = valueFromASTUntyped(v.defaultValue);
  Object.assign(variables, body?.variables ?? {});

  const found = new Map<string, unknown[]>([...names].map((n) => [n, []]));
  const take = (name: string, value: unknown) => {
    const into = found.get(name);
    if (into) into.push(...(Array.isArray(value) ? value : [value]));
  };
  // An argument of the name, or an input field of the name at any depth inside any argument.
  const inside = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(inside);
    else if (value && typeof value === 'object')
      for (const [k, v] of Object.entries(value)) {
        take(k, v);
        inside(v);
      }
  };
  const directives = (nodes: readonly DirectiveNode[] | undefined) => {
    for (const d of nodes ?? [])
      for (const a of d.arguments ?? []) {
        const value = valueFromASTUntyped(a.value, variables);
        take(a.name.value, value);
        inside(value);
      }
  };
  const seen = new Set<string>();
  const walk = (set: SelectionSetNode | undefined): void => {
    for (const s of set?.selections ?? []) {
      directives(s.directives);
      if (s.kind === Kind.FIELD) {
        for (const a of s.arguments ?? []) {
          const value = valueFromASTUntyped(a.value, variables);
          take(a.name.value, value);
          inside(value);
        }
        walk(s.selectionSet);
      } else if (s.kind === Kind.INLINE_FRAGMENT) {
        walk(s.selectionSet);
      } else if (!seen.has(s.name.value)) {
        seen.add(s.name.value);
        const fragment = fragments.get(s.name.value);
        directives(fragment?.directives);
        walk(fragment?.selectionSet);
      }
    }
  };
  directives(operation.directives);
  walk(operation.selectionSet);
  return found;
}

/** Documents parsed lately, by query text (short ones only: the cache holds no megabyte keys). */
const documents = new LRUCache<string, DocumentNode | Error>({ max: 500 });
const CACHED_QUERY_CHARS = 16_384;

function parsed(query: string | null | undefined): DocumentNode | Error {
  if (typeof query !== 'string' || !query) return new Error('the request carries no operation (body.query)');
  const known = documents.get(query);
  if (known) return known;
  let document: DocumentNode | Error;
  try {
    document = parse(query, { noLocation: true, maxTokens: MAX_TOKENS });
  } catch {
    document = new Error('the operation (body.query) cannot be parsed');
  }
  if (query.length <= CACHED_QUERY_CHARS) documents.set(query, document);
  return document;
}

function pickOperation(document: DocumentNode, name: string | null): OperationDefinitionNode | Error {
  const operations = document.definitions.filter(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
  );
  if (name !== null) {
    const named = operations.find((o) => o.name?.value === name);
    return named ?? new Error('the operation named by operationName is not in the query');
  }
  return operations.length === 1
    ? operations[0]!
    : new Error('the query holds several operations and operationName names none');
}
