import { ApolloGateway } from '@apollo/gateway';
import { parse, print, visit, type DocumentNode } from 'graphql';
import { BOOKINGS_SDL, withoutPolicy } from '../../examples/federation/bookings';
import { compose, subgraphSdl } from '../../examples/federation/supergraph';
import { startDemoRolegate, type DemoRolegate } from '../support/rolegate-demo';

/**
 * The example's supergraph composes (@apollo/composition) from the SDL rolegate really serves at
 * `_service { sdl }` and the bookings subgraph's; and this test fails, loudly, the day rolegate's SDL
 * stops composing with a subgraph that points at its entities.
 */

let r: DemoRolegate;
let rolegateSdl: string;
beforeAll(async () => {
  r = await startDemoRolegate();
  // `_service` needs credentials, like every request: the subgraph's API key here.
  rolegateSdl = await subgraphSdl(r.url, { authorization: `Bearer ${r.apiKey}` });
});
afterAll(() => r.close());

const subgraphs = (rolegate: DocumentNode, bookings: DocumentNode = withoutPolicy(BOOKINGS_SDL)) => [
  { name: 'rolegate', url: 'http://127.0.0.1:4001/graphql', typeDefs: rolegate },
  { name: 'bookings', url: 'http://127.0.0.1:4002/graphql', typeDefs: bookings },
];

test("rolegate's _service.sdl and bookings compose: Booking.location is rolegate's Location, with viewerCan", () => {
  const { supergraphSdl, hints } = compose(subgraphs(parse(rolegateSdl)));
  expect(supergraphSdl).toMatch(
    /type Location\s+@join__type\(graph: BOOKINGS, key: "id", resolvable: false\)\s+@join__type\(graph: ROLEGATE, key: "id"\)/,
  );
  expect(supergraphSdl).toMatch(
    /viewerCan\([^)]*permission: String!\s*\): Boolean! @join__field\(graph: ROLEGATE\)/,
  );
  expect(supergraphSdl).toMatch(
    /type Booking\s+@join__type\(graph: BOOKINGS, key: "id"\)[^}]*location: Location\n/,
  );
  // rolegate's guard directive and bookings' @can stay in their subgraphs: routers never see them.
  expect(supergraphSdl).not.toMatch(/@requires\(operation|@can\(|directive @can/);
  // Hints are notes, not errors: today only rolegate's enums that no field uses (ApprovalRole,
  // ErrorCode). Listed so that a new kind shows up here.
  expect([...new Set(hints)]).toEqual(['UNUSED_ENUM_TYPE']);
});

test('with @policy, the supergraph is for the routers: it links the policy spec, which @apollo/gateway refuses', async () => {
  const { supergraphSdl } = compose(subgraphs(parse(rolegateSdl), parse(BOOKINGS_SDL)));
  expect(supergraphSdl).toContain('@link(url: "https://specs.apollo.dev/policy/v0.1", for: SECURITY)');
  expect(supergraphSdl).toMatch(
    /takings\(locationId: ID!\): Int @join__field\(graph: BOOKINGS\) @policy\(policies: \[\["payment:manage@locationId"\]\]\)/,
  );
  const gateway = new ApolloGateway({ supergraphSdl, logger: quiet });
  await expect(gateway.load()).rejects.toThrow(/policy/);
  // Without it (withoutPolicy), the gateway loads the same graph; @can still guards `takings`.
  const plain = new ApolloGateway({
    supergraphSdl: compose(subgraphs(parse(rolegateSdl))).supergraphSdl,
    logger: quiet,
  });
  await expect(plain.load()).resolves.toBeDefined();
  await plain.stop();
  expect(print(withoutPolicy(BOOKINGS_SDL))).toMatch(
    /takings\(locationId: ID!\): Int @can\(permission: "payment:manage", location: "locationId"\)\n/,
  );
});

test.each([
  [
    'Location.id renamed',
    (doc: DocumentNode) =>
      visit(doc, {
        ObjectTypeDefinition: (node) =>
          node.name.value === 'Location'
            ? {
                ...node,
                fields: node.fields?.map((f) =>
                  f.name.value === 'id' ? { ...f, name: { ...f.name, value: 'locationId' } } : f,
                ),
              }
            : undefined,
      }),
    /KEY_FIELDS_SELECT_INVALID_TYPE|INVALID_FIELD_SHARING|KEY_INVALID_FIELDS|EXTERNAL|SATISFIABILITY|Cannot query field "id"/,
  ],
  [
    'Location no longer an entity (no @key)',
    (doc: DocumentNode) =>
      visit(doc, {
        ObjectTypeDefinition: (node) =>
          node.name.value === 'Location'
            ? { ...node, directives: node.directives?.filter((d) => d.name.value !== 'key') }
            : undefined,
      }),
    /./,
  ],
  [
    'Location.id of another type',
    (doc: DocumentNode) => parse(print(doc).replace(/(type Location[^{]*\{\s*id: )ID!/, '$1Int!')),
    /FIELD_TYPE_MISMATCH|TYPE/,
  ],
])("composition fails loudly when rolegate's SDL changes: %s", (_, change, error) => {
  const changed = change(parse(rolegateSdl));
  expect(print(changed)).not.toBe(print(parse(rolegateSdl)));
  expect(() => compose(subgraphs(changed))).toThrow(/the supergraph does not compose/);
  expect(() => compose(subgraphs(changed))).toThrow(error);
});

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
