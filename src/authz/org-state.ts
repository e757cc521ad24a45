import { parseCatalog, type Catalog } from '../catalog';
import { compileCatalog, type CompiledCatalog, type ToolPolicies } from '../engine';
import { roleSpec, type CustomRole, type Organization, type Store } from '../store';
import { isUuid } from '../store/ids';
import { L1Cache } from '../cache/l1';

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

  constructor(
    private readonly store: Store,
    private readonly cache?: L1Cache,
  ) {}

  /**
   * The organization's current state; null when it does not exist. The version is read first (one
   * query) and keys the cache: a hit costs nothing more; a miss reads the rest, which is at that
   * version or later, never earlier.
   */
  async load(orgId: string): Promise<OrgState | null> {
    if (!isUuid(orgId)) return null;
    const version = await this.store.versions.current(orgId);
    if (version == null) return null;
    const key = L1Cache.key(orgId, version, '');
    const cached = this.cache?.orgStates.get(key);
    if (cached) return cached;
    const state = await this.read(orgId, version);
    if (state) this.cache?.orgStates.set(key, state);
    return state;
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
    const key = `${org.id}\0${JSON.stringify(specs)}`;
    let compiled = this.compiled.get(key);
    if (!compiled) {
      compiled = compileCatalog(this.catalogOf(org), specs);
      if (this.compiled.size >= COMPILED_LIMIT) this.compiled.delete(this.compiled.keys().next().value!);
      this.compiled.set(key, compiled);
    }
    return compiled;
  }
}
