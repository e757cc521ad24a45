import { argumentsHash } from '../../src/approvals/approvals';
import { ExpirySweeper } from '../../src/approvals/sweeper';
import { LocalChanges } from '../../src/consistency/changes';
import { BACKENDS } from '../support/stores';
import { gql, startTestGateway, type TestGateway } from '../support/gateway';
import {
  approvalWorld,
  pendingInvoice,
  REQUEST_FIELDS,
  requestApproval,
  transition,
  type ApprovalWorld,
} from './fixtures';

/**
 * SPEC.md "Approvals" over HTTP, on both stores: who may open, see, decide, cancel and execute a
 * request (a table: every transition × every actor), the races with one winner, and the refusals of
 * execution. Outbox delivery and live updates have their own files.
 */

type Actor = 'subject' | 'requester' | 'approver' | 'bystander' | 'otherKey' | 'otherOrg';
type Field = 'approveRequest' | 'dismissRequest' | 'cancelRequest' | 'executeApproved';
type Expect = 'ok' | 'FORBIDDEN' | 'NOT_FOUND';

const tokenOf = (w: ApprovalWorld, actor: Actor) =>
  ({
    subject: w.subject.token,
    requester: w.agent.token,
    approver: w.approver.token,
    bystander: w.bystander.token,
    otherKey: w.otherAgent.token,
    otherOrg: w.otherOrg.token,
  })[actor];

/**
 * The lifecycle table. Approvers decide (never the subject or the requester); the parties cancel and
 * execute; whoever may not see a request learns nothing of it (NOT_FOUND, as for an id that is not there).
 */
const TABLE: [Field, Actor, Expect][] = [
  ['approveRequest', 'approver', 'ok'],
  ['approveRequest', 'subject', 'FORBIDDEN'],
  ['approveRequest', 'requester', 'FORBIDDEN'],
  ['approveRequest', 'bystander', 'NOT_FOUND'],
  ['approveRequest', 'otherKey', 'NOT_FOUND'],
  ['approveRequest', 'otherOrg', 'NOT_FOUND'],
  ['dismissRequest', 'approver', 'ok'],
  ['dismissRequest', 'subject', 'FORBIDDEN'],
  ['dismissRequest', 'requester', 'FORBIDDEN'],
  ['dismissRequest', 'bystander', 'NOT_FOUND'],
  ['dismissRequest', 'otherKey', 'NOT_FOUND'],
  ['dismissRequest', 'otherOrg', 'NOT_FOUND'],
  ['cancelRequest', 'subject', 'ok'],
  ['cancelRequest', 'requester', 'ok'],
  ['cancelRequest', 'approver', 'FORBIDDEN'],
  ['cancelRequest', 'bystander', 'NOT_FOUND'],
  ['cancelRequest', 'otherKey', 'NOT_FOUND'],
  ['cancelRequest', 'otherOrg', 'NOT_FOUND'],
  ['executeApproved', 'subject', 'ok'],
  ['executeApproved', 'requester', 'ok'],
  ['executeApproved', 'approver', 'FORBIDDEN'],
  ['executeApproved', 'bystander', 'NOT_FOUND'],
  ['executeApproved', 'otherKey', 'NOT_FOUND'],
  ['executeApproved', 'otherOrg', 'NOT_FOUND'],
];

const STATUS_AFTER: Record<Field, string> = {
  approveRequest: 'APPROVED',
  dismissRequest: 'DISMISSED',
  cancelRequest: 'CANCELLED',
  executeApproved: 'EXECUTED',
};

