import type { FastifyInstance } from 'fastify';
import type { GraphQLError, GraphQLSchema } from 'graphql';
import type { Catalog } from '../../catalog';
import { printDescribedSchema, type DescribedSchemas } from './described-schema';

/**
 * `GET /schema.graphql` (development only): the SDL with its directives (`@requires`,
 * `@authenticated`) and each guarded field's requirement in the viewer's catalog's words, the generic
 * wording without credentials; what `rolegate schema print` prints. Bad credentials are refused as on
 * /graphql (401, or the store's 503), in the same JSON.
 */
export function registerSdlRoute(
  app: FastifyInstance,
  described: DescribedSchemas,
  /** The catalog of the viewer these credentials name; throws the GraphQLError /graphql would answer. */
  catalogOf: (authorization: string) => Promise<Catalog>,
): void {
  const printed = new WeakMap<GraphQLSchema, string>();
  app.get('/schema.graphql', async (req, reply) => {
    let schema = described.generic;
    const authorization = req.headers.authorization;
    if (authorization) {
      try {
        schema = described.for(await catalogOf(authorization));
      } catch (err) {
        const error = err as GraphQLError;
        const http = error.extensions?.http as { status?: number } | undefined;
        if (!http?.status) throw err;
        return reply.status(http.status).send({
          errors: [{ message: error.message, extensions: { code: error.extensions.code } }],
        });
      }
    }
    let sdl = printed.get(schema);
    if (!sdl) {
      sdl = printDescribedSchema(schema);
      printed.set(schema, sdl);
    }
    return reply
      .header('cache-control', 'no-store')
      .header('x-content-type-options', 'nosniff')
      .type('text/plain; charset=utf-8')
      .send(sdl);
  });
}
