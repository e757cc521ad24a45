import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The gateway's Prometheus metrics, served at /metrics. One registry per gateway (not prom-client's
 * global one), so several gateways in one process (tests, benchmarks) do not mix their counts. Labels
 * are small fixed sets: never an organization, user or permission.
 */
export class Metrics {
  readonly registry = new Registry();

  /** Decisions made, by outcome (`check`, `checks`, guards). */
  readonly decisions = new Counter({
    name: 'rolegate_decisions_total',
    help: 'Decisions made, by outcome.',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  /** Time to decide one `check` / `checks` field, loads included. */
  readonly decisionSeconds = new Histogram({
    name: 'rolegate_decision_duration_seconds',
    help: 'Time to answer a check or checks field, loading included.',
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  /** Lookups of compiled permission sets and location paths, by level (l1, l2) and result (hit, miss). */
  readonly cache = new Counter({
    name: 'rolegate_cache_lookups_total',
    help: 'Cache lookups by level (l1 in process, l2 Redis) and result (hit, miss).',
    labelNames: ['level', 'result'] as const,
    registers: [this.registry],
  });
  /** Statements sent to the store. */
  readonly storeQueries = new Counter({
    name: 'rolegate_store_queries_total',
    help: 'Statements sent to the store (PostgreSQL or the embedded store).',
    registers: [this.registry],
  });
  /** Redis commands that failed (timeouts, lost connections), by what they were for. */
  readonly redisErrors = new Counter({
    name: 'rolegate_redis_errors_total',
    help: 'Redis commands that failed, by purpose.',
    labelNames: ['op'] as const,
    registers: [this.registry],
  });
  /** 1 while Redis is configured and reachable. */
  readonly redisUp = new Gauge({
    name: 'rolegate_redis_up',
    help: '1 while the shared cache (Redis) is configured and reachable, else 0.',
    registers: [this.registry],
  });
  /** Where versions were read from: redis, store, memory (the embedded store's). */
  readonly versionReads = new Counter({
    name: 'rolegate_version_reads_total',
    help: 'Organization versions read, by source.',
    labelNames: ['source'] as const,
    registers: [this.registry],
  });

  /**
   * Router coprocessor requests (/federation/coprocessor), by protocol (apollo, hive) and result:
   * decided, no_policies, unauthenticated, unavailable (both answered per ROLEGATE_COPROCESSOR_ON_FAULT),
   * refused (HTTP 400).
   */
  readonly coprocessor = new Counter({
    name: 'rolegate_coprocessor_requests_total',
    help: 'Router coprocessor requests, by protocol and result.',
    labelNames: ['protocol', 'result'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'rolegate_' });
  }
}
