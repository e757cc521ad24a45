import { createRolegateClient, RolegateDecisionError, type RolegateClient } from 'rolegate/subgraph';
import { loadPreset } from '../../src/catalog';
import { startDemoRolegate, type DemoRolegate } from '../support/rolegate-demo';

/**
 * The subgraph client against a real rolegate on loopback (the JRNI demo organization): every `can()`
 * of a request is one `checks` POST, counted on rolegate's own HTTP server; the answers are rolegate's;
 * the cache serves repeats and drops what a newer version of the organization makes stale.
 */

const JRNI_PERMISSIONS = Object.entries(loadPreset('jrni').document.permissions).flatMap(
  ([module, actions]) => Object.keys(actions).map((action) => `${module}:${action}`),
);

let r: DemoRolegate;
let loc: Record<string, string>;
beforeAll(async () => {
  r = await startDemoRolegate();
  loc = r.demo.locations;
});
afterAll(() => r.close());
beforeEach(() => r.resetPosts());
afterEach(() => expect(r.t.logged).toEqual([]));

const client = (options: Partial<Parameters<typeof createRolegateClient>[0]> = {}): RolegateClient =>
  // 5 s: a first request warms the gateway, and other tests share these 2 cores (the default is 500 ms).
  createRolegateClient({ url: r.url, apiKey: r.apiKey, timeoutMs: 5_000, ...options });

describe('batching', () => {
  test("N can() of one request, on behalf of users (the subgraph's API key), are one checks POST", async () => {
    const c = client();
    const req = c.forRequest({ userId: r.userOf('manager@jrni.example') });
    const answers = await Promise.all([
      req.can('booking:manage', { locationId: loc.london }),
      req.can('booking:manage', { locationId: loc.leeds }),
      req.can('booking:manage', { locationId: loc.bristol }),
      req.can('staff:edit_what_where', { locationId: loc.london }),
      req.can('user:create', { locationId: loc.london }),
      req.can('booking:manage'), // the organization root
      req.can('booking:manage', { locationId: loc.london }), // asked twice: one input
    ]);
    // A Manager at London: booking management and Staff What & Where there, nowhere else, never users.
    expect(answers).toEqual([true, false, false, true, false, false, true]);
    expect(r.posts()).toBe(1);
    expect(c.stats).toEqual({ calls: 1, questions: 6, cacheHits: 0 });
  });

  test("the viewer's own token, forwarded: the user is the token's subject; 50 questions, 1 POST", async () => {
    const token = await r.tokenOf('user@jrni.example');
    const c = createRolegateClient({ url: r.url, timeoutMs: 5_000 }); // no API key needed
    const req = c.forRequest({ token: `Bearer ${token}` }); // as the header came
    expect(req.userId).toBe(r.userOf('user@jrni.example'));
    const scopes = [null, loc.parent, loc.london, loc.leeds, loc.bristol];
    const questions = JRNI_PERMISSIONS.slice(0, 10).flatMap((p) => scopes.map((l) => [p, l] as const));
    expect(questions).toHaveLength(50);
    const answers = await Promise.all(questions.map(([p, l]) => req.can(p, { locationId: l })));
    expect(r.posts()).toBe(1);
    // A User at Bristol: booking management at Bristol only.
    const allowed = questions
      .filter((_, i) => answers[i])
      .map(([p, l]) => `${p}@${l === loc.bristol ? 'bristol' : l}`);
    expect(allowed).toEqual(expect.arrayContaining(['booking:manage@bristol', 'customer:manage@bristol']));
    expect(allowed.every((a) => a.endsWith('@bristol'))).toBe(true);
  });

  test('1,001 distinct questions are 2 POSTs (checks takes 1,000 inputs), every one answered', async () => {
    // 22 permissions × 46 locations = 1,012 distinct questions about one user; the first 1,001 are asked.
    const ctx = { orgId: r.demo.orgId, actor: 'test' };
    const scopes = [loc.parent!, loc.london!, loc.leeds!, loc.bristol!];
    for (let i = 0; scopes.length < 46; i++)
      scopes.push(
        (await r.t.store.locations.create(ctx, { name: `Branch ${i}`, parentId: loc.london })).result.id,
      );
    r.resetPosts();
    const sent: number[] = [];
    const counting: typeof fetch = async (url, init) => {
      sent.push(JSON.parse(String(init!.body)).variables.inputs.length);
      return fetch(url, init);
    };
    const req = client({ fetch: counting }).forRequest({ userId: r.userOf('manager@jrni.example') });
    const questions = JRNI_PERMISSIONS.flatMap((p) => scopes.map((l) => [p, l] as const)).slice(0, 1001);
    const answers = await Promise.all(questions.map(([p, l]) => req.can(p, { locationId: l })));
    expect(r.posts()).toBe(2);
    expect(sent.sort((a, b) => b - a)).toEqual([1000, 1]);
    // London's branches are below London: a Manager at London manages their bookings too (cascade).
    const bookings = questions
      .map(([p, l], i) => [p, l, answers[i]] as const)
      .filter(([p]) => p === 'booking:manage');
    expect(bookings.filter(([, , a]) => a).map(([, l]) => l)).toEqual(
      scopes.filter((l) => l !== loc.parent && l !== loc.leeds && l !== loc.bristol),
    );
  });
});