describe.each(BACKENDS)('approvals on %s', (backend) => {
  let t: TestGateway;
  let w: ApprovalWorld;

  beforeAll(async () => {
    t = await startTestGateway(backend);
    w = await approvalWorld(t);
  }, 60_000);
  afterAll(() => t?.close());
  afterEach(() => expect(t.logged.filter((e) => e.level === 'error')).toEqual([]));

  const read = async (token: string, id: string) =>
    (
      await gql(t.url, token, `query($id: ID!) { approvalRequest(id: $id) { ${REQUEST_FIELDS} } }`, {
        id,
      })
    ).data?.approvalRequest ?? null;

  describe('opening a request', () => {
    test('a tool whose policy is require_approval: REQUIRES_APPROVAL and a PENDING request', async () => {
      const r = await requestApproval(t, w.agent.token, {
        kind: 'tool_use',
        tool: 'invoices',
        userId: w.subject.id,
        summary: 'Send invoice INV-2',
        arguments: { b: 2, a: [1, { y: true, x: null }] },
      });
      expect(r.errors).toBeUndefined();
      const { outcome, request } = r.data!.requestApproval;
      expect(outcome).toBe('REQUIRES_APPROVAL');
      expect(request).toMatchObject({
        kind: 'tool_use',
        tool: 'invoices',
        status: 'PENDING',
        requestedBy: `apikey:${w.agent.id}`,
        subject: { id: w.subject.id },
        decidedBy: null,
      });
      // The hash is of the canonical JSON: key order does not matter.
      expect(request.argumentsHash).toBe(argumentsHash({ a: [1, { x: null, y: true }], b: 2 }));
      // Junto's default lifetime for tool use: 15 minutes.
      const lifetime = Date.parse(request.expiresAt) - Date.now();
      expect(lifetime).toBeGreaterThan(14 * 60_000);
      expect(lifetime).toBeLessThanOrEqual(15 * 60_000 + 5_000);
    });

    test.each([
      // An automatic tool: ALLOW, no request to wait for.
      ['financial_reports', 'subject', 'ALLOW'],
      // The subject lacks the tool's permission (no Billing Admin): DENY, whatever the policy.
      ['invoices', 'bystander', 'DENY'],
      ['update_ticket', 'bystander', 'ALLOW'],
      ['execute_runbook', 'bystander', 'REQUIRES_APPROVAL'],
    ] as const)('tool %s for the %s: %s', async (tool, who, outcome) => {
      const userId = who === 'subject' ? w.subject.id : w.bystander.id;
      const r = await requestApproval(t, w.agent.token, {
        kind: 'tool_use',
        tool,
        userId,
        summary: 'Use it',
      });
      expect(r.errors).toBeUndefined();
      expect(r.data!.requestApproval.outcome).toBe(outcome);
      expect(r.data!.requestApproval.request === null).toBe(outcome !== 'REQUIRES_APPROVAL');
    });

    test('the seed’s other approvals open a request for any active member', async () => {
      for (const kind of ['action_request', 'escalation', 'recommendation']) {
        const r = await requestApproval(t, w.subject.token, {
          kind,
          userId: w.subject.id,
          summary: `A ${kind}`,
        });
        expect(r.errors).toBeUndefined();
        expect(r.data!.requestApproval).toMatchObject({
          outcome: 'REQUIRES_APPROVAL',
          request: { kind, status: 'PENDING', requestedBy: w.subject.id },
        });
      }
    });

    test.each([
      ['a user for someone else', 'bystander', 'FORBIDDEN'],
      ['an API key without approvals:request', 'noScope', 'FORBIDDEN'],
      ['another organization', 'otherOrg', 'FORBIDDEN'],
    ] as const)('%s is refused and opens nothing', async (_, who, code) => {
      const token = who === 'noScope' ? w.noScope.token : tokenOf(w, who);
      const before = await t.store.approvals.list(
        w.orgId,
        { kinds: ['tool_use'], kindAt: [] },
        { first: 1_000 },
      );
      const r = await requestApproval(t, token, {
        kind: 'tool_use',
        tool: 'invoices',
        userId: w.subject.id,
        summary: 'Send invoice',
      });
      expect(r.data?.requestApproval ?? null).toBeNull();
      expect(r.errors?.[0]?.extensions?.code).toBe(code);
      const after = await t.store.approvals.list(
        w.orgId,
        { kinds: ['tool_use'], kindAt: [] },
        { first: 1_000 },
      );
      expect(after.length).toBe(before.length);
    });

    test.each([
      [{ kind: 'no_such_kind' }, /unknown approval kind "no_such_kind"; expected one of: tool_use/],
      [{ tool: null }, /needs the agent tool/],
      [{ tool: 'no_such_tool' }, /no such agent tool/],
      [{ expiresInSeconds: 86_401 }, /expiresInSeconds must be between 1 and 86400/],
      [{ expiresInSeconds: 0 }, /expiresInSeconds must be between 1 and 86400/],
      [{ summary: '   ' }, /summary must not be empty/],
      [{ kind: 'escalation' }, /not about an agent tool/],
    ])('bad input %j: BAD_USER_INPUT naming it', async (change, message) => {
      const r = await requestApproval(t, w.agent.token, {
        kind: 'tool_use',
        tool: 'invoices',
        userId: w.subject.id,
        summary: 'Send invoice',
        ...change,
      });
      expect(r.status).toBeLessThan(500);
      expect(r.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(r.errors?.[0]?.message).toMatch(message);
    });

    test('arguments too large or too deep are refused before anything is written', async () => {
      let deep: unknown = 1;
      for (let i = 0; i < 30; i++) deep = { d: deep };
      for (const args of [{ blob: 'x'.repeat(70_000) }, deep]) {
        const r = await requestApproval(t, w.agent.token, {
          kind: 'tool_use',
          tool: 'invoices',
          userId: w.subject.id,
          summary: 'Send invoice',
          arguments: args,
        });
        expect(r.status).toBeLessThan(500);
        expect(r.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
        expect(r.raw).not.toMatch(/65536|64 ?KiB|20 deep/);
      }
    });
  });

  describe('the lifecycle table: every transition × every actor', () => {
    test.each(TABLE)('%s by the %s: %s', async (field, actor, expected) => {
      const request = await pendingInvoice(t, w);
      if (field === 'executeApproved') {
        const ok = await transition(t, w.approver.token, 'approveRequest', { id: request.id });
        expect(ok.errors).toBeUndefined();
      }
      const input =
        field === 'executeApproved'
          ? { id: request.id, argumentsHash: request.argumentsHash }
          : { id: request.id, note: 'noted' };
      const before = await read(w.owner.token, request.id);
      const r = await transition(t, tokenOf(w, actor), field, input);
      if (expected === 'ok') {
        expect(r.errors).toBeUndefined();
        expect(r.data![field].request.status).toBe(STATUS_AFTER[field]);
      } else {
        expect(r.data?.[field] ?? null).toBeNull();
        expect(r.errors?.[0]?.extensions?.code).toBe(expected);
        // Refused: the request is as it was.
        expect(await read(w.owner.token, request.id)).toEqual(before);
      }
    });

    test('who sees a request: its approvers, its subject and its requester; nobody else', async () => {
      const request = await pendingInvoice(t, w);
      const seen: Record<string, boolean> = {};
      for (const actor of ['subject', 'requester', 'approver', 'bystander', 'otherKey', 'otherOrg'] as const)
        seen[actor] = (await read(tokenOf(w, actor), request.id)) !== null;
      expect(seen).toEqual({
        subject: true,
        requester: true,
        approver: true,
        bystander: false,
        otherKey: false,
        otherOrg: false,
      });
    });

    test('approvalRequests lists what the viewer may decide and their own, newest first, page by page', async () => {
      const mine = await requestApproval(t, w.bystander.token, {
        kind: 'action_request',
        userId: w.bystander.id,
        summary: 'Bystander action',
      });
      const id = mine.data!.requestApproval.request.id as string;
      const list = async (token: string, extra = '') =>
        (
          await gql(
            t.url,
            token,
            `{ approvalRequests(status: PENDING, kind: "action_request"${extra}) { edges { node { id subject { id } } } pageInfo { hasNextPage endCursor } } }`,
          )
        ).data!.approvalRequests;
      const byBystander = await list(w.bystander.token);
      expect(byBystander.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual([id]);
      const byApprover = await list(w.approver.token);
      expect(byApprover.edges.map((e: { node: { id: string } }) => e.node.id)).toContain(id);
      // Another Technician sees nothing of it.
      expect(
        (await list(w.subject.token)).edges.map((e: { node: { id: string } }) => e.node.id),
      ).not.toContain(id);
      // Pages follow each other without a gap or a repeat.
      const all: string[] = [];
      let after: string | null = null;
      for (;;) {
        const page: {
          edges: { node: { id: string } }[];
          pageInfo: { hasNextPage: boolean; endCursor: string };
        } = await list(w.approver.token, `, first: 1${after ? `, after: "${after}"` : ''}`);
        all.push(...page.edges.map((e) => e.node.id));
        if (!page.pageInfo.hasNextPage) break;
        after = page.pageInfo.endCursor;
      }
      expect(all).toEqual(byApprover.edges.map((e: { node: { id: string } }) => e.node.id));
    });

    test('an Operator cannot approve a request about themselves, nor one they opened', async () => {
      const own = await requestApproval(t, w.approver.token, {
        kind: 'action_request',
        userId: w.approver.id,
        summary: 'Approve my own thing',
      });
      const id = own.data!.requestApproval.request.id;
      const r = await transition(t, w.approver.token, 'approveRequest', { id });
      expect(r.errors?.[0]?.extensions).toMatchObject({
        code: 'FORBIDDEN',
        permission: 'action_request:approve',
      });
      expect(r.errors?.[0]?.message).toMatch(/nobody approves a request they opened or that is about them/);
      // Another Operator can.
      expect((await transition(t, w.approver2.token, 'approveRequest', { id })).errors).toBeUndefined();
    });

    test('approvers are the holders of the approval permission, not the subject or the requester', async () => {
      const request = await pendingInvoice(t, w);
      // Like whoCan, it takes the permission to view users (the owner here; an Operator may not).
      const r = await gql(
        t.url,
        w.owner.token,
        `query($id: ID!) { approvalRequest(id: $id) { approvers(first: 50) { edges { node { id } } } } }`,
        { id: request.id },
      );
      const ids = r.data!.approvalRequest.approvers.edges.map((e: { node: { id: string } }) => e.node.id);
      expect(ids.sort()).toEqual([w.owner.id, w.approver.id, w.approver2.id].sort());
    });

    test('hostile: approvers of a whole page of requests, or 30 aliased lists, are refused, not scanned', async () => {
      for (let i = 0; i < 11; i++) await pendingInvoice(t, w);
      const r = await gql(
        t.url,
        w.owner.token,
        `{ approvalRequests(first: 50) { edges { node { id approvers { edges { node { id } } } } } } }`,
      );
      expect(r.status).toBeLessThan(500);
      expect(r.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(r.errors?.[0]?.message).toMatch(/too many approvers lists in one request/);
      expect(r.errors?.[0]?.message).not.toMatch(/\d/);
      const aliased = await gql(
        t.url,
        w.approver.token,
        `{ ${Array.from({ length: 30 }, (_, i) => `a${i}: approvalRequests(first: 1) { edges { node { id } } }`).join(' ')} }`,
      );
      expect(aliased.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(aliased.data ?? null).toBeNull();
    });

    test('escalations are decided by Escalation Approvers: the owner, not an Operator', async () => {
      const r = await requestApproval(t, w.subject.token, {
        kind: 'escalation',
        userId: w.subject.id,
        summary: 'Escalate ticket 7',
      });
      const id = r.data!.requestApproval.request.id;
      const byOperator = await transition(t, w.approver.token, 'approveRequest', { id });
      expect(byOperator.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
      const byOwner = await transition(t, w.owner.token, 'approveRequest', { id, note: 'go' });
      expect(byOwner.errors).toBeUndefined();
      expect(byOwner.data!.approveRequest.request).toMatchObject({
        status: 'APPROVED',
        decidedBy: { id: w.owner.id },
        note: 'go',
      });
    });

    test('a decision is final', async () => {
      const request = await pendingInvoice(t, w);
      expect(
        (await transition(t, w.approver.token, 'dismissRequest', { id: request.id })).errors,
      ).toBeUndefined();
      for (const [field, token] of [
        ['approveRequest', w.approver2.token],
        ['cancelRequest', w.agent.token],
        ['executeApproved', w.agent.token],
      ] as const) {
        const r = await transition(
          t,
          token,
          field,
          field === 'executeApproved'
            ? { id: request.id, argumentsHash: request.argumentsHash }
            : { id: request.id },
        );
        expect(r.errors?.[0]?.extensions?.code).toBe('CONFLICT');
        expect(r.errors?.[0]?.message).toMatch(/DISMISSED/);
      }
    });

    test('every transition is an audit entry with its actor', async () => {
      const request = await pendingInvoice(t, w);
      await transition(t, w.approver.token, 'approveRequest', { id: request.id });
      await transition(t, w.agent.token, 'executeApproved', {
        id: request.id,
        argumentsHash: request.argumentsHash,
      });
      const entries = (await t.store.auditLog(w.orgId, { first: 10_000 })).filter(
        (e) => e.target === `approval:${request.id}`,
      );
      expect(entries.map((e) => [e.action, e.actor])).toEqual([
        ['requestApproval', `apikey:${w.agent.id}`],
        ['approveRequest', w.approver.id],
        ['executeApproved', `apikey:${w.agent.id}`],
      ]);
      // No permission changed: the organization's version did not move, and the chain still verifies.
      expect((await t.store.verifyAudit(w.orgId)).ok).toBe(true);
    });
  });

  describe('races: one winner', () => {
    test('two approvers at once: exactly one wins, the other gets CONFLICT', async () => {
      for (let i = 0; i < 5; i++) {
        const request = await pendingInvoice(t, w);
        const results = await Promise.all([
          transition(t, w.approver.token, 'approveRequest', { id: request.id }),
          transition(t, w.approver2.token, 'approveRequest', { id: request.id }),
        ]);
        const won = results.filter((r) => !r.errors);
        expect(won).toHaveLength(1);
        expect(results.filter((r) => r.errors?.[0]?.extensions?.code === 'CONFLICT')).toHaveLength(1);
      }
    });

    test('execute twice at once: exactly one succeeds', async () => {
      for (let i = 0; i < 5; i++) {
        const request = await pendingInvoice(t, w);
        await transition(t, w.approver.token, 'approveRequest', { id: request.id });
        const input = { id: request.id, argumentsHash: request.argumentsHash };
        const results = await Promise.all([
          transition(t, w.agent.token, 'executeApproved', input),
          transition(t, w.subject.token, 'executeApproved', input),
        ]);
        expect(results.filter((r) => !r.errors)).toHaveLength(1);
        expect(results.filter((r) => r.errors?.[0]?.extensions?.code === 'CONFLICT')).toHaveLength(1);
      }
    });

    test('approve against expiry: never both', async () => {
      const sweeper = new ExpirySweeper(t.store, new LocalChanges(), { everyMs: 1_000 });
      for (let i = 0; i < 3; i++) {
        const request = await pendingInvoice(t, w, { expiresInSeconds: 1 });
        const wait = Date.parse(request.expiresAt) - Date.now() - 3;
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const [approved] = await Promise.all([
          transition(t, w.approver.token, 'approveRequest', { id: request.id }),
          sweeper.sweep(),
        ]);
        await sweeper.sweep();
        const entries = (await t.store.auditLog(w.orgId, { first: 10_000 })).filter(
          (e) => e.target === `approval:${request.id}`,
        );
        const state = await t.store.approvals.get(w.orgId, request.id);
        // Past its expiry the request is EXPIRED either way (an approval nobody executed lapses too).
        expect(state!.status).toBe('EXPIRED');
        if (approved.errors) {
          expect(approved.errors[0]!.extensions?.code).toBe('CONFLICT');
          expect(entries.map((e) => e.action)).toEqual(['requestApproval', 'expireRequest']);
          expect(state!.decidedBy).toBeNull();
        } else {
          // Approved in time: decided before it expired, and only then lapsed.
          expect(entries.map((e) => e.action)).toEqual([
            'requestApproval',
            'approveRequest',
            'expireRequest',
          ]);
          expect(state!.decidedAt!.getTime()).toBeLessThan(state!.expiresAt.getTime());
          expect(entries[2]!.before).toMatchObject({ status: 'APPROVED' });
        }
      }
    });
  });

  describe('execution is refused', () => {
    test('with other arguments', async () => {
      const request = await pendingInvoice(t, w);
      await transition(t, w.approver.token, 'approveRequest', { id: request.id });
      const r = await transition(t, w.agent.token, 'executeApproved', {
        id: request.id,
        argumentsHash: argumentsHash({ invoice: 'INV-1', to: 'acme', amount: 99_999 }),
      });
      expect(r.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(r.errors?.[0]?.message).toMatch(/approved for other arguments/);
      expect((await t.store.approvals.get(w.orgId, request.id))!.status).toBe('APPROVED');
    });

    test('before it is approved', async () => {
      const request = await pendingInvoice(t, w);
      const r = await transition(t, w.agent.token, 'executeApproved', {
        id: request.id,
        argumentsHash: request.argumentsHash,
      });
      expect(r.errors?.[0]?.extensions?.code).toBe('CONFLICT');
      expect(r.errors?.[0]?.message).toMatch(/PENDING, not APPROVED/);
    });

    test('after expiry; and an expired request reads EXPIRED before any sweep', async () => {
      const request = await pendingInvoice(t, w, { expiresInSeconds: 1 });
      await transition(t, w.approver.token, 'approveRequest', { id: request.id });
      const pending = await pendingInvoice(t, w, { expiresInSeconds: 1 });
      await new Promise((r) => setTimeout(r, 1_100));
      const r = await transition(t, w.agent.token, 'executeApproved', {
        id: request.id,
        argumentsHash: request.argumentsHash,
      });
      expect(r.errors?.[0]?.extensions?.code).toBe('CONFLICT');
      expect(r.errors?.[0]?.message).toMatch(/expired at/);
      expect((await read(w.agent.token, pending.id)).status).toBe('EXPIRED');
      const late = await transition(t, w.approver.token, 'approveRequest', { id: pending.id });
      expect(late.errors?.[0]?.extensions?.code).toBe('CONFLICT');
      expect(late.errors?.[0]?.message).toMatch(/expired at/);
    });

    test('after the tool’s permission was revoked (the Billing Admin flag taken away)', async () => {
      const subject = await t.store.users.create(
        { orgId: w.orgId, actor: 'test' },
        { email: `billing-${Date.now()}@example.com`, roles: ['technician'], flags: ['billing_admin'] },
      );
      const request = await pendingInvoice(t, w, { userId: subject.result.id });
      await transition(t, w.approver.token, 'approveRequest', { id: request.id });
      const flags = await gql(
        t.url,
        w.owner.token,
        `mutation($i: SetUserFlagsInput!) { setUserFlags(input: $i) { version } }`,
        { i: { userId: subject.result.id, flags: [] } },
      );
      expect(flags.errors).toBeUndefined();
      const r = await transition(t, w.agent.token, 'executeApproved', {
        id: request.id,
        argumentsHash: request.argumentsHash,
      });
      expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', permission: 'tool:invoices' });
      expect((await t.store.approvals.get(w.orgId, request.id))!.status).toBe('APPROVED');
    });

    test('after the approver lost the right to approve', async () => {
      const approver = await t.store.users.create(
        { orgId: w.orgId, actor: 'test' },
        { email: `op-${Date.now()}@example.com`, roles: ['operator'] },
      );
      const request = await pendingInvoice(t, w);
      const token = await t.token(w.orgId, approver.result.id);
      expect((await transition(t, token, 'approveRequest', { id: request.id })).errors).toBeUndefined();
      await t.store.users.lock({ orgId: w.orgId, actor: 'test' }, approver.result.id);
      const r = await transition(t, w.agent.token, 'executeApproved', {
        id: request.id,
        argumentsHash: request.argumentsHash,
      });
      expect(r.errors?.[0]?.extensions).toMatchObject({
        code: 'FORBIDDEN',
        permission: 'tool_approval:handle',
      });
    });
  });
});
