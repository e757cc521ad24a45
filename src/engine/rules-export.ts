import { andInto, bitIndexes, emptyBits, hasAll, hasBit, isEmpty, orInto, setBit, type Bits } from './bitset';
import type { CompiledCatalog } from './compile';
import { outcomeOfPolicy } from './decide';
import type { CheckScope, RestrictedGrant, UserGrants } from './grants';
import type { ToolPolicies } from './types';

/**
 * A user's grants as rules for a client-side library (CASL's `createMongoAbility`), so that the client
 * decides exactly as `decide` would, for any resource, without asking.
 *
 * The resource a client builds (every field optional; a missing field matches no condition on it):
 *
 *   { locationPath: [locationId, parentId, …],  // the location and every ancestor (the root's id may be
 *                                               // there or not); missing or [] = the organization root
 *     teamIds: [teamId, …],                     // teams of a team-based resource (rule 3)
 *     personId: 'staff-7',                      // the staff person of the resource (rule 5)
 *     groupIds: ['g1', …] }                     // the staff groups of the resource (rule 5)
 *
 * Actions: `module:action` as `check` takes it; `page:<key>` and `nav:<key>` (decided as pages are:
 * restricted assignments count whatever the resource); `tool:<name>` only when a check of the tool is
 * ALLOW, and `request_approval:tool:<name>` when it is REQUIRES_APPROVAL (a tool whose outcome is DENY
 * has neither). Every rule's subject is `all`, so any subject type (or a plain object) is decided.
 *
 * How it stays exact and small. The effective set is monotone in the assignments that apply (rules
 * 1–7: more grants never take one away; dependencies are kept only when all their requirements are
 * effective, which more grants cannot undo). So each rule says "where at least these apply, at least
 * these are effective": a *context* is a conjunction of conditions (a location the user holds
 * something at, one team, a person, some groups), its permissions are the engine's own effective set
 * for a resource with exactly those attributes, and a rule lists only what the contexts below it (an
 * ancestor location, no team, fewer of person and groups) do not already give. Every rule is sound on
 * its own (a resource meeting its conditions gets at least that set); together they are complete:
 * a resource's answer is the context of its nearest assigned location, its team and the persons and
 * groups the user's restricted assignments name, and a permission P effective there needs at most one
 * matching person or group per permission in P's requirement closure (the permission and everything it
 * requires, transitively), so contexts with at most that many (`k`, the catalog's largest closure;
 * 1 without dependencies) of person and groups reach it. Without dependencies the effective set is also
 * additive, so a team is then asked about at the root alone.
 *
 * Pure: no I/O. The paths of the locations the user's assignments name come from the caller.
 */

/** The conditions a rule may carry: a conjunction, each on one field of the resource. */
export interface ResourceConditions {
  /** The resource is at (or below) this location; `$in`: at or below one of these. */
  locationPath?: string | { $in: string[] };
  /** The resource belongs to this team. */
  teamIds?: string;
  personId?: string;
  /** The resource is in this group; `$all`: in every one of these. */
  groupIds?: string | { $all: string[] };
}

/** One rule, in CASL's raw form (`RawRule`): allowed, never inverted, no fields. */
export interface ExportedRule {
  action: string[];
  subject: 'all';
  conditions?: ResourceConditions;
}

export interface RulesExport {
  rules: ExportedRule[];
  /**
   * The earliest expiry (epoch ms) among the assignments that count now; Infinity when none expires.
   * From then on the rules may grant too much: fetch them again before.
   */
  validUntil: number;
  /** How many contexts were worked out (a measure of the work, for tests and benchmarks). */
  contexts: number;
}

export interface RulesExportOptions {
  /**
   * The path of each location the user's assignments name: the location first, then its ancestors up
   * to (not including) the root, as the engine takes it. A location missing here no longer exists: its
   * assignments are left out (no resource can be under it).
   */
  paths: ReadonlyMap<string, readonly string[]>;
  /** The organization's tool policies (rule 9). Default: the catalog's. */
  policies?: ToolPolicies;
  /** At most this many contexts are worked out, or `RulesExportLimitError`. Default 50,000. */
  maxContexts?: number;
}

