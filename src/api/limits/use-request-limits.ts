import { HeaderMap, type ApolloServerPlugin, type BaseContext } from '@apollo/server';
import {
  getDirectiveValues,
  getNamedType,
  GraphQLError,
  GraphQLIncludeDirective,
  GraphQLSkipDirective,
  isAbstractType,
  isInputType,
  isInterfaceType,
  isObjectType,
  Kind,
  typeFromAST,
  valueFromAST,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';
import { findViolations, type LimitViolation, type Walk } from './input-limits';
import { LimitExceededError } from './limit-error';
import { DECISION_FIELDS, EXPENSIVE_FIELDS, MAX_DECISIONS, MAX_EXPENSIVE } from './request-budget';

/** At most this many limit errors in one answer: enough to fix a request, never a large response. */
const MAX_REPORTED = 10;

/**
 * The request's bounds, checked once its operation is known and before any resolver (or guard) runs:
 * the decision budget, the expensive fields, and the input lengths of INPUT_LIMITS, on the arguments
 * as coerced with the request's variables. A request over any of them is answered at once, HTTP 400,
 * with one BAD_USER_INPUT error per problem naming what and where, never the limit; nothing executes.
 */
export function useRequestLimits<C extends BaseContext>(): ApolloServerPlugin<C> {
  return {
    async requestDidStart() {
      return {
        // The hook that may answer instead of execution; it runs right after didResolveOperation.
        async responseForOperation({ schema, document, operation, request }) {
          // No operation (an unknown operationName): execution answers that, with its own error.
          if (!operation) return null;
          const errors = requestLimitErrors(schema, document, operation, request.variables);
          if (!errors.length) return null;
          return {
            http: { status: 400, headers: new HeaderMap() },
            body: { kind: 'single', singleResult: { errors: errors.map((e) => e.toJSON()) } },
          };
        },
      };
    },
  };
}

/**
 * The refusals for one operation; [] when it is within every bound. It reads arguments as written
 * (literals, and variables as sent) rather than coercing the variables, which execution does anyway:
 * what does not fit its type is left to execution to refuse.
 */
export function requestLimitErrors(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  rawVariables: Record<string, unknown> | undefined,
): GraphQLError[] {
  const root = schema.getRootType(operation.operation);
  if (!root) return [];
  const rootName = root.name;
  const variables = rawVariables ?? {};
  const defaults = new Map<string, ValueNode>();
  // @skip and @include read variables coerced; a Boolean's default is the only coercion they need.
  let directiveVariables = variables;
  for (const v of operation.variableDefinitions ?? []) {
    if (!v.defaultValue) continue;
    const name = v.variable.name.value;
    defaults.set(name, v.defaultValue);
    if (!Object.hasOwn(variables, name)) {
      const type = typeFromAST(schema, v.type);
      const value = isInputType(type) ? valueFromAST(v.defaultValue, type) : undefined;
      if (value !== undefined) directiveVariables = { ...directiveVariables, [name]: value };
    }
  }
  const fragments: Record<string, FragmentDefinitionNode> = Object.create(null);
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments[d.name.value] = d;

  // Root fields as execution will run them: one per response key, @skip/@include applied.
  const rootFields = new Map<string, FieldNode>();
  collectRoot(operation.selectionSet);
  function collectRoot(set: SelectionSetNode, seen = new Set<string>()): void {
    for (const s of set.selections) {
      if (!included(s, directiveVariables)) continue;
      if (s.kind === Kind.FIELD) {
        const key = s.alias?.value ?? s.name.value;
        if (!rootFields.has(key)) rootFields.set(key, s);
      } else if (s.kind === Kind.INLINE_FRAGMENT) {
        if (!s.typeCondition || s.typeCondition.name.value === rootName) collectRoot(s.selectionSet, seen);
      } else if (!seen.has(s.name.value)) {
        seen.add(s.name.value);
        const fragment = fragments[s.name.value];
        if (fragment && fragment.typeCondition.name.value === rootName)
          collectRoot(fragment.selectionSet, seen);
      }
    }
  }

  // The budget: decisions and expensive fields, over every alias.
  const refusals: GraphQLError[] = [];
  if (operation.operation === 'query') {
    let decisions = 0;
    let expensive = 0;
    for (const node of rootFields.values()) {
      const name = node.name.value;
      if (EXPENSIVE_FIELDS.has(name)) expensive++;
      const counts = Object.hasOwn(DECISION_FIELDS, name) ? DECISION_FIELDS[name]! : 0;
      decisions += typeof counts === 'number' ? counts : itemsOf(node, counts.itemsOf, variables, defaults);
    }
    if (decisions > MAX_DECISIONS) refusals.push(new LimitExceededError('decisions'));
    if (expensive > MAX_EXPENSIVE) refusals.push(new LimitExceededError('expensiveFields'));
    if (refusals.length) return refusals;
  }

  // Input lengths, on every field's arguments (root or nested), each field node once.
  const violations: (LimitViolation & { field: string; node: FieldNode })[] = [];
  const visitedFields = new Set<FieldNode>();
  const visitedFragments = new Set<string>();
  walkSelections(root, operation.selectionSet);
  function walkSelections(parent: GraphQLCompositeType, set: SelectionSetNode): void {
    for (const s of set.selections) {
      if (violations.length >= MAX_REPORTED) return;
      if (s.kind === Kind.FIELD) {
        if (visitedFields.has(s)) continue;
        visitedFields.add(s);
        const def =
          isObjectType(parent) || isInterfaceType(parent) ? parent.getFields()[s.name.value] : undefined;
        if (!def) continue; // __typename, or a union's member fields (reached through fragments)
        if (s.arguments?.length) {
          const walk: Walk = { variables, defaults, found: [], max: MAX_REPORTED - violations.length };
          for (const a of s.arguments) {
            const arg = def.args.find((d) => d.name === a.name.value);
            if (arg) findViolations(walk, arg.type, a.value, arg.name, arg.name);
          }
          for (const v of walk.found)
            violations.push({ ...v, field: s.alias?.value ?? s.name.value, node: s });
        }
        const type = getNamedType(def.type);
        if (s.selectionSet && (isObjectType(type) || isAbstractType(type)))
          walkSelections(type, s.selectionSet);
      } else if (s.kind === Kind.INLINE_FRAGMENT) {
        const type = s.typeCondition ? schema.getType(s.typeCondition.name.value) : parent;
        if (type && (isObjectType(type) || isAbstractType(type))) walkSelections(type, s.selectionSet);
      } else if (!visitedFragments.has(s.name.value)) {
        visitedFragments.add(s.name.value);
        const fragment = fragments[s.name.value];
        const type = fragment && schema.getType(fragment.typeCondition.name.value);
        if (type && (isObjectType(type) || isAbstractType(type))) walkSelections(type, fragment.selectionSet);
      }
    }
  }
  return violations.map((v) =>
    refusal(`${v.path} ${v.problem} (in ${v.field})`, v.node, { field: v.field, argument: v.path }),
  );
}

/** How many items a field's list argument holds, as written (a single value counts as one). */
function itemsOf(
  field: FieldNode,
  argument: string,
  variables: Record<string, unknown>,
  defaults: ReadonlyMap<string, ValueNode>,
): number {
  const count = (node: ValueNode | undefined): number => {
    if (!node || node.kind === Kind.NULL) return 0;
    if (node.kind === Kind.LIST) return node.values.length;
    if (node.kind !== Kind.VARIABLE) return 1;
    const name = node.name.value;
    if (!Object.hasOwn(variables, name)) return count(defaults.get(name));
    const value = variables[name];
    return Array.isArray(value) ? value.length : value == null ? 0 : 1;
  };
  return count(field.arguments?.find((a) => a.name.value === argument)?.value);
}

/** Whether @skip / @include let a selection run with these variables. */
function included(node: SelectionSetNode['selections'][number], variables: Record<string, unknown>): boolean {
  try {
    if (getDirectiveValues(GraphQLSkipDirective, node, variables)?.if === true) return false;
    if (getDirectiveValues(GraphQLIncludeDirective, node, variables)?.if === false) return false;
  } catch {
    // A directive argument execution will refuse: counted as running, the stricter reading.
  }
  return true;
}

function refusal(message: string, node: FieldNode, more: Record<string, unknown> = {}): GraphQLError {
  return new GraphQLError(message, { nodes: [node], extensions: { code: 'BAD_USER_INPUT', ...more } });
}
