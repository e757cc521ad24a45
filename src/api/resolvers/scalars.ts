import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';

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
