/**
 * The same JRNI world modelled in rolegate's engine and in three peers, each in the fastest form its
 * own documentation offers. Every engine answers "may user u do permission p at location l?" with the
 * JRNI rules that matter here: a role's grants include those it inherits (owner ⊇ administrator,
 * manager ⊇ user_plus), and an assignment at location A applies at A and at every descendant of A.
 */
import { createMongoAbility, subject, type MongoAbility } from '@casl/ability';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { newEnforcer, newModelFromString, Util, type Enforcer } from 'casbin';
import { bitIndexes, decide, UserGrants, type CompiledCatalog } from '../../src';
import { assignmentsOf, PERMISSIONS, ROLES, type ColdCase, type Workload, type World } from './world';

export interface Engine {
  name: string;
  /** The documented form used, in one line, for the report. */
  form: string;
  /** One check, for the agreement pass. */
  check(u: number, l: number, p: number): boolean;
  /** Checks `w[from..to)`; returns how many were allowed (so nothing is optimized away). */
  batch(w: Workload, from: number, to: number): number;
}

export interface ColdBuilder {
  name: string;
  /** What one cold measurement covers, for the report. */
  what: string;
  /** Builds one fresh user's state from their assignments and answers a first check at the deep location. */
  build(c: ColdCase): number | Promise<number>;
}

