import { compileCatalog, decide, explain, loadPreset, UserGrants } from '../../src';
import type {
  Assignment,
  CheckRequest,
  CompiledCatalog,
  Outcome,
  RoleSpec,
  Subject,
  ToolPolicies,
} from '../../src';

export const NOW = Date.UTC(2026, 10, 23, 12, 0, 0);

/** A preset compiled once per test file, with a one-line way to ask the engine. */
export function preset(name: 'junto' | 'juno' | 'jrni', customRoles: Record<string, RoleSpec> = {}) {
  const catalog: CompiledCatalog = compileCatalog(loadPreset(name), customRoles);
  return {
    catalog,
    /** Decides through the bitset path and, independently, through the explanation; they must agree. */
    check(subject: Subject, req: CheckRequest, policies: ToolPolicies = {}): Outcome {
      const outcome = decide(catalog, new UserGrants(catalog, subject, NOW), req, policies);
      const why = explain(catalog, subject, req, { now: NOW, policies });
      if (why.outcome !== outcome)
        throw new Error(`explain says ${why.outcome}, decide says ${outcome}: ${why.summary}`);
      return outcome;
    },
  };
}

let ids = 0;
/**
 * A subject holding the given assignments (ids filled in), a member of every team they hold a role in
 * (as the store keeps it: giving a team role makes a member); `extra.memberOf` says otherwise.
 */
export function user(assignments: Omit<Assignment, 'id'>[], extra: Partial<Subject> = {}): Subject {
  const memberOf = [...new Set(assignments.flatMap((a) => (a.teamId ? [a.teamId] : [])))];
  return {
    userId: `u${++ids}`,
    memberOf,
    assignments: assignments.map((a) => ({ id: `a${++ids}`, ...a })),
    ...extra,
  };
}
