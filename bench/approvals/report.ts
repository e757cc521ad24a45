/** The markdown of `bench:approvals`: its tables, and a reading computed from the same figures. */
import type { CpuShare } from '../store/cpu';
import { fmt } from '../http/stats';
import { CONDITIONS, ORDER, type BackendSection, type Condition, type LoadPhase, type Results } from './run';
import { CHECK_LOAD, CHECK_QUERY, CHECK_WARMUP, FLOW, LIVE, QUICK, STREAM_RATE } from './settings';
import { CHECK_PERMISSIONS, CHECKERS, TOGGLED_FLAG } from './world';

const n = (x: number) => x.toLocaleString('en-US');
const pct = (x: number, digits = 1) => (Number.isFinite(x) ? `${(100 * x).toFixed(digits)}%` : '–');
/**
 * The machine's CPU during a measurement, % of all cores: this process, PostgreSQL, and the rest, of
 * which the share not used by this benchmark's own clients (`clientsPct`: their CPU, % of one core)
 * is other work on the machine.
 */
function external(m: CpuShare | null, clientsPct: number, cores: number): number {
  return m ? Math.max(0, m.others - clientsPct / cores) : NaN;
}
const machineCell = (m: CpuShare | null, clientsPct: number, cores: number) =>
  m
    ? `${fmt(m.self, 0)} / ${fmt(m.server, 0)} / ${fmt(m.others, 0)} (${fmt(external(m, clientsPct, cores), 0)})`
    : '–';
/** What this benchmark's own clients used during a load phase, % of one core. */
const phaseClients = (p: LoadPhase) => p.check.cpuPct + (p.streamResult?.cpuPct ?? 0);
/** Measurements during which other work used more than this share of all cores, %. */
const DISTURBED_PCT = 10;
const hit = (p: LoadPhase) => p.counts.l1Hit / (p.counts.l1Hit + p.counts.l1Miss);
const okIn = (p: LoadPhase) => p.inWindow.filter((m) => m.ok);
/** Gateway process CPU per check, µs (in a stream phase it includes the stream's share). */
const cpuPerCheckUs = (p: LoadPhase) => ((p.gatewayCpuPct / 100) * 1e6) / p.check.main.rps;
const delta = (a: string, b: string) => Number(BigInt(b) - BigInt(a));

const rps = (p: LoadPhase) => p.check.main.rps;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** One condition's two runs, and how they compare with the runs of checks alone. */
function condition(s: BackendSection, c: Condition) {
  const runs = s.load.phases.filter((p) => p.condition === c);
  const alone = s.load.phases.filter((p) => p.condition === 'checks alone');
  const aloneRps = mean(alone.map(rps));
  return {
    runs,
    rps: mean(runs.map(rps)),
    share: mean(runs.map(rps)) / aloneRps,
    /** Both runs below both runs of checks alone. */
    below: Math.max(...runs.map(rps)) < Math.min(...alone.map(rps)),
    hit: mean(runs.map(hit)),
    versionMoved: runs.reduce((a, p) => a + delta(p.before.version, p.after.version), 0),
    audited: runs.reduce((a, p) => a + delta(p.before.auditSeq, p.after.auditSeq), 0),
    ok: runs.reduce((a, p) => a + (p.streamResult?.mutations.filter((m) => m.ok).length ?? 0), 0),
  };
}

/** How far the two runs of checks alone are apart, as a share of their mean. */
function aloneSpread(s: BackendSection): number {
  const alone = s.load.phases.filter((p) => p.condition === 'checks alone').map(rps);
  return (Math.max(...alone) - Math.min(...alone)) / mean(alone);
}

/**
 * Gateway CPU per stream mutation beyond what the phase's checks would have cost at the alone runs'
 * CPU per check (ms): an estimate of what one mutation of the stream cost this process, the cache
 * misses it caused included.
 */
function streamCpuMs(s: BackendSection, p: LoadPhase): number {
  const alone = s.load.phases.filter((x) => x.condition === 'checks alone');
  const perCheckMs = mean(alone.map(cpuPerCheckUs)) / 1000;
  const mutations = okIn(p).length / p.windowSeconds;
  return (p.gatewayCpuPct * 10 - rps(p) * perCheckMs) / mutations;
}

