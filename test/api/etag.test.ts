import { newTenant, startTestGateway, type TestGateway } from '../support/gateway';

/**
 * ETags for polling clients, black-box over HTTP: a query of `capabilities` (and the other listed root
 * fields) gets a strong ETag and `Cache-Control: private, no-cache`; the same If-None-Match gets 304
 * with no body, over POST and GET; a relevant write gives a new one; an unrelated write does not when
 * the client asks for `grantsVersion` rather than `version`; no ETag on errors, mutations or other
 * queries.
 */

const json = (r: Response): Promise<any> => r.json();

const CAPS = 'query { capabilities { grantsVersion permissions tools { tool mode } } }';

describe('ETag on capabilities', () => {
  let t: TestGateway;
  let owner: string;
  let viewer: string;
  let viewerId: string;
  let otherId: string;
  beforeAll(async () => {
    t = await startTestGateway('pglite');
    const tenant = await newTenant(t, 'junto');
    owner = tenant.ownerToken;
    const r = await post(
      owner,
      'mutation { createUser(input: { email: "poller@example.com", roles: ["technician"] }) { user { id } } }',
    );
    viewerId = (await json(r)).data.createUser.user.id;
    viewer = await t.token(tenant.orgId, viewerId);
    const o = await post(
      owner,
      'mutation { createUser(input: { email: "other@example.com", roles: ["technician"] }) { user { id } } }',
    );
    otherId = (await json(o)).data.createUser.user.id;
  });
  afterAll(async () => {
    await t?.close();
  });
  afterEach(() => expect(t.logged).toEqual([]));

  function post(token: string, query: string, headers: Record<string, string> = {}) {
    return fetch(t.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...headers },
      body: JSON.stringify({ query }),
    });
  }
  function get(token: string, query: string, headers: Record<string, string> = {}) {
    // apollo-require-preflight: Apollo's CSRF prevention lets a GET through with it.
    return fetch(`${t.url}?query=${encodeURIComponent(query)}`, {
      headers: { authorization: `Bearer ${token}`, 'apollo-require-preflight': 'true', ...headers },
    });
  }

  test.each([
    ['POST', post],
    ['GET', get],
  ] as const)(
    '%s: 200 with an ETag, 304 with no body for it, 200 with a new one after a relevant write',
    async (_m, send) => {
      const first = await send(viewer, CAPS);
      expect(first.status).toBe(200);
      const etag = first.headers.get('etag');
      expect(etag).toMatch(/^"[\w-]{20,64}"$/);
      expect(first.headers.get('cache-control')).toBe('private, no-cache');
      const body = await json(first);
      expect(body.errors).toBeUndefined();

      const again = await send(viewer, CAPS, { 'if-none-match': etag! });
      expect(again.status).toBe(304);
      expect(await again.text()).toBe('');
      expect(again.headers.get('etag')).toBe(etag);
      // A list of tags, or the weak form of the same tag, matches too (If-None-Match compares weakly).
      expect((await send(viewer, CAPS, { 'if-none-match': `"other", W/${etag}` })).status).toBe(304);
      expect((await send(viewer, CAPS, { 'if-none-match': '"other"' })).status).toBe(200);

      // Someone else's flags: the viewer's answer is the same bytes, so still 304.
      const flagged = _m === 'POST' ? '["billing_admin"]' : '[]';
      const other = await post(
        owner,
        `mutation { setUserFlags(input: { userId: "${otherId}", flags: ${flagged} }) { version } }`,
      );
      expect((await json(other)).errors).toBeUndefined();
      expect((await send(viewer, CAPS, { 'if-none-match': etag! })).status).toBe(304);

      // The viewer's own flag: a new answer, a new tag.
      const flags = _m === 'POST' ? '["billing_admin"]' : '["escalation_approver"]';
      const set = await post(
        owner,
        `mutation { setUserFlags(input: { userId: "${viewerId}", flags: ${flags} }) { version } }`,
      );
      expect((await json(set)).errors).toBeUndefined();
      const changed = await send(viewer, CAPS, { 'if-none-match': etag! });
      expect(changed.status).toBe(200);
      expect(changed.headers.get('etag')).not.toBe(etag);
      expect((await json(changed)).data.capabilities.grantsVersion).not.toBe(
        body.data.capabilities.grantsVersion,
      );
    },
  );

  test('an unrelated write leaves the tag of a poll for grantsVersion, and moves one for version', async () => {
    const byGrants = await post(viewer, CAPS);
    const byVersion = await post(viewer, 'query { capabilities { version } }');
    await post(owner, 'mutation { createLocation(input: { name: "Elsewhere" }) { version } }');
    expect((await post(viewer, CAPS, { 'if-none-match': byGrants.headers.get('etag')! })).status).toBe(304);
    expect(
      (
        await post(viewer, 'query { capabilities { version } }', {
          'if-none-match': byVersion.headers.get('etag')!,
        })
      ).status,
    ).toBe(200);
  });

  test('no ETag on a response with errors, on a mutation, or on a query of other fields', async () => {
    const refused = await post(
      viewer,
      `query { capabilities(userId: "${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}") { permissions } }`,
    );
    expect((await json(refused)).errors).toBeDefined();
    expect(refused.headers.get('etag')).toBeNull();
    const mutation = await post(
      owner,
      'mutation { setToolPolicy(input: { tool: "invoices", mode: DENY }) { version } }',
    );
    expect((await json(mutation)).errors).toBeUndefined();
    expect(mutation.headers.get('etag')).toBeNull();
    const other = await post(
      viewer,
      `query { check(input: { userId: "${viewerId}", permission: "ticket:view" }) { allowed } }`,
    );
    expect((await json(other)).errors).toBeUndefined();
    expect(other.headers.get('etag')).toBeNull();
    // Mixed with a field outside the list: none either.
    const mixed = await post(
      viewer,
      `query { capabilities { flags } check(input: { userId: "${viewerId}", permission: "ticket:view" }) { allowed } }`,
    );
    expect(mixed.headers.get('etag')).toBeNull();
    // Through a fragment, still a query of capabilities alone: it has one.
    const fragment = await post(
      viewer,
      'query { ...F } fragment F on Query { capabilities { flags } viewer { id } }',
    );
    expect(fragment.headers.get('etag')).toMatch(/^"/);
  });
});
