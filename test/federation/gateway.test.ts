import { createOrganization } from '../../src/cli/setup';
import { makeBookings, type Booking } from '../../examples/federation/bookings';
import { demoLocations, startFederation } from '../../examples/federation/stack';
import { gql } from '../support/gateway';
import { startDemoRolegate, type DemoRolegate } from '../support/rolegate-demo';

/**
 * The federation example end to end, three real HTTP servers on 127.0.0.1: rolegate (the JRNI demo, 50
 * locations), the bookings subgraph (500 bookings across them, `@can` via rolegate/subgraph) and
 * @apollo/gateway over the supergraph composed from both. Every request goes through the gateway with
 * the viewer's token, which the gateway forwards to both subgraphs and bookings forwards to rolegate.
 * rolegate's POSTs are counted on its own HTTP server.
 *
 * Who holds `booking:manage` and `customer:manage` where (the demo's assignments; branches cascade):
 * the Manager at London and its 16 branches, the User at Bristol and its 15 branches, the Call Center
 * at Parent company, above all 50. `payment:manage`: the owner only.
 */

let r: DemoRolegate;
let fed: Awaited<ReturnType<typeof startFederation>>;
let locations: string[];
let foreignLocation: string;
/** The 50 locations' index → the city whose tree it is in (0 London, 1 Leeds, 2 Bristol). */
const cityOf = (i: number) => (i < 3 ? i : (i - 3) % 3);

beforeAll(async () => {
  r = await startDemoRolegate();
  locations = await demoLocations(r.t.store, r.demo.orgId, r.demo.locations as never);
  // Another organization's location, which one booking (not among the 500) points at.
  const other = await createOrganization(r.t.store, {
    preset: 'jrni',
    name: 'Other',
    ownerEmail: 'o@other.example',
  });
  foreignLocation = (
    await r.t.store.locations.create({ orgId: other.orgId, actor: 'test' }, { name: 'Elsewhere' })
  ).result.id;
  const bookings: Booking[] = [
    ...makeBookings(locations, 500),
    {
      id: 'booking-foreign',
      startsAt: '2027-01-05T09:00:00.000Z',
      locationId: foreignLocation,
      customer: 'X',
      notes: 'Y',
    },
  ];
  fed = await startFederation({
    rolegateUrl: r.url,
    rolegateHeaders: { authorization: `Bearer ${r.apiKey}` },
    locationIds: locations,
    bookings,
    // No cache across requests: each request below shows its own calls (the cache is client.test.ts's).
    client: { timeoutMs: 5_000, cacheTtlMs: 0 },
  });
}, 120_000);
afterAll(async () => {
  await fed?.stop();
  await r?.close();
});
beforeEach(() => r.resetPosts());
afterEach(() => expect(r.t.logged).toEqual([]));

const ask = async (email: string | null, query: string, variables?: Record<string, unknown>) =>
  gql(fed.gatewayUrl, email ? await r.tokenOf(email) : null, query, variables);

const BOOKINGS = '{ bookings(first: 500) { id startsAt customer notes location { id } } }';

