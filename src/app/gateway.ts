import { randomBytes } from 'node:crypto';
import type { L1Cache } from '../cache/l1';
import { SharedCache } from '../cache/redis';
import {
  NotificationWorker,
  notifyConfigFromEnv,
  type NotificationWorkerOptions,
} from '../approvals/notify/worker';
import { ExpirySweeper } from '../approvals/sweeper';
import { LocalChanges, RedisChanges, type Changes } from '../consistency/changes';
import { RedisVersions } from '../consistency/redis-versions';
import { Versions } from '../consistency/versions';
import { inProcessLevel, requestCache, type CacheSizes, type RequestCache } from '../decisions/caches';
import { GrantsWatch } from '../decisions/grants-watch';
import { OrgStates } from '../decisions/org-state';
import { authConfigFromEnv, Authenticator, verifiedTokens, type AuthConfig } from '../identity/tokens';
import { Metrics } from '../metrics/metrics';
import { countingDb, gatewaySecret, Store, type Db } from '../store';

/** The store's name for the key that signs the shared cache's entries (every replica reads the same). */
const CACHE_KEY_NAME = 'cache_signing_key';

export interface GatewayServicesOptions {
  /** The database. The caller opened it and closes it, after `close()`. */
  db: Db;
  env: 'development' | 'production';
  /** Shares versions and cache entries with every replica (PostgreSQL only). */
  redisUrl?: string;
  /** Sizes of what is kept in process (default on, default sizes); false keeps nothing, Redis or not. */
  cache?: false | CacheSizes;
  auth?: AuthConfig;
  /** Where start-up notes and Redis's comings and goings go. */
  log?: (entry: Record<string, unknown>) => void;
  /**
   * Benchmarks only (default strict): false trusts the last version this process heard of instead of
   * reading one per request, which breaks the consistency promise. It measures what strictness costs.
   */
  strictVersions?: false;
  /**
   * The approvals' background work on this replica: recording expiries every `sweepMs` (default 5 s),
   * and delivering the notification outbox (`notify`: the worker's options; default from the
   * environment, `notifyConfigFromEnv`; false: no worker here). False: none (a process that only decides).
   */
  approvals?: false | { sweepMs?: number; notify?: false | NotifyOptions };
}

/** The outbox worker's options a gateway may be given (the rest it wires itself). */
export type NotifyOptions = Partial<Omit<NotificationWorkerOptions, 'notifications' | 'log' | 'kindName'>>;

/** Everything a gateway's requests share, built once, each part given what it needs when it is made. */
export interface GatewayServices {
  /** The repositories, whose writes make their versions known through `versions`. */
  store: Store;
  /** Where requests learn each organization's current version. */
  versions: Versions;
  /** Compiled grants, location paths and subjects, by organization version. */
  requestCache: RequestCache;
  /** Each organization's state (compiled catalog, custom roles, tool policies), by version. */
  orgStates: OrgStates;
  authenticator: Authenticator;
  metrics: Metrics;
  /** Where approval requests' changes are announced to live subscribers (every replica with Redis). */
  changes: Changes;
  /** Users' grants versions, recomputed on every write to their organization, for live subscribers. */
  grantsWatch: GrantsWatch;
  /** The notification outbox's worker on this replica (undefined: notifications are not sent from here). */
  outbox?: { poke(): void };
  /** Whether Redis answers: null when it is not configured. */
  redisUp(): Promise<boolean | null>;
  /** Closes Redis; the database stays open (its opener closes it). */
  close(): Promise<void>;
}

/**
 * The composition root: the one place where the store, the version protocol, the caches, the
 * authenticator and the metrics are built and wired. The HTTP server, the CLI and the benchmarks all
 * build their gateway here. Writes through `store` and the caches of this gateway only: a second
 * gateway over the same database builds its own.
 */
