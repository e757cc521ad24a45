import { randomUUID } from 'node:crypto';
import { MAX_PENDING_PER_REQUESTER } from '../../src/approvals/approvals';
import { ExpirySweeper } from '../../src/approvals/sweeper';
import { LocalChanges } from '../../src/consistency/changes';
import { gql, startTestGateway, type TestGateway } from '../support/gateway';
import { approvalWorld, pendingInvoice, requestApproval, transition, type ApprovalWorld } from './fixtures';

/**
 * Review findings on approvals (each test states the behaviour SPEC.md / README ask for, so a failing
 * test is a finding). Embedded store: the findings are not store-specific.
 */
describe('approvals, as an attacker tries them (pglite)', () => {
  let t: TestGateway;
  let w: ApprovalWorld;
  const ctx = () => ({ orgId: w.orgId, actor: 'test' });

  beforeAll(async () => {
    t = await startTestGateway('pglite');
    w = await approvalWorld(t);
  }, 60_000);
  afterAll(() => t?.close());

  const read = async (token: string, id: string) =>
    (await gql(t.url, token, `query($id: ID!) { approvalRequest(id: $id) { id status } }`, { id })).data
      ?.approvalRequest ?? null;

  // Found in review: "EXPIRED: Nobody decided (or, approved, nobody executed) before `expiresAt`" (schema), and
  // "Every transition is in the audit log" (SPEC). An APPROVED request past expiresAt stays APPROVED.
  test('an APPROVED request past expiresAt reads EXPIRED, is swept and audited', async () => {
    const request = await pendingInvoice(t, w, { expiresInSeconds: 1 });
    expect(
      (await transition(t, w.approver.token, 'approveRequest', { id: request.id })).errors,
    ).toBeUndefined();
    await new Promise((r) => setTimeout(r, 1_300));
    await new ExpirySweeper(t.store, new LocalChanges()).sweep();
    const listed = await gql(
      t.url,
      w.agent.token,
      `{ approvalRequests(status: APPROVED, first: 500) { edges { node { id } } } }`,
    );
    const entries = (await t.store.auditLog(w.orgId, { first: 10_000 }))
      .filter((e) => e.target === `approval:${request.id}`)
      .map((e) => e.action);
    expect({
      read: (await read(w.agent.token, request.id))?.status,
      stored: (await t.store.approvals.get(w.orgId, request.id))?.status,
      listedAsApproved: listed.data!.approvalRequests.edges.some((e: any) => e.node.id === request.id),
      audited: entries,
    }).toEqual({
      read: 'EXPIRED',
      stored: 'EXPIRED',
      listedAsApproved: false,
      audited: ['requestApproval', 'approveRequest', 'expireRequest'],
    });
  });

  // Found in review: `approvers` is a whoCan (and, for flag kinds, a read of users' flags) without VIEW_USERS:
  // any member opens a request for themselves and reads who holds the approval permission / flag.
  test('a Technician cannot learn who holds the Escalation Approver flag through approvers or notifications', async () => {
    const whoCan = await gql(
      t.url,
      w.bystander.token,
      `{ whoCan(permission: "escalation:approve") { edges { node { id } } } }`,
    );
    expect(whoCan.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const flags = await gql(t.url, w.bystander.token, `query($id: ID!) { user(id: $id) { flags } }`, {
      id: w.owner.id,
    });
    expect(flags.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    const opened = await requestApproval(t, w.bystander.token, {
      kind: 'escalation',
      userId: w.bystander.id,
      summary: 'who are you?',
    });
    const id = opened.data!.requestApproval.request.id;
    const r = await gql(
      t.url,
      w.bystander.token,
      `query($id: ID!) { approvalRequest(id: $id) { approvers(first: 500) { edges { node { id } } }
        notifications { recipient { id } } } }`,
      { id },
    );
    const ids = (r.data?.approvalRequest?.approvers?.edges ?? []).map((e: any) => e.node.id);
    // The owner has the Escalation Approver flag (owner flags): now the bystander knows it.
    expect({
      errors: r.errors?.map((e) => e.extensions?.code),
      revealsOwner: ids.includes(w.owner.id),
    }).toEqual({
      errors: ['FORBIDDEN'],
      revealsOwner: false,
    });
  });

  // Found in review: approvalRequests(after:) with the id of a request the viewer may NOT see answers differently
  // from an id that is not there: existence (and creation order) oracle, and an unknown cursor is not
  // BAD_USER_INPUT as the README says.
  test('a cursor naming a request one may not see is refused like one naming nothing', async () => {
    // The bystander's own request, then a request they may not see.
    await requestApproval(t, w.bystander.token, {
      kind: 'action_request',
      userId: w.bystander.id,
      summary: 'mine',
    });
    const hidden = await pendingInvoice(t, w);
    expect(await read(w.bystander.token, hidden.id)).toBeNull();
    const page = (after: string) =>
      gql(
        t.url,
        w.bystander.token,
        `query($a: String) { approvalRequests(first: 500, after: $a) { edges { node { id } } } }`,
        {
          a: after,
        },
      );
    const viaHidden = await page(hidden.id);
    const viaNothing = await page(randomUUID());
    const shape = (r: Awaited<ReturnType<typeof page>>) => ({
      code: r.errors?.[0]?.extensions?.code ?? null,
      n: r.data?.approvalRequests?.edges?.length ?? null,
    });
    expect(shape(viaHidden)).toEqual(shape(viaNothing));
    expect(shape(viaNothing).code).toBe('BAD_USER_INPUT');
  });

  // Found in review: executing is "re-decided at execution", and opening refuses a locked or deleted subject; but
  // for the kinds that are not about a tool, execution only re-checks the approver.
  test('an action request for a user locked since cannot be executed', async () => {
    const subject = await t.store.users.create(ctx(), {
      email: `locked-${Date.now()}@example.com`,
      roles: ['technician'],
    });
    const opened = await requestApproval(t, w.agent.token, {
      kind: 'action_request',
      userId: subject.result.id,
      summary: 'Refund customer 42',
      arguments: { refund: 42 },
    });
    const request = opened.data!.requestApproval.request;
    expect(
      (await transition(t, w.approver.token, 'approveRequest', { id: request.id })).errors,
    ).toBeUndefined();
    await t.store.users.lock(ctx(), subject.result.id);
    // Opening one now is refused for this user ...
    const again = await requestApproval(t, w.agent.token, {
      kind: 'action_request',
      userId: subject.result.id,
      summary: 'Refund customer 43',
    });
    expect(again.data?.requestApproval?.outcome).toBe('DENY');
    // ... but the approved one still executes on their behalf.
    const r = await transition(t, w.agent.token, 'executeApproved', {
      id: request.id,
      argumentsHash: request.argumentsHash,
    });
    expect(r.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  // Hostile input on the new surface: never a 500.
  test('a requester keeps a bounded number of requests waiting; cancelling frees room', async () => {
    // The bound, reached through the store (1,000 HTTP calls would only be slower).
    const key = (await t.store.apiKeys.create(ctx(), { name: 'flooder', scopes: ['approvals:request'] }))
      .result;
    await t.store.db.query(
      `INSERT INTO approval_requests (org_id, id, kind, subject_id, requested_by, summary, arguments_hash, expires_at)
       SELECT $1, gen_random_uuid(), 'action_request', $2, $3, 'flood', repeat('0', 64), now() + interval '1 hour'
         FROM generate_series(1, ${MAX_PENDING_PER_REQUESTER})`,
      [w.orgId, w.subject.id, `apikey:${key.key.id}`],
    );
    const input = { kind: 'action_request', userId: w.subject.id, summary: 'one more' };
    const refused = await requestApproval(t, key.token, input);
    expect(refused.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    expect(refused.errors?.[0]?.message).toBe(
      'too many of your approval requests are waiting: cancel some, or wait for decisions',
    );
    // Others are not held back by it.
    expect((await requestApproval(t, w.agent.token, input)).errors).toBeUndefined();
    await t.store.db.query(
      `UPDATE approval_requests SET status = 'CANCELLED' WHERE id = (SELECT id FROM approval_requests WHERE requested_by = $1 LIMIT 1)`,
      [`apikey:${key.key.id}`],
    );
    expect((await requestApproval(t, key.token, input)).errors).toBeUndefined();
  });

  test('hostile approvals input: no INTERNAL_SERVER_ERROR, nothing logged', async () => {
    const NUL = 'a\u0000b';
    const cases: [string, Record<string, unknown>][] = [
      ['summary NUL', { kind: 'action_request', userId: w.subject.id, summary: NUL }],
      ['kind NUL', { kind: NUL, userId: w.subject.id, summary: 's' }],
      ['tool NUL', { kind: 'tool_use', tool: NUL, userId: w.subject.id, summary: 's' }],
      ['tool proto', { kind: 'tool_use', tool: '__proto__', userId: w.subject.id, summary: 's' }],
      ['kind proto', { kind: '__proto__', userId: w.subject.id, summary: 's', expiresInSeconds: 5 }],
      [
        'args NUL value',
        { kind: 'action_request', userId: w.subject.id, summary: 's', arguments: { a: NUL } },
      ],
      [
        'args NUL key',
        { kind: 'action_request', userId: w.subject.id, summary: 's', arguments: { [NUL]: 1 } },
      ],
      [
        'args lone surrogate',
        { kind: 'action_request', userId: w.subject.id, summary: 's', arguments: { a: '\ud800' } },
      ],
      [
        'args big int',
        { kind: 'action_request', userId: w.subject.id, summary: 's', arguments: { a: 1e308 } },
      ],
      [
        'expires max int',
        { kind: 'action_request', userId: w.subject.id, summary: 's', expiresInSeconds: 2147483647 },
      ],
      ['expires 0', { kind: 'action_request', userId: w.subject.id, summary: 's', expiresInSeconds: 0 }],
      ['location not uuid', { kind: 'action_request', userId: w.subject.id, summary: 's', locationId: 'x' }],
      ['user not uuid', { kind: 'action_request', userId: 'zz', summary: 's' }],
    ];
    const got: Record<string, unknown>[] = [];
    for (const [label, input] of cases) {
      const r = await requestApproval(t, w.agent.token, input);
      got.push({ label, status: r.status, codes: (r.errors ?? []).map((e) => e.extensions?.code) });
    }
    const lit = await gql(
      t.url,
      w.agent.token,
      `mutation { requestApproval(input: { kind: "action_request", userId: "${w.subject.id}", summary: "s", arguments: { a: 1e400 } }) { outcome } }`,
    );
    got.push({
      label: '1e400 literal',
      status: lit.status,
      codes: (lit.errors ?? []).map((e) => e.extensions?.code),
    });
    const filt = await gql(
      t.url,
      w.agent.token,
      `query($k: String) { approvalRequests(kind: $k) { edges { node { id } } } }`,
      {
        k: NUL,
      },
    );
    got.push({
      label: 'list kind NUL',
      status: filt.status,
      codes: (filt.errors ?? []).map((e) => e.extensions?.code),
    });
    const note = await transition(t, w.approver.token, 'approveRequest', {
      id: (await pendingInvoice(t, w)).id,
      note: NUL,
    });
    got.push({
      label: 'note NUL',
      status: note.status,
      codes: (note.errors ?? []).map((e) => e.extensions?.code),
    });
    const bad = got.filter((g) => (g.codes as unknown[]).includes('INTERNAL_SERVER_ERROR'));
    expect({ bad, logged: t.logged.filter((e) => e.level === 'error').length }).toEqual({
      bad: [],
      logged: 0,
    });
  });
});
