/**
 * The mutation load of `bench:approvals`, run as a child process of `run.ts` (so that the clients do
 * not share the gateway's event loop). Reads one JSON `DriverSpec` line on stdin, and on stdout writes
 * one line of JSON, its result. Real GraphQL requests over HTTP (fetch, keep-alive), loopback only.
 *
 * - `closed`: a closed loop of `connections` workers over a list of requests, each sent once, in
 *   order (the warm-up list first, not timed). Mutations whose next step needs this step's answer
 *   (approve what was requested, execute what was approved) get their ids from `extract`.
 * - `stream`: (the line `streaming` on stdout when it starts) an open loop at a fixed rate (a tick every 1000 / rate ms, whatever the answers take; at
 *   most MAX_IN_FLIGHT waiting, a tick beyond that is counted as skipped) until stdin ends: approval
 *   cycles (`requestApproval`, then `approveRequest` of it as soon as it returns: two mutations per
 *   cycle) or permission writes (`setUserFlags` toggling one flag of one user). Every mutation's
 *   wall-clock end is returned, so that the parent counts those inside its measured window.
 */

export interface Item {
  headers: Record<string, string>;
  body: string;
}

export interface ClosedSpec {
  mode: 'closed';
  url: string;
  connections: number;
  warmup: Item[];
  items: Item[];
  /** A response must contain this (and no `"errors"`), else it counts as an error. */
  expectIncludes: string;
  /** A path into each response's JSON whose value is returned (warm-up first, then the items). */
  extract?: string[];
}

export interface StreamSpec {
  mode: 'stream';
  url: string;
  /** Mutations per second (an approval cycle is two). */
  rate: number;
  stream:
    | { kind: 'approvals'; agentToken: string; operatorToken: string; subjectId: string }
    | { kind: 'flags'; ownerToken: string; userId: string; flag: string };
}

export type DriverSpec = ClosedSpec | StreamSpec;

export interface ClosedResult {
  /** Per measured item, ms, in item order (NaN for a failed one). */
  ms: number[];
  seconds: number;
  errors: number;
  firstError: string | null;
  values: unknown[];
  /** CPU of the measured loop, % of one core. */
  cpuPct: number;
  /** CPU this process used from its start to its end (start-up and warm-up included), ms. */
  totalCpuMs: number;
}

export interface Mutation {
  op: string;
  /** Wall clock (epoch ms) at its answer. */
  endMs: number;
  ms: number;
  ok: boolean;
  /** The organization version the answer carried. */
  version: string | null;
}

export interface StreamResult {
  mutations: Mutation[];
  skipped: number;
  firstError: string | null;
  cpuPct: number;
}

/** Open-loop ticks waiting for an answer beyond which a tick is skipped (the gateway is saturated). */
const MAX_IN_FLIGHT = 50;

async function send(url: string, item: Item): Promise<{ ok: boolean; raw: string }> {
  if (!/^http:\/\/127\.0\.0\.1:\d+\//.test(url)) throw new Error(`loopback only: ${url}`);
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...item.headers },
    body: item.body,
  });
  const raw = await res.text();
  return { ok: res.status === 200 && !raw.includes('"errors"'), raw };
}

function pick(raw: string, path: readonly string[]): unknown {
  let v: unknown = JSON.parse(raw);
  for (const k of path) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
  return v ?? null;
}

async function closed(spec: ClosedSpec): Promise<ClosedResult> {
  let errors = 0;
  let firstError: string | null = null;
  const run = async (items: Item[], timed: boolean) => {
    const ms = new Array<number>(items.length).fill(NaN);
    const values = new Array<unknown>(items.length).fill(null);
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < items.length; i = next++) {
        const t0 = performance.now();
        const r = await send(spec.url, items[i]!).catch((err: unknown) => ({
          ok: false,
          raw: String(err),
        }));
        const dt = performance.now() - t0;
        if (r.ok && r.raw.includes(spec.expectIncludes)) {
          if (timed) ms[i] = dt;
          if (spec.extract) values[i] = pick(r.raw, spec.extract);
        } else if (timed) {
          errors++;
          firstError ??= r.raw.slice(0, 300);
        } else firstError ??= `warm-up: ${r.raw.slice(0, 300)}`;
      }
    };
    const t0 = performance.now();
    await Promise.all(Array.from({ length: Math.min(spec.connections, items.length) }, worker));
    return { ms, values, seconds: (performance.now() - t0) / 1000 };
  };
  const warm = await run(spec.warmup, false);
  const cpu0 = process.cpuUsage();
  const main = await run(spec.items, true);
  const cpu = process.cpuUsage(cpu0);
  const total = process.cpuUsage();
  return {
    totalCpuMs: (total.user + total.system) / 1000,
    ms: main.ms,
    seconds: main.seconds,
    errors,
    firstError,
    values: [...warm.values, ...main.values],
    cpuPct: ((cpu.user + cpu.system) / 1000 / (main.seconds * 1000)) * 100,
  };
}

