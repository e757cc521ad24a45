/**
 * How soon an approver hears of a new request, run as a child process of `run.ts`: an Operator's
 * graphql-ws client (the protocol of Apollo Client and urql) watches their inbox
 * (`approvalRequestChanged`, no id) on one gateway, while an agent's key opens requests
 * (`requestApproval`) over HTTP on the same or another gateway, one at a time. Both clients live in
 * this process, so the three instants (sent, answer read, event read) are on one clock.
 *
 * Reads one JSON `LiveSpec` line on stdin; writes one line of JSON, the `LiveResult`.
 */
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

export interface LiveSpec {
  /** Where the agent asks (HTTP). */
  requestUrl: string;
  /** Where the approver listens (ws://…/graphql). */
  wsUrl: string;
  agentToken: string;
  operatorToken: string;
  subjectId: string;
  warmup: number;
  count: number;
  /** Pause between one request's event and the next request, ms. */
  pauseMs: number;
  /** How long to wait for one event before counting it missed, ms. */
  timeoutMs: number;
}

export interface LiveSample {
  /** From sending `requestApproval` to its answer read, ms. */
  answered: number;
  /** From the answer read to the approver's event read, ms (negative: the event came first). */
  afterAnswer: number;
  /** From sending to the event read, ms. */
  afterSend: number;
}

export interface LiveResult {
  samples: LiveSample[];
  missed: number;
  /** Events of the measured requests that were not PENDING (there should be none). */
  otherStatus: number;
  firstError: string | null;
}

const REQUEST = `mutation($input: RequestApprovalInput!) {
  requestApproval(input: $input) { outcome request { id status } } }`;
const INBOX = 'subscription { approvalRequestChanged { id status } }';

async function main(): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const spec = JSON.parse(Buffer.concat(chunks).toString('utf8')) as LiveSpec;
  for (const u of [spec.requestUrl, spec.wsUrl])
    if (!/^(http|ws):\/\/127\.0\.0\.1:\d+\//.test(u)) throw new Error(`loopback only: ${u}`);

  // Events by request id: the instant read and the status (the event may come before the answer).
  const seen = new Map<string, { at: number; status: string }>();
  const waiting = new Map<string, () => void>();
  let firstError: string | null = null;
  const client = createClient({
    url: spec.wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${spec.operatorToken}` },
    lazy: false,
    retryAttempts: 0,
    onNonLazyError: (e) => (firstError ??= `connection: ${String(e)}`),
  });
  client.subscribe<{ approvalRequestChanged: { id: string; status: string } }>(
    { query: INBOX },
    {
      next: ({ data, errors }) => {
        const at = performance.now();
        if (errors?.length) firstError ??= JSON.stringify(errors).slice(0, 300);
        const change = data?.approvalRequestChanged;
        if (!change || seen.has(change.id)) return;
        seen.set(change.id, { at, status: change.status });
        waiting.get(change.id)?.();
      },
      error: (e) => (firstError ??= `subscription: ${JSON.stringify(e).slice(0, 300)}`),
      complete: () => {},
    },
  );

  let n = 0;
  const ask = async (): Promise<{ id: string; sent: number; answered: number }> => {
    const i = n++;
    const sent = performance.now();
    const res = await fetch(spec.requestUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${spec.agentToken}` },
      body: JSON.stringify({
        query: REQUEST,
        variables: {
          input: {
            kind: 'tool_use',
            tool: 'invoices',
            userId: spec.subjectId,
            summary: `Send invoice LIVE-${i} to Acme`,
            arguments: { invoice: `LIVE-${i}`, to: 'acme', amount: 100 + i },
          },
        },
      }),
    });
    const raw = await res.text();
    const answered = performance.now();
    const id = (JSON.parse(raw) as { data?: { requestApproval?: { request?: { id?: string } } } }).data
      ?.requestApproval?.request?.id;
    if (res.status !== 200 || !id) throw new Error(`requestApproval: ${res.status} ${raw.slice(0, 300)}`);
    return { id, sent, answered };
  };
  const event = (id: string, timeoutMs: number) =>
    new Promise<boolean>((resolve) => {
      if (seen.has(id)) return resolve(true);
      const timer = setTimeout(() => {
        waiting.delete(id);
        resolve(false);
      }, timeoutMs);
      waiting.set(id, () => {
        clearTimeout(timer);
        waiting.delete(id);
        resolve(true);
      });
    });
  const pause = () => new Promise((r) => setTimeout(r, spec.pauseMs));

  // The subscription is live once an event arrives: ask until one does (graphql-ws has no
  // acknowledgement of a subscription), then the warm-up requests.
  const deadline = performance.now() + 15_000;
  for (;;) {
    const r = await ask();
    if (await event(r.id, 1_000)) break;
    if (performance.now() > deadline) throw new Error(`no event within 15 s: ${firstError ?? ''}`);
  }
  for (let i = 0; i < spec.warmup; i++) {
    const r = await ask();
    await event(r.id, spec.timeoutMs);
    await pause();
  }

  const samples: LiveSample[] = [];
  let missed = 0;
  let otherStatus = 0;
  for (let i = 0; i < spec.count; i++) {
    const r = await ask();
    if (!(await event(r.id, spec.timeoutMs))) {
      missed++;
      continue;
    }
    const e = seen.get(r.id)!;
    if (e.status !== 'PENDING') otherStatus++;
    samples.push({ answered: r.answered - r.sent, afterAnswer: e.at - r.answered, afterSend: e.at - r.sent });
    await pause();
  }
  await client.dispose();
  process.stdout.write(
    `${JSON.stringify({ samples, missed, otherStatus, firstError } satisfies LiveResult)}\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
