import fc from 'fast-check';
import { stringify } from 'yaml';
import {
  parseCatalog,
  type Catalog,
  type CatalogDocument,
  type PermissionSpec,
  type RoleSpec,
  type ToolSpec,
} from '../../src/catalog';
import { catalogSchema } from '../../src/catalog/schema';
import { validateCatalog } from '../../src/catalog/validate';
import {
  compileCatalog,
  decide,
  explain,
  UnknownPermissionError,
  UserGrants,
  type CheckRequest,
  type Explanation,
  type CompiledCatalog,
  type Outcome,
  type Subject,
} from '../../src/engine';
import { referenceDecide, ReferenceUnknownPermission } from './reference-evaluator';
import { NOW, PROTO_KEY, unknownNames, worldArbitrary, type World } from './world-arbitrary';

/**
 * The engine (bitsets, precompiled role closures, memo) against a naive reference evaluator written
 * from the resolution rules, on random worlds. Also: `explain` agrees with `decide`, and unknown names
 * always throw.
 *
 * Reproduce a failure with the seed and path fast-check prints: PROPERTY_SEED=… PROPERTY_PATH=…
 * Run deeper with PROPERTY_RUNS=20000; PROPERTY_SHRINK_MS bounds the shrinking of a failure.
 */

const RUNS = Number(process.env.PROPERTY_RUNS ?? 1500);
const SEED = process.env.PROPERTY_SEED === undefined ? undefined : Number(process.env.PROPERTY_SEED);
const PATH = process.env.PROPERTY_PATH;
/** Once a failure is found, fast-check shrinks it for at most this long (each attempt compiles a world). */
const SHRINK_MS = Number(process.env.PROPERTY_SHRINK_MS ?? 15_000);
const MIN_CHECKS = 10_000;

/**
 * The catalog of a world, checked the way the loader checks a file (form, then references) without
 * the YAML round trip, which would cost most of the run; one test below does take the YAML path.
 */
function catalogOf(doc: CatalogDocument): Catalog {
  const form = catalogSchema.safeParse(doc);
  if (!form.success) throw new Error(`generator bug: catalog fails the schema: ${form.error.message}`);
  const problems = validateCatalog(form.data);
  if (problems.length) throw new Error(`generator bug: invalid catalog: ${JSON.stringify(problems)}`);
  // JSON is YAML: the text the document was "loaded" from, without paying for the YAML printer.
  return { source: '<property-world>', text: JSON.stringify(form.data), document: form.data };
}

function compileWorld(
  world: World,
  mutate?: (doc: CatalogDocument, custom: Record<string, RoleSpec>) => void,
): CompiledCatalog {
  const doc = structuredClone(world.doc);
  const custom = structuredClone(world.customRoles);
  mutate?.(doc, custom);
  return compileCatalog(catalogOf(doc), custom);
}

/** An engine under test: prepared once per world, then asked each check of that world. */
type Engine = (world: World) => (userIndex: number, request: CheckRequest) => Outcome;

/** The real engine, as the gateway uses it: one UserGrants per user, reused across checks (memo included). */
const realEngine = (world: World, compiled = compileWorld(world)) => {
  const grants = world.users.map((u) => new UserGrants(compiled, u, NOW));
  return (i: number, request: CheckRequest): Outcome => decide(compiled, grants[i]!, request, world.policies);
};

const reference = (world: World, i: number, request: CheckRequest): Outcome =>
  referenceDecide(world.doc, world.customRoles, world.users[i]!, request, NOW, world.policies);

/**
 * fc.assert, but a found failure is shrunk for at most SHRINK_MS (a shrink attempt compiles and runs a
 * whole world; unbounded shrinking took over a minute). The report has the seed and path to replay.
 */
function assertProperty<T>(property: fc.IProperty<T>, params: fc.Parameters<T>): void {
  const found = fc.check(property, { ...params, endOnFailure: true });
  if (!found.failed) return;
  const shrunk = fc.check(property, {
    seed: found.seed,
    path: found.counterexamplePath!,
    interruptAfterTimeLimit: SHRINK_MS,
  });
  const details = shrunk.failed ? shrunk : found;
  const cause =
    details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
  throw new Error(`${fc.defaultReportMessage(details)}\n\n${cause}`, { cause: details.errorInstance });
}

