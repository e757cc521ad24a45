import fc from 'fast-check';
import type {
  CatalogDocument,
  PermissionSpec,
  RoleKind,
  RoleSpec,
  ToolMode,
  ToolSpec,
  UiEntrySpec,
} from '../../src/catalog';
import type { Assignment, CheckRequest, Subject } from '../../src/engine';

/**
 * Random worlds for the engine's property test: a catalog (valid by construction), custom roles, a
 * location tree, teams, users with assignments, and checks to ask.
 *
 * Everything is generated as plain numbers first ("raw" records) and then interpreted: every reference
 * is taken modulo the list it points into, so whatever fast-check shrinks to is still a valid world,
 * and shrinking works on simple arrays and integers.
 */

export const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);

/** A name inherited from Object.prototype that is still a valid catalog key. */
export const PROTO_KEY = 'constructor';

export interface WorldCheck {
  /** Index into `World.users`. */
  user: number;
  request: CheckRequest;
}

export interface World {
  doc: CatalogDocument;
  customRoles: Record<string, RoleSpec>;
  /** The location tree: each location and its parent (null = the organization root). */
  locations: { id: string; parent: string | null }[];
  users: Subject[];
  policies: Record<string, ToolMode>;
  checks: WorldCheck[];
}

// ---------------------------------------------------------------------------------------------------
// Raw material.

/** Mostly false; shrinks to false. */
const rarely = (oneIn: number) => fc.integer({ min: 1, max: oneIn }).map((n) => n === oneIn);
const picks = (max: number) => fc.array(fc.nat(), { maxLength: max });

const rawPermission = fc.record({
  flag: fc.constantFrom('none', 'none', 'none', 'grantedByFlag', 'requiresFlag'),
  flagIndex: fc.nat(),
  requires: fc.oneof(
    { weight: 4, arbitrary: fc.constant([] as number[]) },
    { weight: 3, arbitrary: picks(1) },
    { weight: 1, arbitrary: picks(3) },
  ),
  /** Position in the dependency order: a permission may require only permissions ranked before it. */
  rank: fc.nat({ max: 1000 }),
  protoName: rarely(40),
});

const rawModule = (maxActions: number) => fc.array(rawPermission, { minLength: 1, maxLength: maxActions });
const rawModuleLarge = fc.array(rawPermission, { minLength: 4, maxLength: 10 });

const rawRole = fc.record({
  kind: fc.constantFrom<RoleKind>('org', 'location', 'team'),
  inherits: picks(3),
  grants: fc.oneof({ weight: 3, arbitrary: picks(6) }, { weight: 1, arbitrary: picks(16) }),
  /** `module:*` grants, drawn apart so that they are not lost among many single permissions. */
  stars: fc.oneof({ weight: 1, arbitrary: fc.constant([] as number[]) }, { weight: 1, arbitrary: picks(4) }),
  /**
   * A narrow role: its first grant alone, nothing inherited (Juno's roles that hold one thing, as
   * "Edit project"), so that a requirement can be held in one team and its dependent in another.
   */
  narrow: rarely(4),
  /** Grants held only for the person an assignment is restricted to (JRNI's matrix asterisk). */
  ownPerson: fc.oneof(
    { weight: 3, arbitrary: fc.constant([] as number[]) },
    { weight: 1, arbitrary: picks(2) },
  ),
});

const rawCustomRole = fc.record({
  kind: fc.constantFrom<RoleKind>('org', 'location', 'team'),
  inherits: picks(3),
  grants: picks(5),
  protoName: rarely(25),
});

const rawEntry = fc.record({
  mode: fc.constantFrom('minRole', 'alias', 'none'),
  ref: fc.nat(),
  protoName: rarely(40),
});

const rawTool = fc.record({
  permission: fc.nat(),
  policy: fc.constantFrom<ToolMode>('auto', 'require_approval', 'deny'),
  protoName: rarely(15),
});

