import { randomUUID } from 'node:crypto';
import type { Viewer } from '../identity/tokens';
import { AuthenticationError } from '../identity/tokens';
import { Admin, type AdminOptions } from '../admin/admin';
import { ApprovalService } from '../approvals/approvals';
import type { GatewayServices } from '../app/gateway';
import { Access } from '../decisions/access';
import { Authz } from '../decisions/authz';
import type { GrantsWatch } from '../decisions/grants-watch';
import { createLoaders, type Loaders } from '../decisions/loaders';
import type { OrgState } from '../decisions/org-state';
import { Scans } from '../decisions/scans';
import type { Metrics } from '../metrics/metrics';
import { StoreError, type Store } from '../store';
import { unauthenticated, unavailable } from './errors';
import { Deadline } from './limits/deadline';

/**
 * What every resolver gets, built per request by one function: who asks, the request's loaders, and
 * the decision service bound to the viewer's organization. The context never carries a raw database
 * or Redis client.
 */
export interface Context {
  requestId: string;
  viewer: Viewer;
  loaders: Loaders;
  authz: Authz;
  /** Who can, where can: the questions answered by scanning the organization. */
  scans: Scans;
  /** What the viewer themself may do: the guards' and the administration's one source of refusals. */
  access: Access;
  /** Reads that are not batched by key (pages, children). */
  store: Store;
  /** The administration API's writes, on behalf of the viewer. */
  admin: Admin;
  /** Approval requests: opening, deciding, executing, and what the viewer may see of them. */
  approvals: ApprovalService;
  /** Users' grants versions as writes change them (live subscriptions); absent outside a gateway. */
  grantsWatch?: GrantsWatch;
  /**
   * The same credentials, authenticated again, at the organization's current version: for work that
   * outlives the request (a subscription's events). Throws UNAUTHENTICATED once they are revoked.
   */
  fresh(): Promise<Context>;
  metrics?: Metrics;
  /** When the request must be answered; long work (scans) stops at the first step after it. */
  deadline: Deadline;
  /**
   * The decision service at `wanted` or a later version (a check's `atLeastVersion`), waiting for it
   * up to VERSION_WAIT_MS; null when it is not reached in time.
   */
  atVersion(wanted: bigint): Promise<Authz | null>;
}

/** How long a check waits for its `atLeastVersion` before answering VERSION_NOT_REACHED. */
export const VERSION_WAIT_MS = 2_000;

/** What every request shares (the composition root's services), and the request deadline. */
export type ContextDeps = Pick<
  GatewayServices,
  'store' | 'versions' | 'requestCache' | 'orgStates' | 'authenticator' | 'changes'
> &
  Partial<Pick<GatewayServices, 'outbox' | 'grantsWatch'>> & {
    metrics?: Metrics;
    /** The request deadline (default DEFAULT_REQUEST_TIMEOUT_MS, 10 s). */
    requestTimeoutMs?: number;
  };

export async function buildContext(
  deps: ContextDeps,
  headers: { authorization?: string; requestId?: string },
  deadline = new Deadline(deps.requestTimeoutMs),
): Promise<Context> {
  try {
    return await build(deps, headers, deadline);
  } catch (err) {
    // The store and the shared cache both out of reach: nothing can be decided, so nothing is.
    if (err instanceof StoreError && err.code === 'UNAVAILABLE') throw unavailable(err.message);
    throw err;
  }
}

async function build(
  deps: ContextDeps,
  headers: { authorization?: string; requestId?: string },
  deadline: Deadline,
): Promise<Context> {
  let viewer: Viewer;
  try {
    viewer = await deps.authenticator.authenticate(headers.authorization);
  } catch (err) {
    if (err instanceof AuthenticationError) throw unauthenticated(err.message, err.reason);
    throw err;
  }
  const requestId =
    headers.requestId && /^[\w.:-]{1,100}$/.test(headers.requestId) ? headers.requestId : randomUUID();
  return activeContext(deps, viewer, requestId, deadline, () =>
    buildContext(deps, { ...headers, requestId }),
  );
}