export async function openGatewayServices(options: GatewayServicesOptions): Promise<GatewayServices> {
  const log = options.log ?? (() => {});
  // Settings first: a bad one is refused before any connection is opened.
  const background = options.approvals === false ? undefined : (options.approvals ?? {});
  const given = background && background.notify !== false ? background.notify : undefined;
  const notifyConfig = { ...notifyConfigFromEnv(), ...given };
  // The worker runs where asked; the allowed Teams hosts hold wherever settings are written.
  const notify = background && background.notify !== false ? notifyConfig : undefined;
  const teamsHosts = notifyConfig.teamsHosts;
  const metrics = new Metrics();
  const db = countingDb(options.db, () => metrics.storeQueries.inc());
  const l1: L1Cache | undefined = options.cache === false ? undefined : inProcessLevel(options.cache || {});

  let shared: SharedCache | undefined;
  let redisVersions: RedisVersions | undefined;
  let changes: Changes = new LocalChanges();
  if (options.redisUrl && l1) {
    if (db.kind === 'pglite') {
      log({ level: 'warn', msg: 'REDIS_URL is not used with the embedded store: one process serves it' });
    } else {
      const macKey = Buffer.from(
        await gatewaySecret(db, CACHE_KEY_NAME, () => randomBytes(32).toString('base64url')),
        'base64url',
      );
      shared = new SharedCache(options.redisUrl, { log, metrics, macKey });
      redisVersions = new RedisVersions(shared);
      // A write anywhere: what this process keeps for older versions is never read again. Versions
      // may have been missed (a reconnect): everything kept is dropped.
      redisVersions.invalidated((orgId, version) => l1.dropOlder(orgId, version));
      redisVersions.reset(() => l1.clear());
      const redisChanges = new RedisChanges(shared);
      changes = redisChanges;
      await Promise.all([redisVersions.connect(), redisChanges.connect()]);
      if (!shared.up)
        log({ level: 'warn', msg: 'Redis is unreachable: decisions read the store until it is up' });
    }
  }

  const versions = new Versions(db, {
    shared: redisVersions,
    strict: options.strictVersions !== false,
    observer: { read: (source, n) => metrics.versionReads.inc({ source }, n) },
  });
  const store = new Store(db, {
    versions,
    // Organizations' Teams webhooks: on the allowed hosts only (the worker checks again before a send).
    notifications: { checkTeamsWebhookUrl: (url) => teamsHosts.problem(url) },
  });
  // Lookups are counted where there is a cache to look in (a gateway without one counts none).
  const levels = { l1, shared, metrics: l1 ? metrics : undefined };
  const sizes = options.cache || {};
  const authenticator = await Authenticator.create(
    store,
    options.auth ?? authConfigFromEnv(),
    options.env,
    l1 ? verifiedTokens(sizes.tokens, sizes.ttlMs) : undefined,
  );
  const orgStates = new OrgStates(store, { versions, levels });
  const sweeper = background && new ExpirySweeper(store, changes, { everyMs: background.sweepMs, log });
  const outbox = notify
    ? new NotificationWorker({
        ...notify,
        notifications: store.notifications,
        // The message names the kind as the organization's catalog does.
        kindName: async (orgId, kind) => (await orgStates.load(orgId))?.catalog.approval(kind)?.name ?? null,
        log,
      })
    : undefined;
  sweeper?.start();
  outbox?.start();
  const cache = requestCache(store, levels);
  const grantsWatch = new GrantsWatch({ store, requestCache: cache, orgStates, versions });
  return {
    store,
    versions,
    requestCache: cache,
    orgStates,
    authenticator,
    metrics,
    changes,
    grantsWatch,
    outbox,
    redisUp: async () => (shared ? shared.ping() : null),
    async close() {
      grantsWatch.close();
      await Promise.all([sweeper?.stop(), outbox?.stop()]);
      await changes.close();
      await redisVersions?.close();
      await shared?.close();
    },
  };
}

/**
 * The store for a command-line write: with PostgreSQL and REDIS_URL, writes go through the version
 * protocol as the gateway's do (marked before they commit, published after), so running replicas see
 * them at once.
 */
export async function openWriterServices(options: {
  db: Db;
  redisUrl?: string;
}): Promise<{ store: Store; close(): Promise<void> }> {
  if (!options.redisUrl || options.db.kind === 'pglite')
    return { store: new Store(options.db), close: async () => {} };
  const shared = new SharedCache(options.redisUrl, { commandTimeoutMs: 2_000 });
  const redisVersions = new RedisVersions(shared);
  await redisVersions.connect();
  return {
    store: new Store(options.db, { versions: new Versions(options.db, { shared: redisVersions }) }),
    async close() {
      await redisVersions.close();
      await shared.close();
    },
  };
}

/**
 * What an operator's command needs to run the administration's rules outside a gateway (`rolegate
 * import users`): the store (its writes through the version protocol, as openWriterServices'), where
 * versions are read, organization states and the request caches, nothing kept between calls.
 */
export async function openOperatorServices(options: { db: Db; redisUrl?: string }): Promise<{
  store: Store;
  versions: Versions;
  orgStates: OrgStates;
  requestCache: RequestCache;
  changes: Changes;
  close(): Promise<void>;
}> {
  let redisVersions: RedisVersions | undefined;
  let shared: SharedCache | undefined;
  if (options.redisUrl && options.db.kind !== 'pglite') {
    shared = new SharedCache(options.redisUrl, { commandTimeoutMs: 2_000 });
    redisVersions = new RedisVersions(shared);
    await redisVersions.connect();
  }
  const versions = new Versions(options.db, { shared: redisVersions });
  const store = new Store(options.db, { versions });
  return {
    store,
    versions,
    orgStates: new OrgStates(store, { versions }),
    requestCache: requestCache(store),
    changes: new LocalChanges(),
    async close() {
      await redisVersions?.close();
      await shared?.close();
    },
  };
}
