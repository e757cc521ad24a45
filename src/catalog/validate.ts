import type { CatalogDocument, RoleKind, RoleSpec } from './schema';
import type { Path } from './errors';

/** A problem found by `validateCatalog`, located by its path inside the document. */
export interface Problem {
  path: Path;
  message: string;
}

const RESERVED_MODULES = new Set(['page', 'nav', 'tool']);

/**
 * What the rest of a catalog may refer to. Built once from the document; custom roles created at run
 * time are checked against the same view (see `validateRoles`).
 */
export interface CatalogNames {
  /** Every grantable permission: `module:action`, and `page:x` / `nav:x` for entries without an alias. */
  permissions: ReadonlySet<string>;
  /** `page:x` / `nav:x` that follow another permission, and the permission they follow. */
  aliases: ReadonlyMap<string, string>;
  modules: ReadonlyMap<string, readonly string[]>;
  flags: ReadonlySet<string>;
  /** Permissions a flag grants on its own (`grantedByFlag`): no role may grant them. */
  flagOnly: ReadonlySet<string>;
}

export function catalogNames(doc: CatalogDocument): CatalogNames {
  const permissions = new Set<string>();
  const aliases = new Map<string, string>();
  const modules = new Map<string, string[]>();
  for (const [module, actions] of Object.entries(doc.permissions)) {
    const keys = Object.keys(actions).map((action) => `${module}:${action}`);
    modules.set(module, keys);
    keys.forEach((k) => permissions.add(k));
  }
  for (const [prefix, entries] of [
    ['page', doc.pages],
    ['nav', doc.navigation],
  ] as const) {
    const keys: string[] = [];
    for (const [k, entry] of Object.entries(entries ?? {})) {
      const name = `${prefix}:${k}`;
      if (entry.permission) aliases.set(name, entry.permission);
      else {
        permissions.add(name);
        keys.push(name);
      }
    }
    if (keys.length) modules.set(prefix, keys);
  }
  const flagOnly = new Set<string>();
  for (const [module, actions] of Object.entries(doc.permissions))
    for (const [action, spec] of Object.entries(actions))
      if (spec.grantedByFlag) flagOnly.add(`${module}:${action}`);
  return { permissions, aliases, modules, flags: new Set(Object.keys(doc.flags ?? {})), flagOnly };
}