describe('the cache', () => {
  const ctx = () => ({ orgId: r.demo.orgId, actor: 'test' });

  test('a question asked again in a later request is answered from the cache: no POST', async () => {
    const c = client();
    const manager = r.userOf('manager@jrni.example');
    const ask = () => c.forRequest({ userId: manager }).can('booking:manage', { locationId: loc.london });
    expect(await ask()).toBe(true);
    expect(await ask()).toBe(true);
    expect(await ask()).toBe(true);
    expect(r.posts()).toBe(1);
    expect(c.stats).toEqual({ calls: 1, questions: 1, cacheHits: 2 });
  });

  test('peek(): what the request already knows, without a promise or a POST', async () => {
    const c = client();
    const userId = r.userOf('manager@jrni.example');
    const first = c.forRequest({ userId });
    expect(first.peek('booking:manage', { locationId: loc.london })).toBeUndefined();
    await first.can('booking:manage', { locationId: loc.london });
    expect(first.peek('booking:manage', { locationId: loc.london })).toBe(true);
    expect(c.forRequest({ userId }).peek('booking:manage', { locationId: loc.london })).toBe(true);
    expect(c.forRequest({ userId }).peek('booking:manage', { locationId: loc.leeds })).toBeUndefined();
    expect(c.forRequest({ token: '' }).peek('booking:manage')).toBeUndefined();
    expect(r.posts()).toBe(1);
  });

  test('a newer version of the organization, seen in any answer, drops the older answers', async () => {
    const c = client();
    const userId = r.userOf('callcenter@jrni.example');
    await r.t.store.locations.create(ctx(), { name: 'Cache test', parentId: loc.parent });
    const york = (await r.t.store.locations.create(ctx(), { name: 'York' })).result.id;
    const ask = (permission: string) => c.forRequest({ userId }).can(permission, { locationId: york });
    // York is not under Parent company: the Call Center holds nothing there.
    expect(await ask('booking:manage')).toBe(false);
    expect(r.posts()).toBe(1);
    await r.t.store.assignments.assign(ctx(), { userId, roleKey: 'call_center', locationId: york });
    // Nothing has told the client yet: the cached answer stands (for at most cacheTtlMs).
    expect(await ask('booking:manage')).toBe(false);
    expect(r.posts()).toBe(1);
    // Another question brings the new version back; the older answer is dropped, and asked again.
    expect(await ask('customer:manage')).toBe(true);
    expect(await ask('booking:manage')).toBe(true);
    expect(r.posts()).toBe(3);
    expect(await ask('booking:manage')).toBe(true);
    expect(r.posts()).toBe(3);
  });

  test("atLeastVersion (a mutation's version) skips older answers at once", async () => {
    const c = client();
    const userId = r.userOf('userplus@jrni.example');
    expect(await c.forRequest({ userId }).can('event:manage', { locationId: loc.bristol })).toBe(false);
    const { version } = await r.t.store.assignments.assign(ctx(), {
      userId,
      roleKey: 'administrator',
      locationId: loc.bristol,
    });
    expect(await c.forRequest({ userId }).can('event:manage', { locationId: loc.bristol })).toBe(false);
    expect(
      await c
        .forRequest({ userId, atLeastVersion: version })
        .can('event:manage', { locationId: loc.bristol }),
    ).toBe(true);
    expect(r.posts()).toBe(2);
  });

  test('answers expire after cacheTtlMs; cacheTtlMs 0 asks every time', async () => {
    const manager = r.userOf('manager@jrni.example');
    const short = client({ cacheTtlMs: 100 });
    const ask = (c: RolegateClient) =>
      c.forRequest({ userId: manager }).can('checkin:manage', { locationId: loc.london });
    await ask(short);
    await ask(short);
    expect(r.posts()).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 150));
    await ask(short);
    expect(r.posts()).toBe(2);
    const none = client({ cacheTtlMs: 0 });
    await ask(none);
    await ask(none);
    expect(r.posts()).toBe(4);
  });

  test("a token's answers serve that token only: the same claims under a forged signature are asked, and refused", async () => {
    const token = await r.tokenOf('manager@jrni.example');
    const c = createRolegateClient({ url: r.url, timeoutMs: 5_000 });
    expect(await c.forRequest({ token }).can('booking:manage', { locationId: loc.london })).toBe(true);
    const forged = `${token.slice(0, token.lastIndexOf('.') + 1)}${'A'.repeat(43)}`;
    const req = c.forRequest({ token: forged });
    expect(req.userId).toBe(r.userOf('manager@jrni.example'));
    await expect(req.can('booking:manage', { locationId: loc.london })).rejects.toMatchObject({
      name: 'RolegateUnauthenticatedError',
      rolegateCode: 'UNAUTHENTICATED',
    });
    expect(r.posts()).toBe(2);
  });
});

