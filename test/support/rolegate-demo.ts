import type { IncomingMessage } from 'node:http';
import { seedDemo } from '../../src/cli/setup';
import { startTestGateway, type TestGateway } from './gateway';

/**
 * A real rolegate on loopback (embedded store) holding the JRNI demo organization (what `npm start`
 * creates on a first start), an API key with `decisions:check`, and a count of the `/graphql` POSTs it
 * receives, read off its HTTP server: what a subgraph's client really sent, whatever its fetch.
 */
export interface DemoRolegate {
  t: TestGateway;
  url: string;
  demo: Awaited<ReturnType<typeof seedDemo>>;
  /** `rgk_…` with `decisions:check`. */
  apiKey: string;
  /** A development token for a demo user (`manager@jrni.example`, …). */
  tokenOf(email: string): Promise<string>;
  userOf(email: string): string;
  /** POSTs to /graphql since the last `resetPosts()`. */
  posts(): number;
  resetPosts(): void;
  close(): Promise<void>;
}

export async function startDemoRolegate(): Promise<DemoRolegate> {
  const t = await startTestGateway('pglite');
  const demo = await seedDemo(t.store, 'jrni');
  const { result } = await t.store.apiKeys.create(
    { orgId: demo.orgId, actor: 'test' },
    { name: 'bookings subgraph', scopes: ['decisions:check'] },
  );
  let posts = 0;
  const received = (req: IncomingMessage) => {
    if (req.method === 'POST' && req.url === '/graphql') posts++;
  };
  t.gateway.app.server.on('request', received);
  const userOf = (email: string) => {
    const id = email === 'owner@jrni.example' ? demo.ownerId : demo.people[email];
    if (!id) throw new Error(`no demo user ${email}`);
    return id;
  };
  return {
    t,
    url: t.url,
    demo,
    apiKey: result.token,
    tokenOf: (email) => t.token(demo.orgId, userOf(email)),
    userOf,
    posts: () => posts,
    resetPosts: () => {
      posts = 0;
    },
    async close() {
      t.gateway.app.server.off('request', received);
      await t.close();
    },
  };
}