/** The action a tool's REQUIRES_APPROVAL is exported as: the user may ask for approval, not use it. */
export const REQUEST_APPROVAL_PREFIX = 'request_approval:';

/** Too many contexts to export (many restricted assignments naming many groups, in many teams). */
export class RulesExportLimitError extends Error {
  override name = 'RulesExportLimitError';
  constructor() {
    super(
      'too many combinations of locations, teams and restricted assignments to export as rules: decide with checks instead',
    );
  }
}

const DEFAULT_MAX_CONTEXTS = 50_000;

/** A context: a location the user holds something at (null: the root), a team, a person, groups. */
interface Context {
  location: string | null;
  team: string | null;
  person: string | null;
  /** Sorted. */
  groups: string[];
}

/** The user's rules, exactly as `decide` would answer (see the file's comment). */
export function exportRules(
  catalog: CompiledCatalog,
  grants: UserGrants,
  options: RulesExportOptions,
): RulesExport {
  if (!grants.active) return { rules: [], validUntil: Infinity, contexts: 0 };
  const { paths, policies = {}, maxContexts = DEFAULT_MAX_CONTEXTS } = options;
  const words = catalog.words;

  // Locations the user holds something at (and that still exist), and the nearest such ancestor of each.
  const named = new Set<string>(grants.byLocation.keys());
  for (const r of grants.restricted) if (r.locationId) named.add(r.locationId);
  const anchors = [...named].filter((id) => paths.has(id)).sort();
  const anchorSet = new Set(anchors);
  const parentAnchor = new Map<string, string | null>();
  for (const a of anchors) {
    const path = paths.get(a)!;
    parentAnchor.set(a, path.slice(1).find((id) => anchorSet.has(id)) ?? null);
  }
  const pathOf = (location: string | null): readonly string[] =>
    location === null ? [] : paths.get(location)!;

  const teams = [
    ...new Set([...grants.byTeam.keys(), ...grants.restricted.flatMap((r) => (r.teamId ? [r.teamId] : []))]),
  ].sort();
  const k = largestClosure(catalog);
  const restrictionsAt = restrictionIndex(grants);
  // Without dependencies the effective set is additive: a team adds at a location nothing it does not
  // add at the root, so teams are asked about at the root alone.
  const teamLocations = catalog.dependencies.length ? [null, ...anchors] : [null];

  // The engine's own effective sets, per context (and for pages, per location and team).
  // Plain contexts (no person, no groups) by team then location: most of the work, no string keys.
  const plainMemo = [
    new Map<string | null, Map<string | null, Bits>>(),
    new Map<string | null, Map<string | null, Bits>>(),
  ];
  const memo = new Map<string, Bits>();
  const effective = (c: Context, ui: boolean): Bits => {
    const plain = c.person === null && c.groups.length === 0;
    let byLocation: Map<string | null, Bits> | undefined;
    let key = '';
    let set: Bits | undefined;
    if (plain) {
      const byTeam = plainMemo[ui ? 1 : 0]!;
      byLocation = byTeam.get(c.team);
      if (!byLocation) byTeam.set(c.team, (byLocation = new Map()));
      set = byLocation.get(c.location);
    } else {
      key = JSON.stringify([ui, c.location, c.team, c.person, c.groups]);
      set = memo.get(key);
    }
    if (!set) {
      const scope: CheckScope = {
        locationPath: pathOf(c.location),
        teamIds: c.team ? [c.team] : [],
        personId: c.person,
        groupIds: c.groups,
      };
      // The engine's own set; shared (memoized there for plain scopes): never modified here.
      set = grants.effective(scope, ui);
      if (byLocation) byLocation.set(c.location, set);
      else memo.set(key, set);
    }
    return set;
  };
  /** What `c` adds to the contexts right below it (each lower one is below one of these), into `out`. */
  const fresh = (out: Bits, c: Context, ui: boolean): Bits => {
    out.set(effective(c, ui));
    const minus = (b: Context) => {
      const lower = effective(b, ui);
      for (let i = 0; i < words; i++) out[i]! &= ~lower[i]!;
    };
    if (c.location !== null) minus({ ...c, location: parentAnchor.get(c.location)! });
    if (c.team !== null) minus({ ...c, team: null });
    if (!ui) {
      if (c.person !== null) minus({ ...c, person: null });
      for (let i = 0; i < c.groups.length; i++) minus({ ...c, groups: c.groups.filter((_, j) => j !== i) });
    }
    return out;
  };
  const added = emptyBits(words);
  const addedUi = emptyBits(words);

  const toolActions = [...catalog.tools.values()].flatMap((tool) => {
    const outcome = outcomeOfPolicy(catalog.toolMode(tool, policies).mode);
    if (outcome === 'DENY') return [];
    const action = outcome === 'ALLOW' ? `tool:${tool.name}` : `${REQUEST_APPROVAL_PREFIX}tool:${tool.name}`;
    return [{ bit: tool.bit, action }];
  });
  const doc = catalog.catalog.document;
  const uiActions = [
    ...Object.keys(doc.pages ?? {}).map((key) => `page:${key}`),
    ...Object.keys(doc.navigation ?? {}).map((key) => `nav:${key}`),
  ].map((action) => ({ bit: catalog.resolve(action).bit, action }));
  // What is exported from each set: `module:action` (tools follow one) from the resource set, page and
  // navigation entries from the pages' set.
  const resourceMask = emptyBits(words);
  catalog.keys.forEach((key, bit) => {
    if (!key.startsWith('page:') && !key.startsWith('nav:')) setBit(resourceMask, bit);
  });
  const uiMask = emptyBits(words);
  for (const u of uiActions) setBit(uiMask, u.bit);
  const actionsOf = (set: Bits, uiSet: Bits | null): string[] => {
    const out = bitIndexes(set)
      .map((bit) => catalog.keys[bit]!)
      .filter((key) => !key.startsWith('page:') && !key.startsWith('nav:'));
    for (const t of toolActions) if (hasBit(set, t.bit)) out.push(t.action);
    if (uiSet) for (const u of uiActions) if (hasBit(uiSet, u.bit)) out.push(u.action);
    return out;
  };

  // Rules with the same actions and the same conditions but their location become one, `$in`.
  const grouped = new Map<string, { action: string[]; rest: ResourceConditions; locations: string[] }>();
  const rootRules: ExportedRule[] = [];
  let contexts = 0;

  for (const team of [null, ...teams]) {
    for (const location of team === null ? [null, ...anchors] : teamLocations) {
      const { persons, groups } = restrictionsAt(pathOf(location), team);
      for (const { person, groups: chosen } of combinations(persons, groups, k)) {
        if (++contexts > maxContexts) throw new RulesExportLimitError();
        const c: Context = { location, team, person, groups: chosen };
        const plain = person === null && chosen.length === 0;
        fresh(added, c, false);
        andInto(added, resourceMask);
        if (plain) andInto(fresh(addedUi, c, true), uiMask);
        else addedUi.fill(0);
        if (isEmpty(added) && isEmpty(addedUi)) continue;
        // Grouped by what the context adds (its bits) and its other conditions: the actions are
        // worked out once per group.
        const bits = `${added.join(',')}|${addedUi.join(',')}`;
        const key = team === null && plain ? bits : JSON.stringify([team, person, chosen, bits]);
        const group = location === null ? undefined : grouped.get(key);
        if (group) {
          group.locations.push(location!);
          continue;
        }
        const rest: ResourceConditions = {};
        if (team !== null) rest.teamIds = team;
        if (person !== null) rest.personId = person;
        if (chosen.length) rest.groupIds = chosen.length === 1 ? chosen[0]! : { $all: chosen };
        const action = actionsOf(added, plain ? addedUi : null);
        if (location === null) {
          rootRules.push(
            Object.keys(rest).length
              ? { action, subject: 'all', conditions: rest }
              : { action, subject: 'all' },
          );
          continue;
        }
        grouped.set(key, { action, rest, locations: [location] });
      }
    }
  }

  const rules = [...rootRules];
  for (const { action, rest, locations } of grouped.values()) {
    const locationPath = locations.length === 1 ? locations[0]! : { $in: locations };
    rules.push({ action, subject: 'all', conditions: { locationPath, ...rest } });
  }
  return { rules, validUntil: grants.validUntil, contexts };
}

