import { createMongoAbility, subject, type MongoAbility } from '@casl/ability';
import { packRules as caslPackRules, unpackRules } from '@casl/ability/extra';
import fc from 'fast-check';
import { parseCatalog, type CatalogDocument, type RoleSpec } from '../../src/catalog';
import {
  compileCatalog,
  decide,
  UserGrants,
  type CheckRequest,
  type CompiledCatalog,
  type Outcome,
  type Subject,
  type ToolPolicies,
} from '../../src/engine';
import {
  exportRules,
  packRules,
  REQUEST_APPROVAL_PREFIX,
  RulesExportLimitError,
  type ExportedRule,
} from '../../src/engine';
import { referenceDecide } from './reference-evaluator';
import { locationPath, NOW, worldArbitrary, type World } from './world-arbitrary';

/**
 * The CASL export against rolegate's own decisions, on the property test's random worlds: for each
 * user, the exported rules are packed, unpacked by `@casl/ability`'s own `unpackRules` and loaded into
 * `createMongoAbility`; then every check of the world (decided by the naive reference evaluator) and
 * many more random resources (decided by the engine, which property.test.ts holds equal to the
 * reference) must get the same answer from `ability.can`:
 *
 *   ALLOW             ⇔ can(permission)                       (for a tool: can(`tool:<name>`))
 *   REQUIRES_APPROVAL ⇔ can(`request_approval:tool:<name>`)   and not can(`tool:<name>`)
 *   DENY              ⇔ neither
 *
 * Reproduce a failure with the seed and path fast-check prints: PROPERTY_SEED=… PROPERTY_PATH=…
 */

const RUNS = Number(process.env.PROPERTY_RUNS ?? 400);
const SEED = process.env.PROPERTY_SEED === undefined ? undefined : Number(process.env.PROPERTY_SEED);
const PATH = process.env.PROPERTY_PATH;
const SHRINK_MS = Number(process.env.PROPERTY_SHRINK_MS ?? 15_000);

const TEAMS = ['T0', 'T1', 'T2', 'T3', 'T_other'];
const PEOPLE = ['p0', 'p1', 'p2', 'p_other'];
const GROUPS = ['g0', 'g1', 'g2', 'g3', 'g_other'];

function compileWorld(world: World): CompiledCatalog {
  const doc = parseCatalog(JSON.stringify(world.doc), '<rules-world>');
  return compileCatalog(doc, world.customRoles);
}

/** Every location's path, as the store gives it (itself first, the root left out). */
function pathsOf(world: World): Map<string, string[]> {
  return new Map(world.locations.map((l) => [l.id, locationPath(world.locations, l.id)]));
}

/** A resource as a client builds it from a check's scope. */
function resourceOf(req: Omit<CheckRequest, 'permission'>): Record<string, unknown> {
  const r: Record<string, unknown> = {};
  if (req.locationPath?.length) r.locationPath = [...req.locationPath];
  if (req.teamIds?.length) r.teamIds = [...req.teamIds];
  if (req.personId != null) r.personId = req.personId;
  if (req.groupIds?.length) r.groupIds = [...req.groupIds];
  return r;
}

/** What CASL says rolegate's outcome is. */
function caslOutcome(ability: MongoAbility, permission: string, resource: Record<string, unknown>): Outcome {
  const thing = subject('Resource', { ...resource });
  if (permission.startsWith('tool:')) {
    const allow = ability.can(permission, thing);
    const ask = ability.can(`${REQUEST_APPROVAL_PREFIX}${permission}`, thing);
    if (allow && ask) return 'ALLOW_AND_APPROVAL' as Outcome; // never right: reported as a mismatch
    return allow ? 'ALLOW' : ask ? 'REQUIRES_APPROVAL' : 'DENY';
  }
  return ability.can(permission, thing) ? 'ALLOW' : 'DENY';
}

