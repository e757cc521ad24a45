import type {
  CatalogDocument,
  PermissionSpec,
  RoleSpec,
  ToolMode,
  ToolSpec,
  UiEntrySpec,
} from '../../src/catalog';
import type { Assignment, CheckRequest, Outcome, Subject, ToolPolicies } from '../../src/engine';

/**
 * A deliberately naive evaluator of the resolution rules (SPEC.md, "Resolution rules"), written
 * straight from the rules and sharing nothing with the engine but the input types: no compilation,
 * no bitsets, no memo. Every question walks the catalog document again: the role inheritance graph
 * recursively for each assignment, the `requires` graph recursively for each dependency.
 *
 * Slow on purpose; clarity is the point.
 */

/** The reference's own "unknown permission" signal (never ALLOW or DENY for a name the catalog lacks). */
export class ReferenceUnknownPermission extends Error {
  constructor(readonly permission: string) {
    super(`reference: unknown permission "${permission}"`);
    this.name = 'ReferenceUnknownPermission';
  }
}

/** `obj[key]` only when `key` is the object's own property (so `constructor` is not Object's). */
function own<T>(obj: Readonly<Record<string, T>> | undefined | null, key: string): T | undefined {
  if (obj == null || !Object.prototype.hasOwnProperty.call(obj, key)) return undefined;
  return obj[key];
}

function splitName(name: string): [string, string] | undefined {
  const at = name.indexOf(':');
  if (at < 0) return undefined;
  return [name.slice(0, at), name.slice(at + 1)];
}

