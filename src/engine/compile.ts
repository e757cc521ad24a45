import { CatalogError, pathToString } from '../catalog/errors';
import type { Catalog } from '../catalog/load';
import type { Operation } from '../catalog/operations';
import type { ApprovalSpec, RoleKind, RoleSpec, ToolMode } from '../catalog/schema';
import { catalogNames, findCycles, own, validateRoles } from '../catalog/validate';
import { andInto, bitIndexes, emptyBits, hasBit, orInto, setBit, type Bits } from './bitset';
import { UnknownPermissionError } from './errors';
import type { ToolPolicies } from './types';

/** A role with its grants resolved through inheritance (rule 1). */
export interface CompiledRole {
  key: string;
  name: string;
  kind: RoleKind;
  /** Built into the catalog, or created at run time. */
  custom: boolean;
  spec: RoleSpec;
  /** Its own grants plus every inherited role's, transitively. */
  closure: Bits;
  /** The permission keys of `closure`, in bit order: what the API lists as the role's permissions. */
  permissions: readonly string[];
  /**
   * Its own `ownPersonGrants` plus every inherited role's: held only for the person an assignment is
   * restricted to, on that person's resources (rule 5). Empty for most roles.
   */
  ownPerson: Bits;
  /** `closure` split in two (rule 5): its own pages and navigation modules, which are not resources… */
  uiGrants: Bits;
  /** …and the rest, which a restricted assignment grants only for a matching resource. */
  resourceGrants: Bits;
}

export interface CompiledTool {
  name: string;
  permission: string;
  bit: number;
  /** The catalog's default policy; the organization may override it. */
  policy: ToolMode;
}

/** A tool's policy in an organization: its own override, or the catalog's default. */
export interface ToolModeOf {
  mode: ToolMode;
  /** True when the organization set the mode (even to the catalog's default). */
  overridden: boolean;
}

/** What a check is decided on: a bit, and the tool when it is `tool:<name>`. */
export interface Resolved {
  readonly bit: number;
  readonly tool?: CompiledTool;
  /**
   * A page or navigation module (`page:x`, `nav:x`, following a permission or not): not a resource, so
   * restricted assignments count for it (rule 5).
   */
  readonly ui: boolean;
}

/** The roles and flags that may grant a permission (`CompiledCatalog.grantersOf`). */
export interface Granters {
  readonly roles: readonly CompiledRole[];
  readonly flags: readonly string[];
}

/** A permission that requires others (rule 7), in dependency order: requirements come first. */
interface Dependency {
  bit: number;
  requires: Bits;
}

/**
 * A catalog compiled for deciding: each permission a bit, each role's grants a bitset. Immutable;
 * build a new one (with `compileCatalog`) when the organization's custom roles change.
 */
export class CompiledCatalog {
  readonly words: number;
  /** Permission key of each bit. */
  readonly keys: readonly string[];
  readonly roles: ReadonlyMap<string, CompiledRole>;
  readonly tools: ReadonlyMap<string, CompiledTool>;
  /** Every permission a flag grants on its own, by flag. */
  readonly grantedByFlag: ReadonlyMap<string, Bits>;
  /** Every permission roles grant only while a flag is set, by flag. */
  readonly requiredFlags: ReadonlyMap<string, Bits>;
  /** Every permission that has a `requiresFlag`. */
  readonly flagGated: Bits;
  readonly dependencies: readonly Dependency[];

  private readonly bits: ReadonlyMap<string, number>;
  /** Every name a check may ask about, resolved once: a check allocates nothing to find its bit. */
  private readonly resolved = new Map<string, Resolved>();
  private readonly aliases: ReadonlyMap<string, string>;
  /** `grantersOf`, by bit, worked out on first use. */
  private readonly granters = new Map<number, Granters>();

