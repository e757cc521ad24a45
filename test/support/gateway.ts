import { startGateway, type Gateway, type GatewayOptions } from '../../src/api/server';
import type { LiveOptions } from '../../src/api/live/options';
import { developmentSecret, signDevelopmentToken } from '../../src/identity/tokens';
import { createOrganization } from '../../src/cli/setup';
import type { Store } from '../../src/store';
import { openTestStore, type Backend } from './stores';

/** The development auth settings every test gateway uses (the signing key lives in the test store). */
export const TEST_AUTH = {
  issuer: 'rolegate',
  audience: 'rolegate',
  secret: 'test-secret-not-for-production-0123456789',
};

export interface TestGateway {
  store: Store;
  gateway: Gateway;
  url: string;
  /** Logged (masked) errors: a test can assert nothing unexpected happened. */
  logged: Record<string, unknown>[];
  token(orgId: string, userId: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * A real gateway on a free loopback port, over a real store of the given kind; with `redisUrl`, sharing
 * that Redis (the test run's is ROLEGATE_TEST_REDIS_URL); with `databaseUrl`, over that PostgreSQL.
 */
export async function startTestGateway(
  kind: Backend,
  options: {
    redisUrl?: string;
    databaseUrl?: string;
    live?: LiveOptions;
    approvals?: GatewayOptions['approvals'];
    /** ROLEGATE_CORS_ORIGINS (default none). */
    corsOrigins?: string[];
    /** Default development; production needs `auth` with a public key or JWKS. */
    env?: 'development' | 'production';
    /** Default TEST_AUTH (development tokens signed with its secret). */
    auth?: GatewayOptions['auth'];
    /** The router coprocessor's settings (default: claims not trusted, faults answered false). */
    coprocessor?: GatewayOptions['coprocessor'];
    /** The development landing page's settings (default none). */
    explorer?: GatewayOptions['explorer'];
  } = {},
): Promise<TestGateway> {
  const { store, close } = await openTestStore(kind, options.databaseUrl);
  const logged: Record<string, unknown>[] = [];
  const gateway = await startGateway({
    store,
    config: {
      port: 0,
      env: options.env ?? 'development',
      redisUrl: options.redisUrl,
      corsOrigins: options.corsOrigins,
    },
    auth: options.auth ?? TEST_AUTH,
    log: (e) => logged.push(e),
    live: options.live,
    // No outbox worker unless a test asks for one (pointed at its stand-in): the test run's gateways
    // share one PostgreSQL, and a worker sends whatever any organization's outbox holds.
    approvals: options.approvals ?? { notify: false },
    explorer: options.explorer,
    coprocessor: options.coprocessor ?? {},
  });
  const key = await developmentSecret(store, TEST_AUTH);
  return {
    // The gateway's own repositories: their writes go through its version protocol (Redis included).
    store: gateway.store,
    gateway,
    url: gateway.url,
    logged,
    token: (orgId, userId) => signDevelopmentToken(key, { orgId, userId }, TEST_AUTH),
    async close() {
      await gateway.close();
      await close();
    },
  };
}

export interface GqlResult<T = Record<string, unknown>> {
  status: number;
  data?: T;
  errors?: { message: string; path?: string[]; extensions?: Record<string, unknown> }[];
  raw: string;
}

/** Sends one GraphQL request over HTTP, as a client would. */
export async function gql<T = Record<string, any>>(
  url: string,
  token: string | null,
  query: string,
  variables?: Record<string, unknown>,
): Promise<GqlResult<T>> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const raw = await res.text();
  let body: { data?: T; errors?: GqlResult['errors'] } = {};
  try {
    body = JSON.parse(raw);
  } catch {
    /* not JSON: the test looks at raw */
  }
  return { status: res.status, data: body.data ?? undefined, errors: body.errors, raw };
}

/** A new organization from a preset, with its owner's token. */
export async function newTenant(t: TestGateway, preset: 'junto' | 'juno' | 'jrni', name = `${preset} test`) {
  const { orgId, ownerId } = await createOrganization(t.store, {
    preset,
    name,
    ownerEmail: `owner-${Math.random().toString(36).slice(2)}@example.com`,
  });
  return { orgId, ownerId, ownerToken: await t.token(orgId, ownerId) };
}

/** The test run's Redis (global-setup starts one, or REDIS_URL). */
export function testRedisUrl(): string {
  const url = process.env.ROLEGATE_TEST_REDIS_URL;
  if (!url) throw new Error('ROLEGATE_TEST_REDIS_URL is not set: run the tests through jest');
  return url;
}