const rawCatalog = fc.record({
  // Mostly small catalogs; sometimes large ones, so that permission sets span several 32-bit words.
  modules: fc.oneof(
    { weight: 2, arbitrary: fc.array(rawModule(4), { minLength: 1, maxLength: 4 }) },
    { weight: 1, arbitrary: fc.array(rawModuleLarge, { minLength: 5, maxLength: 9 }) },
  ),
  flagCount: fc.integer({ min: 0, max: 3 }),
  roles: fc.array(rawRole, { minLength: 1, maxLength: 9 }),
  pages: fc.array(rawEntry, { maxLength: 4 }),
  navigation: fc.array(rawEntry, { maxLength: 3 }),
  tools: fc.array(rawTool, { maxLength: 3 }),
  customRoles: fc.array(rawCustomRole, { maxLength: 3 }),
});

const rawAssignment = fc.record({
  role: fc.nat(),
  /** fit = the scope the role's kind calls for; the others deliberately ignore the role's kind. */
  scope: fc.constantFrom('fit', 'fit', 'fit', 'none', 'location', 'team', 'both', 'nulls'),
  location: fc.nat(),
  team: fc.nat(),
  restriction: fc.constantFrom(
    'none',
    'none',
    'none',
    'none',
    'person',
    'groups',
    'emptyGroups',
    'nullPerson',
    'personAndGroups',
  ),
  person: fc.nat(),
  groups: fc.array(fc.nat(), { minLength: 1, maxLength: 2 }),
  expiry: fc.constantFrom('none', 'none', 'none', 'null', 'past', 'now', 'justAfter', 'future'),
});

const rawUser = fc.record({
  state: fc.oneof(
    { weight: 12, arbitrary: fc.constant('active') },
    { weight: 1, arbitrary: fc.constantFrom('locked', 'deleted', 'both') },
  ),
  flags: picks(3),
  assignments: fc.array(rawAssignment, { maxLength: 6 }),
  /**
   * Team memberships: mostly the teams of the user's team roles (the store keeps it so), sometimes any
   * teams, sometimes none (the field left out).
   */
  membership: fc.constantFrom('assigned', 'assigned', 'assigned', 'random', 'none'),
  memberPicks: picks(3),
});

const rawCheck = fc.record({
  user: fc.nat(),
  permission: fc.nat(),
  location: fc.nat(),
  teams: picks(3),
  /**
   * Name the teams the user holds roles in, rather than drawn ones, and ask a permission that requires
   * others when there is one: where rules 3 and 7 meet (a requirement held in another team).
   */
  usersTeams: rarely(3),
  /**
   * Name the person one of the user's assignments is restricted to, and ask one of that role's
   * own-person grants when it has some: where the matrix asterisk (rule 5) has work to do.
   */
  usersPerson: rarely(3),
  person: fc.constantFrom('none', 'none', 'null', 'p'),
  personIndex: fc.nat(),
  groups: picks(2),
});

const rawWorld = fc.record({
  catalog: rawCatalog,
  locations: fc.array(fc.record({ parent: fc.nat(), chain: fc.boolean() }), { maxLength: 10 }),
  users: fc.array(rawUser, { minLength: 1, maxLength: 4 }),
  policies: fc.array(
    fc.record({ tool: fc.nat(), mode: fc.constantFrom<ToolMode>('auto', 'require_approval', 'deny') }),
    {
      maxLength: 3,
    },
  ),
  checks: fc.array(rawCheck, { minLength: 20, maxLength: 60 }),
});

// ---------------------------------------------------------------------------------------------------
// Interpretation.

type Raw<A> = A extends fc.Arbitrary<infer T> ? T : never;

const at = <T>(list: readonly T[], n: number): T => list[n % list.length]!;
const uniq = <T>(list: readonly T[]): T[] => [...new Set(list)];
const TEAMS = ['T0', 'T1', 'T2', 'T3'];
const PEOPLE = ['p0', 'p1', 'p2'];
const GROUPS = ['g0', 'g1', 'g2', 'g3'];