export function report(r: Results): string {
  const cores = r.machine.cores;
  const lines: string[] = [];
  const p = (s = '') => lines.push(s);

  p('# Approvals benchmark: the approval flow over HTTP, and what it does to decisions');
  p();
  if (QUICK) p('**`--quick` run: short runs for trying the harness, not results.**\n');
  p(`- Date: ${r.date}`);
  p(
    `- Machine: \`nproc\` = ${r.machine.nproc}, ${r.machine.cpu}, ${r.machine.memGb} GB RAM, ${r.machine.kernel}. **The cores are shared** by the gateway (this process; with the embedded store, the store too), the load generators (child processes), PostgreSQL and Redis: compare rows within this file, do not quote absolutes.`,
  );
  p(
    `- Node ${r.versions.node}; ${r.versions.postgres}, ${r.versions.redis} (throwaway servers on loopback: test/support/postgres-server.ts with fsync off, test/support/redis-server.ts with persistence off); autocannon ${r.versions.autocannon}, graphql-ws ${r.versions.graphqlWs}`,
  );
  p(
    `- Command: \`npm run bench:approvals\` → \`NODE_ENV=production tsx bench/approvals/run.ts\`. Whole run ${fmt(r.seconds, 0)} s; load average (1 min) ${fmt(r.load[0])} at start, ${fmt(r.load[1])} at end.`,
  );
  p();
  p('## Setup');
  p();
  p(
    "- Gateways: `startGateway({ store, config: { port: 0, env: 'production' }, auth: ES256, host: '127.0.0.1', approvals: { notify: false } })`, in this process: the composition root as `rolegate serve` builds it, with the expiry sweep (every 5 s) and no notification outbox worker. Sections 1 and 2: one gateway over the embedded store (PGlite in a temp folder), then one over PostgreSQL without Redis (in-process cache, its default; the version read from PostgreSQL per request). Section 3 adds Redis.",
  );
  p(
    `- World (per gateway, bench/approvals/world.ts): a Junto organization made by \`createOrganization\`; an Operator (the approver); the subject, a Technician with Billing Admin; the agent, an API key with \`approvals:request\`; ${CHECKERS} Technicians (half with Billing Admin) who check their own permissions; a bystander Technician. Tool \`invoices\` has the policy \`require_approval\`: the subject's decision is REQUIRES_APPROVAL, so every \`requestApproval\` opens a request.`,
  );
  p(
    '- Every request is a real GraphQL request over HTTP on loopback. The mutation clients (bench/approvals/driver.ts, fetch with keep-alive), autocannon (bench/approvals/checks-cannon.ts) and the subscription probe (bench/approvals/live.ts, the graphql-ws client) each run in a child process.',
  );
  p();

  // 1 ------------------------------------------------------------------------------------------------
  p('## 1. The approval flow over HTTP');
  p();
  p(
    `A closed loop of ${FLOW.connections} clients; each request is sent once. ${FLOW.warmup} warm-up requests (not timed), then ${FLOW.requests} measured; first every \`requestApproval\` (the agent's key, kind \`tool_use\`, tool \`invoices\`, for the subject; each with its own arguments), then \`approveRequest\` of each (the Operator's ES256 token), then \`executeApproved\` of each (the agent, with the request's \`argumentsHash\`). Latency: from sending to the body read, in the client. req/s: measured answers ÷ the measured loop's wall time. Store queries and gateway CPU: the gateway's \`rolegate_store_queries_total\` and this process's CPU time over the step ÷ its mutations (warm-up included); with the embedded store the CPU includes the store's work, with PostgreSQL not (the server's share is in the last column). Machine columns, in every table: "others" is everything but this process and PostgreSQL, i.e. this benchmark's clients (child processes) and any other work on the machine; in brackets, what is left after taking out the clients' own measured CPU: other work on the machine, which disturbed the measurement (the reading lists those over ${DISTURBED_PCT}%). The requests are all opened before any is approved, so the agent's PENDING requests grow from 0 to ${n(FLOW.warmup + FLOW.requests)} during \`requestApproval\` (each request counts them: at most 1,000 may wait).`,
  );
  p();
  p(
    '| store | mutation | measured | errors | req/s | p50 ms | p90 ms | p99 ms | max ms | store queries / mutation | gateway CPU / mutation (ms) | machine: this process / PostgreSQL / others (not this benchmark) (% of all cores) |',
  );
  p('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
  for (const s of r.backends)
    for (const st of s.flow.steps)
      p(
        `| ${s.backend} | \`${st.mutation}\` | ${n(st.ms.n)} | ${st.result.errors} | ${fmt(st.rps, 0)} | ${fmt(st.ms.p50)} | ${fmt(st.ms.p90)} | ${fmt(st.ms.p99)} | ${fmt(st.ms.max)} | ${fmt(st.storeQueries, 1)} | ${fmt(st.gatewayCpuMs)} | ${machineCell(st.machine, st.clientsPct, cores)} |`,
      );
  p();
  for (const s of r.backends) {
    const f = s.flow;
    const total = f.steps.reduce((a, st) => a + st.result.values.filter(Boolean).length, 0);
    p(
      `- ${s.backend}: version ${f.before.version} → ${f.after.version} over the whole flow (${delta(f.before.version, f.after.version) === 0 ? 'unchanged' : '**moved**'}); audit sequence ${f.before.auditSeq} → ${f.after.auditSeq} (+${n(delta(f.before.auditSeq, f.after.auditSeq))}, for ${n(total)} successful transitions, warm-up included); ${n(f.executed)} of ${n(FLOW.warmup + FLOW.requests)} requests executed.${f.steps.some((st) => st.result.firstError) ? ` First error: \`${f.steps.find((st) => st.result.firstError)!.result.firstError!.replace(/`/g, "'")}\`` : ''}`,
    );
  }
  p();

  // 2 ------------------------------------------------------------------------------------------------
  p('## 2. `check` beside approval transitions, and beside permission writes');
  p();
  p(
    `${CHECKERS} Technicians each check their own ${CHECK_PERMISSIONS.length} permissions (${CHECK_PERMISSIONS.map((x) => `\`${x}\``).join(', ')}) with their own ES256 token: ${CHECKERS * CHECK_PERMISSIONS.length} distinct questions. autocannon (bench/approvals/checks-cannon.ts, ${CHECK_LOAD.connections} connections, pipelining 1) draws every request at random from them (seeded: the same sequence in every phase), so that at any moment the connections ask about different checkers; ${CHECK_LOAD.warmupSeconds} s warm-up then ${CHECK_LOAD.seconds} s measured; each response must carry an \`outcome\`. Query: \`${CHECK_QUERY}\`. Three conditions:`,
  );
  p();
  p('- **checks alone**;');
  p(
    `- **checks + approval stream**, ${STREAM_RATE} mutations/s: ${STREAM_RATE / 2} cycles/s, each a \`requestApproval\` (the agent) and, as soon as it returns, \`approveRequest\` of it (the Operator). Audited, no version bump (src/store/write.ts \`recorder\`);`,
  );
  p(
    `- **checks + permission writes**, ${STREAM_RATE} mutations/s: \`setUserFlags\` (the owner) toggling \`${TOGGLED_FLAG}\` on the bystander, who is in no check. Audited, and each bumps the organization's version (\`writer\`).`,
  );
  p();
  p(
    `After an untimed run of checks alone (${CHECK_WARMUP.warmupSeconds} + ${CHECK_WARMUP.seconds} s, so that the first measured phase does not pay for warming the check path), six phases on the same gateway in the order ${ORDER.map(
      (c) => CONDITIONS.indexOf(c),
    )
      .map((i) => 'ABC'[i])
      .join(
        ' ',
      )} (A alone, B approvals, C permission writes: the second round reversed, so that a drift over the section weighs on every condition alike). A stream is an open loop (bench/approvals/driver.ts: a tick every 1000 / rate ms whatever the answers take), started before the checks' warm-up; "in window" counts its mutations answered inside the measured seconds. L1 hit: \`rolegate_cache_lookups_total{level="l1"}\` over the measured window (compiled grants and location paths: every \`check\` here looks up the viewer's grants, the checked user's being the same). Version and audit sequence: the \`organizations\` row, read before the stream starts and after it stops.`,
  );
  p();
  p(
    '| store | # | condition | stream in window: ok mutations/s (target) | stream p50 / p99 ms | stream errors / skipped ticks | checks/s | p50 ms | p99 ms | bad | L1 hit | L1 misses / s | store queries / check (the stream’s included) | version before → after | audit seq before → after | gateway CPU (% of a core) | gateway CPU per stream mutation beyond its checks (ms, estimate) | machine: this process / PostgreSQL / others (not this benchmark) (%) |',
  );
  p(
    '| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: | --- |',
  );
  for (const s of r.backends)
    s.load.phases.forEach((ph, i) => {
      const m = ph.check.main;
      const c = ph.counts;
      const ok = okIn(ph);
      const sr = ph.streamResult;
      const lat = ok.map((x) => x.ms).sort((a, b) => a - b);
      const q = (f: number) =>
        lat[Math.min(lat.length - 1, Math.max(0, Math.ceil(f * lat.length) - 1))] ?? NaN;
      const streamCells = sr
        ? [
            `${fmt(ok.length / ph.windowSeconds)} (${STREAM_RATE})`,
            `${fmt(q(0.5))} / ${fmt(q(0.99))}`,
            `${sr.mutations.filter((x) => !x.ok).length} / ${sr.skipped}`,
          ]
        : ['–', '–', '–'];
      p(
        `| ${s.backend} | ${i + 1} | ${ph.condition} | ${streamCells.join(' | ')} | ${fmt(m.rps, 0)} | ${m.latency.p50} | ${m.latency.p99} | ${m.errors + m.non2xx + m.mismatches + m.timeouts} | ${pct(hit(ph), 2)} | ${fmt(c.l1Miss / ph.windowSeconds, 1)} | ${fmt(c.storeQueries / Math.max(1, c.decisions), 2)} | ${ph.before.version} → ${ph.after.version} | ${ph.before.auditSeq} → ${ph.after.auditSeq} | ${fmt(ph.gatewayCpuPct, 0)} | ${sr ? fmt(streamCpuMs(s, ph)) : '–'} | ${machineCell(ph.machine, phaseClients(ph), cores)} |`,
      );
    });
  p();
  p('Per condition, both runs:');
  p();
  p(
    '| store | condition | checks/s (run 1, run 2) | mean | vs alone (means) | both runs below both alone runs | L1 hit (mean) | version moved by | audit entries / successful stream mutations |',
  );
  p('| --- | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: |');
  for (const s of r.backends)
    for (const c of CONDITIONS) {
      const x = condition(s, c);
      p(
        `| ${s.backend} | ${c} | ${x.runs.map((ph) => fmt(rps(ph), 0)).join(', ')} | ${fmt(x.rps, 0)} | ${c === 'checks alone' ? `runs ${pct(aloneSpread(s), 0)} apart` : pct(x.share, 0)} | ${c === 'checks alone' ? '–' : x.below ? 'yes' : 'no'} | ${pct(x.hit, 2)} | ${n(x.versionMoved)} | ${n(x.audited)} / ${n(x.ok)} |`,
      );
    }
  p();
  for (const s of r.backends) {
    const o = s.load.outcomes;
    p(
      `- ${s.backend}: the ${s.load.questions} questions answered ${Object.entries(o)
        .map(([k, v]) => `${k} ${v}`)
        .join(
          ', ',
        )} before the load; the untimed first run did ${fmt(s.load.warmupRps, 0)} checks/s. Errors the gateway logged over sections 1 and 2: ${s.logged}.${s.load.phases
        .filter((ph) => ph.streamResult?.firstError)
        .map(
          (ph) =>
            ` ${ph.condition} (round ${ph.round}), first stream error: \`${ph.streamResult!.firstError!.replace(/`/g, "'")}\`.`,
        )
        .join('')}`,
    );
  }
  p();

  // 3 ------------------------------------------------------------------------------------------------
  p("## 3. From `requestApproval` returning to the approver's subscription reading it");
  p();
  p(
    `The Operator's graphql-ws client subscribes to their inbox (\`subscription { approvalRequestChanged { id status } }\`); the agent's key sends \`requestApproval\` over HTTP, one at a time: ${LIVE.warmup} warm-up, then ${LIVE.count} measured, each after the previous one's event and a ${LIVE.pauseMs} ms pause (an event not read within ${fmt(LIVE.timeoutMs / 1000, 0)} s is missed). Both clients are in one child process, so the instants share one clock. "answer → event" is from reading the mutation's answer to reading the event: **negative when the event arrived first** (the gateway announces the change before it answers). Percentiles are nearest-rank (of ${LIVE.count} samples, p99 is the ${Math.ceil(0.99 * LIVE.count)}th smallest). The two PostgreSQL gateways run in this process, each over its own \`Store\` and Redis connections: the change goes through Redis pub/sub between them all the same, but they share one event loop.`,
  );
  p();
  p(
    '| setup | measured | missed | answer → event p50 / p90 / p99 / max ms | events read before the answer | send → event p50 / p99 ms | send → answer p50 / p99 ms | listener version reads during the run (Redis / PostgreSQL / memory) | machine: this process / PostgreSQL / others (%) |',
  );
  p('| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |');
  for (const l of r.live) {
    const early = l.result.samples.filter((x) => x.afterAnswer < 0).length;
    const v = l.listener.versionReads;
    p(
      `| ${l.name} | ${l.afterAnswer.n} | ${l.result.missed} | ${fmt(l.afterAnswer.p50)} / ${fmt(l.afterAnswer.p90)} / ${fmt(l.afterAnswer.p99)} / ${fmt(l.afterAnswer.max)} | ${early} of ${l.afterAnswer.n} | ${fmt(l.afterSend.p50)} / ${fmt(l.afterSend.p99)} | ${fmt(l.answered.p50)} / ${fmt(l.answered.p99)} | ${v.redis} / ${v.store} / ${v.memory} | ${l.machine ? `${fmt(l.machine.self, 0)} / ${fmt(l.machine.server, 0)} / ${fmt(l.machine.others, 0)}` : '–'} |`,
    );
  }
  p();
  if (r.live.some((l) => l.result.firstError || l.result.otherStatus))
    for (const l of r.live.filter((x) => x.result.firstError || x.result.otherStatus))
      p(
        `- ${l.name}: ${l.result.otherStatus} events not PENDING; first error: ${l.result.firstError ?? 'none'}`,
      );
  p(`Errors the section 3 PostgreSQL gateways logged: ${r.liveLogged}.`);
  p();

  // Reading ------------------------------------------------------------------------------------------
  p('## Reading');
  p();
  for (const line of reading(r)) p(`- ${line}`);
  p();
  return lines.join('\n');
}

