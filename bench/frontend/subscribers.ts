/**
 * The subscribers of the fan-out benchmark, run as a child process of `fanout.ts`: N graphql-ws clients
 * (the protocol Apollo Client and urql speak), one connection each, subscribed to `capabilitiesChanged`,
 * and the writer, an owner sending `setToolPolicy` over HTTP, in this one process, so that the instant
 * a write is sent and the instants each subscriber reads its event are on one clock.
 *
 * Reads one JSON `FanoutSpec` line on stdin; writes one line of JSON, the `FanoutResult`.
 */
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

export interface FanoutSpec {
  /** Where the owner writes (HTTP). */
  writeUrl: string;
  /** Where the subscribers listen (ws://…/graphql). */
  wsUrl: string;
  ownerToken: string;
  /** One token per subscriber (several subscribers may share a user). */
  tokens: string[];
  warmup: number;
  rounds: number;
  /** Pause between one round's last event and the next write, ms. */
  pauseMs: number;
  /** How long a round waits for every subscriber before counting the rest missed, ms. */
  timeoutMs: number;
}

export interface FanoutRound {
  /** From sending the write to its answer read, ms. */
  answered: number;
  /** From sending the write to each subscriber's event read, ms (those that came). */
  delivered: number[];
  missed: number;
}

export interface FanoutResult {
  rounds: FanoutRound[];
  firstError: string | null;
}

const CHANGED = 'subscription { capabilitiesChanged { grantsVersion tools { tool mode } } }';
const WRITE =
  'mutation($mode: ToolMode!) { setToolPolicy(input: { tool: "update_ticket", mode: $mode }) { version } }';

async function main(): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const spec = JSON.parse(Buffer.concat(chunks).toString('utf8')) as FanoutSpec;
  for (const u of [spec.writeUrl, spec.wsUrl])
    if (!/^(http|ws):\/\/127\.0\.0\.1:\d+\//.test(u)) throw new Error(`loopback only: ${u}`);

  let firstError: string | null = null;
  /** Events read per subscriber, and when the last one was read. */
  const seen = spec.tokens.map(() => ({ count: 0, at: 0 }));
  let onEvent: (() => void) | null = null;
  const clients: Client[] = spec.tokens.map((token, i) => {
    const client = createClient({
      url: spec.wsUrl,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${token}` },
      lazy: false,
      retryAttempts: 0,
      onNonLazyError: (e) => (firstError ??= `connection: ${String(e)}`),
    });
    client.subscribe(
      { query: CHANGED },
      {
        next: ({ errors }) => {
          const at = performance.now();
          if (errors?.length) firstError ??= JSON.stringify(errors).slice(0, 300);
          // The first event of a round is its delivery (a round's write gives each subscriber one).
          if (seen[i]!.count++ === 0) seen[i]!.at = at;
          onEvent?.();
        },
        error: (e) => (firstError ??= `subscription: ${JSON.stringify(e).slice(0, 300)}`),
        complete: () => {},
      },
    );
    return client;
  });

  let mode = 'AUTO';
  const write = async (): Promise<{ sent: number; answered: number }> => {
    mode = mode === 'AUTO' ? 'REQUIRE_APPROVAL' : 'AUTO';
    const sent = performance.now();
    const res = await fetch(spec.writeUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${spec.ownerToken}` },
      body: JSON.stringify({ query: WRITE, variables: { mode } }),
    });
    const raw = await res.text();
    if (res.status !== 200 || raw.includes('"errors"'))
      throw new Error(`setToolPolicy: ${res.status} ${raw.slice(0, 300)}`);
    return { sent, answered: performance.now() - sent };
  };
  /** Waits until every subscriber has read `want` events, or `timeoutMs`; returns how many have. */
  const everyone = (want: number, timeoutMs: number) =>
    new Promise<number>((resolve) => {
      const done = () => seen.filter((s) => s.count >= want).length;
      const timer = setTimeout(() => {
        onEvent = null;
        resolve(done());
      }, timeoutMs);
      onEvent = () => {
        if (done() < seen.length) return;
        clearTimeout(timer);
        onEvent = null;
        resolve(seen.length);
      };
      onEvent();
    });
  const pause = () => new Promise((r) => setTimeout(r, spec.pauseMs));

  // graphql-ws does not acknowledge a subscription: write until every subscriber has heard one, then
  // bring them all to the same count (a subscriber that started late missed the first writes).
  const deadline = performance.now() + 60_000;
  for (;;) {
    await write();
    if ((await everyone(1, 2_000)) === seen.length) break;
    if (performance.now() > deadline)
      throw new Error(`not every subscriber heard a write within 60 s: ${firstError ?? ''}`);
  }
  await pause();
  /** One write, and every subscriber's event of it (counts start again at 0: one event per write). */
  const round = async (): Promise<FanoutRound> => {
    for (const s of seen) s.count = 0;
    const { sent, answered } = await write();
    const got = await everyone(1, spec.timeoutMs);
    const delivered = seen.filter((s) => s.count >= 1).map((s) => s.at - sent);
    await pause();
    return { answered, delivered, missed: seen.length - got };
  };
  for (let i = 0; i < spec.warmup; i++) await round();
  const rounds: FanoutRound[] = [];
  for (let r = 0; r < spec.rounds; r++) rounds.push(await round());
  await Promise.all(clients.map((c) => c.dispose()));
  process.stdout.write(`${JSON.stringify({ rounds, firstError } satisfies FanoutResult)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
