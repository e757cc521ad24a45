import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { getMainDefinition } from '@apollo/client/utilities';
import { createClient } from 'graphql-ws';

/**
 * One Apollo Client for one gateway and one token: queries over HTTP (POST, JSON: the gateway's CSRF
 * protection lets it through, and its CORS lets this origin read the answer), subscriptions over
 * graphql-ws on the same address, the token sent as connection parameters. `onStatus` hears the
 * WebSocket's state: 'live' once connected, 'closed' when it drops (graphql-ws then retries).
 */
export function createApolloClient(
  gateway: string,
  token: string,
  onStatus: (status: 'live' | 'closed') => void = () => {},
): ApolloClient {
  const http = new HttpLink({ uri: gateway, headers: { authorization: `Bearer ${token}` } });
  const ws = new GraphQLWsLink(
    createClient({
      url: gateway.replace(/^http/, 'ws'),
      connectionParams: { authorization: `Bearer ${token}` },
      on: { connected: () => onStatus('live'), closed: () => onStatus('closed') },
    }),
  );
  const isSubscription = ({ query }: ApolloLink.Operation) => {
    const definition = getMainDefinition(query);
    return definition.kind === 'OperationDefinition' && definition.operation === 'subscription';
  };
  return new ApolloClient({ link: ApolloLink.split(isSubscription, ws, http), cache: new InMemoryCache() });
}