/**
 * Rules in CASL's packed form (`packRules` of `@casl/ability/extra`): `[actions, subject, conditions]`,
 * actions joined by commas, the conditions left out when there are none. `unpackRules` reads it back.
 */
export function packRules(rules: readonly ExportedRule[]): (string | ResourceConditions)[][] {
  return rules.map((r) =>
    r.conditions ? [r.action.join(','), r.subject, r.conditions] : [r.action.join(','), r.subject],
  );
}

/**
 * The persons and groups named by the restricted assignments that apply at a location (given by its
 * path), in a team (null: none). Built once: restricted assignments by location and by team.
 */
function restrictionIndex(
  grants: UserGrants,
): (path: readonly string[], team: string | null) => { persons: string[]; groups: string[] } {
  const none = { persons: [], groups: [] };
  if (!grants.restricted.length) return () => none;
  const byScope = new Map<string, RestrictedGrant[]>();
  for (const r of grants.restricted) {
    const key = r.teamId ? `t:${r.teamId}` : r.locationId ? `l:${r.locationId}` : 'org';
    const list = byScope.get(key);
    if (list) list.push(r);
    else byScope.set(key, [r]);
  }
  return (path, team) => {
    const persons = new Set<string>();
    const groups = new Set<string>();
    const add = (list: RestrictedGrant[] | undefined) => {
      for (const r of list ?? []) {
        if (r.personId != null) persons.add(r.personId);
        for (const g of r.groupIds) groups.add(g);
      }
    };
    add(byScope.get('org'));
    for (const id of path) add(byScope.get(`l:${id}`));
    if (team !== null) add(byScope.get(`t:${team}`));
    return persons.size || groups.size ? { persons: [...persons].sort(), groups: [...groups].sort() } : none;
  };
}

