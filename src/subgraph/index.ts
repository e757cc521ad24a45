/**
 * `rolegate/subgraph`: for subgraphs (any GraphQL server) that delegate their decisions to rolegate.
 * It depends only on graphql, dataloader, lru-cache and @graphql-tools/utils: nothing of the gateway.
 */
export {
  createRolegateClient,
  type RolegateClient,
  type RolegateClientOptions,
  type RolegateRequest,
  type ViewerRequest,
} from './client';
export {
  canDirective,
  canDirectiveTransformer,
  canDirectiveTypeDefs,
  graphqlErrorOf,
  type CanDirective,
  type CanDirectiveOptions,
} from './directive';
export {
  RolegateDecisionError,
  RolegateError,
  RolegateForbiddenError,
  RolegateRefusedError,
  RolegateUnauthenticatedError,
  RolegateUnavailableError,
  type Scope,
  type UnavailableReason,
} from './errors';