function report(world: World, i: number, request: CheckRequest, outcomes: Record<string, unknown>): string {
  return [
    `mismatch: ${JSON.stringify(outcomes)}`,
    `request: ${JSON.stringify(request)}`,
    `subject: ${JSON.stringify(world.users[i])}`,
    `policies: ${JSON.stringify(world.policies)}`,
    `locations: ${JSON.stringify(world.locations)}`,
    `customRoles: ${JSON.stringify(world.customRoles)}`,
    `catalog:\n${stringify(world.doc)}`,
  ].join('\n');
}

/**
 * Asks every check of a world of the reference, of `decide` and of `explain`; returns a report of the
 * first disagreement (with the world and the request), or undefined.
 */
function firstMismatch(
  world: World,
  onCheck?: (outcome: Outcome, why: Explanation) => void,
): string | undefined {
  const compiled = compileWorld(world);
  const engine = realEngine(world, compiled);
  for (const { user, request } of world.checks) {
    const expected = reference(world, user, request);
    const got = engine(user, request);
    const why = explain(compiled, world.users[user]!, request, { now: NOW, policies: world.policies });
    onCheck?.(got, why);
    if (got !== expected || why.outcome !== got || why.allowed !== (got === 'ALLOW')) {
      return report(world, user, request, {
        reference: expected,
        decide: got,
        explain: why.outcome,
        explainAllowed: why.allowed,
        explainSummary: why.summary,
      });
    }
  }
  return undefined;
}