/** Checks every reference inside a form-checked catalog. Returns all problems, in document order. */
export function validateCatalog(doc: CatalogDocument): Problem[] {
  const problems: Problem[] = [];
  const names = catalogNames(doc);
  const report = (path: Path, message: string) => problems.push({ path, message });
  const isModuleAction = (p: string) =>
    names.permissions.has(p) && !p.startsWith('page:') && !p.startsWith('nav:');

  for (const module of Object.keys(doc.permissions)) {
    if (RESERVED_MODULES.has(module)) {
      report(
        ['permissions', module],
        `"${module}" is reserved (pages, navigation and tools have their own sections)`,
      );
    }
  }

  // Permissions: flags and dependencies.
  const requires = new Map<string, { path: Path; targets: readonly string[] }>();
  for (const [module, actions] of Object.entries(doc.permissions)) {
    for (const [action, spec] of Object.entries(actions)) {
      const key = `${module}:${action}`;
      const at: Path = ['permissions', module, action];
      if (spec.grantedByFlag && spec.requiresFlag) {
        report(at, 'give grantedByFlag or requiresFlag, not both');
      }
      for (const field of ['grantedByFlag', 'requiresFlag'] as const) {
        const flag = spec[field];
        if (flag && !names.flags.has(flag)) report([...at, field], unknown('flag', flag, names.flags));
      }
      const targets = spec.requires ?? [];
      targets.forEach((target, i) => {
        if (target === key) report([...at, 'requires', i], `${key} cannot require itself`);
        else if (!names.permissions.has(target))
          report([...at, 'requires', i], unknownPermission(target, names));
      });
      findDuplicates(targets).forEach((i) =>
        report([...at, 'requires', i], `"${targets[i]}" is listed twice`),
      );
      requires.set(key, { path: [...at, 'requires'], targets });
    }
  }
  for (const cycle of findCycles(requires)) {
    report(cycle.path, `dependency cycle: ${cycle.keys.join(' → ')}`);
  }

  // Roles.
  problems.push(...validateRoles(doc.roles, names, doc.roles));

  // Pages and navigation modules.
  for (const [section, entries] of [
    ['pages', doc.pages],
    ['navigation', doc.navigation],
  ] as const) {
    for (const [k, entry] of Object.entries(entries ?? {})) {
      if (entry.minRole && !own(doc.roles, entry.minRole)) {
        report([section, k, 'minRole'], unknown('role', entry.minRole, Object.keys(doc.roles)));
      }
      if (entry.permission && !isModuleAction(entry.permission)) {
        report(
          [section, k, 'permission'],
          unknownPermission(entry.permission, names, 'a module:action permission'),
        );
      }
      if (entry.module !== undefined) {
        if (section === 'navigation')
          report([section, k, 'module'], 'a navigation module is not listed under another module');
        else if (!own(doc.navigation ?? {}, entry.module))
          report(
            [section, k, 'module'],
            unknown('navigation module', entry.module, Object.keys(doc.navigation ?? {})),
          );
      }
    }
  }

  for (const [k, tool] of Object.entries(doc.tools ?? {})) {
    if (!isModuleAction(tool.permission)) {
      report(
        ['tools', k, 'permission'],
        unknownPermission(tool.permission, names, 'a module:action permission'),
      );
    }
  }

  for (const [op, permission] of Object.entries(doc.operations ?? {})) {
    if (permission && !names.permissions.has(permission)) {
      report(['operations', op], unknownPermission(permission, names));
    }
  }

  // Approval kinds: who approves and who hears of them must be defined; lifetimes in order.
  const holder = (path: Path, ref: string) => {
    if (ref.startsWith('flag:')) {
      const flag = ref.slice(5);
      if (!names.flags.has(flag)) report(path, unknown('flag', flag, names.flags));
    } else if (!isModuleAction(ref)) {
      report(path, unknownPermission(ref, names, 'a module:action permission or "flag:<key>"'));
    }
  };
  const onTool = Object.entries(doc.approvals ?? {}).filter(([, a]) => a.onToolDecision);
  for (const [k, approval] of Object.entries(doc.approvals ?? {})) {
    const at: Path = ['approvals', k];
    holder([...at, 'approvedBy'], approval.approvedBy);
    (approval.notify ?? []).forEach((ref, i) => holder([...at, 'notify', i], ref));
    if (approval.managedBy && !isModuleAction(approval.managedBy))
      report(
        [...at, 'managedBy'],
        unknownPermission(approval.managedBy, names, 'a module:action permission'),
      );
    if (approval.raisedWith && !isModuleAction(approval.raisedWith))
      report(
        [...at, 'raisedWith'],
        unknownPermission(approval.raisedWith, names, 'a module:action permission'),
      );
    if (approval.defaultLifetimeSeconds > approval.maxLifetimeSeconds)
      report(
        [...at, 'defaultLifetimeSeconds'],
        `the default lifetime (${approval.defaultLifetimeSeconds} s) is longer than the maximum (${approval.maxLifetimeSeconds} s)`,
      );
    if (approval.onToolDecision && !Object.keys(doc.tools ?? {}).length)
      report([...at, 'onToolDecision'], 'this catalog has no tools: nothing can open this kind');
  }
  if (onTool.length > 1)
    report(
      ['approvals', onTool[1]![0], 'onToolDecision'],
      `only one kind opens on a tool decision; "${onTool[0]![0]}" already does`,
    );

  const owner = own(doc.roles, doc.owner.role);
  if (!owner) report(['owner', 'role'], unknown('role', doc.owner.role, Object.keys(doc.roles)));
  else if (owner.kind === 'team') report(['owner', 'role'], 'the owner role must be of kind org or location');
  (doc.owner.flags ?? []).forEach((flag, i) => {
    if (!names.flags.has(flag)) report(['owner', 'flags', i], unknown('flag', flag, names.flags));
  });
  const rootRole = (path: Path, key: string) => {
    const role = own(doc.roles, key);
    if (!role) report(path, unknown('role', key, Object.keys(doc.roles)));
    else if (role.kind === 'team')
      report(
        path,
        `"${key}" is a team role: roles given at the organization root are of kind org or location`,
      );
  };
  if (doc.owner.formerRole !== undefined) {
    if (doc.owner.formerRole === doc.owner.role)
      report(['owner', 'formerRole'], 'the former owner cannot keep the owner role');
    else rootRole(['owner', 'formerRole'], doc.owner.formerRole);
  }
  (doc.defaultRoles ?? []).forEach((key, i) => rootRole(['defaultRoles', i], key));

  return problems;
}

/**
 * Checks roles against a catalog's names: `roles` are the ones to check (the catalog's own, or custom
 * roles created at run time), `all` every role they may inherit from (including themselves).
 */
