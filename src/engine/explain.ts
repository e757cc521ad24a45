import { own } from '../catalog/validate';
import type { CompiledCatalog, CompiledRole } from './compile';
import { outcomeOfPolicy } from './decide';
import { fitsScope, isRestricted } from './grants';
import type { Assignment, CheckRequest, Outcome, Subject, ToolPolicies } from './types';

/** Where an assignment applies, relative to the checked location. */
export type GrantScope =
  | { type: 'org' }
  | {
      type: 'location';
      locationId: string;
      /** Given at an ancestor and cascading down (rule 2). */ cascaded: boolean;
    }
  | { type: 'team'; teamId: string };

/** One way a permission is, or would have been, granted. */
export interface GrantSource {
  kind: 'assignment' | 'flag';
  assignmentId?: string;
  /** The role assigned. */
  role?: string;
  /** The inheritance steps from the assigned role to the role whose grants name the permission (rule 1). */
  via?: string[];
  /** How that role names it: the permission itself, `module:*`, or `minRole of page:x`. */
  grantedAs?: string;
  scope?: GrantScope;
  restriction?: { personId?: string; groupIds?: string[] };
  flag?: string;
}

/** A grant that did not count here, and why. */
export interface IgnoredGrant extends GrantSource {
  why: string;
}

export interface PermissionExplanation {
  permission: string;
  effective: boolean;
  /** What granted it here (rules 1–6). */
  grantedBy: GrantSource[];
  /** Assignments that would grant it but do not count here: expired, elsewhere, restricted, flag missing. */
  ignored: IgnoredGrant[];
  /** Set when roles grant it only while a flag is on (rule 6). */
  requiresFlag?: { flag: string; present: boolean };
  /** Set when a flag grants it on its own (rule 6). */
  grantedByFlag?: { flag: string; present: boolean };
  /** One entry per required permission (rule 7). */
  requires: PermissionExplanation[];
}

export interface Explanation {
  /** As asked: `module:action`, `page:x`, `nav:x` or `tool:name`. */
  permission: string;
  outcome: Outcome;
  allowed: boolean;
  /** One sentence for people; the same text as a decision's `reason`. */
  summary: string;
  user: { id: string; locked: boolean; deleted: boolean };
  /** When the check is for an agent tool (rule 9). */
  tool?: { name: string; permission: string; policy: string; policySource: 'organization' | 'catalog' };
  /** When a `page:`/`nav:` entry follows another permission. */
  follows?: string;
  /**
   * When the resource names teams: the team it was judged in (rule 3: each named team alone, with the
   * organization and location grants). The first named team where it holds; when it holds in none, the
   * first where something grants it, else the first named.
   */
  team?: string;
  detail: PermissionExplanation;
}

/**
 * Explains a decision from the raw subject. Computed independently of the bitset path in
 * `UserGrants`, so that the two can be checked against each other.
 */
export function explain(
  catalog: CompiledCatalog,
  subject: Subject,
  req: CheckRequest,
  options: { now: number; policies?: ToolPolicies; names?: Names },
): Explanation {
  const { tool, ui } = catalog.resolve(req.permission); // throws on unknown names
  const target = tool ? tool.permission : (catalog.aliasOf(req.permission) ?? req.permission);
  const named = [...new Set(req.teamIds ?? [])];
  // Rule 3: each named team is judged alone; the first where the permission holds decides.
  const judged = named.length
    ? named.map((team) => ({ team, detail: explainIn(catalog, subject, req, team, ui, options.now)(target) }))
    : [{ team: undefined, detail: explainIn(catalog, subject, req, undefined, ui, options.now)(target) }];
  const { team, detail } =
    judged.find((j) => j.detail.effective) ?? judged.find((j) => j.detail.grantedBy.length) ?? judged[0]!;

  let outcome: Outcome = detail.effective ? 'ALLOW' : 'DENY';
  let toolInfo: Explanation['tool'];
  if (tool) {
    const { mode, overridden } = catalog.toolMode(tool, options.policies);
    toolInfo = {
      name: tool.name,
      permission: tool.permission,
      policy: mode,
      policySource: overridden ? 'organization' : 'catalog',
    };
    if (detail.effective) outcome = outcomeOfPolicy(mode);
  }
  const follows = !tool && target !== req.permission ? target : undefined;
  return {
    permission: req.permission,
    outcome,
    allowed: outcome === 'ALLOW',
    summary: summarize(
      subject,
      detail,
      outcome,
      toolInfo,
      follows,
      team === undefined ? [] : named,
      labels(catalog, options.names),
    ),
    user: { id: subject.userId, locked: !!subject.locked, deleted: !!subject.deleted },
    ...(toolInfo ? { tool: toolInfo } : {}),
    ...(follows ? { follows } : {}),
    ...(team !== undefined ? { team } : {}),
    detail,
  };
}