  constructor(
    readonly catalog: Catalog,
    parts: {
      keys: string[];
      bits: Map<string, number>;
      aliases: Map<string, string>;
      roles: Map<string, CompiledRole>;
      tools: Map<string, CompiledTool>;
      grantedByFlag: Map<string, Bits>;
      requiredFlags: Map<string, Bits>;
      flagGated: Bits;
      dependencies: Dependency[];
    },
  ) {
    this.keys = parts.keys;
    this.words = Math.max(1, Math.ceil(parts.keys.length / 32));
    this.bits = parts.bits;
    this.aliases = parts.aliases;
    this.roles = parts.roles;
    this.tools = parts.tools;
    this.grantedByFlag = parts.grantedByFlag;
    this.requiredFlags = parts.requiredFlags;
    this.flagGated = parts.flagGated;
    this.dependencies = parts.dependencies;
    for (const [key, bit] of this.bits) this.resolved.set(key, { bit, ui: isUiKey(key) });
    for (const tool of this.tools.values())
      this.resolved.set(`tool:${tool.name}`, { bit: tool.bit, tool, ui: false });
  }

  /** The bit of a grantable permission, or of the permission a `page:`/`nav:` entry follows. */
  bitOf(permission: string): number | undefined {
    return this.bits.get(permission);
  }

  /**
   * `bits` and every permission that requires one of them (rule 7), transitively: what giving `bits`
   * can make effective for someone who already holds the rest.
   */
  withDependents(bits: Bits): Bits {
    const out = Uint32Array.from(bits);
    // Requirements come first in `dependencies`, so one pass reaches the fixpoint.
    for (const dep of this.dependencies) {
      if (hasBit(out, dep.bit)) continue;
      for (let i = 0; i < out.length; i++) {
        if ((out[i]! & dep.requires[i]!) !== 0) {
          setBit(out, dep.bit);
          break;
        }
      }
    }
    return out;
  }

  /** The permission keys of the set bits, in bit order. */
  permissionsIn(bits: Bits): string[] {
    return keysOf(this.keys, bits);
  }

  /**
   * A tool's policy under the organization's `policies` (rule 9): its override, else the catalog's
   * default. Takes the tool itself (from `tools` or `resolve`): every caller has it, and a check then
   * looks nothing up.
   */
  toolMode(tool: CompiledTool, policies: ToolPolicies = {}): ToolModeOf {
    const override = own(policies, tool.name);
    return override === undefined
      ? { mode: tool.policy, overridden: false }
      : { mode: override, overridden: true };
  }

  /** Whether a flag alone grants `permission` (`grantedByFlag`): no role ever does. */
  grantedByFlagOnly(permission: string): boolean {
    const bit = this.bits.get(permission);
    if (bit === undefined) return false;
    for (const bits of this.grantedByFlag.values()) if (hasBit(bits, bit)) return true;
    return false;
  }

  /**
   * Where the permission at `bit` can come from: the roles holding it (in their closure, or for their
   * restricted person only), and the flags that grant it on their own (rule 6). Nothing else grants a
   * bit, so whoever holds it holds one of these: the candidates of a reverse query (whoCan).
   */
  grantersOf(bit: number): Granters {
    let found = this.granters.get(bit);
    if (!found) {
      found = {
        roles: [...this.roles.values()].filter((r) => hasBit(r.closure, bit) || hasBit(r.ownPerson, bit)),
        flags: [...this.grantedByFlag].filter(([, bits]) => hasBit(bits, bit)).map(([flag]) => flag),
      };
      this.granters.set(bit, found);
    }
    return found;
  }

  /** The permission a `page:`/`nav:` entry follows, if it follows one. */
  aliasOf(permission: string): string | undefined {
    return this.aliases.get(permission);
  }

  /**
   * What a check for `permission` is decided on: the bit, and the tool when it is `tool:<name>`.
   * Throws `UnknownPermissionError` for anything the catalog does not define.
   */
  resolve(permission: string): Resolved {
    const known = this.resolved.get(permission);
    if (known) return known;
    if (permission.startsWith('tool:')) {
      throw new UnknownPermissionError(permission, 'no such agent tool in the catalog');
    }
    throw new UnknownPermissionError(permission, 'not defined by the catalog');
  }

