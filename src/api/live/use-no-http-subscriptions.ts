import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { GraphQLError } from 'graphql';

export const OVER_WEBSOCKET = 'subscriptions are served over WebSocket at /graphql (graphql-ws)';

/**
 * A subscription sent over HTTP is refused once its operation is known (a document may hold one beside
 * the query it runs), before anything executes: HTTP 400, BAD_REQUEST, saying where they are served.
 */
export function useNoHttpSubscriptions<C extends BaseContext>(): ApolloServerPlugin<C> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation }) {
          if (operation?.operation === 'subscription')
            throw new GraphQLError(OVER_WEBSOCKET, {
              extensions: { code: 'BAD_REQUEST', http: { status: 400 } },
            });
        },
      };
    },
  };
}
