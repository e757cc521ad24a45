import { stoppable } from '../consistency/changes';
import type { Versions } from '../consistency/versions';
import type { Store } from '../store';
import { Authz } from './authz';
import type { RequestCache } from './caches';
import { createLoaders } from './loaders';
import type { OrgStates } from './org-state';

/** What the watch reads with: the gateway's own store, caches, states and versions. */
export interface GrantsWatchDeps {
  store: Store;
  requestCache: RequestCache;
  orgStates: OrgStates;
  versions: Versions;
}

/** A recomputation that failed (the store away) is tried again this much later, while watched. */
const RETRY_MS = 1_000;
/** The longest a timer may wait (setTimeout's bound); an expiry further away is looked at then. */
const MAX_TIMER_MS = 2 ** 31 - 1;

type Listener = (grantsVersion: string) => void;

/** One organization's watched users, and its recomputation (one at a time, the next one coalesced). */
interface OrgWatch {
  users: Map<string, Set<Listener>>;
  running: boolean;
  again: boolean;
  timer?: NodeJS.Timeout;
}

/**
 * Watches users' grants versions for live subscribers (`capabilitiesChanged`). On every version an
 * organization reaches (a write here, or on any replica through Redis), the grants versions of that
 * organization's watched users are recomputed once, in one batch: one read of the users' compiled
 * grants (one Redis MGET, one store query for what it lacks) and one of the subtrees they reach, however
 * many subscribers each user has; then every listener is told its user's grants version. Writes that
 * arrive while a recomputation runs are folded into one more. Listeners compare with what they last
 * saw: a write that changed nothing of theirs costs them nothing more. An assignment's expiry (no
 * write) is looked at when it happens.
 */
export class GrantsWatch {
  private readonly orgs = new Map<string, OrgWatch>();
  private readonly unsubscribe: () => void;
  private closed = false;

  constructor(private readonly deps: GrantsWatchDeps) {
    this.unsubscribe = deps.versions.onVersion((change) => {
      if (change) this.changed(change.orgId);
      // Versions may have been missed (Redis came back): every watched organization is looked at again.
      else for (const orgId of this.orgs.keys()) this.changed(orgId);
    });
  }

  /** Watched users (for tests and metrics). */
  watching(orgId: string): number {
    return this.orgs.get(orgId)?.users.size ?? 0;
  }

  /**
   * Calls `listener` with the user's grants version each time their organization changes (often the
   * same as before: compare). Returns the unsubscribe.
   */
  watch(orgId: string, userId: string, listener: Listener): () => void {
    let org = this.orgs.get(orgId);
    if (!org) this.orgs.set(orgId, (org = { users: new Map(), running: false, again: false }));
    let listeners = org.users.get(userId);
    if (!listeners) org.users.set(userId, (listeners = new Set()));
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
      if (listeners.size) return;
      org.users.delete(userId);
      if (org.users.size || org.running) return;
      clearTimeout(org.timer);
      if (this.orgs.get(orgId) === org) this.orgs.delete(orgId);
    };
  }

  /**
   * A stream of the user's changes, for a subscription: listening starts at once (nothing between it
   * and `initial` is missed); after each change of the user's grants version away from the last one
   * seen (`initial` first), `fresh` makes a context at the state of that moment, which must still give
   * a grants version different from the last one handed out, and `emit` makes the event of it. `fresh`
   * throwing (credentials refused: a locked or deleted user) ends the stream with that error.
   * Ending it (`return()`) stops listening at once, even while it waits.
   */
  changes<C, T>(
    orgId: string,
    userId: string,
    initial: Promise<string>,
    fresh: () => Promise<{ context: C; grantsVersion: string }>,
    emit: (context: C) => Promise<T>,
  ): AsyncIterableIterator<T> {
    let last: string | null = null;
    let pending = false;
    let wake: (() => void) | null = null;
    let closed = false;
    const unwatch = this.watch(orgId, userId, (grantsVersion) => {
      if (last !== null && grantsVersion === last) return;
      pending = true;
      wake?.();
    });
    const close = () => {
      closed = true;
      unwatch();
      wake?.();
    };
    const events = (async function* () {
      try {
        last = await initial;
        while (!closed) {
          if (!pending) await new Promise<void>((resolve) => (wake = resolve));
          wake = null;
          if (closed) break;
          pending = false;
          const at = await fresh();
          if (closed || at.grantsVersion === last) continue;
          last = at.grantsVersion;
          const event = await emit(at.context);
          if (!closed) yield event;
        }
      } finally {
        close();
      }
    })();
    return stoppable(events, close);
  }

  /** Stops listening to versions; watched users are told nothing more. */
  close(): void {
    this.closed = true;
    this.unsubscribe();
    for (const org of this.orgs.values()) clearTimeout(org.timer);
    this.orgs.clear();
  }

  private changed(orgId: string): void {
    const org = this.orgs.get(orgId);
    if (!org || this.closed) return;
    if (org.running) {
      org.again = true;
      return;
    }
    org.running = true;
    void (async () => {
      do {
        org.again = false;
        try {
          await this.recompute(orgId, org);
        } catch {
          // The store or Redis away: look again a little later (listeners hear of it then).
          this.schedule(orgId, org, RETRY_MS);
        }
      } while (org.again && !this.closed);
      org.running = false;
      if (!org.users.size && this.orgs.get(orgId) === org) {
        clearTimeout(org.timer);
        this.orgs.delete(orgId);
      }
    })();
  }

  /** Every watched user's grants version at the organization's current state, in one batch. */
  private async recompute(orgId: string, org: OrgWatch): Promise<void> {
    const state = await this.deps.orgStates.load(orgId);
    if (!state || !org.users.size) return;
    const now = Date.now();
    const loaders = createLoaders(this.deps.store, this.deps.requestCache, {
      orgId,
      version: state.org.version,
      catalog: state.catalog,
      now,
    });
    // The watch decides for nobody in particular: only grants versions are asked of it.
    const authz = new Authz(
      state,
      { kind: 'service', orgId, keyId: 'grants-watch', scopes: [] },
      loaders,
      now,
    );
    const users = [...org.users.keys()];
    // Loads issued together share one batch per kind (the loaders' DataLoader), whatever the count.
    const found = await Promise.all(
      users.map(async (userId) => {
        const grants = await loaders.grants.load(userId);
        return grants
          ? { grantsVersion: await authz.grantsVersion(userId), validUntil: grants.validUntil }
          : null;
      }),
    );
    let nextExpiry = Infinity;
    users.forEach((userId, i) => {
      const f = found[i];
      if (!f) return;
      nextExpiry = Math.min(nextExpiry, f.validUntil);
      for (const listener of [...(org.users.get(userId) ?? [])]) {
        try {
          listener(f.grantsVersion);
        } catch {
          // A listener's own problem (a closed subscription) is its own.
        }
      }
    });
    if (nextExpiry !== Infinity) this.schedule(orgId, org, Math.max(0, nextExpiry - Date.now()) + 1);
  }

  private schedule(orgId: string, org: OrgWatch, ms: number): void {
    clearTimeout(org.timer);
    org.timer = setTimeout(() => this.changed(orgId), Math.min(ms, MAX_TIMER_MS));
    org.timer.unref();
  }
}