/** The one combination where no restricted assignment applies. */
const NONE: readonly { person: string | null; groups: string[] }[] = [{ person: null, groups: [] }];

/**
 * Every choice of at most one person and some groups, at most `k` in all (none first): a permission
 * needs at most one matching person or group per permission of its requirement closure.
 */
function combinations(
  persons: readonly string[],
  groups: readonly string[],
  k: number,
): readonly { person: string | null; groups: string[] }[] {
  if (!persons.length && !groups.length) return NONE;
  const out: { person: string | null; groups: string[] }[] = [];
  for (const person of [null, ...persons]) {
    const room = k - (person === null ? 0 : 1);
    const chosen: string[] = [];
    const pick = (from: number) => {
      out.push({ person, groups: [...chosen] });
      if (chosen.length >= room) return;
      for (let i = from; i < groups.length; i++) {
        chosen.push(groups[i]!);
        pick(i + 1);
        chosen.pop();
      }
    };
    pick(0);
  }
  return out;
}

/** The size of the largest requirement closure (a permission and all it requires, transitively). */
function largestClosure(catalog: CompiledCatalog): number {
  const closures = new Map<number, Bits>();
  let largest = 1;
  // Requirements come first in `dependencies`, so their closures are known when needed.
  for (const dep of catalog.dependencies) {
    const closure = Uint32Array.from(dep.requires);
    setBit(closure, dep.bit);
    for (const bit of bitIndexes(dep.requires)) {
      const sub = closures.get(bit);
      if (sub && !hasAll(closure, sub)) orInto(closure, sub);
    }
    closures.set(dep.bit, closure);
    largest = Math.max(largest, bitIndexes(closure).length);
  }
  return largest;
}
