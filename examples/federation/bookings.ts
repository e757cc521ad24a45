import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { startStandaloneServer } from '@apollo/server/standalone';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse, visit, type DocumentNode } from 'graphql';
import {
  canDirectiveTransformer,
  canDirectiveTypeDefs,
  createRolegateClient,
  type RolegateClient,
  type RolegateRequest,
} from 'rolegate/subgraph';

/**
 * The `bookings` subgraph: another team's service that keeps bookings and delegates every decision on
 * them to rolegate. Its guarded fields carry `@can` (rolegate/subgraph); a request's decisions are one
 * `checks` call to rolegate, made with the viewer's own token, forwarded by the gateway.
 *
 * `Location` is rolegate's entity: bookings only references it by id (`resolvable: false`), and the
 * router asks rolegate for the rest (`name`, `viewerCan(permission:)`).
 */

export const BOOKINGS_SDL = /* GraphQL */ `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.6", import: ["@key", "@policy"])

  ${canDirectiveTypeDefs}

  type Booking @key(fields: "id") {
    id: ID!
    startsAt: String!
    "Where: rolegate's Location entity."
    location: Location
    "Who booked: for those who manage customers at the booking's location."
    customer: String @can(permission: "customer:manage", location: "locationId")
    "The staff's notes: for those who manage bookings at the booking's location."
    notes: String @can(permission: "booking:manage", location: "locationId")
  }

  type Location @key(fields: "id", resolvable: false) {
    id: ID!
  }

  type Query {
    "Bookings, optionally at one location: the first \`first\` (default and at most 1,000)."
    bookings(locationId: ID, first: Int): [Booking!]!
    """
    A location's takings: for those who manage payments there. \`@can\` guards it in this subgraph
    whatever serves it; \`@policy\` lets Apollo Router (or Hive Router) with rolegate's coprocessor refuse
    it before planning. @apollo/gateway does not support @policy (see supergraph.ts).
    """
    takings(locationId: ID!): Int
      @can(permission: "payment:manage", location: "locationId")
      @policy(policies: [["payment:manage@locationId"]])
  }
`;

export interface Booking {
  id: string;
  startsAt: string;
  locationId: string;
  customer: string;
  notes: string;
}

/** `count` bookings spread evenly over the locations (the example: 500 over 50). */
export function makeBookings(locationIds: readonly string[], count = 500): Booking[] {
  if (locationIds.length === 0) throw new Error('bookings need at least one location');
  return Array.from({ length: count }, (_, i) => ({
    id: `booking-${i + 1}`,
    startsAt: new Date(Date.UTC(2027, 0, 4, 8) + i * 15 * 60_000).toISOString(),
    locationId: locationIds[i % locationIds.length]!,
    customer: `Customer ${i + 1}`,
    notes: `Prefers the window seat (${i + 1})`,
  }));
}

export interface BookingsContext {
  /** The request's decisions: one `checks` call to rolegate for all of them. */
  rolegate: RolegateRequest;
}

/**
 * The subgraph's schema. `guarded: false` leaves the `@can` directives unapplied (the benchmark's
 * baseline: the same fields, no decisions).
 */
export function bookingsSchema(bookings: readonly Booking[], options: { guarded?: boolean } = {}) {
  const byId = new Map(bookings.map((b) => [b.id, b]));
  const schema = buildSubgraphSchema({
    typeDefs: parse(BOOKINGS_SDL),
    resolvers: {
      Query: {
        bookings: (_: unknown, args: { locationId?: string | null; first?: number | null }) => {
          const first = Math.min(Math.max(args.first ?? 1000, 0), 1000);
          const all = args.locationId ? bookings.filter((b) => b.locationId === args.locationId) : bookings;
          return all.slice(0, first);
        },
        takings: (_: unknown, { locationId }: { locationId: string }) =>
          bookings.filter((b) => b.locationId === locationId).length * 40,
      },
      Booking: {
        __resolveReference: (ref: { id: string }) => byId.get(ref.id) ?? null,
        location: (b: Booking) => ({ id: b.locationId }),
      },
    },
  });
  return options.guarded === false ? schema : canDirectiveTransformer<BookingsContext>(schema);
}

export interface BookingsOptions {
  /** rolegate's GraphQL endpoint. */
  rolegateUrl: string;
  bookings: readonly Booking[];
  port?: number;
  /** Default true; false serves the same schema without decisions (benchmark baseline). */
  guarded?: boolean;
  /** The client's options beyond the URL (timeout, cache, a counting fetch). */
  client?: Partial<Parameters<typeof createRolegateClient>[0]>;
}

/** Serves the subgraph with Apollo Server 5 on loopback. */
export async function startBookings(options: BookingsOptions) {
  const client: RolegateClient = createRolegateClient({ url: options.rolegateUrl, ...options.client });
  const server = new ApolloServer<BookingsContext>({
    schema: bookingsSchema(options.bookings, { guarded: options.guarded }),
    // Traces are for Apollo's cloud, which this example does not use.
    plugins: [ApolloServerPluginInlineTraceDisabled()],
    includeStacktraceInErrorResponses: false,
  });
  const { url } = await startStandaloneServer(server, {
    listen: { port: options.port ?? 0, host: '127.0.0.1' },
    // The viewer's token, as the gateway forwarded it; none is a viewer who is not signed in
    // (every guarded field is then refused, UNAUTHENTICATED).
    context: async ({ req }) => ({ rolegate: client.forRequest({ token: req.headers.authorization ?? '' }) }),
  });
  return { url, client, stop: () => server.stop() };
}

/**
 * The SDL without `@policy`, for @apollo/gateway: it refuses a supergraph that links the policy spec
 * (for: SECURITY), which only the routers enforce. Nothing is opened by dropping it: `@can` guards the
 * same field in the subgraph itself.
 */
export function withoutPolicy(sdl: string): DocumentNode {
  return visit(parse(sdl), {
    Directive: (node) => (node.name.value === 'policy' ? null : undefined),
    // …and its import in @link.
    ListValue: (node) =>
      node.values.some((v) => v.kind === 'StringValue' && v.value === '@policy')
        ? { ...node, values: node.values.filter((v) => !(v.kind === 'StringValue' && v.value === '@policy')) }
        : undefined,
  });
}