/** The ability a client builds from the wire form: packed, then CASL's unpackRules. */
function abilityOf(rules: readonly ExportedRule[]): MongoAbility {
  const wire = JSON.parse(JSON.stringify(packRules(rules))) as Parameters<typeof unpackRules>[0];
  return createMongoAbility(unpackRules(wire) as never);
}

/** How an export is made for a world's user: the real one, or a broken one. */
type Exporter = (world: World, compiled: CompiledCatalog, user: Subject) => ExportedRule[];

const realExport: Exporter = (world, compiled, user) =>
  exportRules(compiled, new UserGrants(compiled, user, NOW), {
    paths: pathsOf(world),
    policies: world.policies,
  }).rules;

/** Random resources over a world's ids (and some it does not have). */
const resourcePick = fc.record({
  user: fc.nat(),
  location: fc.nat(),
  teams: fc.array(fc.nat(), { maxLength: 3 }),
  userTeams: fc.boolean(),
  person: fc.nat(),
  /** Mostly the person or groups one of the user's restricted assignments names. */
  personMode: fc.constantFrom('none', 'assigned', 'assigned', 'any'),
  groups: fc.array(fc.nat(), { maxLength: 3 }),
  groupMode: fc.constantFrom('none', 'assigned', 'assigned', 'any'),
});

type ResourcePick = typeof resourcePick extends fc.Arbitrary<infer T> ? T : never;

function resourcesOf(world: World, picks: ResourcePick[]) {
  const at = <T>(list: readonly T[], n: number): T => list[n % list.length]!;
  const ids = [null, ...world.locations.map((l) => l.id)];
  return picks.map((p) => {
    const user = p.user % world.users.length;
    const u = world.users[user]!;
    const named = {
      teams: u.assignments.flatMap((a) => (a.teamId ? [a.teamId] : [])),
      people: u.assignments.flatMap((a) => (a.personId != null ? [a.personId] : [])),
      groups: u.assignments.flatMap((a) => a.groupIds ?? []),
    };
    const scope: Omit<CheckRequest, 'permission'> = {
      locationPath: locationPath(world.locations, at(ids, p.location)),
    };
    const teams = p.userTeams && named.teams.length ? named.teams : p.teams.map((n) => at(TEAMS, n));
    if (teams.length) scope.teamIds = [...new Set(teams)];
    const people = p.personMode === 'assigned' && named.people.length ? named.people : PEOPLE;
    if (p.personMode !== 'none') scope.personId = at(people, p.person);
    const groups = p.groupMode === 'assigned' && named.groups.length ? named.groups : GROUPS;
    if (p.groupMode !== 'none' && p.groups.length)
      scope.groupIds = [...new Set(p.groups.map((n) => at(groups, n)))];
    return { user, scope };
  });
}

function checkable(world: World): string[] {
  return [
    ...Object.entries(world.doc.permissions).flatMap(([m, actions]) =>
      Object.keys(actions).map((a) => `${m}:${a}`),
    ),
    ...Object.keys(world.doc.pages ?? {}).map((k) => `page:${k}`),
    ...Object.keys(world.doc.navigation ?? {}).map((k) => `nav:${k}`),
    ...Object.keys(world.doc.tools ?? {}).map((t) => `tool:${t}`),
  ];
}

/**
 * The first disagreement between CASL (fed by `exporter`) and rolegate in a world: the world's own
 * checks against the reference, then every permission on each random resource against the engine.
 * With `only`, a disagreement counts only where the real export agrees (for the broken exporters).
 */
