import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { BACKENDS } from '../support/stores';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { approvalWorld, requestApproval, transition, type ApprovalWorld } from './fixtures';

/**
 * The README's walk-through, step by step, as its users would run it, on both stores: an agent asks
 * to send an invoice, is told REQUIRES_APPROVAL, waits on the subscription (the graphql-ws client,
 * `iterate` as in the README), an Operator approves with their own token, and the agent executes once.
 */
describe.each(BACKENDS)('the approval walk-through on %s', (backend) => {
  let t: TestGateway;
  let w: ApprovalWorld;

  beforeAll(async () => {
    t = await startTestGateway(backend);
    w = await approvalWorld(t);
  }, 60_000);
  afterAll(() => t?.close());

  test('ask, wait, approve, execute once', async () => {
    // 1. The agent asks; the tool is decided first.
    const asked = await requestApproval(t, w.agent.token, {
      kind: 'tool_use',
      tool: 'invoices',
      userId: w.subject.id,
      summary: 'Send invoice INV-1 to Acme for $1,200',
      arguments: { invoice: 'INV-1', to: 'acme', amount: 1200 },
    });
    expect(asked.errors).toBeUndefined();
    expect(asked.data!.requestApproval.outcome).toBe('REQUIRES_APPROVAL');
    const { id, argumentsHash } = asked.data!.requestApproval.request;

    // 2. The agent waits on the subscription, as the README's snippet does.
    const client = createClient({
      url: t.url.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${w.agent.token}` },
      retryAttempts: 0,
    });
    const seen: string[] = [];
    const decided = (async () => {
      for await (const { data, errors } of client.iterate<{
        approvalRequestChanged: { id: string; status: string; decidedBy: { id: string } | null };
      }>({
        query: 'subscription($id: ID) { approvalRequestChanged(id: $id) { id status decidedBy { id } } }',
        variables: { id },
      })) {
        if (errors) throw new Error(JSON.stringify(errors));
        seen.push(data!.approvalRequestChanged.status);
        if (data!.approvalRequestChanged.status !== 'PENDING') return data!.approvalRequestChanged;
      }
      return null;
    })();
    // The subscription is open once the server acknowledged it: wait for the socket to be in use.
    await new Promise((r) => setTimeout(r, 300));

    // 3. An Operator approves in the API with their own token.
    const approved = await transition(t, w.approver.token, 'approveRequest', { id, note: 'ok' });
    expect(approved.errors).toBeUndefined();
    const event = await Promise.race([
      decided,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no event within 2 s')), 2_000)),
    ]);
    expect(event).toEqual({ id, status: 'APPROVED', decidedBy: { id: w.approver.id } });
    await client.dispose();

    // 4. The agent executes once, with the same arguments; a second time is a CONFLICT.
    const executed = await transition(t, w.agent.token, 'executeApproved', { id, argumentsHash });
    expect(executed.data!.executeApproved.request.status).toBe('EXECUTED');
    const again = await transition(t, w.agent.token, 'executeApproved', { id, argumentsHash });
    expect(again.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    expect(again.errors?.[0]?.message).toMatch(/already executed/);
  });
});
