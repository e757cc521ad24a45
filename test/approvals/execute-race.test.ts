import { BACKENDS } from '../support/stores';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { approvalWorld, pendingInvoice, transition, type ApprovalWorld } from './fixtures';

/**
 * F5: executeApproved re-decides (subject still holds the tool, approver still may approve) only when
 * the request it loaded *before* the store's conditional UPDATE was already APPROVED
 * (ApprovalService.execute). An agent that calls executeApproved in a loop while the request is
 * PENDING wins whenever an approval commits between its load and its UPDATE: the request is executed
 * although the subject lost the tool (here: Billing Admin taken away before the approval).
 */
describe.each(BACKENDS)('execute racing approve on %s', (backend) => {
  let t: TestGateway;
  let w: ApprovalWorld;
  beforeAll(async () => {
    t = await startTestGateway(backend);
    w = await approvalWorld(t);
  }, 60_000);
  afterAll(() => t?.close());

  test('a subject without the tool is never executed for, however the calls interleave', async () => {
    const ctx = { orgId: w.orgId, actor: 'test' };
    let executedWithoutTool = 0;
    for (let trial = 0; trial < 15 && !executedWithoutTool; trial++) {
      const subject = await t.store.users.create(ctx, {
        email: `race-${trial}-${Date.now()}@example.com`,
        roles: ['technician'],
        flags: ['billing_admin'],
      });
      const request = await pendingInvoice(t, w, { userId: subject.result.id });
      // The tool is taken away while the request waits; the approver does not look at it.
      await t.store.users.setFlags(ctx, subject.result.id, []);
      let approved = false;
      const input = { id: request.id, argumentsHash: request.argumentsHash };
      const hammer = async () => {
        for (let i = 0; i < 200; i++) {
          const r = await transition(t, w.agent.token, 'executeApproved', input);
          if (!r.errors) executedWithoutTool++;
          if (approved && r.errors?.[0]?.extensions?.code !== 'CONFLICT') return;
          if (!r.errors) return;
        }
      };
      const loops = Array.from({ length: 6 }, hammer);
      await new Promise((r) => setTimeout(r, 20 + trial * 3));
      const a = await transition(t, w.approver.token, 'approveRequest', { id: request.id });
      expect(a.errors).toBeUndefined();
      approved = true;
      await Promise.all(loops);
    }
    expect(executedWithoutTool).toBe(0);
  }, 120_000);
});
