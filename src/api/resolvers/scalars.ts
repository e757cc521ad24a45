import { GraphQLError, GraphQLScalarType, Kind, type ValueNode } from 'graphql';

const invalid = () =>
  new GraphQLError('DateTime must be an ISO 8601 date-time with an offset, e.g. 2026-11-23T12:00:00Z', {
    extensions: { code: 'BAD_USER_INPUT' },
  });

function parse(value: unknown): Date {
  if (
    typeof value !== 'string' ||
    !/^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/.test(value)
  )
    throw invalid();
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw invalid();
  return date;
}

export const DateTime = new GraphQLScalarType<Date, string>({
  name: 'DateTime',
  serialize: (value) => (value instanceof Date ? value : new Date(value as string)).toISOString(),
  parseValue: parse,
  parseLiteral: (ast) =>
    ast.kind === Kind.STRING
      ? parse(ast.value)
      : (() => {
          throw invalid();
        })(),
});

/** The largest JSON value accepted (as JSON text), and the deepest nesting. */
const JSON_MAX_BYTES = 64 * 1024;
const JSON_MAX_DEPTH = 20;

const badJson = (why: string) => new GraphQLError(`JSON ${why}`, { extensions: { code: 'BAD_USER_INPUT' } });

/** A JSON value as given, checked: finite numbers, no deeper than JSON_MAX_DEPTH, at most JSON_MAX_BYTES. */
function parseJson(value: unknown): unknown {
  const depth = (v: unknown, d: number): void => {
    if (d > JSON_MAX_DEPTH) throw badJson('is nested too deeply');
    if (typeof v === 'number' && !Number.isFinite(v)) throw badJson('numbers must be finite');
    if (v && typeof v === 'object') for (const x of Object.values(v)) depth(x, d + 1);
  };
  depth(value, 0);
  if (Buffer.byteLength(JSON.stringify(value) ?? 'null') > JSON_MAX_BYTES)
    throw badJson('value is too large');
  return value;
}

function literal(ast: ValueNode, variables?: Record<string, unknown> | null): unknown {
  switch (ast.kind) {
    case Kind.STRING:
    case Kind.BOOLEAN:
      return ast.value;
    case Kind.INT:
    case Kind.FLOAT:
      return Number(ast.value);
    case Kind.NULL:
      return null;
    case Kind.LIST:
      return ast.values.map((v) => literal(v, variables));
    case Kind.OBJECT:
      return Object.fromEntries(ast.fields.map((f) => [f.name.value, literal(f.value, variables)]));
    case Kind.VARIABLE:
      return variables?.[ast.name.value];
    default:
      throw badJson('expected a JSON value');
  }
}

/** Any JSON value (approval requests' `arguments`), size- and depth-limited. */
export const JSONScalar = new GraphQLScalarType<unknown, unknown>({
  name: 'JSON',
  serialize: (value) => value,
  parseValue: parseJson,
  parseLiteral: (ast, variables) => parseJson(literal(ast, variables)),
});