describe('engine vs the naive reference evaluator (random worlds)', () => {
  const tally: Record<Outcome, number> = { ALLOW: 0, DENY: 0, REQUIRES_APPROVAL: 0 };
  let checks = 0;
  let worlds = 0;
  /** How often each rule made a difference, read from the explanations: the property is not vacuous. */
  const seen = {
    inherited: 0,
    cascaded: 0,
    team: 0,
    notMember: 0,
    otherTeam: 0,
    restricted: 0,
    ownPerson: 0,
    restrictedPage: 0,
    byFlag: 0,
    flagMissing: 0,
    dependencyMissing: 0,
    expired: 0,
    misfit: 0,
    inactive: 0,
    alias: 0,
    toolPolicyDeny: 0,
  };
  const countRules = (why: Explanation) => {
    const d = why.detail;
    if (why.allowed || why.outcome === 'REQUIRES_APPROVAL') {
      if (d.grantedBy.some((g) => (g.via?.length ?? 0) > 1)) seen.inherited++;
      if (d.grantedBy.some((g) => g.scope?.type === 'location' && g.scope.cascaded)) seen.cascaded++;
      if (d.grantedBy.some((g) => g.scope?.type === 'team')) seen.team++;
      if (d.grantedBy.some((g) => g.restriction)) seen.restricted++;
      if (d.grantedBy.some((g) => g.grantedAs?.startsWith('ownPersonGrants'))) seen.ownPerson++;
      if (
        (why.follows || why.permission.startsWith('page:') || why.permission.startsWith('nav:')) &&
        d.grantedBy.some((g) => g.restriction)
      )
        seen.restrictedPage++;
      if (d.grantedBy.some((g) => g.kind === 'flag')) seen.byFlag++;
      if (why.follows) seen.alias++;
    } else {
      if (d.grantedBy.length && d.requires.some((r) => !r.effective)) seen.dependencyMissing++;
      if (d.ignored.some((g) => g.why.startsWith('roles grant it only with the flag'))) seen.flagMissing++;
      if (d.ignored.some((g) => g.why.startsWith('the assignment expired'))) seen.expired++;
      if (d.ignored.some((g) => g.why.includes('cannot be assigned at this scope'))) seen.misfit++;
      if (d.ignored.some((g) => g.why.startsWith('the user is not a member of team'))) seen.notMember++;
      if (d.ignored.some((g) => g.why.includes('roles in different teams are not summed'))) seen.otherTeam++;
      if (why.user.locked || why.user.deleted) seen.inactive++;
      if (why.tool && d.effective) seen.toolPolicyDeny++;
    }
  };

  test('decide == reference, explain == decide, on every check', () => {
    assertProperty(
      fc.property(worldArbitrary, (world) => {
        worlds++;
        const mismatch = firstMismatch(world, (outcome, why) => {
          checks++;
          tally[outcome]++;
          countRules(why);
        });
        if (mismatch) throw new Error(mismatch);
      }),
      { numRuns: RUNS, ...(SEED !== undefined ? { seed: SEED } : {}), ...(PATH ? { path: PATH } : {}) },
    );

    if (process.env.PROPERTY_STATS) console.log(JSON.stringify({ worlds, checks, tally, seen }));
    // Not vacuous: enough checks, every outcome seen a fair number of times, every rule exercised.
    if (PATH) return; // replaying one counterexample
    expect(worlds).toBeGreaterThanOrEqual(RUNS);
    expect(checks).toBeGreaterThanOrEqual(Math.min(MIN_CHECKS, RUNS * 20));
    expect(tally.ALLOW).toBeGreaterThan(checks * 0.05);
    expect(tally.DENY).toBeGreaterThan(checks * 0.05);
    expect(tally.REQUIRES_APPROVAL).toBeGreaterThan(checks * 0.002);
    const floor = Math.ceil(RUNS / 100);
    for (const [rule, n] of Object.entries(seen)) {
      if (n < floor)
        throw new Error(
          `rule "${rule}" made a difference only ${n} times in ${checks} checks: ${JSON.stringify(seen)}`,
        );
    }
  });

  test('the generated catalogs load through the YAML loader unchanged', () => {
    fc.assert(
      fc.property(worldArbitrary, (world) => {
        expect(parseCatalog(stringify(world.doc), '<property-world>').document).toEqual(world.doc);
      }),
      { numRuns: 100 },
    );
  });

  test('unknown permission, page, navigation or tool names throw UnknownPermissionError (never a silent answer)', () => {
    fc.assert(
      fc.property(worldArbitrary, (world) => {
        const compiled = compileWorld(world);
        const subject = world.users[0]!;
        const grants = new UserGrants(compiled, subject, NOW);
        for (const permission of unknownNames(world)) {
          for (const base of [{}, world.checks[0]!.request]) {
            const request: CheckRequest = { ...base, permission };
            expect(() => decide(compiled, grants, request, world.policies)).toThrow(UnknownPermissionError);
            expect(() => explain(compiled, subject, request, { now: NOW, policies: world.policies })).toThrow(
              UnknownPermissionError,
            );
            expect(() => reference(world, 0, request)).toThrow(ReferenceUnknownPermission);
          }
        }
      }),
      { numRuns: 50 },
    );
  });
});

/**
 * The harness can fail: engines made wrong on purpose (by feeding the real engine altered input)
 * must be caught. A counterexample counts only where the unaltered engine agrees with the reference,
 * so these tests say nothing about the real engine's own mistakes.
 */
