import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { IncomingMessage } from 'node:http';
import type { Browser, Page } from 'playwright-core';
import { gql, startTestGateway, type TestGateway } from '../support/gateway';
import { launchChromium, serveDir, viteBuild, type ServedPage } from '../support/browser';
import { createPersonas, must, type Persona, type Personas } from '../support/personas';

/**
 * The example app (examples/frontend: React, Apollo Client, @casl/react), built by Vite and served
 * from another loopback origin, in headless Chromium, for the three personas of issue 13: the menu each
 * one sees (exact, in order), no Create user button, `<Can>` deciding on records in the browser, ONE
 * request to draw it all, and a change of roles reaching the open page within 1 s through
 * `capabilitiesChanged`.
 */

const BUILD_TIMEOUT_MS = 60_000;

/** A menu as drawn: a module with its pages, or a page of no module. */
type MenuItem = string | { module: string; pages: string[] };

function menuOf(page: Page): Promise<MenuItem[]> {
  return page.$$eval('[data-testid=menu] > ul > li', (items) =>
    items.map((li) =>
      li.getAttribute('data-testid') === 'menu-module'
        ? {
            module: li.querySelector('[data-testid=module-name]')!.textContent!,
            pages: [...li.querySelectorAll('[data-testid=menu-page]')].map((p) => p.textContent!),
          }
        : li.textContent!,
    ),
  );
}

function recordsOf(page: Page): Promise<string[]> {
  return page.$$eval('[data-testid=records] > li', (items) =>
    items.map((li) => li.getAttribute('data-testid')!.replace(/^record-/, '')),
  );
}