function firstMismatch(
  world: World,
  picks: ResourcePick[],
  exporter: Exporter,
  onCheck?: (outcome: Outcome) => void,
  only?: Exporter,
): string | undefined {
  const compiled = compileWorld(world);
  const make = (e: Exporter) => world.users.map((u) => abilityOf(e(world, compiled, u)));
  const abilities = make(exporter);
  const real = only ? make(only) : undefined;
  const grants = world.users.map((u) => new UserGrants(compiled, u, NOW));
  const asks: { user: number; request: CheckRequest; expected: () => Outcome }[] = [
    ...world.checks.map(({ user, request }) => ({
      user,
      request,
      expected: () =>
        referenceDecide(world.doc, world.customRoles, world.users[user]!, request, NOW, world.policies),
    })),
    ...resourcesOf(world, picks).flatMap(({ user, scope }) =>
      checkable(world).map((permission) => {
        const request = { ...scope, permission };
        return {
          user,
          request,
          expected: () => decide(compiled, grants[user]!, request, world.policies),
        };
      }),
    ),
  ];
  for (const { user, request, expected } of asks) {
    const want = expected();
    const resource = resourceOf(request);
    if (real && caslOutcome(real[user]!, request.permission, resource) !== want) continue;
    const got = caslOutcome(abilities[user]!, request.permission, resource);
    onCheck?.(want);
    if (got !== want) {
      return [
        `mismatch: rolegate ${want}, CASL ${got}`,
        `request: ${JSON.stringify(request)}`,
        `subject: ${JSON.stringify(world.users[user])}`,
        `rules: ${JSON.stringify(exporter(world, compiled, world.users[user]!))}`,
        `policies: ${JSON.stringify(world.policies)}`,
        `locations: ${JSON.stringify(world.locations)}`,
        `customRoles: ${JSON.stringify(world.customRoles)}`,
        `catalog: ${JSON.stringify(world.doc)}`,
      ].join('\n');
    }
  }
  return undefined;
}

const picksArbitrary = fc.array(resourcePick, { minLength: 20, maxLength: 40 });

/**
 * The world with one more user who holds every role of the catalog once, each restricted to a group of
 * its own (every third to a person): where a permission and what it requires come from different
 * restricted assignments, so that only a resource in several of those groups gets it (rules 5 and 7).
 */
function withRestrictedUser(world: World): World {
  const roles = { ...world.doc.roles, ...world.customRoles };
  const locations = world.locations.map((l) => l.id);
  const assignments = Object.entries(roles).map(([role, spec], i): Subject['assignments'][number] => {
    const restriction = i % 3 === 2 ? { personId: `p${i % 2}` } : { groupIds: [`rg${i % 4}`] };
    if (spec.kind === 'team') return { id: `r${i}`, role, teamId: TEAMS[i % 2]!, ...restriction };
    if (spec.kind === 'location' && locations.length)
      return { id: `r${i}`, role, locationId: locations[i % locations.length]!, ...restriction };
    return { id: `r${i}`, role, ...restriction };
  });
  const user: Subject = { userId: 'u_restricted', memberOf: ['T0', 'T1'], assignments };
  return { ...world, users: [...world.users, user] };
}

describe('CASL rules export vs rolegate (random worlds)', () => {
  test('ability.can == check, for every permission, page, module and tool, on random resources', () => {
    const tally: Record<string, number> = { ALLOW: 0, DENY: 0, REQUIRES_APPROVAL: 0 };
    let worlds = 0;
    const property = fc.property(worldArbitrary.map(withRestrictedUser), picksArbitrary, (world, picks) => {
      worlds++;
      const mismatch = firstMismatch(world, picks, realExport, (o) => tally[o]!++);
      if (mismatch) throw new Error(mismatch);
    });
    const params = { ...(SEED !== undefined ? { seed: SEED } : {}), ...(PATH ? { path: PATH } : {}) };
    const found = fc.check(property, { numRuns: RUNS, endOnFailure: true, ...params });
    if (found.failed) {
      // Shrink a failure for at most SHRINK_MS: each attempt exports and asks a whole world.
      const shrunk = fc.check(property, {
        seed: found.seed,
        path: found.counterexamplePath!,
        interruptAfterTimeLimit: SHRINK_MS,
      });
      throw new Error(fc.defaultReportMessage(shrunk.failed ? shrunk : found));
    }
    if (process.env.PROPERTY_STATS) console.log(JSON.stringify({ worlds, tally }));
    if (PATH) return;
    const checks = tally.ALLOW! + tally.DENY! + tally.REQUIRES_APPROVAL!;
    expect(tally.ALLOW).toBeGreaterThan(checks * 0.05);
    expect(tally.DENY).toBeGreaterThan(checks * 0.05);
    expect(tally.REQUIRES_APPROVAL).toBeGreaterThan(checks * 0.002);
  });

  test("the packed form is CASL's own packRules, and unpackRules reads it back", () => {
    fc.assert(
      fc.property(worldArbitrary, (world) => {
        const compiled = compileWorld(world);
        for (const u of world.users) {
          const rules = realExport(world, compiled, u);
          const packed = JSON.parse(JSON.stringify(packRules(rules))) as ReturnType<typeof caslPackRules>;
          expect(packed).toEqual(JSON.parse(JSON.stringify(caslPackRules(rules as never))));
          expect(unpackRules(packed).map((r) => ({ ...r }))).toEqual(
            rules.map((r) => ({ ...r, subject: [r.subject], inverted: false })),
          );
        }
      }),
      { numRuns: 100 },
    );
  });
});