/**
 * The context of a user whose credentials were verified elsewhere: the router's JWT claims, which the
 * coprocessor trusts only when told to (src/api/http/coprocessor.ts). The organization must exist and
 * the user be active, as for a token; throws as buildContext does.
 */
export async function claimsContext(
  deps: ContextDeps,
  viewer: Extract<Viewer, { kind: 'user' }>,
  deadline = new Deadline(deps.requestTimeoutMs),
): Promise<Context> {
  try {
    return await activeContext(deps, viewer, randomUUID(), deadline, () => claimsContext(deps, viewer));
  } catch (err) {
    if (err instanceof StoreError && err.code === 'UNAVAILABLE') throw unavailable(err.message);
    throw err;
  }
}

/** The context of an authenticated viewer: their organization exists, and a user is active. */
async function activeContext(
  deps: ContextDeps,
  viewer: Viewer,
  requestId: string,
  deadline: Deadline,
  fresh: () => Promise<Context>,
): Promise<Context> {
  const state = await deps.orgStates.load(viewer.orgId);
  if (!state) throw unauthenticated('the credentials name an organization that does not exist');
  const context = contextAt(deps, viewer, state, requestId, deadline, fresh);
  if (viewer.kind === 'user') {
    const user = await context.loaders.grants.load(viewer.userId);
    if (!user || user.deleted) throw unauthenticated('the credentials name a user that does not exist');
    if (user.locked) throw unauthenticated('this user is locked');
  }
  return context;
}

/**
 * A context for an operator's command acting with a user's rights (`rolegate import users` acts as the
 * organization's owner): no credentials are checked, so only the command line, which already holds the
 * store's, builds one. The user must be active; null when the organization does not exist.
 */
export async function operatorContext(
  deps: Omit<ContextDeps, 'authenticator'>,
  viewer: Extract<Viewer, { kind: 'user' }>,
  admin: AdminOptions,
): Promise<Context | null> {
  const state = await deps.orgStates.load(viewer.orgId);
  if (!state) return null;
  const requestId = randomUUID();
  // No deadline a command would notice (a request's is 10 s).
  const deadline = new Deadline(24 * 3600_000);
  const fresh = () => Promise.reject(new Error('an operator context is not renewed'));
  const context = contextAt(deps, viewer, state, requestId, deadline, fresh, admin);
  const user = await context.loaders.grants.load(viewer.userId);
  if (!user || user.deleted || user.locked)
    throw new StoreError('CONFLICT', `user ${viewer.userId} is not active`);
  return context;
}

/** The context for `viewer` at the organization state `state` (a version): loaders and services. */
function contextAt(
  deps: Omit<ContextDeps, 'authenticator'>,
  viewer: Viewer,
  state: OrgState,
  requestId: string,
  deadline: Deadline,
  fresh: () => Promise<Context>,
  adminOptions?: AdminOptions,
): Context {
  const now = Date.now();
  const loaders = createLoaders(deps.store, deps.requestCache, {
    orgId: viewer.orgId,
    version: state.org.version,
    catalog: state.catalog,
    now,
  });
  const authz = new Authz(state, viewer, loaders, now, deps.metrics);
  const access = new Access(authz, loaders, viewer);
  const scans = new Scans(authz, loaders, deps.store, () => deadline.check());
  return {
    requestId,
    viewer,
    loaders,
    authz,
    scans,
    access,
    store: deps.store,
    admin: new Admin(deps.store, authz, access, loaders, viewer, requestId, adminOptions),
    approvals: new ApprovalService(
      { store: deps.store, changes: deps.changes, outbox: deps.outbox },
      authz,
      access,
      loaders,
      scans,
      requestId,
    ),
    grantsWatch: deps.grantsWatch,
    fresh,
    metrics: deps.metrics,
    deadline,
    atVersion: async (wanted) => {
      const reached = await deps.versions.waitFor(viewer.orgId, wanted, VERSION_WAIT_MS);
      if (reached === null) return null;
      const later = await deps.orgStates.at(viewer.orgId, reached);
      return later ? contextAt(deps, viewer, later, requestId, deadline, fresh, adminOptions).authz : null;
    },
  };
}
