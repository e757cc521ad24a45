import type { IncomingMessage } from 'node:http';
import type { Browser, Page } from 'playwright-core';
import { newTenant, startTestGateway, type TestGateway } from '../support/gateway';
import { launchChromium, servePage, type ServedPage } from '../support/browser';

/**
 * CORS in a real browser (issue 13): a page on another loopback origin (http://localhost:<port>)
 * calls the gateway (http://127.0.0.1:<port>/graphql) with an Authorization header and a JSON body,
 * which Chromium sends only after a preflight. A listed origin gets the data, and can read the
 * WWW-Authenticate of a 401; an origin not listed is blocked by Chromium, which says so.
 */

const PAGE = '<!doctype html><title>app</title><p>app</p>';

interface Fetched {
  ok: boolean;
  status?: number;
  body?: any;
  challenge?: string | null;
  error?: string;
}

/** Runs a fetch of the gateway in the page, as an app would; a blocked one comes back as its error. */
function fetchFrom(page: Page, url: string, token: string | null): Promise<Fetched> {
  return page.evaluate(
    async ({ url, token }) => {
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            ...(token ? { authorization: `Bearer ${token}` } : {}),
          },
          body: JSON.stringify({ query: '{ viewer { id email } }' }),
        });
        return {
          ok: true,
          status: res.status,
          body: await res.json(),
          challenge: res.headers.get('www-authenticate'),
        };
      } catch (err) {
        return { ok: false, error: String(err) };
      }
    },
    { url, token },
  );
}

describe('CORS from another loopback origin, in Chromium', () => {
  let listed: ServedPage;
  let unlisted: ServedPage;
  let t: TestGateway;
  let browser: Browser;
  let tenant: Awaited<ReturnType<typeof newTenant>>;

  beforeAll(async () => {
    [listed, unlisted] = await Promise.all([servePage(PAGE), servePage(PAGE)]);
    t = await startTestGateway('pglite', { corsOrigins: [listed.origin] });
    tenant = await newTenant(t, 'jrni');
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await t?.close();
    await Promise.all([listed?.close(), unlisted?.close()]);
  });

  async function open(origin: string) {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    const console: string[] = [];
    page.on('console', (m) => console.push(m.text()));
    await page.goto(`${origin}/`);
    return { page, console, close: () => context.close() };
  }

  test('a listed origin gets the data, after the preflight its headers need', async () => {
    // What reaches the gateway's HTTP server, beside Fastify: the preflight Chromium sends first.
    const preflights: string[] = [];
    const seen = (req: IncomingMessage) => {
      if (req.method === 'OPTIONS')
        preflights.push(`${req.headers.origin} ${req.headers['access-control-request-headers']}`);
    };
    t.gateway.app.server.on('request', seen);
    const { page, close } = await open(listed.origin);
    try {
      const r = await fetchFrom(page, t.url, tenant.ownerToken);
      expect(preflights).toEqual([`${listed.origin} authorization,content-type`]);
      expect(r).toEqual({
        ok: true,
        status: 200,
        body: { data: { viewer: { id: tenant.ownerId, email: expect.stringMatching(/@example\.com$/) } } },
        challenge: null,
      });
      // Read again from a page of that origin: the answer is per request, and still allowed.
      expect((await fetchFrom(page, t.url, tenant.ownerToken)).body.data.viewer.id).toBe(tenant.ownerId);
    } finally {
      t.gateway.app.server.off('request', seen);
      await close();
    }
  });

  test('a listed origin reads the 401 and its WWW-Authenticate (an exposed header)', async () => {
    const { page, close } = await open(listed.origin);
    try {
      const r = await fetchFrom(page, t.url, null);
      expect(r).toMatchObject({ ok: true, status: 401, challenge: 'Bearer realm="rolegate"' });
      expect(r.body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    } finally {
      await close();
    }
  });

  test('an origin not listed is blocked, and Chromium says it was CORS', async () => {
    const { page, console, close } = await open(unlisted.origin);
    try {
      const r = await fetchFrom(page, t.url, tenant.ownerToken);
      expect(r).toEqual({ ok: false, error: expect.stringMatching(/TypeError: Failed to fetch/) });
      // The console message can follow the rejection by a moment.
      for (let i = 0; i < 50 && !console.some((m) => /CORS policy/.test(m)); i++)
        await new Promise((r) => setTimeout(r, 100));
      expect(console.join('\n')).toMatch(
        new RegExp(`from origin '${unlisted.origin}' has been blocked by CORS policy`),
      );
    } finally {
      await close();
    }
  });
});
