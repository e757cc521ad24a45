/**
 * The approval benchmark's organization: Junto, created as `rolegate init` creates it
 * (`createOrganization`), then its people through the gateway's own repositories (their writes go
 * through its version protocol):
 *
 * - the owner (who toggles a bystander's flag in the permission-write stream);
 * - an Operator, the approver (`tool_approval:handle`);
 * - the subject: a Technician with the Billing Admin flag, on whose behalf the agent uses `invoices`
 *   (policy `require_approval`: a decision of REQUIRES_APPROVAL);
 * - the agent: an API key with `approvals:request`;
 * - CHECKERS Technicians, half of them with Billing Admin, who check their own permissions;
 * - a bystander Technician, in no check and no request: the permission-write stream toggles their flag.
 */
import { createOrganization } from '../../src/cli/setup';
import type { Store } from '../../src/store';

export const CHECKERS = 32;

/** What the checkers ask about themselves: granted, not granted, tools and pages of the Junto catalog. */
export const CHECK_PERMISSIONS = [
  'ticket:view',
  'runbook:execute',
  'billing:manage',
  'settings:manage',
  'tool:invoices',
  'tool:update_ticket',
  'page:tickets',
  'page:billing',
] as const;

/** The flag the permission-write stream toggles on the bystander. */
export const TOGGLED_FLAG = 'billing_admin';

export interface Person {
  id: string;
  token: string;
}

export interface ApprovalWorld {
  orgId: string;
  owner: Person;
  operator: Person;
  subject: Person;
  /** The agent's key: its bearer token, and the actor it writes as (`apikey:<id>`). */
  agent: { token: string; actor: string };
  checkers: Person[];
  bystander: Person;
}

export async function buildWorld(
  store: Store,
  sign: (orgId: string, userId: string) => Promise<string>,
  name: string,
): Promise<ApprovalWorld> {
  const { orgId, ownerId } = await createOrganization(store, {
    preset: 'junto',
    name,
    ownerEmail: 'owner@approvals-bench.example',
    ownerName: 'Bench Owner',
  });
  const ctx = { orgId, actor: 'bench' };
  const person = async (email: string, roles: string[], flags: string[] = []): Promise<Person> => {
    const { result } = await store.users.create(ctx, { email, name: email.split('@')[0]!, roles, flags });
    return { id: result.id, token: await sign(orgId, result.id) };
  };
  const operator = await person('operator@approvals-bench.example', ['operator']);
  const subject = await person('technician@approvals-bench.example', ['technician'], ['billing_admin']);
  const bystander = await person('bystander@approvals-bench.example', ['technician']);
  const checkers: Person[] = [];
  for (let i = 0; i < CHECKERS; i++)
    checkers.push(
      await person(`checker${i}@approvals-bench.example`, ['technician'], i % 2 ? ['billing_admin'] : []),
    );
  const { result: key } = await store.apiKeys.create(ctx, {
    name: 'AI agent',
    scopes: ['approvals:request'],
  });
  return {
    orgId,
    owner: { id: ownerId, token: await sign(orgId, ownerId) },
    operator,
    subject,
    agent: { token: key.token, actor: `apikey:${key.key.id}` },
    checkers,
    bystander,
  };
}
