import { makeExecutableSchema } from '@graphql-tools/schema';
import { graphql, type GraphQLSchema } from 'graphql';
import {
  canDirective,
  canDirectiveTransformer,
  canDirectiveTypeDefs,
  createRolegateClient,
} from 'rolegate/subgraph';
import { startDemoRolegate, type DemoRolegate } from '../support/rolegate-demo';

/**
 * `@can` on a plain graphql-tools schema (what Apollo Server, Yoga or Mercurius serve), executed here
 * with graphql-js, its decisions asked of a real rolegate (the JRNI demo): a denied field is null with a
 * FORBIDDEN error at exactly its path, the rest of the object stays, and 1,000 objects cost one POST.
 */

const typeDefs = /* GraphQL */ `
  ${canDirectiveTypeDefs}
  type Booking {
    id: ID!
    locationId: ID!
    "Anyone may see when; the customer and the notes are for those who manage bookings there."
    startsAt: String!
    customer: String @can(permission: "customer:manage", location: "locationId")
    notes: String @can(permission: "booking:manage", location: "locationId")
  }
  type Query {
    bookings: [Booking!]!
    "An argument path: the location comes from the field's own argument."
    bookingsAt(locationId: ID!): [Booking!] @can(permission: "booking:manage", location: "locationId")
    "A list path: every location named must be allowed."
    report(locationIds: [ID!]!): String @can(permission: "booking:manage", location: "locationIds")
    "No location: asked at the organization root."
    companyReport: String @can(permission: "booking:manage")
  }
  type Mutation {
    cancelBooking(id: ID!, locationId: ID!): Boolean
      @can(permission: "booking:manage", location: "args.locationId")
  }
`;

let r: DemoRolegate;
let schema: GraphQLSchema;
let bookings: { id: string; locationId: string; startsAt: string; customer: string; notes: string }[];
const cancelled: string[] = [];

beforeAll(async () => {
  r = await startDemoRolegate();
  const { london, leeds, bristol, parent } = r.demo.locations as Record<string, string>;
  const places = [london, leeds, bristol, parent];
  bookings = Array.from({ length: 1000 }, (_, i) => ({
    id: `b${i}`,
    locationId: places[i % 4]!,
    startsAt: `2027-01-01T${String(8 + (i % 10)).padStart(2, '0')}:00:00Z`,
    customer: `customer ${i}`,
    notes: `notes ${i}`,
  }));
  schema = canDirectiveTransformer(
    makeExecutableSchema({
      typeDefs,
      resolvers: {
        Query: {
          bookings: () => bookings,
          bookingsAt: (_: unknown, { locationId }: { locationId: string }) =>
            bookings.filter((b) => b.locationId === locationId),
          report: () => 'the report',
          companyReport: () => 'the company report',
        },
        Mutation: {
          cancelBooking: (_: unknown, { id }: { id: string }) => {
            cancelled.push(id);
            return true;
          },
        },
      },
    }),
  );
});
afterAll(() => r.close());
beforeEach(() => r.resetPosts());

const client = () => createRolegateClient({ url: r.url, apiKey: r.apiKey, timeoutMs: 5_000 });

async function run(email: string, source: string, variableValues?: Record<string, unknown>) {
  const rolegate = client().forRequest({ userId: r.userOf(email) });
  return graphql({ schema, source, contextValue: { rolegate }, variableValues });
}

const errorsAt = (result: Awaited<ReturnType<typeof run>>) =>
  (result.errors ?? []).map((e) => ({ path: e.path?.join('.'), code: e.extensions.code }));

test("1,000 bookings in 4 locations: one POST; the Manager at London sees London's customers and notes, and null + FORBIDDEN at exactly the others", async () => {
  const result = await run('manager@jrni.example', '{ bookings { id locationId startsAt customer notes } }');
  expect(r.posts()).toBe(1);
  const rows = (result.data as { bookings: Record<string, string | null>[] }).bookings;
  expect(rows).toHaveLength(1000);
  const london = r.demo.locations.london;
  for (const [i, row] of rows.entries()) {
    expect(row.startsAt).toBe(bookings[i]!.startsAt); // unguarded: always there
    expect(row.customer).toBe(row.locationId === london ? `customer ${i}` : null);
    expect(row.notes).toBe(row.locationId === london ? `notes ${i}` : null);
  }
  const expected = rows.flatMap((row, i) =>
    row.locationId === london
      ? []
      : [
          { path: `bookings.${i}.customer`, code: 'FORBIDDEN' },
          { path: `bookings.${i}.notes`, code: 'FORBIDDEN' },
        ],
  );
  expect(errorsAt(result)).toEqual(expected);
  expect(expected).toHaveLength(1500);
  // Each error carries the permission and the location refused.
  const notes = result.errors!.find((e) => e.path!.join('.') === 'bookings.1.notes')!;
  expect(notes.extensions).toEqual({
    code: 'FORBIDDEN',
    permission: 'booking:manage',
    locationId: r.demo.locations.leeds,
  });
});

