import { randomUUID } from 'node:crypto';
import { HeaderMap, type ApolloServerPlugin } from '@apollo/server';
import {
  execute,
  Kind,
  parse,
  type DocumentNode,
  type FragmentDefinitionNode,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import type { Context } from '../context';
import { unauthenticated } from '../errors';
import type { Deadline } from '../limits/deadline';
import type { DescribedSchemas } from './described-schema';

/** The root fields of introspection: a query made of these alone reads the schema, not the organization. */
const INTROSPECTION_FIELDS: ReadonlySet<string> = new Set(['__schema', '__type', '__typename']);

/**
 * Introspection answered from the described schema (src/api/explorer/described-schema.ts): the
 * viewer's catalog's wording with credentials, the generic wording without them (development only:
 * `introspectionContext`). Only an operation that is introspection alone is answered here, after
 * validation and the request limits, on the same document and variables; every other operation
 * executes as before, on the served schema, with its guards.
 */
export function useDescribedIntrospection(described: DescribedSchemas): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      return {
        // Before any resolver: credentials-free contexts answer introspection and nothing else.
        async didResolveOperation({ contextValue, document, operation }) {
          if (isAnonymous(contextValue) && !(operation && isIntrospectionOnly(document, operation)))
            throw unauthenticated('missing credentials: send Authorization: Bearer <token>', 'missing');
        },
        async responseForOperation({ contextValue, document, operation, request }) {
          if (!operation || !isIntrospectionOnly(document, operation)) return null;
          const schema = described.for(isAnonymous(contextValue) ? null : contextValue.authz.catalog.catalog);
          const result = await execute({
            schema,
            document,
            operationName: operation.name?.value,
            variableValues: request.variables,
          });
          return {
            http: { status: undefined, headers: new HeaderMap() },
            body: {
              kind: 'single',
              singleResult: {
                data: result.data,
                ...(result.errors?.length
                  ? {
                      errors: result.errors.map((e) => ({
                        ...e.toJSON(),
                        extensions: { code: 'BAD_USER_INPUT' },
                      })),
                    }
                  : {}),
              },
            },
          };
        },
      };
    },
  };
}

/** Whether an operation selects only `__schema`, `__type` and `__typename` at its root. */
export function isIntrospectionOnly(document: DocumentNode, operation: OperationDefinitionNode): boolean {
  if (operation.operation !== 'query') return false;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions)
    if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const seen = new Set<string>();
  const only = (set: SelectionSetNode): boolean =>
    set.selections.every((s) => {
      if (s.kind === Kind.FIELD) return INTROSPECTION_FIELDS.has(s.name.value);
      if (s.kind === Kind.INLINE_FRAGMENT) return only(s.selectionSet);
      if (seen.has(s.name.value)) return true;
      seen.add(s.name.value);
      const fragment = fragments.get(s.name.value);
      return !!fragment && only(fragment.selectionSet);
    });
  return only(operation.selectionSet);
}

/**
 * Whether an HTTP request without credentials asks for introspection alone (its `query` and
 * `operationName`, from a POST body or a GET query string). False for anything that does not parse,
 * for persisted queries without their text, and for an operation it cannot single out.
 */
export function asksIntrospectionOnly(
  params: { query?: unknown; operationName?: unknown } | undefined,
  maxTokens: number,
): boolean {
  if (!params || typeof params.query !== 'string') return false;
  let document: DocumentNode;
  try {
    document = parse(params.query, { maxTokens });
  } catch {
    return false;
  }
  const operations = document.definitions.filter(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
  );
  const name = typeof params.operationName === 'string' ? params.operationName : undefined;
  const operation = name ? operations.find((o) => o.name?.value === name) : operations[0];
  if (!operation || (!name && operations.length > 1)) return false;
  return isIntrospectionOnly(document, operation);
}

const ANONYMOUS = Symbol('rolegate.anonymousIntrospection');

/**
 * The context of an introspection request sent without credentials (development only): no viewer, no
 * organization. Every part of a real context throws UNAUTHENTICATED when read, so that a resolver or a
 * guard reached by mistake refuses; `useDescribedIntrospection` answers such a request before any runs,
 * and refuses any operation that is not introspection alone.
 */
export function introspectionContext(deadline: Deadline, requestId: string = randomUUID()): Context {
  const base = { requestId, deadline, [ANONYMOUS]: true };
  return new Proxy(base, {
    get(target, property, receiver) {
      if (property in target || typeof property === 'symbol' || property === 'then')
        return Reflect.get(target, property, receiver);
      throw unauthenticated('missing credentials: send Authorization: Bearer <token>', 'missing');
    },
  }) as unknown as Context;
}

function isAnonymous(context: Context): boolean {
  return (context as unknown as Record<symbol, unknown>)[ANONYMOUS] === true;
}