  /** The permission guarding an administrative operation, or undefined: refused for everyone. */
  operationPermission(op: Operation): string | undefined {
    return this.catalog.document.operations?.[op];
  }

  get ownerRole(): string {
    return this.catalog.document.owner.role;
  }

  /** An approval kind of the catalog (`approvals:`), or undefined. */
  approval(kind: string): (ApprovalSpec & { kind: string }) | undefined {
    const spec = own(this.catalog.document.approvals, kind);
    return spec && { ...spec, kind };
  }

  /** Every approval kind, in document order. */
  get approvalKinds(): string[] {
    return Object.keys(this.catalog.document.approvals ?? {});
  }

  /** The approval kind an agent tool's REQUIRES_APPROVAL opens (`onToolDecision`), if the catalog has one. */
  get toolApproval(): (ApprovalSpec & { kind: string }) | undefined {
    const kind = this.approvalKinds.find((k) => this.catalog.document.approvals![k]!.onToolDecision);
    return kind === undefined ? undefined : this.approval(kind);
  }
}

/**
 * Compiles a validated catalog, plus the organization's custom roles (checked here like the catalog's
 * own; a problem throws `CatalogError` naming the role). Custom role keys may not shadow built-in ones.
 */
export function compileCatalog(
  catalog: Catalog,
  customRoles: Readonly<Record<string, RoleSpec>> = {},
): CompiledCatalog {
  const doc = catalog.document;
  const names = catalogNames(doc);

  // Bits: module:action permissions in document order, then pages and navigation modules of their own.
  const keys = [...names.permissions];
  const bits = new Map(keys.map((k, i) => [k, i]));
  for (const [alias, target] of names.aliases) bits.set(alias, bits.get(target)!);
  const words = Math.max(1, Math.ceil(keys.length / 32));
  const maskOf = (list: Iterable<string>): Bits => {
    const m = emptyBits(words);
    for (const k of list) setBit(m, bits.get(k)!);
    return m;
  };

  // Roles: custom ones are validated against the catalog, then share one inheritance graph.
  const clashes = Object.keys(customRoles).filter((k) => own(doc.roles, k));
  const allRoles: Record<string, RoleSpec> = { ...doc.roles, ...customRoles };
  const problems = [
    ...clashes.map((k) => ({
      path: ['customRoles', k],
      message: `"${k}" is a built-in role of the catalog`,
    })),
    ...validateRoles(customRoles, names, allRoles, ['customRoles']),
  ];
  if (problems.length) {
    throw new CatalogError(
      problems.map((p) => ({ file: catalog.source, path: pathToString(p.path), message: p.message })),
    );
  }
  const pageGrants = new Map<string, string[]>();
  for (const [prefix, entries] of [
    ['page', doc.pages],
    ['nav', doc.navigation],
  ] as const) {
    for (const [k, entry] of Object.entries(entries ?? {})) {
      if (!entry.minRole) continue;
      const list = pageGrants.get(entry.minRole) ?? [];
      list.push(`${prefix}:${k}`);
      pageGrants.set(entry.minRole, list);
    }
  }
  // Pages and navigation modules of their own: not resources (rule 5).
  const uiMask = maskOf(keys.filter(isUiKey));
  const roles = new Map<string, CompiledRole>();
  // `module:*` is every action a role may grant: flag-only permissions are left out.
  const expand = (grants: readonly string[]): string[] =>
    grants.flatMap((grant) =>
      grant.endsWith(':*')
        ? names.modules.get(grant.slice(0, -2))!.filter((p) => !names.flagOnly.has(p))
        : [grant],
    );
  const roleOf = (key: string): CompiledRole => {
    const done = roles.get(key);
    if (done) return done;
    const spec = allRoles[key]!;
    const closure = maskOf([...(pageGrants.get(key) ?? []), ...expand(spec.grants ?? [])]);
    const ownPerson = maskOf(expand(spec.ownPersonGrants ?? []));
    for (const parent of spec.inherits ?? []) {
      const inherited = roleOf(parent);
      orInto(closure, inherited.closure);
      orInto(ownPerson, inherited.ownPerson);
    }
    // What the role grants outright needs no person.
    for (let i = 0; i < words; i++) ownPerson[i]! &= ~closure[i]!;
    const uiGrants = Uint32Array.from(closure);
    andInto(uiGrants, uiMask);
    const resourceGrants = Uint32Array.from(closure);
    for (let i = 0; i < words; i++) resourceGrants[i]! &= ~uiMask[i]!;
    const role: CompiledRole = {
      key,
      name: spec.name,
      kind: spec.kind,
      custom: key in customRoles,
      spec,
      closure,
      permissions: keysOf(keys, closure),
      ownPerson,
      uiGrants,
      resourceGrants,
    };
    roles.set(key, role);
    return role;
  };
  Object.keys(allRoles).forEach(roleOf);

  // Flags (rule 6).
  const grantedByFlag = new Map<string, Bits>();
  const requiredFlags = new Map<string, Bits>();
  const flagGated = emptyBits(words);
  const add = (map: Map<string, Bits>, flag: string, bit: number) => {
    const m = map.get(flag) ?? emptyBits(words);
    setBit(m, bit);
    map.set(flag, m);
  };
  const requires = new Map<string, { path: string[]; targets: readonly string[] }>();
  for (const [module, actions] of Object.entries(doc.permissions)) {
    for (const [action, spec] of Object.entries(actions)) {
      const key = `${module}:${action}`;
      const bit = bits.get(key)!;
      if (spec.grantedByFlag) add(grantedByFlag, spec.grantedByFlag, bit);
      if (spec.requiresFlag) {
        add(requiredFlags, spec.requiresFlag, bit);
        setBit(flagGated, bit);
      }
      if (spec.requires?.length) requires.set(key, { path: [], targets: spec.requires });
    }
  }

  // Dependencies (rule 7) in topological order, so one pass reaches the fixpoint.
  if (findCycles(requires).length) throw new Error('compileCatalog: dependency cycle in a validated catalog');
  const dependencies: Dependency[] = [];
  const placed = new Set<string>();
  const place = (key: string) => {
    if (placed.has(key)) return;
    placed.add(key);
    const targets = requires.get(key)?.targets ?? [];
    targets.forEach(place);
    if (targets.length) dependencies.push({ bit: bits.get(key)!, requires: maskOf(targets) });
  };
  [...requires.keys()].forEach(place);

  const tools = new Map<string, CompiledTool>();
  for (const [name, spec] of Object.entries(doc.tools ?? {})) {
    tools.set(name, {
      name,
      permission: spec.permission,
      bit: bits.get(spec.permission)!,
      policy: spec.policy,
    });
  }

  return new CompiledCatalog(catalog, {
    keys,
    bits,
    aliases: new Map(names.aliases),
    roles,
    tools,
    grantedByFlag,
    requiredFlags,
    flagGated,
    dependencies,
  });
}

/**
 * The custom role `key` as `spec` would make it, compiled against the catalog and the organization's
 * other custom roles (those compiled into `compiled`): what creating, changing or restoring it would
 * grant. Throws `CatalogError` when the role does not fit the catalog.
 */
export function compileRole(compiled: CompiledCatalog, key: string, spec: RoleSpec): CompiledRole {
  const others = Object.fromEntries(
    [...compiled.roles.values()].filter((r) => r.custom && r.key !== key).map((r) => [r.key, r.spec]),
  );
  return compileCatalog(compiled.catalog, { ...others, [key]: spec }).roles.get(key)!;
}

/** A page or navigation module's name (`page:x`, `nav:x`): not a resource (rule 5). */
function isUiKey(key: string): boolean {
  return key.startsWith('page:') || key.startsWith('nav:');
}

function keysOf(keys: readonly string[], bits: Bits): string[] {
  return bitIndexes(bits).map((bit) => keys[bit]!);
}