/**
 * The export's premise, checked on the engine itself: more assignments that apply never take a
 * permission away (rules 1–8, dependencies to a fixpoint, each team alone). A user's answer with one
 * assignment more (any of another user's, or a copy of their own moved to another scope) is the same
 * or more, for every permission of every check.
 */
describe('monotonicity: an assignment more never removes a permission', () => {
  test('engine decisions with an extra assignment are a superset', () => {
    fc.assert(
      fc.property(worldArbitrary, fc.nat(), fc.nat(), (world, pick, from) => {
        const compiled = compileWorld(world);
        const pool = world.users.flatMap((u) => u.assignments);
        if (!pool.length) return;
        const extra = { ...pool[pick % pool.length]!, id: 'extra' };
        for (const u of world.users) {
          const before = new UserGrants(compiled, u, NOW);
          const more: Subject = {
            ...u,
            memberOf: [...(u.memberOf ?? []), ...(from % 2 && extra.teamId ? [extra.teamId] : [])],
            assignments: [...u.assignments, extra],
          };
          const after = new UserGrants(compiled, more, NOW);
          for (const { request } of world.checks) {
            for (const permission of checkable(world)) {
              const r = { ...request, permission };
              if (decide(compiled, before, r, world.policies) === 'DENY') continue;
              expect({ r, got: decide(compiled, after, r, world.policies) }).toEqual({
                r,
                got: decide(compiled, before, r, world.policies),
              });
            }
          }
        }
      }),
      { numRuns: 100 },
    );
  });
});

/**
 * Broken exports must be caught: each is a plausible way to get the export wrong. A disagreement
 * counts only where the real export agrees with rolegate.
 */