/**
 * Explains permissions (rules 1, 2 and 4–8) with the organization and location grants plus, when
 * `team` is given, the grants of that one team (rule 3); memoized per permission. `ui`: the check is
 * for a page or navigation module, not a resource (rule 5).
 */
function explainIn(
  catalog: CompiledCatalog,
  subject: Subject,
  req: CheckRequest,
  team: string | undefined,
  ui: boolean,
  now: number,
): (permission: string) => PermissionExplanation {
  const active = !subject.locked && !subject.deleted;
  const flags = new Set(subject.flags ?? []);
  const memo = new Map<string, PermissionExplanation>();

  const explainPermission = (permission: string): PermissionExplanation => {
    const known = memo.get(permission);
    if (known) return known;
    const spec = permissionSpec(catalog, permission);
    const out: PermissionExplanation = {
      permission,
      effective: false,
      grantedBy: [],
      ignored: [],
      requires: [],
    };
    memo.set(permission, out);
    if (spec?.grantedByFlag) {
      const present = flags.has(spec.grantedByFlag);
      out.grantedByFlag = { flag: spec.grantedByFlag, present };
      if (present) {
        const source: GrantSource = { kind: 'flag', flag: spec.grantedByFlag };
        if (active) out.grantedBy.push(source);
        else out.ignored.push({ ...source, why: inactiveWhy(subject) });
      }
    }
    if (spec?.requiresFlag)
      out.requiresFlag = { flag: spec.requiresFlag, present: flags.has(spec.requiresFlag) };

    for (const a of subject.assignments) {
      const role = catalog.roles.get(a.role);
      const found = role && findGrant(catalog, role, permission);
      if (!role || !found) continue;
      const source: GrantSource = {
        kind: 'assignment',
        assignmentId: a.id,
        role: role.key,
        via: found.via,
        grantedAs: found.as,
        scope: scopeOf(a, req),
        ...(isRestricted(a) ? { restriction: restrictionOf(a) } : {}),
      };
      const why = whyNotCounted(role, a, req, { team, ui, ownPerson: found.ownPerson }, now, subject, out);
      if (why) out.ignored.push({ ...source, why });
      else out.grantedBy.push(source);
    }

    out.requires = (spec?.requires ?? []).map(explainPermission);
    out.effective = active && out.grantedBy.length > 0 && out.requires.every((r) => r.effective);
    return out;
  };
  return explainPermission;
}

function permissionSpec(catalog: CompiledCatalog, permission: string) {
  const [module, action] = permission.split(':') as [string, string];
  return own(own(catalog.catalog.document.permissions, module), action);
}

/**
 * The shortest inheritance path from `role` to a role that names `permission` in its grants (or is a
 * page's minRole), breadth first so the explanation shows the nearest source; failing that, in its
 * `ownPersonGrants` (`ownPerson`: held only for the person the assignment is restricted to).
 */
