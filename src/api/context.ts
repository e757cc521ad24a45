import { randomUUID } from 'node:crypto';
import type { Authenticator, Viewer } from '../auth/tokens';
import { AuthenticationError } from '../auth/tokens';
import { Admin } from '../admin/admin';
import { Authz } from '../authz/authz';
import { createLoaders, type Loaders } from '../authz/loaders';
import type { L1Cache } from '../cache/l1';
import type { OrgStates } from '../authz/org-state';
import type { Store } from '../store';
import { unauthenticated } from './errors';

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
  /** Reads that are not batched by key (pages, children). */
  store: Store;
  /** The administration API's writes, on behalf of the viewer. */
  admin: Admin;
}

export interface ContextDeps {
  store: Store;
  /** The in-process cache; absent: every request reads the store. */
  cache?: L1Cache;
  orgStates: OrgStates;
  authenticator: Authenticator;
}

export async function buildContext(
  deps: ContextDeps,
  headers: { authorization?: string; requestId?: string },
): Promise<Context> {
  let viewer: Viewer;
  try {
    viewer = await deps.authenticator.authenticate(headers.authorization);
  } catch (err) {
    if (err instanceof AuthenticationError) throw unauthenticated(err.message);
    throw err;
  }
  const state = await deps.orgStates.load(viewer.orgId);
  if (!state) throw unauthenticated('the credentials name an organization that does not exist');
  const now = Date.now();
  const loaders = createLoaders(deps.store, {
    orgId: viewer.orgId,
    version: state.org.version,
    catalog: state.catalog,
    now,
    cache: deps.cache,
  });
  if (viewer.kind === 'user') {
    const user = await loaders.subjects.load(viewer.userId);
    if (!user || user.deleted) throw unauthenticated('the credentials name a user that does not exist');
    if (user.locked) throw unauthenticated('this user is locked');
  }
  const requestId =
    headers.requestId && /^[\w.:-]{1,100}$/.test(headers.requestId) ? headers.requestId : randomUUID();
  const authz = new Authz(state, viewer, loaders, now);
  return {
    requestId,
    viewer,
    loaders,
    authz,
    store: deps.store,
    admin: new Admin(deps.store, authz, loaders, viewer, requestId),
  };
}
