import { parse } from 'graphql';
import type { Store } from '../../src/store';
import {
  makeBookings,
  startBookings,
  withoutPolicy,
  BOOKINGS_SDL,
  type Booking,
  type BookingsOptions,
} from './bookings';
import { compose, startSupergraphGateway, subgraphSdl } from './supergraph';

/**
 * The example's moving parts, shared by `npm run example:federation`, its tests and the benchmark:
 * the demo organization's 50 locations, the bookings subgraph over them, and the gateway over rolegate
 * and bookings.
 */

/**
 * The JRNI demo's London, Leeds and Bristol and 47 branches below them (made here when missing): 50
 * locations for the bookings. Branches cascade: a Manager at London manages London's branches too.
 */
export async function demoLocations(
  store: Store,
  orgId: string,
  cities: { london: string; leeds: string; bristol: string },
  count = 50,
): Promise<string[]> {
  const ctx = { orgId, actor: 'example' };
  const ids = [cities.london, cities.leeds, cities.bristol];
  const names = ['London', 'Leeds', 'Bristol'];
  for (let i = 0; ids.length < count; i++) {
    const city = i % 3;
    const { result } = await store.locations.create(ctx, {
      name: `${names[city]} branch ${Math.floor(i / 3) + 1}`,
      parentId: ids[city]!,
    });
    ids.push(result.id);
  }
  return ids;
}

export interface FederationOptions {
  /** rolegate's GraphQL endpoint, which the bookings subgraph asks its decisions of. */
  rolegateUrl: string;
  /** Where rolegate serves its subgraph (`_service`, `_entities`). Default: `rolegateUrl`. */
  rolegateSubgraphUrl?: string;
  locationIds: readonly string[];
  /** How many bookings to spread over the locations (default 500), or the bookings themselves. */
  bookings?: number | Booking[];
  /** Headers for reading rolegate's `_service { sdl }` (a token or API key in production). */
  rolegateHeaders?: Record<string, string>;
  guarded?: boolean;
  client?: BookingsOptions['client'];
  ports?: { bookings?: number; gateway?: number };
}

/** Bookings, then the supergraph composed from rolegate's and bookings' SDL, then the gateway over it. */
export async function startFederation(options: FederationOptions) {
  const bookingList = Array.isArray(options.bookings)
    ? options.bookings
    : makeBookings(options.locationIds, options.bookings ?? 500);
  const bookings = await startBookings({
    rolegateUrl: options.rolegateUrl,
    bookings: bookingList,
    guarded: options.guarded,
    client: options.client,
    port: options.ports?.bookings,
  });
  try {
    const rolegateSubgraph = options.rolegateSubgraphUrl ?? options.rolegateUrl;
    const rolegateSdl = await subgraphSdl(rolegateSubgraph, options.rolegateHeaders);
    const { supergraphSdl } = compose([
      { name: 'rolegate', url: rolegateSubgraph, typeDefs: parse(rolegateSdl) },
      // @apollo/gateway refuses the policy spec; the routers get BOOKINGS_SDL whole.
      { name: 'bookings', url: bookings.url, typeDefs: withoutPolicy(BOOKINGS_SDL) },
    ]);
    const gateway = await startSupergraphGateway(supergraphSdl, { port: options.ports?.gateway });
    return {
      gatewayUrl: gateway.url,
      bookingsUrl: bookings.url,
      bookings: bookingList,
      client: bookings.client,
      supergraphSdl,
      async stop() {
        await gateway.stop();
        await bookings.stop();
      },
    };
  } catch (err) {
    await bookings.stop();
    throw err;
  }
}
