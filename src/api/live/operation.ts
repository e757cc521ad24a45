import {
  createSourceEventStream,
  execute,
  getOperationAST,
  GraphQLError,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type ValidationRule,
} from 'graphql';
import type { SubscribePayload } from 'graphql-ws';
import { requestLimitErrors } from '../limits/use-request-limits';
import { LimitExceededError } from '../limits/limit-error';

/** What a WebSocket operation is checked against: the same as an HTTP request (see server.ts). */
export interface OperationRules {
  schema: GraphQLSchema;
  /** Beside graphql's own: armor's depth, alias, directive and cost limits. */
  validationRules: readonly ValidationRule[];
  /** graphql's parser stops past this many tokens. */
  maxTokens: number;
  /** Production: no "Did you mean …" in validation errors. */
  hideSuggestions: boolean;
}

export const HTTP_ONLY =
  'this WebSocket serves subscriptions: send queries and mutations by HTTP POST to /graphql';

/**
 * A subscribe message checked as an HTTP request is, in the same order: parsed within the token
 * limit (GRAPHQL_PARSE_FAILED), validated by graphql's and armor's rules (GRAPHQL_VALIDATION_FAILED),
 * its operation resolved, then its input lengths (BAD_USER_INPUT). Only subscriptions are served here.
 */
export function prepareSubscription(
  rules: OperationRules,
  payload: SubscribePayload,
): { document: DocumentNode; operation: OperationDefinitionNode } | GraphQLError[] {
  let document: DocumentNode;
  try {
    document = parse(payload.query, { maxTokens: rules.maxTokens });
  } catch (err) {
    return [withCode(err, 'GRAPHQL_PARSE_FAILED')];
  }
  const invalid = validate(rules.schema, document, [...specifiedRules, ...rules.validationRules], {
    hideSuggestions: rules.hideSuggestions,
  });
  if (invalid.length) return invalid.map((e) => withCode(e, 'GRAPHQL_VALIDATION_FAILED'));
  const operation = getOperationAST(document, payload.operationName);
  if (!operation)
    return [
      badRequest(
        payload.operationName
          ? `Unknown operation named "${payload.operationName}".`
          : 'Must provide operation name if query contains multiple operations.',
      ),
    ];
  if (operation.operation !== 'subscription') return [badRequest(HTTP_ONLY)];
  const limits = requestLimitErrors(rules.schema, document, operation, payload.variables ?? undefined);
  return limits.length ? limits : { document, operation };
}

/**
 * What an event is executed with: a context; or a result to send instead (the store out of reach);
 * or null to end the stream (the connection is being closed).
 */
export type EventContext = (
  payload: unknown,
) => Promise<{ context: object } | { result: ExecutionResult } | null>;

/** What subscribeEach tells its caller. */
export interface EventHooks {
  /** The context an event is executed in (see EventContext). */
  eventContext: EventContext;
  /** What the source stream threw (it is then sent to the client, formatted). */
  onSourceError(err: unknown): void;
  /** The stream ended, whatever the reason (the client completed it, the socket closed, an error). */
  onEnd(): void;
}

/**
 * graphql's `subscribe`, except that each event is executed in a context of its own, at the state of
 * the moment (`eventContext`): the fields of an event are resolved with fresh loaders and guarded at
 * the current version, never with those of the subscription's start. Ending the stream (`return()`)
 * ends it at once, even while the source waits for its next event: the source is told (`onEnd`, then
 * its own `return()`), and nothing waits for it to comply.
 */
export async function subscribeEach(
  args: ExecutionArgs,
  hooks: EventHooks,
): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
  let stream: Awaited<ReturnType<typeof createSourceEventStream>>;
  try {
    stream = await createSourceEventStream(args);
  } catch (err) {
    hooks.onEnd();
    throw err;
  }
  if (!isStream(stream)) {
    hooks.onEnd();
    return stream;
  }
  const source = stream[Symbol.asyncIterator]();
  const ended: IteratorReturnResult<undefined> = { value: undefined, done: true };
  let stop!: () => void;
  const stopped = new Promise<IteratorReturnResult<undefined>>((resolve) => (stop = () => resolve(ended)));
  let done = false;
  const finish = async (): Promise<IteratorResult<ExecutionResult>> => {
    if (done) return ended;
    done = true;
    stop();
    hooks.onEnd();
    // A source waiting for an event may only end at its next one (an async generator's return() waits
    // for it): it is told, not waited for.
    void Promise.resolve(source.return?.()).catch(() => {});
    return ended;
  };
  const events: AsyncIterableIterator<ExecutionResult> = {
    async next() {
      if (done) return ended;
      let step: IteratorResult<unknown>;
      try {
        step = await Promise.race([source.next(), stopped]);
      } catch (err) {
        hooks.onSourceError(err);
        await finish();
        throw err;
      }
      if (step.done || done) return finish();
      try {
        const at = await hooks.eventContext(step.value);
        if (at === null || done) return finish();
        if ('result' in at) return { value: at.result, done: false };
        return {
          value: await execute({ ...args, rootValue: step.value, contextValue: at.context }),
          done: false,
        };
      } catch (err) {
        await finish();
        throw err;
      }
    },
    return: finish,
    async throw(err: unknown) {
      await finish();
      throw err;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
  return events;
}

function isStream(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}

function withCode(err: unknown, code: string): GraphQLError {
  if (!(err instanceof GraphQLError)) throw err;
  // A limit refused keeps its own code and kind, as over HTTP.
  if (err instanceof LimitExceededError) return err;
  return new GraphQLError(err.message, {
    nodes: err.nodes,
    source: err.source,
    positions: err.positions,
    extensions: { ...err.extensions, code },
  });
}

function badRequest(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'BAD_REQUEST' } });
}
