import { buildSchema as parseSdl, getIntrospectionQuery, isObjectType, type GraphQLSchema } from 'graphql';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { exportSPKI, generateKeyPair } from 'jose';
import { describeSchema } from '../../src/api/explorer/described-schema';
import { buildSchema } from '../../src/api/schema';
import { loadPreset, PRESETS } from '../../src/catalog';
import { gql, newTenant, startTestGateway, type TestGateway } from '../support/gateway';

/**
 * What API explorers see (issue 15): every guarded field's description ends with what it needs, in the
 * viewer's catalog's words; introspection answers in the viewer's catalog, and generically without
 * credentials (development only); GET /schema.graphql serves the SDL with its directives.
 */

const { schema: served, guards } = buildSchema();
const roots = (s: GraphQLSchema) =>
  [s.getQueryType(), s.getMutationType(), s.getSubscriptionType()].filter((t) => !!t);
const guardedRootFields = guards.filter((g) => ['Query', 'Mutation', 'Subscription'].includes(g.type));

/** The last paragraph of a field's description: its requirement. */
function requirementOf(s: GraphQLSchema, type: string, field: string): string {
  const t = s.getType(type);
  if (!isObjectType(t)) throw new Error(`${type} is not an object type`);
  return (t.getFields()[field]?.description ?? '').split('\n\n').pop()!;
}

/** What each preset guards createUser with (catalogs/*.yaml `operations:`), named in its descriptions. */
const CREATE_USER = {
  jrni: '`user:create` (*Create new users (Owners only)*)',
  junto: '`user:invite`',
  juno: '`settings_user:create` (*Create a new user*)',
} as const;

describe('the schema walked: every guarded field says what it needs', () => {
  test('every root field has a description, and every one is guarded', () => {
    for (const root of roots(served))
      for (const field of Object.values(root.getFields())) {
        // Federation's own root fields (`_service`, `_entities`) are described by its specification.
        if (field.name.startsWith('_')) continue;
        expect([`${root.name}.${field.name}`, field.description?.trim() || null]).toEqual([
          `${root.name}.${field.name}`,
          expect.any(String),
        ]);
        expect(guardedRootFields.some((g) => g.type === root.name && g.field === field.name)).toBe(true);
      }
  });

  test.each([null, ...PRESETS])('catalog %s: each guarded field ends with its requirement', (preset) => {
    const catalog = preset ? loadPreset(preset).document : null;
    const described = describeSchema(served, guards, catalog);
    for (const g of guards) {
      const requirement = requirementOf(described, g.type, g.field);
      expect([`${g.type}.${g.field}`, requirement]).toEqual([
        `${g.type}.${g.field}`,
        expect.stringMatching(/^\*\*(Requires|Not available)\*\* .+\.$/),
      ]);
      if (g.kind === 'authenticated') continue;
      const permission = g.operation && catalog?.operations?.[g.operation];
      // The catalog's own permission, or (generic) the operation's name; a service key's scope; yourself.
      if (permission) expect(requirement).toContain(`\`${permission}\``);
      if (g.operation && !catalog) expect(requirement).toContain("the catalog's permission for ");
      if (g.operation && catalog && !permission) expect(requirement).toMatch(/^\*\*Not available\*\*/);
      if (g.serviceScope) expect(requirement).toContain(`\`${g.serviceScope}\``);
      if (g.self) expect(requirement).toMatch(/yourself/);
    }
  });

  test.each(PRESETS)("%s's createUser names its own permission", (preset) => {
    const described = describeSchema(served, guards, loadPreset(preset).document);
    const requirement = requirementOf(described, 'Mutation', 'createUser');
    expect(requirement).toContain(`**Requires** ${CREATE_USER[preset]}`);
    // Backquoted: `user:create` is not `settings_user:create`.
    for (const other of PRESETS.filter((p) => p !== preset))
      expect(requirement).not.toContain(CREATE_USER[other].split(' ')[0]);
  });

  test('the generic wording names the operation; scopes are named as the guards decide them', () => {
    const generic = describeSchema(served, guards, null);
    expect(requirementOf(generic, 'Mutation', 'createUser')).toMatch(
      /^\*\*Requires\*\* the catalog's permission for CREATE_USER in each team given by `input\.assignments\.teamId`/,
    );
    expect(requirementOf(generic, 'Query', 'check')).toBe(
      "**Requires** the catalog's permission for CHECK_OTHERS at the location given by `input.locationId`, or above it (none given: at the organization), or an API key with `decisions:check`. You may always ask about yourself.",
    );
    expect(requirementOf(generic, 'Mutation', 'createLocation')).toContain(
      'at the location given by `input.parentId`, or above it',
    );
    expect(requirementOf(generic, 'Mutation', 'moveLocation')).toContain(
      'at the location given by `input.id` and at the location given by `input.parentId`, or above them',
    );
    expect(requirementOf(generic, 'Mutation', 'updateUser')).toContain('You must cover them');
    expect(requirementOf(generic, 'Mutation', 'revokeAssignment')).toContain(
      'at the scope of the assignment given by `input.id`',
    );
    expect(requirementOf(generic, 'Mutation', 'importUsers')).toContain(
      'at the organization, or at a location or team where you hold a role',
    );
  });

  test('the catalog that leaves an operation out says so (Juno has no locations)', () => {
    const juno = describeSchema(served, guards, loadPreset('juno').document);
    expect(requirementOf(juno, 'Mutation', 'createLocation')).toBe(
      '**Not available** in this organization: its catalog names no permission for CREATE_LOCATION, so no user may.',
    );
  });

  test('described schemas keep the types, fields and directives of the served one', () => {
    const juno = describeSchema(served, guards, loadPreset('juno').document);
    expect(Object.keys(juno.getTypeMap()).sort()).toEqual(Object.keys(served.getTypeMap()).sort());
    const createUser = (s: GraphQLSchema) => s.getMutationType()!.getFields().createUser!;
    expect(createUser(juno).resolve).toBe(createUser(served).resolve);
    expect(createUser(juno).astNode).toBe(createUser(served).astNode);
  });
});