function nameOr(proto: boolean, fallback: string, used: Set<string>): string {
  const name = proto && !used.has(PROTO_KEY) ? PROTO_KEY : fallback;
  used.add(name);
  return name;
}

function buildCatalog(raw: Raw<typeof rawCatalog>): {
  doc: CatalogDocument;
  customRoles: Record<string, RoleSpec>;
} {
  const flags = Array.from({ length: raw.flagCount }, (_, i) => `f${i}`);

  // Permissions (module:action), flattened in document order.
  const perms: { key: string; module: string; action: string; raw: Raw<typeof rawPermission> }[] = [];
  raw.modules.forEach((actions, m) => {
    const used = new Set<string>();
    actions.forEach((p, a) => {
      const action = nameOr(p.protoName, `a${a}`, used);
      perms.push({ key: `m${m}:${action}`, module: `m${m}`, action, raw: p });
    });
  });
  const permKeys = perms.map((p) => p.key);

  // Built-in roles: keys and kinds first (pages name them), grants later (they name pages).
  const kindPrefix = { org: 'o', location: 'l', team: 't' } as const;
  const roles = raw.roles.map((r, i) => ({ key: `${kindPrefix[r.kind]}${i}`, kind: r.kind, raw: r }));
  if (!roles.some((r) => r.kind !== 'team')) {
    roles[0] = { ...roles[0]!, kind: 'org', key: `o0` };
  }
  const roleKeys = roles.map((r) => r.key);

  // Pages and navigation entries: granted to a minRole, following a permission, or neither.
  const entries = (list: Raw<typeof rawEntry>[], prefix: 'p' | 'n') => {
    const out: Record<string, UiEntrySpec> = {};
    const used = new Set<string>();
    list.forEach((e, i) => {
      const key = nameOr(e.protoName, `${prefix}${i}`, used);
      const spec: UiEntrySpec = { name: `Entry ${key}` };
      if (e.mode === 'minRole') spec.minRole = at(roleKeys, e.ref);
      else if (e.mode === 'alias') spec.permission = at(permKeys, e.ref);
      out[key] = spec;
    });
    return out;
  };
  const pages = entries(raw.pages, 'p');
  const navigation = entries(raw.navigation, 'n');
  const plainEntries = (prefix: string, section: Record<string, UiEntrySpec>) =>
    Object.entries(section)
      .filter(([, e]) => !e.permission)
      .map(([k]) => `${prefix}:${k}`);
  const pageKeys = plainEntries('page', pages);
  const navKeys = plainEntries('nav', navigation);

  // What a role may name in its grants.
  const stars = [
    ...raw.modules.map((_, m) => `m${m}:*`),
    ...(pageKeys.length ? ['page:*'] : []),
    ...(navKeys.length ? ['nav:*'] : []),
  ];
  const grantable = [...permKeys, ...pageKeys, ...navKeys, ...stars];

  const roleSpecs: Record<string, RoleSpec> = {};
  roles.forEach((r, i) => {
    const earlierSameKind = roles.slice(0, i).filter((o) => o.kind === r.kind);
    const spec: RoleSpec = { name: `Role ${r.key}`, kind: r.kind };
    const inherits =
      earlierSameKind.length && !r.raw.narrow
        ? uniq(r.raw.inherits.map((n) => at(earlierSameKind, n).key))
        : [];
    const grants = r.raw.narrow
      ? r.raw.grants.slice(0, 1).map((n) => at(grantable, n))
      : uniq([...r.raw.grants.map((n) => at(grantable, n)), ...r.raw.stars.map((n) => at(stars, n))]);
    if (inherits.length) spec.inherits = inherits;
    if (grants.length) spec.grants = grants;
    roleSpecs[r.key] = spec;
  });

  // Permissions: flags and acyclic dependencies (only on permissions ranked before, or on plain pages).
  const order = perms.map((p, i) => ({ key: p.key, rank: p.raw.rank, i }));
  const before = (a: { rank: number; i: number }, b: { rank: number; i: number }) =>
    a.rank < b.rank || (a.rank === b.rank && a.i < b.i);
  const permissions: Record<string, Record<string, PermissionSpec>> = {};
  perms.forEach((p, i) => {
    const spec: PermissionSpec = { description: `Permission ${p.key}` };
    if (flags.length && p.raw.flag === 'grantedByFlag') spec.grantedByFlag = at(flags, p.raw.flagIndex);
    if (flags.length && p.raw.flag === 'requiresFlag') spec.requiresFlag = at(flags, p.raw.flagIndex);
    const candidates = [
      ...order.filter((o) => before(o, order[i]!)).map((o) => o.key),
      ...pageKeys,
      ...navKeys,
    ];
    const requires = candidates.length ? uniq(p.raw.requires.map((n) => at(candidates, n))) : [];
    if (requires.length) spec.requires = requires;
    (permissions[p.module] ??= {})[p.action] = spec;
  });

  // No role grants what a flag alone grants (catalog validation refuses it): drop such grants.
  const flagOnly = new Set(
    perms.filter((p) => permissions[p.module]![p.action]!.grantedByFlag).map((p) => p.key),
  );
  const roleGrantable = grantable.filter((g) => !flagOnly.has(g));
  for (const spec of Object.values(roleSpecs)) {
    const kept = (spec.grants ?? []).filter((g) => !flagOnly.has(g));
    if (kept.length) spec.grants = kept;
    else delete spec.grants;
  }
  // Own-person grants: module:action permissions the role does not grant outright (validation's rule).
  roles.forEach((r) => {
    const spec = roleSpecs[r.key]!;
    const outright = (g: string) =>
      (spec.grants ?? []).includes(g) || (spec.grants ?? []).includes(`${g.split(':')[0]}:*`);
    const own = uniq(r.raw.ownPerson.map((n) => at(permKeys, n))).filter(
      (g) => !flagOnly.has(g) && !outright(g),
    );
    if (own.length) spec.ownPersonGrants = own;
  });

  const tools: Record<string, ToolSpec> = {};
  const usedTools = new Set<string>();
  raw.tools.forEach((t, i) => {
    const name = nameOr(t.protoName, `tool${i}`, usedTools);
    tools[name] = { description: `Tool ${name}`, permission: at(permKeys, t.permission), policy: t.policy };
  });

  const doc: CatalogDocument = {
    catalog: 'property_world',
    name: 'Property world',
    owner: { role: roles.find((r) => r.kind !== 'team')!.key },
    permissions,
    roles: roleSpecs,
  };
  if (flags.length)
    doc.flags = Object.fromEntries(flags.map((f) => [f, { name: `Flag ${f}`, description: `Flag ${f}` }]));
  if (Object.keys(pages).length) doc.pages = pages;
  if (Object.keys(navigation).length) doc.navigation = navigation;
  if (Object.keys(tools).length) doc.tools = tools;

  // Custom roles: may inherit built-in roles of their kind and earlier custom roles of their kind.
  const customRoles: Record<string, RoleSpec> = {};
  const customs: { key: string; kind: RoleKind }[] = [];
  const usedCustom = new Set<string>(roleKeys);
  raw.customRoles.forEach((c, i) => {
    const key = nameOr(c.protoName, `c${i}`, usedCustom);
    const parents = [...roles, ...customs].filter((o) => o.kind === c.kind);
    const spec: RoleSpec = { name: `Custom ${key}`, kind: c.kind };
    const inherits = parents.length ? uniq(c.inherits.map((n) => at(parents, n).key)) : [];
    const grants = roleGrantable.length ? uniq(c.grants.map((n) => at(roleGrantable, n))) : [];
    if (inherits.length) spec.inherits = inherits;
    if (grants.length) spec.grants = grants;
    customRoles[key] = spec;
    customs.push({ key, kind: c.kind });
  });

  return { doc, customRoles };
}

