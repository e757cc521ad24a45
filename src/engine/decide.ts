import type { CompiledCatalog } from './compile';
import type { UserGrants } from './grants';
import type { CheckRequest, Outcome, ToolPolicies } from './types';

/**
 * Decides a check (rules 1–9) from a user's compiled grants. Throws `UnknownPermissionError` for a
 * permission or tool the catalog does not define: an unknown name is never silently allowed or denied.
 */
export function decide(
  catalog: CompiledCatalog,
  grants: UserGrants,
  req: CheckRequest,
  policies: ToolPolicies = {},
): Outcome {
  const { bit, tool, ui } = catalog.resolve(req.permission);
  if (!grants.holds(req, bit, ui)) return 'DENY';
  if (!tool) return 'ALLOW';
  return outcomeOfPolicy(catalog.toolMode(tool, policies).mode);
}

/** Rule 9: what a tool's policy makes of a user who holds the tool's permission. */
export function outcomeOfPolicy(policy: 'auto' | 'require_approval' | 'deny'): Outcome {
  switch (policy) {
    case 'auto':
      return 'ALLOW';
    case 'require_approval':
      return 'REQUIRES_APPROVAL';
    default:
      return 'DENY';
  }
}