describe('the property catches deliberately wrong engines', () => {
  const mutants: Record<string, Engine> = {
    'restrictions ignored': (world) => {
      const compiled = compileWorld(world);
      const grants = world.users.map(
        (u) =>
          new UserGrants(
            compiled,
            { ...u, assignments: u.assignments.map((a) => ({ ...a, personId: null, groupIds: null })) },
            NOW,
          ),
      );
      return (i, request) => decide(compiled, grants[i]!, request, world.policies);
    },
    'expiry at exactly now still counts': (world) => {
      const compiled = compileWorld(world);
      const grants = world.users.map(
        (u) =>
          new UserGrants(
            compiled,
            {
              ...u,
              assignments: u.assignments.map((a) => (a.expiresAt === NOW ? { ...a, expiresAt: NOW + 1 } : a)),
            },
            NOW,
          ),
      );
      return (i, request) => decide(compiled, grants[i]!, request, world.policies);
    },
    'no inheritance': (world) => {
      const compiled = compileWorld(world, (doc, custom) => {
        for (const role of [...Object.values(doc.roles), ...Object.values(custom)]) delete role.inherits;
      });
      const grants = world.users.map((u) => new UserGrants(compiled, u, NOW));
      return (i, request) => decide(compiled, grants[i]!, request, world.policies);
    },
    'dependencies ignored': (world) => {
      const compiled = compileWorld(world, (doc) => {
        for (const actions of Object.values(doc.permissions))
          for (const p of Object.values(actions)) delete p.requires;
      });
      const grants = world.users.map((u) => new UserGrants(compiled, u, NOW));
      return (i, request) => decide(compiled, grants[i]!, request, world.policies);
    },
    'no cascade (only the location itself)': (world) => {
      const engine = realEngine(world);
      return (i, request) =>
        engine(i, { ...request, locationPath: (request.locationPath ?? []).slice(0, 1) });
    },
    'organization tool policies ignored': (world) => {
      const compiled = compileWorld(world);
      const grants = world.users.map((u) => new UserGrants(compiled, u, NOW));
      return (i, request) => decide(compiled, grants[i]!, request, {});
    },
    'team sum: only the first team named': (world) => {
      const engine = realEngine(world);
      return (i, request) => engine(i, { ...request, teamIds: (request.teamIds ?? []).slice(0, 1) });
    },
    // The rule before rule 3 changed: the roles of every named team summed into one set, so that a
    // dependency is met by a role held in another team.
    'team sum: a union across the named teams': (world) => {
      const compiled = compileWorld(world);
      return (i, request) => {
        const u = world.users[i]!;
        const named = request.teamIds ?? [];
        const joined = (team: string | null | undefined) =>
          !!team && named.includes(team) && (u.memberOf ?? []).includes(team);
        const summed: Subject = {
          ...u,
          memberOf: ['T_union'],
          assignments: u.assignments.map((a) => (joined(a.teamId) ? { ...a, teamId: 'T_union' } : a)),
        };
        const grants = new UserGrants(compiled, summed, NOW);
        return decide(
          compiled,
          grants,
          { ...request, teamIds: named.length ? ['T_union'] : [] },
          world.policies,
        );
      };
    },
    'own-person grants held by every assignment of the role': (world) => {
      const compiled = compileWorld(world, (doc) => {
        for (const role of Object.values(doc.roles)) {
          if (!role.ownPersonGrants) continue;
          role.grants = [...(role.grants ?? []), ...role.ownPersonGrants];
          delete role.ownPersonGrants;
        }
      });
      const grants = world.users.map((u) => new UserGrants(compiled, u, NOW));
      return (i, request) => decide(compiled, grants[i]!, request, world.policies);
    },
    'own-person grants ignored': (world) => {
      const compiled = compileWorld(world, (doc) => {
        for (const role of Object.values(doc.roles)) delete role.ownPersonGrants;
      });
      const grants = world.users.map((u) => new UserGrants(compiled, u, NOW));
      return (i, request) => decide(compiled, grants[i]!, request, world.policies);
    },
    // Before rule 5 said so, a restricted assignment gave its pages only for a matching resource.
    'a page that follows a permission decided as that permission': (world) => {
      const engine = realEngine(world);
      return (i, request) => {
        const [prefix, key] = request.permission.split(':') as [string, string];
        const entry =
          prefix === 'page'
            ? world.doc.pages?.[key]
            : prefix === 'nav'
              ? world.doc.navigation?.[key]
              : undefined;
        return engine(i, entry?.permission ? { ...request, permission: entry.permission } : request);
      };
    },
    'team membership ignored': (world) => {
      const compiled = compileWorld(world);
      const grants = world.users.map(
        (u) =>
          new UserGrants(
            compiled,
            { ...u, memberOf: u.assignments.flatMap((a) => (a.teamId ? [a.teamId] : [])) },
            NOW,
          ),
      );
      return (i, request) => decide(compiled, grants[i]!, request, world.policies);
    },
    'locked and deleted users treated as active': (world) => {
      const compiled = compileWorld(world);
      const grants = world.users.map(
        (u) => new UserGrants(compiled, { ...u, locked: false, deleted: false }, NOW),
      );
      return (i, request) => decide(compiled, grants[i]!, request, world.policies);
    },
    'flags ignored': (world) => {
      const compiled = compileWorld(world);
      const grants = world.users.map((u) => new UserGrants(compiled, { ...u, flags: [] }, NOW));
      return (i, request) => decide(compiled, grants[i]!, request, world.policies);
    },
  };

  test.each(Object.keys(mutants))('catches: %s', (name) => {
    const mutant = mutants[name]!;
    const result = fc.check(
      fc.property(worldArbitrary, (world) => {
        const real = realEngine(world);
        const wrong = mutant(world);
        for (const { user, request } of world.checks) {
          const expected = reference(world, user, request);
          if (real(user, request) !== expected) continue; // the real engine's own mistakes are not the point here
          if (wrong(user, request) !== expected) return false;
        }
        return true;
      }),
      { numRuns: 2000, endOnFailure: true, seed: 42 },
    );
    expect(result.failed).toBe(true);
  });
});