describe('the example app in Chromium', () => {
  let outDir: string;
  let app: ServedPage;
  let t: TestGateway;
  let browser: Browser;
  let personas: Personas;

  beforeAll(async () => {
    outDir = mkdtempSync(path.join(os.tmpdir(), 'rolegate-example-app-'));
    const built = viteBuild('examples/frontend', outDir, BUILD_TIMEOUT_MS);
    const launched = launchChromium();
    await built;
    app = await serveDir(outDir);
    t = await startTestGateway('pglite', { corsOrigins: [app.origin] });
    personas = await createPersonas(t);
    browser = await launched;
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await t?.close();
    await app?.close();
    if (outDir) rmSync(outDir, { recursive: true, force: true });
  });
  afterEach(() => expect(t.logged.splice(0)).toEqual([]));

  /**
   * Opens the app as the persona. `posts` counts the POSTs to /graphql the gateway's HTTP server received
   * from the app's origin (Playwright reports a preflighted request's 'request' event twice, so the
   * server is the one to count); `sent` are the bodies of those Chromium completed, `aborted` the ones
   * it started and dropped.
   */
  async function open(persona: Persona, locationId = persona.locationId) {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    let posts = 0;
    const sent: string[] = [];
    const aborted: string[] = [];
    const problems: string[] = [];
    const received = (req: IncomingMessage) => {
      if (req.method === 'POST' && req.url === '/graphql' && req.headers.origin === app.origin) posts++;
    };
    t.gateway.app.server.on('request', received);
    page.on('requestfinished', (r) => {
      if (r.url() === t.url && r.method() === 'POST') sent.push(JSON.parse(r.postData()!).operationName);
    });
    page.on('requestfailed', (r) => {
      if (r.url() === t.url) aborted.push(`${r.method()} ${r.failure()?.errorText}`);
    });
    page.on('pageerror', (e) => problems.push(String(e)));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    const query = new URLSearchParams({ gateway: t.url, token: persona.token });
    if (locationId) query.set('location', locationId);
    await page.goto(`${app.origin}/?${query}`);
    // Drawn: the viewer's name comes with the rest of the one answer.
    await page.waitForSelector('[data-testid=viewer-name]');
    return {
      page,
      posts: () => posts,
      sent,
      aborted,
      problems,
      close: async () => {
        t.gateway.app.server.off('request', received);
        await context.close();
      },
    };
  }

  /** Each persona: its exact menu, the records `<Can>` lets through, and the one bootstrap request. */
  const cases: [string, (p: Personas) => Persona, MenuItem[], string[]][] = [
    [
      'a JRNI User limited to staff-7 at London',
      (p) => p.jrni,
      [
        { module: 'Home', pages: [] },
        { module: 'Your Business', pages: ['Calendar', 'Agenda', 'Check in', 'Customers', 'Staff'] },
      ],
      // Their own staff member's calendar, not a colleague's at the same location.
      ['staff-7-calendar'],
    ],
    [
      'a Junto Technician',
      (p) => p.junto,
      // Junto's catalog has pages and no navigation modules: a flat menu.
      ['Dashboard', 'AI Assistant', 'Companies', 'Tickets', 'Runbooks', 'Advisor'],
      // update_ticket is AUTO, execute_runbook needs approval, invoices is Billing Admin's.
      ['tool-update-ticket', 'tool-execute-runbook'],
    ],
    [
      'a Juno member of two teams',
      (p) => p.juno,
      [
        { module: 'Projects', pages: [] },
        { module: 'Docs spaces', pages: [] },
        { module: 'Timesheets', pages: [] },
      ],
      // Create priority needs Edit project from the same team: Web has it (Project manager), Mobile not.
      ['web-priority', 'mobile-issue'],
    ],
  ];

  test.each(cases)(
    '%s: the exact menu, no Create user, <Can> on records, one request',
    async (_, pick, menu, records) => {
      const persona = pick(personas);
      const { page, posts, sent, aborted, problems, close } = await open(persona);
      try {
        expect(await menuOf(page)).toEqual(menu);
        expect(await page.locator('[data-testid=create-user]').count()).toBe(0);
        expect(await recordsOf(page)).toEqual(records);
        expect(await page.textContent('[data-testid=grants-version]')).toMatch(/^[\w-]{16,}$/);
        expect(await page.locator('[data-testid=errors]').count()).toBe(0);
        // Nothing more is asked for once the page is drawn (a late refetch would show here).
        await page.waitForTimeout(300);
        expect(posts()).toBe(1);
        expect(sent).toEqual(['Bootstrap']);
        expect(aborted).toEqual([]);
        expect(problems).toEqual([]);
      } finally {
        await close();
      }
    },
  );

  test('a stale location costs the menu only: the viewer, the rules and the error are drawn', async () => {
    const persona = personas.jrni;
    const { page, posts, problems, close } = await open(persona, '00000000-0000-4000-8000-000000000000');
    try {
      expect(await page.textContent('[data-testid=viewer-name]')).toBe('Sam (staff-7)');
      expect(await page.locator('[data-testid=menu]').count()).toBe(0);
      expect(await page.textContent('[data-testid=errors]')).toBe('capabilities: NOT_FOUND');
      expect(await recordsOf(page)).toEqual(['staff-7-calendar']);
      expect(posts()).toBe(1);
      expect(problems).toEqual([]);
    } finally {
      await close();
    }
  });

  test('the owner makes the Technician an Admin: the open page redraws within 1 s', async () => {
    const persona = personas.junto;
    const { page, posts, sent, aborted, close } = await open(persona);
    try {
      const before = await page.textContent('[data-testid=grants-version]');
      // The subscription is sent once the WebSocket is up; give the gateway a moment to register it.
      await page.waitForSelector('[data-testid=live-status]:text("live")');
      await page.waitForTimeout(300);

      const sentAt = Date.now();
      await must(
        t,
        persona.ownerToken,
        `mutation($u: ID!) { assignRole(input: { userId: $u, role: "admin" }) { version } }`,
        {
          u: persona.userId,
        },
      );
      await page.waitForSelector('[data-testid=create-user]', { timeout: 1_000 });
      expect(Date.now() - sentAt).toBeLessThan(1_000);

      // The page now shows what the gateway says an Admin sees, and a new grantsVersion.
      const { data } = await gql(t.url, persona.token, '{ capabilities { grantsVersion pages { name } } }');
      expect(await menuOf(page)).toEqual(data!.capabilities.pages.map((p: { name: string }) => p.name));
      expect((await menuOf(page)).length).toBeGreaterThan(6);
      expect(await page.textContent('[data-testid=grants-version]')).toBe(data!.capabilities.grantsVersion);
      expect(data!.capabilities.grantsVersion).not.toBe(before);
      // One bootstrap, then one refetch for the change.
      expect(posts()).toBe(2);
      expect(sent).toEqual(['Bootstrap', 'Bootstrap']);
      expect(aborted).toEqual([]);
    } finally {
      await close();
    }
  });
});
