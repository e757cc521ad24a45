import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startGateway, type Gateway } from '../../src/api/server';
import { demoExplorer } from '../../src/cli/serve';
import { createOrganization } from '../../src/cli/setup';
import { developmentSecret, signDevelopmentToken } from '../../src/identity/tokens';
import { launchChromium, viteBuild } from '../support/browser';
import { TEST_AUTH } from '../support/gateway';
import { openTestStore } from '../support/stores';

/**
 * The development landing page (issue 15) in headless Chromium, with every request that leaves this
 * machine refused: GraphiQL comes from the gateway's own files, opens with the demo owner's token and a
 * check, runs it, shows the answer, and shows in its Docs what a field requires in the organization's
 * catalog. The screenshot is the README's (docs/explorer.png).
 */

const ROOT = path.resolve(__dirname, '..', '..');
const SCREENSHOT = path.join(ROOT, 'docs', 'explorer.png');
const BUILD_TIMEOUT_MS = 90_000;

const isLoopbackUrl = (url: string) => {
  const { protocol, hostname } = new URL(url);
  if (protocol === 'data:' || protocol === 'blob:') return true;
  return ['127.0.0.1', 'localhost', '[::1]'].includes(hostname);
};

describe('the development landing page in Chromium, offline', () => {
  let outDir: string;
  let gateway: Gateway;
  let closeStore: () => Promise<void>;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const refused: string[] = [];
  const pageErrors: string[] = [];

  beforeAll(async () => {
    outDir = mkdtempSync(path.join(os.tmpdir(), 'rolegate-explorer-'));
    const launched = launchChromium();
    await viteBuild('explorer', outDir, BUILD_TIMEOUT_MS);
    // As a first start does (src/cli/serve.ts): the demo organization exists before the gateway starts,
    // which opens its explorer with the owner's token.
    const { store, close } = await openTestStore('pglite');
    closeStore = close;
    const { orgId, ownerId } = await createOrganization(store, {
      preset: 'jrni',
      name: 'Demo',
      ownerEmail: 'owner@example.com',
    });
    const token = await signDevelopmentToken(
      await developmentSecret(store, TEST_AUTH),
      { orgId, userId: ownerId },
      TEST_AUTH,
    );
    gateway = await startGateway({
      store,
      config: { port: 0, env: 'development' },
      auth: TEST_AUTH,
      log: () => {},
      approvals: false,
      explorer: { ...demoExplorer(token, ownerId), dir: outDir },
    });
    browser = await launched;
    context = await browser.newContext({ viewport: { width: 1400, height: 860 } });
    // The network outside this machine is not there: every other request is aborted, and listed.
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (isLoopbackUrl(url)) return route.continue();
      refused.push(url);
      return route.abort('internetdisconnected');
    });
    page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await gateway?.close();
    await closeStore?.();
    if (outDir) rmSync(outDir, { recursive: true, force: true });
  });

  test('opens with the token and a check, runs it, and shows the answer', async () => {
    const base = gateway.url.replace(/\/graphql$/, '');
    const response = await page.goto(`${base}/`);
    expect(response?.status()).toBe(200);
    await page.locator('.graphiql-container').waitFor({ timeout: 30_000 });
    // The query editor holds the check; the headers editor the owner's token.
    await page
      .locator('.graphiql-query-editor', { hasText: 'check(input: $input)' })
      .waitFor({ timeout: 30_000 });
    await page.getByRole('button', { name: /headers/i }).click();
    await page.locator('.graphiql-editor-tool', { hasText: 'Bearer' }).waitFor({ timeout: 10_000 });

    await page.locator('.graphiql-execute-button').click();
    await page.locator('.graphiql-response', { hasText: /"allowed":\s*true/ }).waitFor({ timeout: 30_000 });
    const answer = await page.locator('.graphiql-response').innerText();
    expect(answer).toMatch(/"outcome":\s*"ALLOW"/);

    // The Docs: createUser names JRNI's own permission (the introspection was the viewer's).
    await page.getByRole('button', { name: /documentation/i }).click();
    await page.locator('.graphiql-doc-explorer').getByText('Mutation', { exact: true }).click();
    await page.locator('.graphiql-doc-explorer').getByText('createUser', { exact: true }).first().click();
    await page.locator('.graphiql-doc-explorer', { hasText: 'user:create' }).waitFor({ timeout: 10_000 });

    mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT });
    expect(refused).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