/** Small hand-made worlds: disagreements the property found, kept as plain examples. */
describe('minimal examples found by the property', () => {
  const world = (doc: Partial<CatalogDocument>, rest: Partial<World>): World => ({
    doc: {
      catalog: 'example',
      name: 'Example',
      owner: { role: 'owner' },
      permissions: {},
      roles: {},
      ...doc,
    },
    customRoles: {},
    locations: [],
    users: [],
    policies: {},
    checks: [],
    ...rest,
  });
  const holder = (role: string): Subject => ({ userId: 'u0', assignments: [{ id: 'a0', role }] });

  // Bit 31 of each 32-bit word: `(bits & mask) !== mask` compares a signed int32 with an unsigned one.
  test.each([31, 63, 95])(
    'a permission requiring the permission at bit %i (the top bit of a 32-bit word) is effective where both are held',
    (bit) => {
      const count = bit + 1;
      const actions: Record<string, PermissionSpec> = {};
      for (let i = 0; i < count; i++) actions[`a${i}`] = { description: `action ${i}` };
      actions.a0 = { description: 'action 0', requires: [`m0:a${count - 1}`] };
      const w = world(
        { permissions: { m0: actions }, roles: { owner: { name: 'Owner', kind: 'org', grants: ['m0:*'] } } },
        {
          users: [holder('owner')],
          checks: [
            { user: 0, request: { permission: `m0:a${count - 1}` } },
            { user: 0, request: { permission: 'm0:a0' } },
          ],
        },
      );
      expect(firstMismatch(w)).toBeUndefined();
    },
  );

  test('a tool named "constructor" without an organization override follows the catalog policy', () => {
    const w = world(
      {
        permissions: { m0: { a0: { description: 'action 0' } } },
        roles: { owner: { name: 'Owner', kind: 'org', grants: ['m0:a0'] } },
        tools: {
          [PROTO_KEY]: { description: 'tool', permission: 'm0:a0', policy: 'require_approval' } as ToolSpec,
          other: { description: 'tool', permission: 'm0:a0', policy: 'auto' },
        },
      },
      {
        users: [holder('owner')],
        checks: [
          { user: 0, request: { permission: `tool:${PROTO_KEY}` } },
          { user: 0, request: { permission: 'tool:other' } },
        ],
      },
    );
    expect(reference(w, 0, { permission: `tool:${PROTO_KEY}` })).toBe('REQUIRES_APPROVAL');
    expect(firstMismatch(w)).toBeUndefined();
  });

  test('a custom role named "constructor" is not mistaken for a built-in role', () => {
    const w = world(
      {
        permissions: { m0: { a0: { description: 'action 0' } } },
        roles: { owner: { name: 'Owner', kind: 'org' } },
      },
      {
        customRoles: { [PROTO_KEY]: { name: 'Custom', kind: 'org', grants: ['m0:a0'] } as RoleSpec },
        users: [holder(PROTO_KEY)],
        checks: [{ user: 0, request: { permission: 'm0:a0' } }],
      },
    );
    expect(reference(w, 0, { permission: 'm0:a0' })).toBe('ALLOW');
    expect(firstMismatch(w)).toBeUndefined();
  });
});