/** The location and its ancestors up to (not including) the root, nearest first. */
export function locationPath(locations: World['locations'], id: string | null): string[] {
  const parents = new Map(locations.map((l) => [l.id, l.parent]));
  const path: string[] = [];
  for (let cur = id; cur !== null; cur = parents.get(cur) ?? null) path.push(cur);
  return path;
}

function buildWorld(raw: Raw<typeof rawWorld>): World {
  const { doc, customRoles } = buildCatalog(raw.catalog);
  const locations = raw.locations.map((l, i) => ({
    id: `L${i}`,
    // chain: the previous location's child (deep trees); else any earlier location or the root.
    parent:
      i === 0
        ? null
        : l.chain
          ? `L${i - 1}`
          : at([null, ...Array.from({ length: i }, (_, j) => `L${j}`)], l.parent),
  }));
  const locationIds = locations.map((l) => l.id);

  const allRoles = { ...doc.roles, ...customRoles };
  const roleKeys = [...Object.keys(allRoles), 'ghost_role'];
  const flags = [...Object.keys(doc.flags ?? {}), 'unknown_flag'];

  const users: Subject[] = raw.users.map((u, ui) =>
    withMembership(u, {
      userId: `u${ui}`,
      ...(u.state === 'locked' || u.state === 'both' ? { locked: true } : {}),
      ...(u.state === 'deleted' || u.state === 'both' ? { deleted: true } : {}),
      flags: uniq(u.flags.map((n) => at(flags, n))),
      assignments: u.assignments.map((a, ai): Assignment => {
        const role = at(roleKeys, a.role);
        const kind = allRoles[role]?.kind;
        const locationId = at([...locationIds, 'L_elsewhere'], a.location);
        const teamId = at([...TEAMS, 'T_elsewhere'], a.team);
        const out: Assignment = { id: `u${ui}a${ai}`, role };
        let scope = a.scope;
        if (scope === 'fit')
          scope =
            kind === 'team' ? 'team' : kind === 'location' && a.location % 3 !== 0 ? 'location' : 'none';
        if (scope === 'location') out.locationId = locationId;
        if (scope === 'team') out.teamId = teamId;
        if (scope === 'both') Object.assign(out, { locationId, teamId });
        if (scope === 'nulls') Object.assign(out, { locationId: null, teamId: null });
        const groups = uniq(a.groups.map((n) => at(GROUPS, n)));
        if (a.restriction === 'person') out.personId = at(PEOPLE, a.person);
        if (a.restriction === 'groups') out.groupIds = groups;
        if (a.restriction === 'emptyGroups') out.groupIds = [];
        if (a.restriction === 'nullPerson') Object.assign(out, { personId: null, groupIds: null });
        if (a.restriction === 'personAndGroups')
          Object.assign(out, { personId: at(PEOPLE, a.person), groupIds: groups });
        const expiresAt = {
          none: undefined,
          null: null,
          past: NOW - 1,
          now: NOW,
          justAfter: NOW + 1,
          future: NOW + 86_400_000,
        }[a.expiry];
        if (expiresAt !== undefined) out.expiresAt = expiresAt;
        return out;
      }),
    }),
  );

  const toolNames = Object.keys(doc.tools ?? {});
  const policies: Record<string, ToolMode> = {};
  for (const p of raw.policies) policies[at([...toolNames, 'no_such_tool'], p.tool)] = p.mode;

  const checkable = [
    ...Object.entries(doc.permissions).flatMap(([m, actions]) =>
      Object.keys(actions).map((a) => `${m}:${a}`),
    ),
    ...Object.keys(doc.pages ?? {}).map((k) => `page:${k}`),
    ...Object.keys(doc.navigation ?? {}).map((k) => `nav:${k}`),
    ...toolNames.map((t) => `tool:${t}`),
  ];
  const dependent = Object.entries(doc.permissions).flatMap(([m, actions]) =>
    Object.entries(actions).flatMap(([a, spec]) => (spec.requires?.length ? [`${m}:${a}`] : [])),
  );
  const checks: WorldCheck[] = raw.checks.map((c) => {
    const user = users[c.user % users.length]!;
    const withPerson = user.assignments.filter((a) => a.personId != null);
    const restrictedTo = c.usersPerson && withPerson.length ? at(withPerson, c.personIndex) : undefined;
    const ownGrants = restrictedTo ? (allRoles[restrictedTo.role]?.ownPersonGrants ?? []) : [];
    const request: CheckRequest = {
      permission: ownGrants.length
        ? at(ownGrants, c.permission)
        : at(c.usersTeams && dependent.length ? dependent : checkable, c.permission),
      locationPath: locationPath(locations, at([null, ...locationIds], c.location)),
    };
    const teams = c.usersTeams
      ? uniq(user.assignments.flatMap((a) => (a.teamId ? [a.teamId] : [])))
      : uniq(c.teams.map((n) => at([...TEAMS, 'T_other'], n)));
    if (teams.length) request.teamIds = teams;
    if (c.person === 'null') request.personId = null;
    if (c.person === 'p') request.personId = at([...PEOPLE, 'p_other'], c.personIndex);
    if (restrictedTo) request.personId = restrictedTo.personId!;
    const groups = uniq(c.groups.map((n) => at([...GROUPS, 'g_other'], n)));
    if (groups.length) request.groupIds = groups;
    return { user: c.user % users.length, request };
  });

  return { doc, customRoles, locations, users, policies, checks };
}

