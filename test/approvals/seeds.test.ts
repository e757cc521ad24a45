import { gql, newTenant, startTestGateway, type TestGateway } from '../support/gateway';
import { approvalWorld, REQUEST_FIELDS, requestApproval, transition, type ApprovalWorld } from './fixtures';

/**
 * The seeds' approval sentences, each end to end through the API (the catalogs' `approvals:`):
 * Junto's Action Requests, agent tool approvals, escalations (notified by Slack or Teams DM, decided by
 * Escalation Approvers, managed by Managers) and Advisor recommendations; Juno's timesheet activity;
 * JRNI's none.
 */

describe('Junto', () => {
  let t: TestGateway;
  let w: ApprovalWorld;
  let manager: { id: string; token: string };
  let flagged: { id: string; token: string };

  beforeAll(async () => {
    t = await startTestGateway('pglite');
    w = await approvalWorld(t);
    const ctx = { orgId: w.orgId, actor: 'test' };
    const add = async (name: string, roles: string[], flags: string[] = []) => {
      const { result } = await t.store.users.create(ctx, { email: `${name}@junto.example`, roles, flags });
      return { id: result.id, token: await t.token(w.orgId, result.id) };
    };
    manager = await add('manager', ['manager']);
    // "Escalation Approver … regardless of role": a Technician with the flag.
    flagged = await add('escalation-approver', ['technician'], ['escalation_approver']);
  }, 60_000);
  afterAll(() => t?.close());

  const open = async (token: string, userId: string, kind: string, summary = `A ${kind}`) => {
    const r = await requestApproval(t, token, { kind, userId, summary });
    expect(r.errors).toBeUndefined();
    return r.data!.requestApproval.request as { id: string; argumentsHash: string };
  };
  const code = (r: { errors?: { extensions?: Record<string, unknown> }[] }) =>
    r.errors?.[0]?.extensions?.code;

  test('"Approve or dismiss agent Action Requests": Operators do, Technicians cannot', async () => {
    const a = await open(w.agent.token, w.subject.id, 'action_request', 'Close 14 stale tickets');
    const b = await open(w.agent.token, w.subject.id, 'action_request', 'Reassign ticket 9');
    expect(code(await transition(t, w.bystander.token, 'approveRequest', { id: a.id }))).toBe('NOT_FOUND');
    const approved = await transition(t, w.approver.token, 'approveRequest', { id: a.id, note: 'ok' });
    expect(approved.data!.approveRequest.request).toMatchObject({ status: 'APPROVED', note: 'ok' });
    const dismissed = await transition(t, w.approver2.token, 'dismissRequest', { id: b.id });
    expect(dismissed.data!.dismissRequest.request.status).toBe('DISMISSED');
    // The agent carries out the approved one, once.
    const done = await transition(t, w.agent.token, 'executeApproved', {
      id: a.id,
      argumentsHash: a.argumentsHash,
    });
    expect(done.data!.executeApproved.request.status).toBe('EXECUTED');
  });

  test('"Handle real-time agent tool approval requests": an Operator approves the agent’s invoice', async () => {
    const r = await requestApproval(t, w.agent.token, {
      kind: 'tool_use',
      tool: 'agreements',
      userId: w.subject.id,
      summary: 'Prepare the renewal agreement for Acme',
      arguments: { client: 'acme' },
    });
    expect(r.data!.requestApproval.outcome).toBe('REQUIRES_APPROVAL');
    const id = r.data!.requestApproval.request.id;
    expect(code(await transition(t, w.subject.token, 'approveRequest', { id }))).toBe('FORBIDDEN');
    expect((await transition(t, w.approver.token, 'approveRequest', { id })).errors).toBeUndefined();
  });

  test('"receives escalation notifications (via Slack or Teams DM) and can approve or reject escalation requests"', async () => {
    // The organization's Slack and Teams, set by an Admin (notification_channel:manage).
    const settings = await gql(
      t.url,
      w.owner.token,
      `mutation($i: SetNotificationSettingsInput!) { setNotificationSettings(input: $i) { settings { slackBotTokenSet teamsWebhookSet teamsWebhookHost } } }`,
      {
        i: {
          slackBotToken: 'xoxb-1234567890-abcdefghij',
          teamsWebhookUrl: 'https://acme.webhook.office.com/webhookb2/abc',
        },
      },
    );
    expect(settings.errors).toBeUndefined();
    expect(settings.data!.setNotificationSettings.settings).toEqual({
      slackBotTokenSet: true,
      teamsWebhookSet: true,
      teamsWebhookHost: 'acme.webhook.office.com',
    });
    // A webhook on a host the gateway does not allow is refused, naming the field.
    const evil = await gql(
      t.url,
      w.owner.token,
      `mutation($i: SetNotificationSettingsInput!) { setNotificationSettings(input: $i) { settings { teamsWebhookSet } } }`,
      { i: { teamsWebhookUrl: 'https://169.254.169.254/latest/meta-data' } },
    );
    expect(evil.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(evil.errors?.[0]?.message).toMatch(/^teamsWebhookUrl's host 169\.254\.169\.254 is not allowed/);
    // The token is never returned, and never recorded.
    expect(JSON.stringify(await t.store.auditLog(w.orgId, { first: 10_000 }))).not.toContain('abcdefghij');
    // Each person says where they are reached (their own addresses need no permission).
    for (const [who, address] of [
      [w.owner, { slackMemberId: 'U0OWNER1' }],
      [flagged, { teamsAddress: 'esc@junto.example' }],
      [w.approver, { slackMemberId: 'U0OPERATOR' }],
    ] as const) {
      const r = await gql(
        t.url,
        who.token,
        `mutation($i: SetNotificationAddressesInput!) { setNotificationAddresses(input: $i) { user { id slackMemberId teamsAddress } } }`,
        { i: { userId: who.id, ...address } },
      );
      expect(r.errors).toBeUndefined();
    }
    const escalation = await open(w.subject.token, w.subject.id, 'escalation', 'Customer threatens to churn');
    const r = await gql(
      t.url,
      w.owner.token,
      `query($id: ID!) { approvalRequest(id: $id) { notifications { channel status recipient { id } } approvers(first: 10) { edges { node { id } } } } }`,
      { id: escalation.id },
    );
    // Escalation Approvers are told (the owner has the flag by default), not the Operator.
    const sent = r.data!.approvalRequest.notifications.map(
      (n: { channel: string; recipient: { id: string } }) => [n.channel, n.recipient.id],
    );
    expect(sent.sort()).toEqual(
      [
        ['SLACK', w.owner.id],
        ['TEAMS', flagged.id],
      ].sort(),
    );
    const approvers = r.data!.approvalRequest.approvers.edges.map((e: { node: { id: string } }) => e.node.id);
    expect(approvers.sort()).toEqual([w.owner.id, flagged.id].sort());
    // A Technician with the flag rejects it; the Operator never could.
    expect(code(await transition(t, w.approver.token, 'dismissRequest', { id: escalation.id }))).toBe(
      'NOT_FOUND',
    );
    const rejected = await transition(t, flagged.token, 'dismissRequest', {
      id: escalation.id,
      note: 'handled',
    });
    expect(rejected.data!.dismissRequest.request).toMatchObject({
      status: 'DISMISSED',
      decidedBy: { id: flagged.id },
    });
  });

  test('"Manage escalations": a Manager sees every escalation and withdraws one, without deciding it', async () => {
    const escalation = await open(w.subject.token, w.subject.id, 'escalation', 'Outage at Acme');
    const seen = await gql(
      t.url,
      manager.token,
      `query($id: ID!) { approvalRequest(id: $id) { ${REQUEST_FIELDS} } }`,
      {
        id: escalation.id,
      },
    );
    expect(seen.data!.approvalRequest.id).toBe(escalation.id);
    const listed = await gql(
      t.url,
      manager.token,
      `{ approvalRequests(kind: "escalation") { edges { node { id } } } }`,
    );
    expect(listed.data!.approvalRequests.edges.map((e: { node: { id: string } }) => e.node.id)).toContain(
      escalation.id,
    );
    const approve = await transition(t, manager.token, 'approveRequest', { id: escalation.id });
    expect(approve.errors?.[0]?.extensions).toMatchObject({
      code: 'FORBIDDEN',
      permission: 'escalation:approve',
    });
    const cancelled = await transition(t, manager.token, 'cancelRequest', {
      id: escalation.id,
      note: 'duplicate',
    });
    expect(cancelled.data!.cancelRequest.request).toMatchObject({ status: 'CANCELLED', note: 'duplicate' });
    // A Manager does not manage Action Requests: those stay the parties' to withdraw.
    const action = await open(w.agent.token, w.subject.id, 'action_request');
    expect(code(await transition(t, manager.token, 'cancelRequest', { id: action.id }))).toBe('FORBIDDEN');
  });

  test('"Approve or dismiss Advisor recommendations": Operators, not Technicians', async () => {
    const rec = await open(w.agent.token, w.subject.id, 'recommendation', 'Upsell managed backup to Acme');
    expect(code(await transition(t, w.bystander.token, 'approveRequest', { id: rec.id }))).toBe('NOT_FOUND');
    expect(code(await transition(t, w.subject.token, 'approveRequest', { id: rec.id }))).toBe('FORBIDDEN');
    const approved = await transition(t, w.approver.token, 'approveRequest', { id: rec.id });
    expect(approved.data!.approveRequest.request.status).toBe('APPROVED');
  });

  test('setNotificationAddresses for someone else needs covering them; bad addresses are named', async () => {
    const other = await gql(
      t.url,
      w.subject.token,
      `mutation($i: SetNotificationAddressesInput!) { setNotificationAddresses(input: $i) { user { id } } }`,
      { i: { userId: w.approver.id, slackMemberId: 'U0HIJACK' } },
    );
    expect(code(other)).toBe('FORBIDDEN');
    const bad = await gql(
      t.url,
      w.subject.token,
      `mutation($i: SetNotificationAddressesInput!) { setNotificationAddresses(input: $i) { user { id } } }`,
      { i: { userId: w.subject.id, slackMemberId: 'not a member id' } },
    );
    expect(code(bad)).toBe('BAD_USER_INPUT');
    expect(bad.errors?.[0]?.message).toMatch(/slackMemberId/);
  });
});

describe('Juno and JRNI', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway('pglite');
  }, 60_000);
  afterAll(() => t?.close());

  test('Juno: "Approve/Decline any activity for anyone": holders of timesheet_activity:approve_all', async () => {
    const { orgId, ownerToken } = await newTenant(t, 'juno');
    const ctx = { orgId, actor: 'test' };
    const member = (await t.store.users.create(ctx, { email: 'm@juno.example', roles: ['member'] })).result;
    const admin = (await t.store.users.create(ctx, { email: 'a@juno.example', roles: ['administrator'] }))
      .result;
    const peer = (await t.store.users.create(ctx, { email: 'p@juno.example', roles: ['member'] })).result;
    const r = await requestApproval(t, await t.token(orgId, member.id), {
      kind: 'timesheet_activity',
      userId: member.id,
      summary: '6 h on Project Apollo, 2026-11-27',
    });
    expect(r.data!.requestApproval.outcome).toBe('REQUIRES_APPROVAL');
    const id = r.data!.requestApproval.request.id;
    const byPeer = await transition(t, await t.token(orgId, peer.id), 'approveRequest', { id });
    expect(byPeer.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const byAdmin = await transition(t, await t.token(orgId, admin.id), 'approveRequest', { id });
    expect(byAdmin.data!.approveRequest.request.status).toBe('APPROVED');
    expect(ownerToken).toBeTruthy();
  });

  test('JRNI: its seed describes no approval flow, and the error says so', async () => {
    const { orgId, ownerId, ownerToken } = await newTenant(t, 'jrni');
    expect(orgId).toBeTruthy();
    const r = await requestApproval(t, ownerToken, { kind: 'tool_use', userId: ownerId, summary: 'x' });
    expect(r.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(r.errors?.[0]?.message).toBe('unknown approval kind "tool_use"; this catalog defines none');
  });
});