describe('introspection and /schema.graphql in development', () => {
  let t: TestGateway;
  let base: string;
  let juno: Awaited<ReturnType<typeof newTenant>>;
  let jrni: Awaited<ReturnType<typeof newTenant>>;

  beforeAll(async () => {
    t = await startTestGateway('pglite', {
      explorer: {
        headers: { Authorization: 'Bearer demo-token' },
        dir: path.join(os.tmpdir(), `rolegate-unbuilt-${process.pid}`),
      },
    });
    base = t.url.replace(/\/graphql$/, '');
    juno = await newTenant(t, 'juno');
    jrni = await newTenant(t, 'jrni');
  });
  afterAll(() => t?.close());

  const createUserDescription = `{ __type(name: "Mutation") { fields { name description } } }`;
  const describedBy = async (token: string | null) => {
    const r = await gql(t.url, token, createUserDescription);
    expect(r.errors).toBeUndefined();
    const fields = r.data!.__type.fields as { name: string; description: string }[];
    return fields.find((f) => f.name === 'createUser')!.description;
  };

  test("a Juno viewer and a JRNI viewer each read their own catalog's wording", async () => {
    expect(await describedBy(juno.ownerToken)).toContain(`**Requires** ${CREATE_USER.juno}`);
    expect(await describedBy(jrni.ownerToken)).toContain(`**Requires** ${CREATE_USER.jrni}`);
  });

  test('the full introspection query an explorer sends answers in the catalog, with every field', async () => {
    const r = await gql(t.url, juno.ownerToken, getIntrospectionQuery());
    expect(r.errors).toBeUndefined();
    const mutation = r.data!.__schema.types.find((x: { name: string }) => x.name === 'Mutation');
    expect(mutation.fields.find((f: { name: string }) => f.name === 'createUser').description).toContain(
      '`settings_user:create`',
    );
  });

  test('without credentials: the generic wording, and nothing but introspection', async () => {
    expect(await describedBy(null)).toContain("**Requires** the catalog's permission for CREATE_USER");
    const data = await gql(t.url, null, '{ viewer { id } }');
    expect(data.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const mixed = await gql(t.url, null, '{ __typename viewer { id } }');
    expect(mixed.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(mixed.data).toBeUndefined();
    const mutation = await gql(t.url, null, 'mutation { __typename }');
    expect(mutation.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    // A fragment that reaches a field of the organization is no introspection either.
    const fragment = await gql(t.url, null, '{ __typename ...F } fragment F on Query { viewer { id } }');
    expect(fragment.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  test('with credentials, queries still execute as before (guards included)', async () => {
    const r = await gql(t.url, juno.ownerToken, '{ __typename viewer { id } }');
    expect(r.data).toEqual({ __typename: 'Query', viewer: { id: juno.ownerId } });
  });

  test('GET /schema.graphql: the SDL with its directives, in the viewer catalog or generic', async () => {
    const generic = await fetch(`${base}/schema.graphql`);
    expect(generic.status).toBe(200);
    expect(generic.headers.get('content-type')).toMatch(/^text\/plain/);
    const sdl = await generic.text();
    expect(() => parseSdl(sdl, { assumeValidSDL: true })).not.toThrow();
    expect(sdl).toContain('@requires(operation: CREATE_USER');
    expect(sdl).toContain("the catalog's permission for CREATE_USER");

    const mine = await fetch(`${base}/schema.graphql`, {
      headers: { authorization: `Bearer ${jrni.ownerToken}` },
    });
    expect(await mine.text()).toContain(`**Requires** ${CREATE_USER.jrni}`);

    const refused = await fetch(`${base}/schema.graphql`, { headers: { authorization: 'Bearer nope' } });
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as any).errors[0].extensions.code).toBe('UNAUTHENTICATED');
  });

  test('without a built explorer, the landing page says how to build it', async () => {
    // No build in this test: the page says how to build the explorer, and writes no settings.
    const unbuilt = await fetch(`${base}/`);
    expect(unbuilt.status).toBe(503);
    expect(await unbuilt.text()).toContain('npm run build:explorer');
    expect(unbuilt.headers.get('content-security-policy')).toContain("default-src 'self'");
  });
});

describe('the landing page with a built explorer', () => {
  let t: TestGateway;
  let base: string;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'rolegate-explorer-page-'));
    mkdirSync(path.join(dir, 'assets'));
    // The shape Vite writes (explorer/index.html, built): the settings element and a hashed asset.
    writeFileSync(
      path.join(dir, 'index.html'),
      '<!doctype html><script id="rolegate-explorer" type="application/json">{}</script><script type="module" src="/explorer/assets/a-1.js"></script>',
    );
    writeFileSync(path.join(dir, 'assets', 'a-1.js'), 'console.log(1)');
    t = await startTestGateway('pglite', {
      explorer: { headers: { Authorization: 'Bearer demo</script>-token' }, dir },
    });
    base = t.url.replace(/\/graphql$/, '');
  });
  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A GET with exactly these headers (Node's fetch sends `sec-fetch-mode: cors` whatever it is told). */
  const get = (url: string, headers: Record<string, string>) =>
    new Promise<string>((resolve, reject) => {
      request(url, { headers }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve(text));
      })
        .on('error', reject)
        .end();
    });

  const settingsOf = (html: string) =>
    JSON.parse(/<script id="rolegate-explorer" type="application\/json">([^<]*)<\/script>/.exec(html)![1]!);

  test("a navigation on loopback gets the token, escaped; another origin's fetch does not", async () => {
    // A browser's navigation (Sec-Fetch-* as Chromium sends them), and a client that sends none (curl).
    const navigations: Record<string, string>[] = [
      { 'sec-fetch-mode': 'navigate', 'sec-fetch-site': 'none' },
      {},
    ];
    for (const headers of navigations) {
      const settings = settingsOf(await get(`${base}/`, headers));
      expect(settings.endpoint).toBe('/graphql');
      expect(JSON.parse(settings.headers)).toEqual({ Authorization: 'Bearer demo</script>-token' });
    }
    const page = await fetch(`${base}/`);
    expect(page.headers.get('cache-control')).toBe('no-store');
    // Another origin's script reading the page (a listed CORS origin could): no token.
    const read = await get(`${base}/`, { 'sec-fetch-mode': 'cors', 'sec-fetch-site': 'cross-site' });
    expect(JSON.parse(settingsOf(read).headers)).toEqual({});

    // /graphql opened by a browser is the same page; with a query it is GraphQL.
    const atEndpoint = await fetch(t.url, { headers: { accept: 'text/html' } });
    expect(atEndpoint.headers.get('content-type')).toMatch(/^text\/html/);
    const query = await fetch(`${t.url}?query=${encodeURIComponent('{__typename}')}`, {
      headers: { accept: 'text/html', 'apollo-require-preflight': 'true' },
    });
    expect(query.headers.get('content-type')).not.toMatch(/html/);
  });

  test('serves the files the page names, and nothing else', async () => {
    const asset = await fetch(`${base}/explorer/assets/a-1.js`);
    expect([asset.status, asset.headers.get('content-type')]).toEqual([
      200,
      'text/javascript; charset=utf-8',
    ]);
    for (const other of [
      '/explorer/assets/../index.html',
      '/explorer/index.html',
      '/explorer/%2e%2e/package.json',
      '/explorer/nope.js',
    ])
      expect([other, (await fetch(`${base}${other}`)).status]).toEqual([other, 404]);
  });
});

describe('production', () => {
  let t: TestGateway;
  let base: string;

  beforeAll(async () => {
    const { publicKey } = await generateKeyPair('RS256');
    t = await startTestGateway('pglite', {
      env: 'production',
      auth: { issuer: 'rolegate', audience: 'rolegate', publicKey: await exportSPKI(publicKey) },
    });
    base = t.url.replace(/\/graphql$/, '');
  });
  afterAll(() => t?.close());

  test('serves no landing page, no /schema.graphql, and no introspection without credentials', async () => {
    expect((await fetch(`${base}/`, { headers: { accept: 'text/html' } })).status).toBe(404);
    expect((await fetch(`${base}/schema.graphql`)).status).toBe(404);
    const page = await fetch(t.url, { headers: { accept: 'text/html' } });
    expect(page.headers.get('content-type') ?? '').not.toMatch(/html/);
    const r = await gql(t.url, null, '{ __schema { queryType { name } } }');
    expect(r.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });
});