function findGrant(
  catalog: CompiledCatalog,
  role: CompiledRole,
  permission: string,
): { via: string[]; as: string; ownPerson: boolean } | undefined {
  const [module, action] = permission.split(':') as [string, string];
  const doc = catalog.catalog.document;
  const entries = module === 'page' ? doc.pages : module === 'nav' ? doc.navigation : undefined;
  const minRole = own(entries, action)?.minRole;
  // `module:*` never covers what a flag alone grants (catalog validation keeps roles off those).
  const names = (grants: readonly string[]) =>
    grants.includes(permission)
      ? permission
      : grants.includes(`${module}:*`) && !catalog.grantedByFlagOnly(permission)
        ? `${module}:*`
        : undefined;
  const search = (ownPerson: boolean) => {
    const queue: { key: string; via: string[] }[] = [{ key: role.key, via: [role.key] }];
    const seen = new Set<string>();
    while (queue.length) {
      const { key, via } = queue.shift()!;
      if (seen.has(key)) continue;
      seen.add(key);
      const r = catalog.roles.get(key);
      if (!r) continue;
      const as = names((ownPerson ? r.spec.ownPersonGrants : r.spec.grants) ?? []);
      if (as) return { via, as: ownPerson ? `ownPersonGrants: ${as}` : as, ownPerson };
      if (!ownPerson && minRole === key) return { via, as: `minRole of ${permission}`, ownPerson };
      for (const parent of r.spec.inherits ?? []) queue.push({ key: parent, via: [...via, parent] });
    }
    return undefined;
  };
  return search(false) ?? search(true);
}

function scopeOf(a: Assignment, req: CheckRequest): GrantScope {
  if (a.teamId) return { type: 'team', teamId: a.teamId };
  if (a.locationId) {
    const path = req.locationPath ?? [];
    return { type: 'location', locationId: a.locationId, cascaded: path.indexOf(a.locationId) > 0 };
  }
  return { type: 'org' };
}

function restrictionOf(a: Assignment): { personId?: string; groupIds?: string[] } {
  return {
    ...(a.personId != null ? { personId: a.personId } : {}),
    ...(a.groupIds?.length ? { groupIds: [...a.groupIds] } : {}),
  };
}

function inactiveWhy(subject: Subject): string {
  return subject.deleted ? 'the user is deleted' : 'the user is locked';
}

/**
 * Why an assignment whose role grants the permission does not count here; undefined when it counts.
 * `team`: the team judged (rule 3); `ui`: the check is for a page or navigation module; `ownPerson`:
 * the role grants it only for the person the assignment is restricted to.
 */
function whyNotCounted(
  role: CompiledRole,
  a: Assignment,
  req: CheckRequest,
  how: { team: string | undefined; ui: boolean; ownPerson: boolean },
  now: number,
  subject: Subject,
  out: PermissionExplanation,
): string | undefined {
  const { team, ui, ownPerson } = how;
  const requiresFlag = out.requiresFlag;
  if (subject.locked || subject.deleted) return inactiveWhy(subject);
  if (a.expiresAt != null && a.expiresAt <= now)
    return `the assignment expired at ${new Date(a.expiresAt).toISOString()}`;
  if (!fitsScope(role, a)) return `a ${role.kind} role cannot be assigned at this scope`;
  if (a.teamId && !(req.teamIds ?? []).includes(a.teamId)) {
    return `given in team ${a.teamId}, which the resource does not name`;
  }
  if (a.teamId && a.teamId !== team) {
    return `given in team ${a.teamId}, and this is judged in team ${team}: roles in different teams are not summed`;
  }
  if (a.teamId && !(subject.memberOf ?? []).includes(a.teamId)) {
    return `the user is not a member of team ${a.teamId}`;
  }
  if (a.locationId && !(req.locationPath ?? []).includes(a.locationId)) {
    return `given at location ${a.locationId}, which is neither this location nor above it`;
  }
  // Rule 5: pages and navigation modules are not resources; restrictions limit the rest.
  const notResource = ui || out.permission.startsWith('page:') || out.permission.startsWith('nav:');
  if (ownPerson) {
    if (a.personId == null)
      return 'granted only for the staff person an assignment is restricted to, and this one names none';
    if (!ui && req.personId !== a.personId)
      return `granted only for ${a.personId}, the person the assignment is restricted to, which is not the resource's`;
  } else if (isRestricted(a) && !notResource) {
    const personOk = a.personId != null && req.personId === a.personId;
    const groupOk = (req.groupIds ?? []).some((g) => a.groupIds?.includes(g));
    if (!personOk && !groupOk) return 'restricted to a person or groups that the resource does not match';
  }
  if (requiresFlag && !requiresFlag.present) return `roles grant it only with the flag ${requiresFlag.flag}`;
  return undefined;
}