describe.each([
  ['manager@jrni.example', 0],
  ['user@jrni.example', 2],
])('%s through the gateway', (email, city) => {
  test("sees the guarded fields of the bookings in their city's tree, and null + FORBIDDEN at exactly the others; one call to rolegate", async () => {
    const result = await ask(email, BOOKINGS);
    expect(r.posts()).toBe(1);
    const rows = result.data!.bookings as {
      id: string;
      customer: string | null;
      notes: string | null;
      location: { id: string };
    }[];
    expect(rows).toHaveLength(500);
    const expectedErrors: string[] = [];
    rows.forEach((row, i) => {
      const mine = cityOf(i % 50) === city;
      expect(row.location.id).toBe(locations[i % 50]);
      expect([row.customer, row.notes]).toEqual(
        mine ? [`Customer ${i + 1}`, `Prefers the window seat (${i + 1})`] : [null, null],
      );
      if (!mine)
        expectedErrors.push(
          `bookings.${i}.customer FORBIDDEN customer:manage`,
          `bookings.${i}.notes FORBIDDEN booking:manage`,
        );
    });
    const errors = result.errors!.map(
      (e) => `${e.path!.join('.')} ${e.extensions!.code} ${e.extensions!.permission}`,
    );
    expect(errors.sort()).toEqual(expectedErrors.sort());
    // 10 bookings a location; London's and Leeds' trees have 17 locations, Bristol's 16.
    expect(expectedErrors).toHaveLength(2 * 10 * (50 - (city === 2 ? 16 : 17)));
    expect(new Set(result.errors!.map((e) => e.extensions!.serviceName))).toEqual(new Set(['bookings']));
  });

  test("location { name viewerCan(permission:) } comes from rolegate, the viewer's own decision per location", async () => {
    const result = await ask(
      email,
      '{ bookings(first: 500) { id location { id name viewerCan(permission: "booking:manage") } } }',
    );
    expect(result.errors).toBeUndefined();
    const rows = result.data!.bookings as { location: { id: string; name: string; viewerCan: boolean } }[];
    rows.forEach((row, i) => {
      expect(row.location.viewerCan).toBe(cityOf(i % 50) === city);
      expect(row.location.name).toMatch(/^(London|Leeds|Bristol)( branch \d+)?$/);
    });
    // The gateway's one _entities fetch for the locations; the bookings ask rolegate nothing here.
    expect(r.posts()).toBe(1);
  });
});

test('the Call Center at Parent company sees every guarded field: no error, one call to rolegate', async () => {
  const result = await ask('callcenter@jrni.example', BOOKINGS);
  expect(result.errors).toBeUndefined();
  expect((result.data!.bookings as { notes: string | null }[]).every((b) => b.notes !== null)).toBe(true);
  expect(r.posts()).toBe(1);
});

test("a booking at another organization's location: the location is null, and its guarded fields are refused", async () => {
  const result = await ask(
    'owner@jrni.example',
    `query($l: ID!) { bookings(locationId: $l) { id startsAt notes location { id name viewerCan(permission: "booking:manage") } } }`,
    { l: foreignLocation },
  );
  const [booking] = result.data!.bookings as Record<string, unknown>[];
  expect(booking).toEqual({
    id: 'booking-foreign',
    startsAt: '2027-01-05T09:00:00.000Z',
    notes: null,
    location: null,
  });
  // notes: rolegate could not decide (the location is not in the owner's organization): a refusal.
  const notes = result.errors!.find((e) => e.path?.join('.') === 'bookings.0.notes');
  expect(notes?.extensions).toMatchObject({
    code: 'FORBIDDEN',
    rolegateCode: 'NOT_FOUND',
    permission: 'booking:manage',
  });
});

test('@policy is not enforced by @apollo/gateway; @can still guards the field in the subgraph', async () => {
  const q = `query($l: ID!) { takings(locationId: $l) }`;
  const manager = await ask('manager@jrni.example', q, { l: locations[0] });
  expect(manager.data).toEqual({ takings: null });
  expect(manager.errors![0]!.extensions).toMatchObject({ code: 'FORBIDDEN', permission: 'payment:manage' });
  const owner = await ask('owner@jrni.example', q, { l: locations[0] });
  expect(owner).toMatchObject({ data: { takings: 400 } });
});

test('a viewer without a token: the bookings answer, their guarded fields are UNAUTHENTICATED, rolegate is not asked', async () => {
  const result = await ask(null, '{ bookings(first: 3) { id customer } }');
  expect(result.data!.bookings).toEqual([
    { id: 'booking-1', customer: null },
    { id: 'booking-2', customer: null },
    { id: 'booking-3', customer: null },
  ]);
  expect(result.errors!.map((e) => e.extensions!.code)).toEqual([
    'UNAUTHENTICATED',
    'UNAUTHENTICATED',
    'UNAUTHENTICATED',
  ]);
  expect(r.posts()).toBe(0);
});
