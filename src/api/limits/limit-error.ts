import { GraphQLError, type ASTNode } from 'graphql';
import { EXPENSIVE_FIELDS } from './request-budget';

/**
 * The kinds of request limit. A refusal names its kind, in its message and in `extensions.limit`, and
 * never the limit's value: a client learns what to change, not how far it may push.
 */
export type LimitKind =
  'depth' | 'aliases' | 'directives' | 'tokens' | 'cost' | 'body' | 'decisions' | 'expensiveFields';

const MESSAGES: Readonly<Record<LimitKind, string>> = {
  depth: 'the operation is nested too deeply: select fewer levels',
  aliases: 'too many aliases in this operation: split it over several requests',
  directives: 'too many directives in this operation',
  tokens: 'the document is too large: too many tokens',
  cost: 'the operation is too costly: ask for fewer fields or smaller pages',
  body: 'the request body is too large',
  decisions: 'too many decisions in one request: split the checks over several requests',
  expensiveFields: `too many ${[...EXPENSIVE_FIELDS].join(', ')} fields in one request: send them in separate requests`,
};

/**
 * A request over one of the gateway's limits: BAD_USER_INPUT with `extensions.limit` naming the kind
 * (HTTP 400; 413 for the body). Its extensions are its own, so it reads the same whether it is sent as
 * it is (the request budget's early answer), through formatError (validation, WebSocket), or by the
 * HTTP error handler (the body).
 */
export class LimitExceededError extends GraphQLError {
  override name = 'LimitExceededError';

  constructor(
    readonly kind: LimitKind,
    nodes?: ASTNode | readonly ASTNode[],
  ) {
    super(MESSAGES[kind], { nodes, extensions: { code: 'BAD_USER_INPUT', limit: kind } });
  }
}

/**
 * graphql-armor's options for a limit: refusals reported to graphql's validation (so Apollo answers
 * HTTP 400 and validation goes on to report every limit passed) as a LimitExceededError of `kind`,
 * instead of armor's "Syntax Error: Query validation error." that names no limit.
 */
export function armorRefusal(kind: LimitKind) {
  return {
    exposeLimits: false,
    propagateOnRejection: false,
    onReject: [
      (context: { reportError(error: GraphQLError): void } | null) =>
        context?.reportError(new LimitExceededError(kind)),
    ],
  };
}
