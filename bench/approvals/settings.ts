/** What `bench:approvals` runs: every size, rate and query, fixed before any run. */

export const QUICK = process.argv.includes('--quick');

/**
 * The flow's closed loops. A requester keeps at most 1,000 requests PENDING (MAX_PENDING_PER_REQUESTER):
 * warm-up + measured requests stay below it, since all are requested before any is approved.
 */
export const FLOW = { connections: 10, warmup: QUICK ? 20 : 100, requests: QUICK ? 100 : 800 };

/** The check load: bench/http's 50 connections (pipelining 1), shorter runs; six measured phases. */
export const CHECK_LOAD = { connections: 50, warmupSeconds: QUICK ? 1 : 2, seconds: QUICK ? 3 : 6 };
/** The untimed run before the first measured phase. */
export const CHECK_WARMUP = { warmupSeconds: 1, seconds: QUICK ? 2 : 4 };
/** The seed of the checks' random draws (the same sequence in every phase). */
export const CHECK_SEED = 20261129;

/** Mutations per second of each concurrent stream (an approval cycle is two: request + approve). */
export const STREAM_RATE = 50;

/** The subscription probe: requests one at a time, each after the previous one's event. */
export const LIVE = { warmup: QUICK ? 5 : 10, count: QUICK ? 20 : 100, pauseMs: 10, timeoutMs: 5_000 };

export const CHECK_QUERY =
  'query Check($input: CheckInput!) { check(input: $input) { allowed outcome version } }';
export const REQUEST_MUTATION =
  'mutation($input: RequestApprovalInput!) { requestApproval(input: $input) { outcome version request { id status argumentsHash } } }';
export const APPROVE_MUTATION =
  'mutation($input: DecideRequestInput!) { approveRequest(input: $input) { version request { id status } } }';
export const EXECUTE_MUTATION =
  'mutation($input: ExecuteApprovedInput!) { executeApproved(input: $input) { version request { id status } } }';