export function validateRoles(
  roles: Readonly<Record<string, RoleSpec>>,
  names: CatalogNames,
  all: Readonly<Record<string, Pick<RoleSpec, 'kind' | 'inherits'>>>,
  basePath: Path = ['roles'],
): Problem[] {
  const problems: Problem[] = [];
  const report = (path: Path, message: string) => problems.push({ path, message });
  const edges = new Map<string, { path: Path; targets: readonly string[] }>();

  for (const [key, role] of Object.entries(roles)) {
    const at: Path = [...basePath, key];
    const inherits = role.inherits ?? [];
    inherits.forEach((parent, i) => {
      const target = own(all, parent);
      if (parent === key) report([...at, 'inherits', i], `role "${key}" cannot inherit itself`);
      else if (!target) report([...at, 'inherits', i], unknown('role', parent, Object.keys(all)));
      else if (target.kind !== role.kind) {
        report([...at, 'inherits', i], sameKind(key, role.kind, parent, target.kind));
      }
    });
    findDuplicates(inherits).forEach((i) =>
      report([...at, 'inherits', i], `"${inherits[i]}" is listed twice`),
    );

    const grants = role.grants ?? [];
    grants.forEach((grant, i) => {
      const path = [...at, 'grants', i];
      if (grant.endsWith(':*')) {
        const module = grant.slice(0, -2);
        if (!names.modules.has(module)) report(path, unknown('module', module, names.modules.keys()));
      } else if (names.aliases.has(grant)) {
        report(path, `${grant} follows ${names.aliases.get(grant)}: grant that permission instead`);
      } else if (!names.permissions.has(grant)) {
        report(path, unknownPermission(grant, names));
      } else if (names.flagOnly.has(grant)) {
        report(
          path,
          `${grant} is granted by a flag alone (grantedByFlag): no role may grant it; set the flag on the user instead`,
        );
      }
    });
    findDuplicates(grants).forEach((i) => report([...at, 'grants', i], `"${grants[i]}" is listed twice`));

    const ownPerson = role.ownPersonGrants ?? [];
    ownPerson.forEach((grant, i) => {
      const path = [...at, 'ownPersonGrants', i];
      const module = grant.split(':')[0]!;
      if (module === 'page' || module === 'nav') {
        report(
          path,
          `${grant}: pages and navigation modules are not resources of a person; grant them in grants (a restricted assignment still grants them)`,
        );
      } else if (grant.endsWith(':*')) {
        if (!names.modules.has(module)) report(path, unknown('module', module, names.modules.keys()));
      } else if (!names.permissions.has(grant)) {
        report(path, unknownPermission(grant, names));
      } else if (names.flagOnly.has(grant)) {
        report(
          path,
          `${grant} is granted by a flag alone (grantedByFlag): no role may grant it; set the flag on the user instead`,
        );
      } else if (grants.includes(grant) || grants.includes(`${module}:*`)) {
        report(path, `${grant} is already in grants, for every resource: list it in one of the two`);
      }
    });
    findDuplicates(ownPerson).forEach((i) =>
      report([...at, 'ownPersonGrants', i], `"${ownPerson[i]}" is listed twice`),
    );
    edges.set(key, { path: [...at, 'inherits'], targets: inherits });
  }
  // Cycles may run through roles outside `roles` (a custom role inheriting a built-in one).
  for (const [key, role] of Object.entries(all)) {
    if (!edges.has(key))
      edges.set(key, { path: [...basePath, key, 'inherits'], targets: role.inherits ?? [] });
  }
  for (const cycle of findCycles(edges)) {
    if (own(roles, cycle.keys[0]!)) report(cycle.path, `inheritance cycle: ${cycle.keys.join(' → ')}`);
  }
  return problems;
}

/**
 * A record's own entry. Records parsed from YAML are plain objects: `roles['constructor']` would find
 * Object.prototype's, and a catalog naming it must be refused, not accepted.
 */
export function own<T>(record: Readonly<Record<string, T>> | undefined, key: string): T | undefined {
  return record && Object.hasOwn(record, key) ? record[key] : undefined;
}

function sameKind(key: string, kind: RoleKind, parent: string, parentKind: RoleKind): string {
  return `role "${key}" (kind ${kind}) cannot inherit "${parent}" (kind ${parentKind}): a role inherits roles of its own kind`;
}

function unknown(what: string, name: string, known: Iterable<string>): string {
  const list = [...known];
  const hint = list.length
    ? `; expected one of: ${list.slice(0, 12).join(', ')}${list.length > 12 ? ', …' : ''}`
    : '';
  return `unknown ${what} "${name}"${hint}`;
}

function unknownPermission(
  name: string,
  names: CatalogNames,
  expected = 'a permission this catalog defines',
): string {
  const module = name.split(':')[0] ?? '';
  const sameModule = names.modules.get(module);
  const hint = sameModule ? `; module "${module}" has: ${sameModule.join(', ')}` : '';
  return `unknown permission "${name}": expected ${expected}${hint}`;
}

function findDuplicates(list: readonly string[]): number[] {
  const seen = new Set<string>();
  const out: number[] = [];
  list.forEach((item, i) => (seen.has(item) ? out.push(i) : seen.add(item)));
  return out;
}

/**
 * Every cycle of a directed graph, each reported once at the edge that closes it. Edges to unknown
 * nodes are ignored (they are reported as unknown names).
 */
export function findCycles(
  graph: ReadonlyMap<string, { path: Path; targets: readonly string[] }>,
): { keys: string[]; path: Path }[] {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const cycles: { keys: string[]; path: Path }[] = [];
  const visit = (node: string) => {
    state.set(node, 'open');
    stack.push(node);
    const entry = graph.get(node);
    entry?.targets.forEach((target, i) => {
      if (!graph.has(target)) return;
      const s = state.get(target);
      if (s === 'open') {
        const from = stack.indexOf(target);
        cycles.push({ keys: [...stack.slice(from), target], path: [...entry.path, i] });
      } else if (!s) visit(target);
    });
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  return cycles;
}
