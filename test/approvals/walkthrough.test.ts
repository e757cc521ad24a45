import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { TeamsWebhookHosts } from '../../src/approvals/notify/teams';
import { startChatStandin, type ChatStandin } from '../support/chat-standin';
import { gql, startTestGateway, type TestGateway } from '../support/gateway';
import { BACKENDS, privateDatabase } from '../support/stores';
import { approvalWorld, requestApproval, transition, type ApprovalWorld } from './fixtures';

/**
 * The README's walk-through, step by step, as its users would run it, on both stores: an agent asks
 * to send an invoice, is told REQUIRES_APPROVAL, waits on the subscription (the graphql-ws client,
 * `iterate` as in the README), the Operators are told on Slack and Teams (a local stand-in for both,
 * checking every request), one approves with their own token, and the agent executes once. The
 * gateway runs its outbox worker in-process (on PostgreSQL, over a database of its own).
 */
describe.each(BACKENDS)('the approval walk-through on %s', (backend) => {
  let t: TestGateway;
  let w: ApprovalWorld;
  let chat: ChatStandin;
  let drop = async () => {};

  beforeAll(async () => {
    chat = await startChatStandin();
    const own = backend === 'postgres' ? await privateDatabase('rolegate_walkthrough') : undefined;
    if (own) drop = own.drop;
    t = await startTestGateway(backend, {
      databaseUrl: own?.url,
      approvals: {
        notify: {
          slackApiUrl: chat.slackApiUrl,
          teamsHosts: TeamsWebhookHosts.parse('127.0.0.1', { allowInsecureLoopback: true }),
          approvalUrl: (id) => `https://app.junto.example/approvals/${id}`,
          pollMs: 50,
        },
      },
    });
    w = await approvalWorld(t);
    // An Admin connects Slack and Teams; each Operator says where they are reached.
    const settings = await gql(
      t.url,
      w.owner.token,
      `mutation($i: SetNotificationSettingsInput!) { setNotificationSettings(input: $i) { settings { slackBotTokenSet } } }`,
      { i: { slackBotToken: 'xoxb-1234567890-walkthrough', teamsWebhookUrl: chat.teamsUrl('junto') } },
    );
    expect(settings.errors).toBeUndefined();
    for (const [who, address] of [
      [w.approver, { slackMemberId: 'U0OPERATOR1' }],
      [w.approver2, { teamsAddress: 'operator2@junto.example' }],
    ] as const) {
      const r = await gql(
        t.url,
        who.token,
        `mutation($i: SetNotificationAddressesInput!) { setNotificationAddresses(input: $i) { user { id } } }`,
        { i: { userId: who.id, ...address } },
      );
      expect(r.errors).toBeUndefined();
    }
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await chat?.close();
    await drop();
  });

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

    // The Operators are told: a Slack DM to one, a Teams card to the other, each once, with the
    // summary and the link; the message is no way to approve (that takes the API and a token).
    const until = async (what: string, ok: () => boolean) => {
      for (let i = 0; i < 100 && !ok(); i++) await new Promise((r) => setTimeout(r, 50));
      if (!ok()) throw new Error(`waited in vain for ${what}`);
    };
    await until('both notifications', () => chat.delivered().length === 2);
    expect(chat.violations).toEqual([]);
    const slack = chat.requests.find((r) => r.channel === 'slack' && r.outcome === 'ok')!;
    expect(slack.headers.authorization).toBe('Bearer xoxb-1234567890-walkthrough');
    expect(slack.body.channel).toBe('U0OPERATOR1');
    expect(slack.body.text).toContain('Send invoice INV-1 to Acme for $1,200');
    expect(slack.body.text).toContain(`https://app.junto.example/approvals/${id}`);
    const teams = chat.requests.find((r) => r.channel === 'teams' && r.outcome === 'ok')!;
    expect(JSON.stringify(teams.body)).toContain('operator2@junto.example');
    expect(JSON.stringify(teams.body)).toContain('Send invoice INV-1 to Acme for $1,200');
    // The owner (who may view users) sees where the messages went and how they fared.
    const listed = await gql(
      t.url,
      w.owner.token,
      `query($id: ID!) { approvalRequest(id: $id) { notifications { channel status attempts lastError recipient { id } } } }`,
      { id },
    );
    expect(
      listed.data!.approvalRequest.notifications.map((n: { channel: string; recipient: { id: string } }) => [
        n.channel,
        n.recipient.id,
      ]),
    ).toEqual(
      expect.arrayContaining([
        ['SLACK', w.approver.id],
        ['TEAMS', w.approver2.id],
      ]),
    );
    for (const n of listed.data!.approvalRequest.notifications)
      expect(n).toMatchObject({ status: 'DELIVERED', attempts: 1, lastError: null });

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