test('the Call Center at Parent company manages bookings everywhere below it (cascade); the owner everywhere', async () => {
  const cc = await run('callcenter@jrni.example', '{ bookings { notes } }');
  expect(cc.errors).toBeUndefined();
  const owner = await run('owner@jrni.example', '{ bookings { customer notes } companyReport }');
  expect(owner.errors).toBeUndefined();
  expect(r.posts()).toBe(2);
});

test('a location from an argument, from a list argument (all must hold), and none (the organization root)', async () => {
  const { london, leeds } = r.demo.locations as Record<string, string>;
  const result = await run(
    'manager@jrni.example',
    `query($london: ID!, $leeds: ID!) {
      mine: bookingsAt(locationId: $london) { id }
      theirs: bookingsAt(locationId: $leeds) { id }
      one: report(locationIds: [$london])
      both: report(locationIds: [$london, $leeds])
      companyReport
    }`,
    { london, leeds },
  );
  expect(result.data).toEqual({
    mine: bookings.filter((b) => b.locationId === london).map((b) => ({ id: b.id })),
    theirs: null,
    one: 'the report',
    both: null,
    companyReport: null,
  });
  expect(errorsAt(result).sort((a, b) => a.path!.localeCompare(b.path!))).toEqual([
    { path: 'both', code: 'FORBIDDEN' },
    { path: 'companyReport', code: 'FORBIDDEN' },
    { path: 'theirs', code: 'FORBIDDEN' },
  ]);
  expect(r.posts()).toBe(1);
});

test("the list asks for its objects' selected guarded fields at once (fragments too); unselected ones are not asked", async () => {
  const none = await run('manager@jrni.example', '{ bookings { id startsAt } }');
  expect(none.errors).toBeUndefined();
  expect(r.posts()).toBe(0);
  const viaFragments = await run(
    'manager@jrni.example',
    '{ bookings { id ...N ... on Booking { locationId } } } fragment N on Booking { notes }',
  );
  expect(r.posts()).toBe(1);
  const rows = (viaFragments.data as { bookings: { notes: string | null; locationId: string }[] }).bookings;
  expect(rows.filter((b) => b.notes !== null).map((b) => b.locationId)).toEqual(
    Array(250).fill(r.demo.locations.london),
  );
  expect(viaFragments.errors).toHaveLength(750);
});

test('a denied mutation never runs its resolver', async () => {
  const { london, leeds } = r.demo.locations as Record<string, string>;
  const denied = await run(
    'manager@jrni.example',
    `mutation { cancelBooking(id: "b1", locationId: "${leeds}") }`,
  );
  expect(denied.data).toEqual({ cancelBooking: null });
  expect(errorsAt(denied)).toEqual([{ path: 'cancelBooking', code: 'FORBIDDEN' }]);
  expect(cancelled).toEqual([]);
  const allowed = await run(
    'manager@jrni.example',
    `mutation { cancelBooking(id: "b0", locationId: "${london}") }`,
  );
  expect(allowed).toEqual({ data: { cancelBooking: true } });
  expect(cancelled).toEqual(['b0']);
});

test('rolegate unavailable: every guarded field null with UNAVAILABLE, the unguarded ones still there', async () => {
  const rolegate = createRolegateClient({ url: 'http://127.0.0.1:9/graphql', apiKey: 'rgk_x' }).forRequest({
    userId: 'u1',
  });
  const result = await graphql({
    schema,
    source: '{ bookings { id customer } companyReport }',
    contextValue: { rolegate },
  });
  const rows = (result.data as { bookings: { id: string; customer: string | null }[] }).bookings;
  expect(rows.every((b) => b.customer === null && b.id)).toBe(true);
  expect(result.data!.companyReport).toBeNull();
  expect(new Set(result.errors!.map((e) => e.extensions.code))).toEqual(new Set(['UNAVAILABLE']));
  expect(result.errors).toHaveLength(1001);
});

test('no rolegate request in the context is a refusal too (a masked error), never an open field', async () => {
  const result = await graphql({ schema, source: '{ companyReport }', contextValue: {} });
  expect(result.data).toEqual({ companyReport: null });
  expect(result.errors![0]!.message).toMatch(/no rolegate request in the context/);
});

test('another name, another context field; a malformed directive is refused when the schema is built', () => {
  const { canDirectiveTypeDefs: defs, canDirectiveTransformer: transform } = canDirective('rolegateCan');
  expect(defs).toBe(
    'directive @rolegateCan(permission: String!, location: String, team: String) on FIELD_DEFINITION',
  );
  const built = transform(
    makeExecutableSchema({
      typeDefs: `${defs} type Query { x: String @rolegateCan(permission: "booking:manage") }`,
      resolvers: { Query: { x: () => 'x' } },
    }),
    { rolegate: (ctx: { auth: never }) => ctx.auth },
  );
  expect(built.getQueryType()!.getFields().x!.resolve).toBeDefined();
  expect(() =>
    canDirectiveTransformer(
      makeExecutableSchema({
        typeDefs: `${canDirectiveTypeDefs} type Query { x: String @can(permission: "p:q", location: "a..b") }`,
      }),
    ),
  ).toThrow('@can on Query.x: a path is names separated by dots, got "a..b"');
});
