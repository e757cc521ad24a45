import { createHash } from 'node:crypto';
import { stringify } from 'safe-stable-stringify';
import { parseCatalog, type Catalog } from '../catalog';
import { compileCatalog, type CompiledCatalog, type ToolPolicies } from '../engine';
import { ReadThrough, type Levels, type VersionKey } from '../cache/read-through';
import { Versions } from '../consistency/versions';
import { isUuid, roleSpec, type CustomRole, type Organization, type Store } from '../store';

/** Everything about an organization a decision needs besides the users: read once per request. */
export interface OrgState {
  org: Organization;
  /** The catalog with the organization's live custom roles compiled in. */
  catalog: CompiledCatalog;
  customRoles: CustomRole[];
  /** The organization's tool policies (overrides of the catalog's defaults). */
  policies: ToolPolicies;
}

/** Compiled catalogs kept per process. A catalog's text never changes; custom roles do. */
const COMPILED_LIMIT = 256;

export class OrgStates {
  private readonly parsed = new Map<string, Catalog>();
  private readonly compiled = new Map<string, CompiledCatalog>();
  private readonly versions: Versions;
  private readonly cache: ReadThrough<{ org: OrgState }, VersionKey>;

  /**
   * `versions`: where the current version is learned (default: read from the store's database);
   * `levels`: where states are kept between requests (default: nowhere, every request reads them).
   */
  constructor(
    private readonly store: Store,
    options: { versions?: Versions; levels?: Levels } = {},
  ) {
    this.versions = options.versions ?? new Versions(store.db);
    // The state's inputs (organization, custom roles, policies) are kept in Redis as JSON and compiled
    // here; in process, the compiled state is kept.
    this.cache = new ReadThrough<{ org: OrgState }, VersionKey>(
      {
        org: {
          // One entry per organization version (id ''), as before the read-through.
          source: (ids, { orgId, version }) => Promise.all(ids.map(() => this.read(orgId, version))),
          codec: {
            encode: ({ org, customRoles, policies }) =>
              Buffer.from(JSON.stringify({ org, customRoles, policies }), 'utf8'),
            decode: (bytes) => this.revive(bytes),
          },
        },
      },
      options.levels,
    );
  }

  /**
   * The organization's current state; null when it does not exist. The version is read first (one
   * query) and keys the cache: a hit costs nothing more; a miss reads the rest, which is at that
   * version or later, never earlier.
   */
  async load(orgId: string): Promise<OrgState | null> {
    if (!isUuid(orgId)) return null;
    const version = await this.versions.current(orgId);
    return version == null ? null : this.at(orgId, version);
  }

  /** The organization's state at `version` (read just now): from process, then Redis, then the store. */
  at(orgId: string, version: string): Promise<OrgState | null> {
    return this.cache.get({ orgId, version }, 'org', '');
  }

  /** A state kept in Redis, compiled again; null for an entry this release cannot read. */
  private revive(bytes: Buffer): OrgState | null {
    try {
      const saved = JSON.parse(bytes.toString('utf8')) as Omit<OrgState, 'catalog'>;
      const org = { ...saved.org, createdAt: new Date(saved.org.createdAt) };
      const customRoles = saved.customRoles.map((r) => ({
        ...r,
        createdAt: new Date(r.createdAt),
        deletedAt: r.deletedAt ? new Date(r.deletedAt) : null,
      }));
      return { org, customRoles, policies: saved.policies, catalog: this.compile(org, customRoles) };
    } catch {
      return null;
    }
  }

  private async read(orgId: string, version: string): Promise<OrgState | null> {
    const [found, customRoles, policies] = await Promise.all([
      this.store.organizations.get(orgId),
      this.store.roles.list(orgId),
      this.store.toolPolicies.get(orgId),
    ]);
    if (!found) return null;
    // Decisions report the version read first: what they saw is that version or a later one.
    const org = { ...found, version };
    return { org, catalog: this.compile(org, customRoles), customRoles, policies };
  }

  /** The organization's catalog as written, without custom roles. */
  catalogOf(org: Organization): Catalog {
    let catalog = this.parsed.get(org.id);
    if (!catalog) {
      catalog = parseCatalog(org.catalogSource, `organization ${org.id}`);
      this.parsed.set(org.id, catalog);
    }
    return catalog;
  }

  private compile(org: Organization, customRoles: CustomRole[]): CompiledCatalog {
    const specs = Object.fromEntries(customRoles.map((r) => [r.key, roleSpec(r)]));
    // Keyed by a digest of the roles' specs (names and descriptions included, so a change to them is a
    // new entry): no free text in a key, and every key the same small size whatever the roles hold.
    const digest = createHash('sha256')
      .update(stringify(specs) ?? '')
      .digest('base64url');
    const key = `${org.id}:${digest}`;
    let compiled = this.compiled.get(key);
    if (!compiled) {
      compiled = compileCatalog(this.catalogOf(org), specs);
      if (this.compiled.size >= COMPILED_LIMIT) this.compiled.delete(this.compiled.keys().next().value!);
      this.compiled.set(key, compiled);
    }
    return compiled;
  }
}
