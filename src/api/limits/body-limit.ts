import { errorCodes, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { Kind, parse, type OperationDefinitionNode } from 'graphql';

/**
 * Request bodies: `bodyBytes` for every request, and `importBodyBytes` for a request whose operation
 * does nothing but `importUsers` (a 5 MiB workbook is 6.67 MiB in base64, and JSON escapes CSV's
 * quotes and line ends). The larger limit is the route's, so that such a body is read at all; a body
 * past `bodyBytes` is then refused (413, as Fastify refuses a body too large) unless its operation is
 * an import. Fastify reads the body before anyone can know its operation, so a request that is not an
 * import costs at most `importBodyBytes` of reading and JSON parsing before it is refused.
 */
export interface BodyLimits {
  bodyBytes: number;
  importBodyBytes: number;
  /** The parser's token limit, for reading the operation of a large body. */
  maxTokens: number;
}

/** Each request's body size in bytes, as read (JSON bodies; others fall back to Content-Length). */
const sizes = new WeakMap<FastifyRequest, number>();

/**
 * Replaces the JSON body parser with Fastify's own default one that also records the body's size, and
 * returns the route's preHandler that enforces the smaller limit on every operation but an import.
 */
export function bodyLimits(app: FastifyInstance, limits: BodyLimits) {
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    sizes.set(req, Buffer.byteLength(body as string, 'utf8'));
    json(req, body as string, done);
  });
  return async function preHandler(req: FastifyRequest, _reply: FastifyReply): Promise<void> {
    const bytes = sizes.get(req) ?? Number(req.headers['content-length'] ?? 0);
    if (!(bytes > limits.bodyBytes)) return;
    if (bytes <= limits.importBodyBytes && importsOnly(req.body, limits.maxTokens)) return;
    throw new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE();
  };
}

/** Whether a GraphQL request's operation selects `importUsers` and nothing else. */
export function importsOnly(body: unknown, maxTokens: number): boolean {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return false;
  const { query, operationName } = body as { query?: unknown; operationName?: unknown };
  if (typeof query !== 'string') return false;
  let operations: OperationDefinitionNode[];
  try {
    operations = parse(query, { maxTokens }).definitions.filter(
      (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
    );
  } catch {
    return false; // Apollo answers the syntax error, for a body within the limit
  }
  const operation =
    typeof operationName === 'string'
      ? operations.find((o) => o.name?.value === operationName)
      : operations.length === 1
        ? operations[0]
        : undefined;
  return (
    operation?.operation === 'mutation' &&
    operation.selectionSet.selections.length > 0 &&
    operation.selectionSet.selections.every((s) => s.kind === Kind.FIELD && s.name.value === 'importUsers')
  );
}
