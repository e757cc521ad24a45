import { composeServices } from '@apollo/composition';
import { ApolloGateway, RemoteGraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import type { GatewayInterface } from '@apollo/server-gateway-interface';
import { startStandaloneServer } from '@apollo/server/standalone';
import type { DocumentNode } from 'graphql';

/**
 * Composing the supergraph (@apollo/composition) and serving it with @apollo/gateway inside Apollo
 * Server 5, on loopback. The gateway forwards the viewer's `authorization` header to every subgraph:
 * rolegate verifies it, and bookings passes it on to rolegate with its decisions.
 */

export interface Subgraph {
  name: string;
  url: string;
  typeDefs: DocumentNode;
}

/** A running subgraph's SDL, as `IntrospectAndCompose` reads it: `{ _service { sdl } }`. */
export async function subgraphSdl(url: string, headers: Record<string, string> = {}): Promise<string> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query: '{ _service { sdl } }' }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json()) as { data?: { _service?: { sdl?: string } }; errors?: unknown[] };
  const sdl = body.data?._service?.sdl;
  if (!sdl)
    throw new Error(`${url} serves no _service.sdl (HTTP ${res.status}): ${JSON.stringify(body.errors)}`);
  return sdl;
}

/** The supergraph SDL, or an Error naming every composition error. */
export function compose(subgraphs: Subgraph[]): { supergraphSdl: string; hints: string[] } {
  const result = composeServices(subgraphs);
  if (result.errors)
    throw new Error(
      `the supergraph does not compose:\n${result.errors.map((e) => `  ${e.extensions.code ?? ''} ${e.message}`).join('\n')}`,
    );
  return { supergraphSdl: result.supergraphSdl, hints: result.hints.map((h) => h.definition.code) };
}

interface GatewayContext {
  authorization?: string;
}

/** @apollo/gateway over `supergraphSdl`, served by Apollo Server 5 on 127.0.0.1. */
export async function startSupergraphGateway(supergraphSdl: string, options: { port?: number } = {}) {
  const gateway = new ApolloGateway({
    supergraphSdl,
    buildService: ({ url }) =>
      new RemoteGraphQLDataSource<GatewayContext>({
        url,
        willSendRequest({ request, context }) {
          if (context.authorization) request.http?.headers.set('authorization', context.authorization);
        },
      }),
  });
  const server = new ApolloServer<GatewayContext>({
    // @apollo/gateway 2.14 is typed against @apollo/server-gateway-interface 1, Apollo Server 5 against
    // 2; the shape they use is the same at run time (Apollo's docs serve the gateway from AS5 this way).
    gateway: gateway as unknown as GatewayInterface,
    // Refusals are expected answers here: no stack traces in them, whatever NODE_ENV says.
    includeStacktraceInErrorResponses: false,
  });
  const { url } = await startStandaloneServer(server, {
    listen: { port: options.port ?? 0, host: '127.0.0.1' },
    context: async ({ req }) => ({ authorization: req.headers.authorization }),
  });
  return { url, stop: () => server.stop() };
}