/** The user's team memberships, as drawn. */
function withMembership(raw: Raw<typeof rawUser>, subject: Subject): Subject {
  if (raw.membership === 'none') return subject;
  const memberOf =
    raw.membership === 'assigned'
      ? uniq(subject.assignments.flatMap((a) => (a.teamId ? [a.teamId] : [])))
      : uniq(raw.memberPicks.map((n) => at([...TEAMS, 'T_elsewhere'], n)));
  return { ...subject, memberOf };
}

/** A random world: a valid catalog and custom roles, a location tree, users, tool policies, checks. */
export const worldArbitrary: fc.Arbitrary<World> = rawWorld.map(buildWorld);

/** Names the catalog of `world` does not define, for the unknown-permission checks. */
export function unknownNames(world: World): string[] {
  const modules = Object.keys(world.doc.permissions);
  const firstModule = modules[0]!;
  return [
    `${firstModule}:no_such_action`,
    `${firstModule}:*`,
    'nomodule:a0',
    'page:no_such_page',
    'nav:no_such_entry',
    'tool:no_such_tool',
    `page:${PROTO_KEY}`,
    `nav:${PROTO_KEY}`,
    `tool:${PROTO_KEY}`,
    `${firstModule}:${PROTO_KEY}`,
    `${PROTO_KEY}:a0`,
    'page:*',
    'tool:',
    'm0',
    '',
  ].filter((name) => !knownName(world, name));
}

function knownName(world: World, name: string): boolean {
  const at = name.indexOf(':');
  if (at < 0) return false;
  const [prefix, rest] = [name.slice(0, at), name.slice(at + 1)];
  const has = (o: object | undefined) => !!o && Object.prototype.hasOwnProperty.call(o, rest);
  if (prefix === 'tool') return has(world.doc.tools);
  if (prefix === 'page') return has(world.doc.pages);
  if (prefix === 'nav') return has(world.doc.navigation);
  const actions = Object.prototype.hasOwnProperty.call(world.doc.permissions, prefix)
    ? world.doc.permissions[prefix]
    : undefined;
  return has(actions);
}