/** Each role's grants with inheritance resolved, as permission keys, from the compiled catalog. */
export function rolePermissions(compiled: CompiledCatalog): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const role of ROLES) {
    const r = compiled.roles.get(role);
    if (!r) throw new Error(`jrni catalog has no role ${role}`);
    out.set(
      role,
      bitIndexes(r.closure).map((i) => compiled.keys[i]!),
    );
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// rolegate
// ---------------------------------------------------------------------------------------------------

/** A group id no assignment is restricted to: makes `effective()` compute the set instead of using its memo. */
const NO_MEMO_GROUPS: readonly string[] = ['bench:no-such-group'];

export class Rolegate {
  grants: UserGrants[] = [];
  constructor(
    private readonly world: World,
    readonly compiled: CompiledCatalog,
  ) {
    this.rebuild();
  }

  /** Builds every user's UserGrants (fresh, empty per-location memos). */
  rebuild(): void {
    const now = Date.now();
    const grants: UserGrants[] = new Array(this.world.params.users);
    for (let u = 0; u < this.world.params.users; u++) {
      grants[u] = new UserGrants(
        this.compiled,
        { userId: this.world.userIds[u]!, assignments: assignmentsOf(this.world, u) },
        now,
      );
    }
    this.grants = grants;
  }

  /**
   * `decide()` with a resource-less request: after the first check of a (user, location) the user's
   * effective set there comes from the per-location memo.
   */
  memo(): Engine {
    const { compiled, world } = this;
    return {
      name: 'rolegate',
      form: '`decide()` on prebuilt `UserGrants`; per-location memo hit',
      check: (u, l, p) =>
        decide(compiled, this.grants[u]!, { permission: PERMISSIONS[p]!, locationPath: world.paths[l]! }) ===
        'ALLOW',
      batch: (w, from, to) => {
        const grants = this.grants;
        const paths = world.paths;
        let n = 0;
        for (let i = from; i < to; i++) {
          const req = { permission: PERMISSIONS[w.perm[i]!]!, locationPath: paths[w.loc[i]!]! };
          if (decide(compiled, grants[w.user[i]!]!, req) === 'ALLOW') n++;
        }
        return n;
      },
    };
  }

  /**
   * The same check naming a resource in a staff group nobody is restricted to: same answer (no
   * assignment in this world is restricted), but `effective()` skips the memo and computes the set —
   * walk the path, OR the bucketed role closures, apply the flag masks and the dependency pass — on
   * every call.
   */
  noMemo(): Engine {
    const { compiled, world } = this;
    return {
      name: 'rolegate (no memo)',
      form: '`decide()` on prebuilt `UserGrants`; effective set computed on every call',
      check: (u, l, p) =>
        decide(compiled, this.grants[u]!, {
          permission: PERMISSIONS[p]!,
          locationPath: world.paths[l]!,
          groupIds: NO_MEMO_GROUPS,
        }) === 'ALLOW',
      batch: (w, from, to) => {
        const grants = this.grants;
        const paths = world.paths;
        let n = 0;
        for (let i = from; i < to; i++) {
          const req = {
            permission: PERMISSIONS[w.perm[i]!]!,
            locationPath: paths[w.loc[i]!]!,
            groupIds: NO_MEMO_GROUPS,
          };
          if (decide(compiled, grants[w.user[i]!]!, req) === 'ALLOW') n++;
        }
        return n;
      },
    };
  }

  cold(): ColdBuilder {
    const { compiled, world } = this;
    const deep = world.paths[world.branch[world.branch.length - 1]!]!;
    return {
      name: 'rolegate',
      what: '`new UserGrants(…)` + first `effective()` at the depth-8 location',
      build: (c) => {
        const g = new UserGrants(compiled, { userId: c.userId, assignments: c.assignments }, Date.now());
        return g.effective({ locationPath: deep })[0]!;
      },
    };
  }
}

// ---------------------------------------------------------------------------------------------------
// casbin
// ---------------------------------------------------------------------------------------------------

/**
 * RBAC with domains, one domain per role type. Inside domain R the role graph holds the location tree
 * (`g, child, parent, R`) and, for each assignment of role R at location A, the link `g, A, user, R`.
 * So `g(location, user, R)` — a walk up the tree from the checked location — is true exactly when the
 * user holds R at that location or at one of its ancestors: the cascade. The policy is the role
 * matrix, one `p, role, permission` row per grant (inheritance resolved). `r.act == p.act` comes first
 * in the matcher so only the rows of the asked permission reach the role manager.
 *
 * Why not casbin's documented hierarchical-domain features (`addNamedDomainMatchingFunc` with domain
 * patterns, or `addDomainHierarchy`)? They give the same answers but make the role manager scan every
 * domain on each `g()` call; see `casbinDomainPattern` below, measured on a small sample.
 */
const CASBIN_MODEL = `
[request_definition]
r = sub, loc, act

[policy_definition]
p = role, act

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = r.act == p.act && g(r.loc, r.sub, p.role)
`;

export interface CasbinSetup {
  enforcer: Enforcer;
  gRules: number;
  pRules: number;
}

export async function buildCasbin(world: World, perms: Map<string, string[]>): Promise<CasbinSetup> {
  const enforcer = await newEnforcer(newModelFromString(CASBIN_MODEL));
  const p: string[][] = [];
  for (const role of ROLES) for (const perm of perms.get(role)!) p.push([role, perm]);
  await enforcer.addPolicies(p);
  const g: string[][] = [];
  for (const role of ROLES) {
    for (let l = 0; l < world.locIds.length; l++) {
      const parent = world.parent[l]!;
      if (parent >= 0) g.push([world.locIds[l]!, world.locIds[parent]!, role]);
    }
  }
  for (let u = 0; u < world.params.users; u++) {
    const seen = new Set<string>();
    for (let i = world.userStart[u]!; i < world.userStart[u + 1]!; i++) {
      const rule = [world.locIds[world.assignLoc[i]!]!, world.userIds[u]!, ROLES[world.assignRole[i]!]!];
      const key = rule.join('|');
      if (seen.has(key)) continue;
      seen.add(key);
      g.push(rule);
    }
  }
  // One batch into an empty g section: casbin checks each new rule against the existing ones with a
  // linear scan, so rule-by-rule loading of 260k links would be quadratic.
  await enforcer.addNamedGroupingPolicies('g', g);
  return { enforcer, gRules: g.length, pRules: p.length };
}

export function casbinEngine(world: World, enforcer: Enforcer): Engine {
  const { userIds, locIds } = world;
  return {
    name: 'casbin',
    form: '`enforceSync(user, location, permission)`, model from string, policies added in memory',
    check: (u, l, p) => enforcer.enforceSync(userIds[u]!, locIds[l]!, PERMISSIONS[p]!),
    batch: (w, from, to) => {
      let n = 0;
      for (let i = from; i < to; i++) {
        if (enforcer.enforceSync(userIds[w.user[i]!]!, locIds[w.loc[i]!]!, PERMISSIONS[w.perm[i]!]!)) n++;
      }
      return n;
    },
  };
}

export function casbinCold(world: World, enforcer: Enforcer): ColdBuilder {
  const deep = world.locIds[world.branch[world.branch.length - 1]!]!;
  return {
    name: 'casbin',
    what: "`addNamedGroupingPolicies` of the user's 20 role links into the loaded enforcer + first `enforceSync` at the depth-8 location",
    build: async (c) => {
      const seen = new Set<string>();
      const rules: string[][] = [];
      c.locs.forEach((l, i) => {
        const rule = [world.locIds[l]!, c.userId, ROLES[c.roles[i]!]!];
        const key = rule.join('|');
        if (!seen.has(key)) {
          seen.add(key);
          rules.push(rule);
        }
      });
      await enforcer.addNamedGroupingPolicies('g', rules);
      return enforcer.enforceSync(c.userId, deep, 'booking:manage') ? 1 : 0;
    },
  };
}

/**
 * casbin's documented hierarchical-domain form: RBAC with domains where a domain is a location's
 * materialized path (`/L3/L41/L250/`), an assignment at A is `g, user, role, /…/A/*`, and
 * `addNamedDomainMatchingFunc('g', keyMatch)` lets the role at `/…/A/*` count in every domain below.
 */
const CASBIN_PATTERN_MODEL = `
[request_definition]
r = sub, dom, act

[policy_definition]
p = sub, act

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = r.act == p.act && g(r.sub, p.sub, r.dom)
`;

export async function buildCasbinDomainPattern(world: World, perms: Map<string, string[]>): Promise<Engine> {
  const enforcer = await newEnforcer(newModelFromString(CASBIN_PATTERN_MODEL));
  await enforcer.addNamedDomainMatchingFunc('g', Util.keyMatchFunc);
  const p: string[][] = [];
  for (const role of ROLES) for (const perm of perms.get(role)!) p.push([role, perm]);
  await enforcer.addPolicies(p);
  const domainOf = world.paths.map((path) => `/${[...path].reverse().join('/')}/`);
  const g: string[][] = [];
  for (let u = 0; u < world.params.users; u++) {
    const seen = new Set<string>();
    for (let i = world.userStart[u]!; i < world.userStart[u + 1]!; i++) {
      const rule = [world.userIds[u]!, ROLES[world.assignRole[i]!]!, `${domainOf[world.assignLoc[i]!]!}*`];
      const key = rule.join('|');
      if (seen.has(key)) continue;
      seen.add(key);
      g.push(rule);
    }
  }
  await enforcer.addNamedGroupingPolicies('g', g);
  return {
    name: 'casbin (domain pattern)',
    form: '`enforceSync(user, locationPath, permission)`, RBAC with domains + `addNamedDomainMatchingFunc(keyMatch)`',
    check: (u, l, p) => enforcer.enforceSync(world.userIds[u]!, domainOf[l]!, PERMISSIONS[p]!),
    batch: (w, from, to) => {
      let n = 0;
      for (let i = from; i < to; i++) {
        if (enforcer.enforceSync(world.userIds[w.user[i]!]!, domainOf[w.loc[i]!]!, PERMISSIONS[w.perm[i]!]!))
          n++;
      }
      return n;
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// CASL
// ---------------------------------------------------------------------------------------------------

/**
 * One MongoAbility per user, created with `createMongoAbility(rawRules)` (what AbilityBuilder's
 * `build()` does, minus the builder). One rule per assignment: `can(<the role's permissions>,
 * 'Location', { path: A })`. A Location subject carries `path`, its id and its ancestors' ids, so the
 * Mongo-style equality on an array field ("path contains A") is the cascade. Subjects are built once
 * per location with `subject('Location', …)` and reused.
 */
type Ability = MongoAbility;

function caslRules(locs: readonly string[], roles: readonly string[], perms: Map<string, string[]>) {
  return locs.map((loc, i) => ({
    action: perms.get(roles[i]!)!,
    subject: 'Location',
    conditions: { path: loc },
  }));
}

export class Casl {
  readonly abilities: Ability[];
  readonly subjects: object[];
  constructor(
    private readonly world: World,
    private readonly perms: Map<string, string[]>,
  ) {
    this.subjects = world.paths.map((path) => subject('Location', { id: path[0]!, path }));
    this.abilities = new Array(world.params.users);
    for (let u = 0; u < world.params.users; u++) {
      const locs: string[] = [];
      const roles: string[] = [];
      for (let i = world.userStart[u]!; i < world.userStart[u + 1]!; i++) {
        locs.push(world.locIds[world.assignLoc[i]!]!);
        roles.push(ROLES[world.assignRole[i]!]!);
      }
      this.abilities[u] = createMongoAbility(caslRules(locs, roles, perms));
    }
  }

  engine(): Engine {
    const { abilities, subjects } = this;
    return {
      name: '@casl/ability',
      form: '`ability.can(permission, subject)` on a prebuilt per-user `createMongoAbility`',
      check: (u, l, p) => abilities[u]!.can(PERMISSIONS[p]!, subjects[l]!),
      batch: (w, from, to) => {
        let n = 0;
        for (let i = from; i < to; i++)
          if (abilities[w.user[i]!]!.can(PERMISSIONS[w.perm[i]!]!, subjects[w.loc[i]!]!)) n++;
        return n;
      },
    };
  }

  cold(): ColdBuilder {
    const { world, perms, subjects } = this;
    const deep = subjects[world.branch[world.branch.length - 1]!]!;
    return {
      name: '@casl/ability',
      what: 'raw rules from the 20 assignments + `createMongoAbility(rules)` + first `can()` at the depth-8 location',
      build: (c) => {
        const ability = createMongoAbility(
          caslRules(
            c.locs.map((l) => world.locIds[l]!),
            c.roles.map((r) => ROLES[r]!),
            perms,
          ),
        );
        return ability.can('booking:manage', deep) ? 1 : 0;
      },
    };
  }
}

// ---------------------------------------------------------------------------------------------------
// Cedar
// ---------------------------------------------------------------------------------------------------

/**
 * One `permit` per role type, parsed once with `preparsePolicySet` and evaluated with
 * `statefulIsAuthorized` (the documented stateful API: no re-parsing per call). Entities: a User whose
 * memberships are attributes — for each role it holds, the set of Locations where it holds it — and
 * Locations whose `parents` are their parent location. `resource in principal.<role>` is Cedar's
 * hierarchy test against a set, i.e. the cascade. Each call passes only what it needs: the user's
 * entity and the checked location's ancestor chain (both prebuilt).
 */
const CEDAR_POLICY_SET = 'rolegate-bench-jrni';

type CedarEntity = cedar.EntityJson;

export class Cedar {
  readonly users: CedarEntity[];
  /** Per location: its entity and its ancestors' entities (what `in` needs to walk the hierarchy). */
  readonly chains: CedarEntity[][];
  constructor(
    private readonly world: World,
    perms: Map<string, string[]>,
  ) {
    const policies = ROLES.map(
      (role) =>
        `@id("${role}")\npermit (principal is User, action in [${perms
          .get(role)!
          .map((p) => `Action::"${p}"`)
          .join(
            ', ',
          )}], resource is Location)\nwhen { principal has ${role} && resource in principal.${role} };`,
    ).join('\n');
    const parsed = cedar.preparsePolicySet(CEDAR_POLICY_SET, { staticPolicies: policies });
    if (parsed.type !== 'success') throw new Error(`cedar: ${JSON.stringify(parsed.errors)}`);

    const locEntities: CedarEntity[] = world.locIds.map((id, l) => ({
      uid: { type: 'Location', id },
      attrs: {},
      parents: world.parent[l]! >= 0 ? [{ type: 'Location', id: world.locIds[world.parent[l]!]! }] : [],
    }));
    this.chains = world.locIds.map((_, l) => {
      const chain: CedarEntity[] = [];
      for (let x = l; x >= 0; x = world.parent[x]!) chain.push(locEntities[x]!);
      return chain;
    });
    this.users = new Array(world.params.users);
    for (let u = 0; u < world.params.users; u++) {
      const locs: number[] = [];
      const roles: number[] = [];
      for (let i = world.userStart[u]!; i < world.userStart[u + 1]!; i++) {
        locs.push(world.assignLoc[i]!);
        roles.push(world.assignRole[i]!);
      }
      this.users[u] = this.userEntity(world.userIds[u]!, locs, roles);
    }
  }

  userEntity(id: string, locs: readonly number[], roles: readonly number[]): CedarEntity {
    const attrs: Record<string, cedar.CedarValueJson[]> = {};
    locs.forEach((l, i) => {
      const role = ROLES[roles[i]!]!;
      (attrs[role] ??= []).push({ __entity: { type: 'Location', id: this.world.locIds[l]! } });
    });
    return { uid: { type: 'User', id }, attrs, parents: [] };
  }

  /** One authorization; throws if Cedar reports an error (a modelling bug, not a DENY). */
  authorize(user: CedarEntity, l: number, permission: string, strict: boolean): boolean {
    const answer = cedar.statefulIsAuthorized({
      principal: user.uid,
      action: { type: 'Action', id: permission },
      resource: { type: 'Location', id: this.world.locIds[l]! },
      context: {},
      preparsedPolicySetId: CEDAR_POLICY_SET,
      entities: [user, ...this.chains[l]!],
    });
    if (answer.type !== 'success') throw new Error(`cedar: ${JSON.stringify(answer.errors)}`);
    if (strict && answer.response.diagnostics.errors.length) {
      throw new Error(`cedar: ${JSON.stringify(answer.response.diagnostics.errors)}`);
    }
    return answer.response.decision === 'allow';
  }

  engine(): Engine {
    const { users } = this;
    return {
      name: '@cedar-policy/cedar-wasm',
      form: '`statefulIsAuthorized` against a `preparsePolicySet` policy set; user entity + location chain per call',
      check: (u, l, p) => this.authorize(users[u]!, l, PERMISSIONS[p]!, true),
      batch: (w, from, to) => {
        let n = 0;
        for (let i = from; i < to; i++)
          if (this.authorize(users[w.user[i]!]!, w.loc[i]!, PERMISSIONS[w.perm[i]!]!, false)) n++;
        return n;
      },
    };
  }

  /**
   * Not a check: `statefulIsAuthorized` with no entities (always DENY here). The cost of crossing into
   * the wasm module and back, i.e. a lower bound for any Cedar modelling of this world.
   */
  floor(): Engine {
    const { world } = this;
    return {
      name: 'cedar-wasm floor',
      form: 'lower bound, not a check: the same `statefulIsAuthorized` call with an empty entity list',
      check: () => false,
      batch: (w, from, to) => {
        let n = 0;
        for (let i = from; i < to; i++) {
          const answer = cedar.statefulIsAuthorized({
            principal: { type: 'User', id: world.userIds[w.user[i]!]! },
            action: { type: 'Action', id: PERMISSIONS[w.perm[i]!]! },
            resource: { type: 'Location', id: world.locIds[w.loc[i]!]! },
            context: {},
            preparsedPolicySetId: CEDAR_POLICY_SET,
            entities: [],
          });
          if (answer.type === 'success' && answer.response.decision === 'allow') n++;
        }
        return n;
      },
    };
  }

  cold(): ColdBuilder {
    const deep = this.world.branch[this.world.branch.length - 1]!;
    return {
      name: '@cedar-policy/cedar-wasm',
      what: "the user's entity JSON from the 20 assignments + first `statefulIsAuthorized` at the depth-8 location",
      build: (c) =>
        this.authorize(this.userEntity(c.userId, c.locs, c.roles), deep, 'booking:manage', false) ? 1 : 0,
    };
  }
}