describe('the property catches deliberately wrong exports', () => {
  /** An export of a user with some assignments changed. */
  const withSubject =
    (change: (u: Subject) => Subject, policies?: (w: World) => ToolPolicies): Exporter =>
    (world, compiled, user) =>
      exportRules(compiled, new UserGrants(compiled, change(user), NOW), {
        paths: pathsOf(world),
        policies: policies ? policies(world) : world.policies,
      }).rules;

  const mutants: Record<string, Exporter> = {
    // Rules per assignment, put together: a dependency met by two assignments (or a location's roles
    // and a team's) is lost.
    'dependencies: each assignment exported alone': (world, compiled, user) =>
      user.assignments.flatMap((a) =>
        withSubject((u) => ({ ...u, assignments: [a] }))(world, compiled, user),
      ),
    // The export's own shortcut for catalogs without dependencies (additive sets: one person or group
    // at a time, teams at the root alone) taken for every catalog: the effective sets stay the engine's,
    // only the contexts asked about are too few.
    'contexts: as if the catalog had no dependencies': (world, compiled, user) => {
      const doc = structuredClone(world.doc);
      for (const actions of Object.values(doc.permissions))
        for (const spec of Object.values(actions)) delete spec.requires;
      const flat = compileCatalog(parseCatalog(JSON.stringify(doc), '<flat>'), world.customRoles);
      return exportRules(flat, new UserGrants(compiled, user, NOW), {
        paths: pathsOf(world),
        policies: world.policies,
      }).rules;
    },
    // Every team role of the user summed into one team, granted for a resource of any of them.
    'team sum: a union across the named teams': (world, compiled, user) => {
      const member = (t: string | null | undefined) => !!t && (user.memberOf ?? []).includes(t);
      const teams = [...new Set(user.assignments.flatMap((a) => (member(a.teamId) ? [a.teamId!] : [])))];
      const union: Subject = {
        ...user,
        memberOf: ['T_union'],
        assignments: user.assignments.map((a) => (member(a.teamId) ? { ...a, teamId: 'T_union' } : a)),
      };
      return withSubject(() => union)(world, compiled, user).flatMap((r) =>
        r.conditions?.teamIds === 'T_union'
          ? teams.map((teamIds) => ({ ...r, conditions: { ...r.conditions, teamIds } }))
          : [r],
      );
    },
    'restrictions ignored': withSubject((u) => ({
      ...u,
      assignments: u.assignments.map((a) => ({ ...a, personId: null, groupIds: null })),
    })),
    // A location's rules matched against the resource's own location only (CASL reads the dotted
    // field `locationPath.0` as the path's first element), never its ancestors.
    'no cascade: a location rule for that location only': (world, compiled, user) =>
      realExport(world, compiled, user).map((r) => {
        if (r.conditions?.locationPath === undefined) return r;
        const { locationPath: at, ...rest } = r.conditions;
        return { ...r, conditions: { ...rest, 'locationPath.0': at } as never };
      }),
    'tool policies ignored': withSubject(
      (u) => u,
      () => ({}),
    ),
    'expired assignments still count': (world, compiled, user) =>
      exportRules(compiled, new UserGrants(compiled, user, 0), {
        paths: pathsOf(world),
        policies: world.policies,
      }).rules,
    'locked and deleted users treated as active': withSubject((u) => ({
      ...u,
      locked: false,
      deleted: false,
    })),
    'team membership ignored': withSubject((u) => ({
      ...u,
      memberOf: u.assignments.flatMap((a) => (a.teamId ? [a.teamId] : [])),
    })),
  };

  test.each(Object.keys(mutants))('catches: %s', (name) => {
    const mutant = mutants[name]!;
    const result = fc.check(
      fc.property(worldArbitrary.map(withRestrictedUser), picksArbitrary, (world, picks) => {
        return firstMismatch(world, picks, mutant, undefined, realExport) === undefined;
      }),
      { numRuns: 1000, endOnFailure: true, seed: 42 },
    );
    expect(result.failed).toBe(true);
  });
});