export function referenceDecide(
  doc: CatalogDocument,
  customRoles: Readonly<Record<string, RoleSpec>>,
  subject: Subject,
  request: CheckRequest,
  now: number,
  policies: ToolPolicies = {},
): Outcome {
  // --- What is asked: a permission, a page/nav entry (possibly an alias), or a tool (rule 9). ---
  const parts = splitName(request.permission);
  if (!parts) throw new ReferenceUnknownPermission(request.permission);
  const [prefix, rest] = parts;
  let permission: string;
  let toolName: string | undefined;
  let tool: ToolSpec | undefined;
  if (prefix === 'tool') {
    tool = own(doc.tools, rest);
    if (!tool) throw new ReferenceUnknownPermission(request.permission);
    toolName = rest;
    permission = tool.permission;
  } else if (prefix === 'page' || prefix === 'nav') {
    const entry: UiEntrySpec | undefined = own(prefix === 'page' ? doc.pages : doc.navigation, rest);
    if (!entry) throw new ReferenceUnknownPermission(request.permission);
    permission = entry.permission ?? request.permission; // an alias is exactly its permission
  } else {
    if (!own(own(doc.permissions, prefix), rest)) throw new ReferenceUnknownPermission(request.permission);
    permission = request.permission;
  }

  // --- Rule 5: pages and navigation modules (followed permissions included) are not resources. ---
  const uiCheck = prefix === 'page' || prefix === 'nav';

  // --- Rule 8: a locked or deleted user holds nothing. ---
  const active = !subject.locked && !subject.deleted;
  // --- Rule 3: with teams named, the permission holds if it holds in at least one of them, judged on
  // the org and location grants plus that one team's grants (dependencies included), never a sum. ---
  const named = request.teamIds ?? [];
  const held =
    active &&
    (named.length ? named.some((team) => isEffective(permission, team)) : isEffective(permission, null));

  if (!held) return 'DENY';
  if (!tool) return 'ALLOW';
  const mode: ToolMode = own(policies, toolName!) ?? tool.policy;
  if (mode === 'auto') return 'ALLOW';
  if (mode === 'require_approval') return 'REQUIRES_APPROVAL';
  return 'DENY';

  // ------------------------------------------------------------------------------------------

  function roleSpec(key: string): RoleSpec | undefined {
    return own(customRoles, key) ?? own(doc.roles, key);
  }

  function permissionSpec(name: string): PermissionSpec | undefined {
    const p = splitName(name);
    if (!p) return undefined;
    return own(own(doc.permissions, p[0]), p[1]);
  }

  /** Rule 1: does `roleKey`, or any role it inherits (transitively), grant `name`? */
  function roleGrants(roleKey: string, name: string, seen: string[] = []): boolean {
    if (seen.includes(roleKey)) return false; // defensive; inheritance is acyclic
    const role = roleSpec(roleKey);
    if (!role) return false;
    const module = splitName(name)![0];
    const grants = role.grants ?? [];
    if (grants.includes(name)) return true;
    // `module:*` is every action a role may grant: never one a flag alone grants.
    if (grants.includes(`${module}:*`) && !permissionSpec(name)?.grantedByFlag) return true;
    // A page/nav entry with minRole R is granted to R.
    const entryKey = splitName(name)![1];
    const entries = module === 'page' ? doc.pages : module === 'nav' ? doc.navigation : undefined;
    const entry = own(entries, entryKey);
    if (entry && entry.minRole === roleKey) return true;
    for (const parent of role.inherits ?? []) {
      if (roleGrants(parent, name, [...seen, roleKey])) return true;
    }
    return false;
  }

  /** Rule 1, for the grants held only for an assignment's own person (`ownPersonGrants`). */
  function roleGrantsForOwnPerson(roleKey: string, name: string, seen: string[] = []): boolean {
    if (seen.includes(roleKey)) return false;
    const role = roleSpec(roleKey);
    if (!role) return false;
    const module = splitName(name)![0];
    const grants = role.ownPersonGrants ?? [];
    if (grants.includes(name)) return true;
    if (grants.includes(`${module}:*`) && !permissionSpec(name)?.grantedByFlag) return true;
    for (const parent of role.inherits ?? []) {
      if (roleGrantsForOwnPerson(parent, name, [...seen, roleKey])) return true;
    }
    return false;
  }

  /**
   * Whether an assignment's role grants `name` here, judged in `team` (null: no team): the assignment
   * counts (rules 2, 3, 5, 8 and the scope fit) and its role grants it (rule 1), or the role grants it
   * for the assignment's own person and the resource is that person's (rule 5).
   */
  function grantsHere(a: Assignment, team: string | null, name: string): boolean {
    if (!inScope(a, team)) return false;
    // Rule 5: a page or navigation module is not a resource, whatever the assignment is restricted to.
    const nameIsUi = name.startsWith('page:') || name.startsWith('nav:');
    if (roleGrants(a.role, name) && (uiCheck || nameIsUi || matchesResource(a))) return true;
    const person = a.personId !== undefined && a.personId !== null ? a.personId : undefined;
    return (
      person !== undefined && (uiCheck || request.personId === person) && roleGrantsForOwnPerson(a.role, name)
    );
  }

  /** Rule 5: an assignment restricted to a person or groups counts only for a matching resource. */
  function matchesResource(a: Assignment): boolean {
    const groups = a.groupIds ?? [];
    const restricted = (a.personId !== undefined && a.personId !== null) || groups.length > 0;
    if (!restricted) return true;
    const personMatches =
      a.personId !== undefined &&
      a.personId !== null &&
      request.personId !== undefined &&
      a.personId === request.personId;
    const groupMatches = groups.some((g) => (request.groupIds ?? []).includes(g));
    return personMatches || groupMatches;
  }

  /**
   * Whether an assignment applies to this request, judged in `team` (null: no team), restrictions
   * aside (rules 2, 3, 8 and the scope fit).
   */
  function inScope(a: Assignment, team: string | null): boolean {
    if (a.expiresAt !== undefined && a.expiresAt !== null && a.expiresAt <= now) return false;
    const role = roleSpec(a.role);
    if (!role) return false;
    const hasLocation = a.locationId !== undefined && a.locationId !== null;
    const hasTeam = a.teamId !== undefined && a.teamId !== null;
    if (hasLocation && hasTeam) return false;
    if (role.kind === 'org' && (hasLocation || hasTeam)) return false;
    if (role.kind === 'location' && hasTeam) return false;
    if (role.kind === 'team' && !hasTeam) return false;

    if (hasTeam) {
      // Only the team being judged, and only while the user is a member of it.
      if (a.teamId !== team) return false;
      if (!(subject.memberOf ?? []).includes(a.teamId!)) return false;
    } else if (hasLocation) {
      if (!(request.locationPath ?? []).includes(a.locationId!)) return false;
    }
    return true;
  }

  /** Rules 1-7 for one permission in one team (or none), recursively through its `requires`. */
  function isEffective(name: string, team: string | null): boolean {
    const spec = permissionSpec(name); // undefined for page:/nav: entries
    const flags = subject.flags ?? [];

    let granted = false;
    if (spec?.grantedByFlag && flags.includes(spec.grantedByFlag)) granted = true;
    const rolesMayGrant = !spec?.requiresFlag || flags.includes(spec.requiresFlag);
    if (!granted && rolesMayGrant) {
      for (const a of subject.assignments) {
        if (grantsHere(a, team, name)) {
          granted = true;
          break;
        }
      }
    }
    if (!granted) return false;
    for (const required of spec?.requires ?? []) {
      if (!isEffective(required, team)) return false;
    }
    return true;
  }
}