/**
 * Names for a summary's ids. With them a summary says `role Owner (owner) at London (<id>)`; without
 * them (the engine alone) it says `role owner at <id>`.
 */
export interface Names {
  location(id: string): string | undefined;
  team(id: string): string | undefined;
}

interface Labels {
  role(key: string): string;
  location(id: string): string;
  team(id: string): string;
  flag(key: string): string;
}

function labels(catalog: CompiledCatalog, names?: Names): Labels {
  if (!names) return { role: (k) => k, location: (id) => id, team: (id) => id, flag: (k) => k };
  const named = (name: string | undefined, id: string) => (name ? `${name} (${id})` : id);
  return {
    role: (k) => named(catalog.roles.get(k)?.name, k),
    location: (id) => named(names.location(id), id),
    team: (id) => named(names.team(id), id),
    flag: (k) => named(catalog.catalog.document.flags?.[k]?.name, k),
  };
}

function describe(source: GrantSource, label: Labels): string {
  if (source.kind === 'flag') return `the flag ${label.flag(source.flag ?? '')}`;
  const via =
    source.via && source.via.length > 1
      ? ` (inheriting ${source.via.slice(1).map(label.role).join(' → ')})`
      : '';
  const scope = source.scope;
  const where =
    !scope || scope.type === 'org'
      ? 'organization-wide'
      : scope.type === 'team'
        ? `in team ${label.team(scope.teamId)}`
        : scope.cascaded
          ? `at ${label.location(scope.locationId)}, cascading here`
          : `at ${label.location(scope.locationId)}`;
  return `role ${label.role(source.role ?? '')}${via} ${where}`;
}

function firstMissing(p: PermissionExplanation): PermissionExplanation | undefined {
  return p.requires.find((r) => !r.effective);
}

function summarize(
  subject: Subject,
  detail: PermissionExplanation,
  outcome: Outcome,
  tool: Explanation['tool'],
  follows: string | undefined,
  teams: readonly string[],
  label: Labels,
): string {
  const what = tool
    ? `tool ${tool.name} (${detail.permission})`
    : follows
      ? `${follows} (followed by this entry)`
      : detail.permission;
  if (subject.locked || subject.deleted) return `denied: ${inactiveWhy(subject)}`;
  if (!detail.effective) {
    if (!detail.grantedBy.length) {
      const near = detail.ignored[0];
      return near
        ? `denied: no grant of ${what} counts here; ${describe(near, label)} does not: ${near.why}`
        : `denied: nothing grants ${what}`;
    }
    let missing = firstMissing(detail);
    const chain = [missing!.permission];
    while (missing && missing.grantedBy.length && firstMissing(missing)) {
      missing = firstMissing(missing);
      chain.push(missing!.permission);
    }
    const where =
      teams.length > 1
        ? ` in any one of the teams ${teams.map(label.team).join(', ')} (each is judged alone)`
        : teams.length
          ? ` in team ${label.team(teams[0]!)}`
          : ' here';
    return `denied: ${detail.permission} requires ${chain.join(', which requires ')}, which is not effective${where}`;
  }
  const by = `granted by ${describe(detail.grantedBy[0]!, label)}`;
  if (tool) {
    if (outcome === 'ALLOW') return `allowed: ${what} ${by}; policy auto`;
    if (outcome === 'REQUIRES_APPROVAL') return `requires approval: ${what} ${by}; policy require_approval`;
    return `denied: ${what} ${by}, but the tool's policy is ${tool.policy}`;
  }
  return `allowed: ${what} ${by}`;
}