/** Hand-made worlds: the seeds' shapes, and the export's size and bounds. */
describe('examples', () => {
  const doc = (extra: Partial<CatalogDocument>): CatalogDocument => ({
    catalog: 'example',
    name: 'Example',
    owner: { role: 'owner' },
    permissions: {
      project: { view: { description: 'v' }, edit: { description: 'e' } },
      priority: { create: { description: 'c', requires: ['project:edit'] } },
      staff: { view: { description: 's' } },
    },
    roles: {
      owner: { name: 'Owner', kind: 'org', grants: ['project:*', 'priority:*', 'staff:*'] },
      editor: { name: 'Editor', kind: 'team', grants: ['project:edit'] },
      prioritizer: { name: 'Prioritizer', kind: 'team', grants: ['priority:create'] },
      manager: { name: 'Manager', kind: 'location', grants: ['project:view', 'staff:view'] },
    },
    ...extra,
  });
  const compile = (d: CatalogDocument, custom: Record<string, RoleSpec> = {}) =>
    compileCatalog(parseCatalog(JSON.stringify(d), '<example>'), custom);

  test('a dependency is met within one team, never across teams', () => {
    const compiled = compile(doc({}));
    const user: Subject = {
      userId: 'u',
      memberOf: ['A', 'B'],
      assignments: [
        { id: '1', role: 'editor', teamId: 'A' },
        { id: '2', role: 'prioritizer', teamId: 'B' },
        { id: '3', role: 'prioritizer', teamId: 'A' },
      ],
    };
    const ability = abilityOf(
      exportRules(compiled, new UserGrants(compiled, user, NOW), { paths: new Map() }).rules,
    );
    expect(ability.can('priority:create', subject('Resource', { teamIds: ['A'] }))).toBe(true);
    expect(ability.can('priority:create', subject('Resource', { teamIds: ['B'] }))).toBe(false);
    expect(ability.can('priority:create', subject('Resource', { teamIds: ['B', 'A'] }))).toBe(true);
    expect(ability.can('project:edit', subject('Resource', {}))).toBe(false);
  });

  test('1,000 location assignments: one rule per distinct set, each location once', () => {
    const compiled = compile(doc({}));
    const ids = Array.from({ length: 1000 }, (_, i) => `0000${i}`.slice(-4) + '-aaaa-bbbb-cccc-dddddddddddd');
    const user: Subject = {
      userId: 'u',
      assignments: ids.map((id, i) => ({ id: `a${i}`, role: 'manager', locationId: id })),
    };
    const paths = new Map(ids.map((id) => [id, [id, 'parent-of-all']]));
    const out = exportRules(compiled, new UserGrants(compiled, user, NOW), { paths });
    expect(out.rules).toHaveLength(1);
    expect(out.rules[0]!.action).toEqual(['project:view', 'staff:view']);
    expect((out.rules[0]!.conditions!.locationPath as { $in: string[] }).$in).toHaveLength(1000);
    expect(JSON.stringify(packRules(out.rules)).length).toBeLessThan(50_000);
  });

  test('a location whose ancestor carries the same grants is left out', () => {
    const compiled = compile(doc({}));
    const user: Subject = {
      userId: 'u',
      assignments: [
        { id: '1', role: 'manager', locationId: 'parent' },
        { id: '2', role: 'manager', locationId: 'child' },
      ],
    };
    const paths = new Map([
      ['parent', ['parent']],
      ['child', ['child', 'parent']],
    ]);
    const out = exportRules(compiled, new UserGrants(compiled, user, NOW), { paths });
    expect(out.rules).toEqual([
      { action: ['project:view', 'staff:view'], subject: 'all', conditions: { locationPath: 'parent' } },
    ]);
  });

  test('a locked user gets no rules; expiresAt is the earliest expiry that counts', () => {
    const compiled = compile(doc({}));
    const user: Subject = {
      userId: 'u',
      assignments: [
        { id: '1', role: 'owner', expiresAt: NOW + 5000 },
        { id: '2', role: 'manager', locationId: 'x', expiresAt: NOW - 1 },
      ],
    };
    const paths = new Map([['x', ['x']]]);
    expect(exportRules(compiled, new UserGrants(compiled, user, NOW), { paths }).validUntil).toBe(NOW + 5000);
    const locked = exportRules(compiled, new UserGrants(compiled, { ...user, locked: true }, NOW), { paths });
    expect(locked.rules).toEqual([]);
  });

  test('too many restricted combinations is refused, never answered partly', () => {
    const compiled = compile(doc({}));
    const user: Subject = {
      userId: 'u',
      assignments: Array.from({ length: 40 }, (_, i) => ({
        id: `${i}`,
        role: 'manager',
        locationId: 'x',
        groupIds: [`g${i}`],
      })),
    };
    const paths = new Map([['x', ['x']]]);
    expect(() =>
      exportRules(compiled, new UserGrants(compiled, user, NOW), { paths, maxContexts: 100 }),
    ).toThrow(RulesExportLimitError);
  });
});