describe('answers rolegate could not give', () => {
  test('an unknown permission is a RolegateDecisionError for that question; the others still answer', async () => {
    const req = client().forRequest({ userId: r.userOf('manager@jrni.example') });
    const [good, bad] = await Promise.allSettled([
      req.can('booking:manage', { locationId: loc.london }),
      req.can('booking:teleport', { locationId: loc.london }),
    ]);
    expect(good).toEqual({ status: 'fulfilled', value: true });
    expect(bad.status).toBe('rejected');
    const err = (bad as PromiseRejectedResult).reason;
    expect(err).toBeInstanceOf(RolegateDecisionError);
    expect(err).toMatchObject({ rolegateCode: 'BAD_USER_INPUT', permission: 'booking:teleport' });
    expect(r.posts()).toBe(1);
  });

  test('a location of no organization (or another one) is NOT_FOUND: deny', async () => {
    const req = client().forRequest({ userId: r.userOf('owner@jrni.example') });
    await expect(
      req.can('booking:manage', { locationId: '00000000-0000-4000-8000-000000000000' }),
    ).rejects.toMatchObject({ code: 'DECISION_ERROR', rolegateCode: 'NOT_FOUND' });
  });

  test("a viewer's token asking about another user is refused by rolegate (FORBIDDEN): deny", async () => {
    const token = await r.tokenOf('user@jrni.example');
    const req = createRolegateClient({ url: r.url, timeoutMs: 5_000 }).forRequest({
      token,
      userId: r.userOf('owner@jrni.example'),
    });
    await expect(req.can('booking:manage')).rejects.toMatchObject({
      name: 'RolegateRefusedError',
      rolegateCode: 'FORBIDDEN',
    });
  });

  test('require() turns a deny into RolegateForbiddenError carrying the permission and scope', async () => {
    const req = client().forRequest({ userId: r.userOf('user@jrni.example') });
    await expect(req.require('booking:manage', { locationId: loc.bristol })).resolves.toBeUndefined();
    await expect(req.require('booking:manage', { locationId: loc.leeds })).rejects.toMatchObject({
      name: 'RolegateForbiddenError',
      code: 'FORBIDDEN',
      permission: 'booking:manage',
      scope: { locationId: loc.leeds },
    });
  });
});
