/**
 * The baseline: a plain Apollo Server (the same @apollo/server, the same Fastify integration
 * `@as-integrations/fastify`, the same Fastify) with a trivial schema, answering `{ __typename }`.
 * No authentication, no guards, no store: what one GraphQL request costs on this stack and machine.
 */
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import fastifyApollo from '@as-integrations/fastify';
import Fastify from 'fastify';

export async function startBaseline(): Promise<{ url: string; close(): Promise<void> }> {
  const apollo = new ApolloServer({
    typeDefs: 'type Query { hello: String }',
    resolvers: { Query: { hello: () => 'world' } },
    introspection: false,
    plugins: [ApolloServerPluginLandingPageDisabled()],
  });
  await apollo.start();
  const app = Fastify({ logger: false });
  await app.register(fastifyApollo(apollo));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    async close() {
      await app.close();
      await apollo.stop();
    },
  };
}