const REQUEST = `mutation($input: RequestApprovalInput!) {
  requestApproval(input: $input) { outcome version request { id status } } }`;
const APPROVE = `mutation($input: DecideRequestInput!) {
  approveRequest(input: $input) { version request { id status } } }`;
const SET_FLAGS = `mutation($input: SetUserFlagsInput!) { setUserFlags(input: $input) { version } }`;

async function stream(spec: StreamSpec, stopped: Promise<void>): Promise<StreamResult> {
  const mutations: Mutation[] = [];
  let firstError: string | null = null;
  let skipped = 0;
  let inFlight = 0;
  const gql = async (op: string, token: string, query: string, input: unknown) => {
    const t0 = performance.now();
    const r = await send(spec.url, {
      headers: { authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables: { input } }),
    }).catch((err: unknown) => ({ ok: false, raw: String(err) }));
    const ms = performance.now() - t0;
    const version = r.ok ? (pick(r.raw, ['data', op, 'version']) as string | null) : null;
    mutations.push({ op, endMs: Date.now(), ms, ok: r.ok, version });
    if (!r.ok) firstError ??= `${op}: ${r.raw.slice(0, 300)}`;
    return r;
  };
  let n = 0;
  const s = spec.stream;
  const step =
    s.kind === 'approvals'
      ? async () => {
          const i = n++;
          const asked = await gql('requestApproval', s.agentToken, REQUEST, {
            kind: 'tool_use',
            tool: 'invoices',
            userId: s.subjectId,
            summary: `Send invoice STREAM-${i} to Acme`,
            arguments: { invoice: `STREAM-${i}`, to: 'acme', amount: 100 + i },
          });
          if (!asked.ok) return;
          const id = pick(asked.raw, ['data', 'requestApproval', 'request', 'id']);
          await gql('approveRequest', s.operatorToken, APPROVE, { id, note: 'ok' });
        }
      : async () => {
          const on = n++ % 2 === 0;
          await gql('setUserFlags', s.ownerToken, SET_FLAGS, { userId: s.userId, flags: on ? [s.flag] : [] });
        };
  // An approval cycle is two mutations: cycles at half the rate.
  const every = (s.kind === 'approvals' ? 2000 : 1000) / spec.rate;
  const running = new Set<Promise<void>>();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  // Tells the parent the stream runs now (it starts its load on this line).
  process.stdout.write('streaming\n');
  let done = false;
  void stopped.then(() => (done = true));
  for (let k = 0; !done; k++) {
    const wait = t0 + k * every - performance.now();
    if (wait > 0) await Promise.race([new Promise((r) => setTimeout(r, wait)), stopped]);
    if (done) break;
    if (inFlight >= MAX_IN_FLIGHT) {
      skipped++;
      continue;
    }
    inFlight++;
    const p = step().finally(() => {
      inFlight--;
      running.delete(p);
    });
    running.add(p);
  }
  await Promise.all(running);
  const cpu = process.cpuUsage(cpu0);
  const wall = performance.now() - t0;
  return { mutations, skipped, firstError, cpuPct: ((cpu.user + cpu.system) / 1000 / wall) * 100 };
}

async function main(): Promise<void> {
  process.stdin.setEncoding('utf8');
  let buffered = '';
  let onLine!: (line: string) => void;
  const line = new Promise<string>((resolve) => (onLine = resolve));
  let onEnd!: () => void;
  const ended = new Promise<void>((resolve) => (onEnd = resolve));
  process.stdin.on('data', (d: string) => {
    buffered += d;
    const nl = buffered.indexOf('\n');
    if (nl >= 0) onLine(buffered.slice(0, nl));
  });
  process.stdin.on('end', () => {
    onLine(buffered);
    onEnd();
  });
  const spec = JSON.parse(await line) as DriverSpec;
  const result = spec.mode === 'closed' ? await closed(spec) : await stream(spec, ended);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