/** The reading, from this run's figures only. */
function reading(r: Results): string[] {
  const out: string[] = [];
  for (const s of r.backends) {
    const steps = s.flow.steps;
    const costly = steps.reduce((a, b) => (b.gatewayCpuMs > a.gatewayCpuMs ? b : a));
    out.push(
      `**${s.backend}, the flow.** ${steps.map((st) => `\`${st.mutation}\` ${fmt(st.rps, 0)}/s (p50 ${fmt(st.ms.p50)} ms, p99 ${fmt(st.ms.p99)} ms; ${fmt(st.storeQueries, 1)} store queries, ${fmt(st.gatewayCpuMs)} ms of gateway CPU each)`).join(', ')}, with ${FLOW.connections} clients. The costliest is \`${costly.mutation}\`. ${s.flow.before.version === s.flow.after.version ? 'None of the flow moved the version.' : '**The flow moved the version.**'}`,
    );
  }
  for (const s of r.backends) {
    const alone = condition(s, 'checks alone');
    const apr = condition(s, 'checks + approval stream');
    const pw = condition(s, 'checks + permission writes');
    const versions = apr.runs.map((ph) => `${ph.before.version} → ${ph.after.version}`).join(' and ');
    out.push(
      `**${s.backend}, the claim.** Through the two approval phases the version went ${versions}: ${apr.versionMoved === 0 ? 'the approval stream did **not** move it' : `**moved by ${apr.versionMoved}: the claim does not hold here**`}, while the audit sequence advanced by ${n(apr.audited)} for the stream's ${n(apr.ok)} successful transitions (${apr.audited === apr.ok ? 'one entry each' : 'not one entry each: look at the sweep or the errors'}). The permission writes moved it by ${n(pw.versionMoved)} (${n(pw.ok)} successful \`setUserFlags\`).`,
    );
    const staleFree = apr.hit >= Math.min(...alone.runs.map(hit)) - 0.001;
    const perSecond = (x: ReturnType<typeof condition>) =>
      mean(x.runs.map((ph) => ph.counts.l1Miss / ph.windowSeconds));
    out.push(
      `**${s.backend}, the cache.** L1 hit ratio (mean of two runs): alone ${pct(alone.hit, 2)}, with approvals ${pct(apr.hit, 2)}, with permission writes ${pct(pw.hit, 2)} (${fmt(perSecond(pw), 0)} L1 misses/s against ${fmt(perSecond(apr), 0)} with approvals). ${staleFree ? 'The approval stream made no cached permission set stale.' : 'The hit ratio **fell** with the approval stream: something it does invalidates cached permission sets.'} ${pw.hit < Math.min(...alone.runs.map(hit)) - 0.001 ? "Each permission write starts a new version, and every checker's grants are compiled again at it when next asked." : 'The permission writes did not lower the hit ratio measurably either.'}`,
    );
    const flow = s.flow.steps;
    const cycleCpu = flow[0]!.gatewayCpuMs + flow[1]!.gatewayCpuMs;
    const est = mean(apr.runs.map((ph) => streamCpuMs(s, ph)));
    out.push(
      `**${s.backend}, throughput.** Checks/s with the approval stream ${pct(apr.share, 0)} of alone (means of two runs), with permission writes ${pct(pw.share, 0)}; the two alone runs are ${pct(aloneSpread(s), 0)} apart. ${
        apr.below
          ? `Both approval runs were below both alone runs: the approval stream cost check throughput${staleFree ? ", with no stale cache, so the cost is the mutations' own work on the shared cores" : ''}. In section 1 a cycle (request + approve) cost this process ${fmt(cycleCpu)} ms of CPU (${fmt((cycleCpu * STREAM_RATE) / 2 / 10, 0)}% of a core at ${STREAM_RATE / 2} cycles/s; estimated in these phases: ${fmt(est)} ms per mutation), against ${fmt(mean(alone.runs.map(cpuPerCheckUs)), 0)} µs per check alone${s.backend.includes('PGlite') ? '; with the embedded store every statement of those transactions runs in WASM on the event loop that serves the checks, one at a time' : "; PostgreSQL's own share is in the machine column"}.`
          : 'The approval runs were not both below both alone runs: no cost distinguishable from the run-to-run variation.'
      } ${pw.rps < apr.rps ? `Permission writes at the same mutation rate cost more: ${pct(pw.share, 0)} against ${pct(apr.share, 0)} of alone${pw.below ? '' : ' (but their runs are not both below the alone runs)'}.` : `Permission writes at the same mutation rate cost no more than approvals here (${pct(pw.share, 0)} vs ${pct(apr.share, 0)}).`} Check p99 (worst of the two runs): alone ${Math.max(...alone.runs.map((ph) => ph.check.main.latency.p99))} ms, with approvals ${Math.max(...apr.runs.map((ph) => ph.check.main.latency.p99))} ms, with permission writes ${Math.max(...pw.runs.map((ph) => ph.check.main.latency.p99))} ms, while the writes themselves kept ${fmt(mean(pw.runs.map((ph) => okIn(ph).length / ph.windowSeconds)), 0)}/s.`,
    );
  }
  for (const l of r.live) {
    const early = l.result.samples.filter((x) => x.afterAnswer < 0).length;
    out.push(
      `**Live, ${l.name}.** The approver read the new request ${fmt(l.afterAnswer.p50)} ms after the agent read its answer at p50 (p99 ${fmt(l.afterAnswer.p99)} ms); ${early} of ${l.afterAnswer.n} events arrived before the answer. From sending, ${fmt(l.afterSend.p50)} ms at p50 (p99 ${fmt(l.afterSend.p99)} ms)${l.result.missed ? `; **${l.result.missed} events missed**` : ', none missed'}.`,
    );
  }
  const disturbed: string[] = [];
  for (const s of r.backends) {
    for (const st of s.flow.steps) {
      const x = external(st.machine, st.clientsPct, r.machine.cores);
      if (x > DISTURBED_PCT) disturbed.push(`${s.backend} \`${st.mutation}\` (${fmt(x, 0)}%)`);
    }
    s.load.phases.forEach((ph, i) => {
      const x = external(ph.machine, phaseClients(ph), r.machine.cores);
      if (x > DISTURBED_PCT) disturbed.push(`${s.backend} phase ${i + 1}, ${ph.condition} (${fmt(x, 0)}%)`);
    });
  }
  out.push(
    disturbed.length
      ? `**Disturbed measurements.** Other work on the machine used more than ${DISTURBED_PCT}% of all cores during: ${disturbed.join('; ')}. Their figures are lower than this machine gives alone; compare them with care.`
      : `**Disturbance.** No measurement of sections 1 and 2 had other work on the machine above ${DISTURBED_PCT}% of all cores.`,
  );
  return out;
}
