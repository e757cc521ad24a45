import { gql, newTenant, type TestGateway } from '../support/gateway';

/**
 * A Junto organization with everyone an approval story needs: approvers (Operators), a subject (a
 * Technician whose Billing Admin flag lets the agent use financial tools), a bystander, an agent's API
 * key (`approvals:request`), another key with the same scope, a key without it, and another
 * organization's owner.
 */
export async function approvalWorld(t: TestGateway) {
  const { orgId, ownerId, ownerToken } = await newTenant(t, 'junto');
  const ctx = { orgId, actor: 'test' };
  const user = async (name: string, roles: string[], flags: string[] = []) => {
    const { result } = await t.store.users.create(ctx, {
      email: `${name}-${Math.random().toString(36).slice(2, 8)}@example.com`,
      name,
      roles,
      flags,
    });
    return { id: result.id, token: await t.token(orgId, result.id) };
  };
  const key = async (name: string, scopes: string[]) =>
    (await t.store.apiKeys.create(ctx, { name, scopes })).result;
  const other = await newTenant(t, 'junto', 'another org');
  const agent = await key('agent', ['approvals:request']);
  const otherAgent = await key('other agent', ['approvals:request']);
  const noScope = await key('checker', ['decisions:check']);
  return {
    orgId,
    owner: { id: ownerId, token: ownerToken },
    approver: await user('operator', ['operator']),
    approver2: await user('operator2', ['operator']),
    subject: await user('technician', ['technician'], ['billing_admin']),
    bystander: await user('bystander', ['technician']),
    agent: { id: agent.key.id, token: agent.token },
    otherAgent: { id: otherAgent.key.id, token: otherAgent.token },
    noScope: { id: noScope.key.id, token: noScope.token },
    otherOrg: { id: other.ownerId, token: other.ownerToken },
  };
}

export type ApprovalWorld = Awaited<ReturnType<typeof approvalWorld>>;

export const REQUEST_FIELDS = `id kind tool status summary argumentsHash requestedBy expiresAt
  subject { id } decidedBy { id } note`;

/** `requestApproval` as `token`; returns the GraphQL result. */
export function requestApproval(t: TestGateway, token: string, input: Record<string, unknown>) {
  return gql(
    t.url,
    token,
    `mutation($input: RequestApprovalInput!) {
      requestApproval(input: $input) { outcome reason version request { ${REQUEST_FIELDS} } }
    }`,
    { input },
  );
}

/** One transition (`approveRequest`, `dismissRequest`, `cancelRequest`, `executeApproved`) as `token`. */
export function transition(
  t: TestGateway,
  token: string,
  field: 'approveRequest' | 'dismissRequest' | 'cancelRequest' | 'executeApproved',
  input: Record<string, unknown>,
) {
  const type = field === 'executeApproved' ? 'ExecuteApprovedInput' : 'DecideRequestInput';
  return gql(
    t.url,
    token,
    `mutation($input: ${type}!) { ${field}(input: $input) { version request { ${REQUEST_FIELDS} } } }`,
    { input },
  );
}

/** An agent's request to send an invoice for the world's subject: PENDING, waiting for an Operator. */
export async function pendingInvoice(t: TestGateway, w: ApprovalWorld, extra: Record<string, unknown> = {}) {
  const r = await requestApproval(t, w.agent.token, {
    kind: 'tool_use',
    tool: 'invoices',
    userId: w.subject.id,
    summary: 'Send invoice INV-1 to Acme for $1,200',
    arguments: { invoice: 'INV-1', to: 'acme', amount: 1200 },
    ...extra,
  });
  const request = r.data?.requestApproval?.request;
  if (!request) throw new Error(`no request: ${r.raw}`);
  return request as { id: string; argumentsHash: string; status: string; expiresAt: string };
}
