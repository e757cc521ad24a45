/**
 * In-process measurements, with graphql's own `execute` on each schema variant and contexts built by
 * the gateway's `buildContext` over the real store: the guards' cost on a 1,000-object result, and
 * what one `check` request costs piece by piece (token verification, organization state, context,
 * execution).
 */
import { execute, isObjectType, parse, type DocumentNode, type GraphQLSchema } from 'graphql';
import { applyMiddleware, middleware, type IMiddleware } from 'graphql-middleware';
import { allow, rule, shield } from 'graphql-shield';
import type { IRule } from 'graphql-shield/typings/types';
import { jwtVerify, type CryptoKey } from 'jose';
import { buildContext, type ContextDeps } from '../../src/api/context';
import { buildSchema, buildUnguardedSchema } from '../../src/api/schema';
import type { Store } from '../../src/store';
import { dist, type Dist } from './stats';

/**
 * Counts the store's queries and the time at least one was in flight (a union of intervals, so
 * concurrent queries are not counted twice), by wrapping `store.db.query` in this process.
 */
export class StoreMeter {
  queries = 0;
  private busyMs = 0;
  private inFlight = 0;
  private since = 0;

  constructor(store: Store) {
    const db = store.db as { query: Store['db']['query'] };
    const query = db.query.bind(db);
    db.query = ((sql: string, params?: readonly unknown[]) => {
      this.queries++;
      if (this.inFlight++ === 0) this.since = performance.now();
      const done = () => {
        if (--this.inFlight === 0) this.busyMs += performance.now() - this.since;
      };
      return query(sql, params).finally(done);
    }) as Store['db']['query'];
  }

  reset(): void {
    this.queries = 0;
    this.busyMs = 0;
    // Queries still in flight count from now on, not from when they started.
    this.since = performance.now();
  }

  /** ms with a query in flight since the last reset. */
  get ms(): number {
    return this.busyMs + (this.inFlight ? performance.now() - this.since : 0);
  }
}

export type Variant = 'unguarded' | 'guarded' | 'plainShield';

export const VARIANT_NAMES: Record<Variant, string> = {
  unguarded: 'guards off (`buildUnguardedSchema()`)',
  guarded: 'rolegate guards (`buildSchema()`)',
  plainShield: 'plain graphql-shield (a `no_cache` rule on every field)',
};

/**
 * The three schemas. "Plain graphql-shield" is what the gateway's rule tree would be without its
 * pruning: the same root guards (rolegate's, unchanged), plus what a plain shield tree does for every
 * other type: `Location: { '*': rule({ cache: 'no_cache' })(() => true) }`, and so on for every object
 * type, so each field of each returned object evaluates a rule before it resolves.
 */
export function schemaVariants(): Record<Variant, GraphQLSchema> {
  const unguarded = buildUnguardedSchema();
  const roots = new Set(
    [unguarded.getQueryType(), unguarded.getMutationType(), unguarded.getSubscriptionType()].map(
      (t) => t?.name,
    ),
  );
  const tree: Record<string, Record<string, IRule>> = {};
  for (const type of Object.values(unguarded.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__') || roots.has(type.name)) continue;
    tree[type.name] = { '*': rule(`${type.name}.*`, { cache: 'no_cache' })(() => true) };
  }
  const plain = shield(tree, { fallbackRule: allow, allowExternalErrors: true });
  // The root fields keep rolegate's own guards only (not wrapped a second time).
  const nonRoot = middleware((s: GraphQLSchema) => {
    const all = plain.generate(s) as Record<string, unknown>;
    for (const r of roots) if (r) delete all[r];
    return all as IMiddleware;
  });
  return {
    unguarded,
    guarded: buildSchema().schema,
    plainShield: applyMiddleware(buildSchema().schema, nonRoot),
  };
}

export interface QueryCase {
  name: string;
  /** What it asks for, in words (for the report). */
  description: string;
  document: DocumentNode;
  variables: Record<string, unknown>;
  /** The token of the viewer (a Bearer value without the prefix). */
  token: string;
  /** Field resolutions per execution, counted on the first result (for the report). */
  fields?: number;
}

export interface QueryResult {
  name: string;
  description: string;
  fields: number;
  objects: number;
  perVariant: Record<Variant, Dist>;
  /** ms with a store query in flight, per execution. */
  storeMs: Record<Variant, Dist>;
  /** Execution time with no store query in flight, per execution (ms). */
  restMs: Record<Variant, Dist>;
  /** Store queries per execution (the most seen). */
  queries: Record<Variant, number>;
  /** Same data from every variant, and no errors. */
  identical: boolean;
}

/** Counts leaf and object field values in a result (what was resolved), and the top list's length. */
function countFields(data: unknown): { fields: number; objects: number } {
  let fields = 0;
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object')
      for (const x of Object.values(v)) {
        fields++;
        walk(x);
      }
  };
  walk(data);
  const top = data && typeof data === 'object' ? Object.values(data)[0] : null;
  return { fields: fields - 1, objects: Array.isArray(top) ? top.length : 1 };
}

/**
 * Executes a query on each variant: warm-up, then `rounds` rounds that visit every variant in turn
 * (`perRound` executions each), so a slowdown of the shared machine lands on every variant alike. Each
 * execution gets a fresh context (fresh loaders, as a request would), built outside the timed part.
 */
export async function measureQuery(
  deps: ContextDeps,
  meter: StoreMeter,
  schemas: Record<Variant, GraphQLSchema>,
  q: QueryCase,
  plan: { warmup: number; rounds: number; perRound: number },
): Promise<QueryResult> {
  const variants = Object.keys(schemas) as Variant[];
  const samples: Record<Variant, number[]> = { unguarded: [], guarded: [], plainShield: [] };
  const storeMs: Record<Variant, number[]> = { unguarded: [], guarded: [], plainShield: [] };
  const restMs: Record<Variant, number[]> = { unguarded: [], guarded: [], plainShield: [] };
  const queries: Record<Variant, number> = { unguarded: 0, guarded: 0, plainShield: 0 };
  const outputs: Partial<Record<Variant, string>> = {};
  let identical = true;
  const once = async (v: Variant, record = false): Promise<void> => {
    const contextValue = await buildContext(deps, { authorization: `Bearer ${q.token}` });
    meter.reset();
    const t0 = performance.now();
    const result = await execute({
      schema: schemas[v],
      document: q.document,
      variableValues: q.variables,
      contextValue,
    });
    const ms = performance.now() - t0;
    if (record) {
      samples[v].push(ms);
      storeMs[v].push(meter.ms);
      restMs[v].push(ms - meter.ms);
      queries[v] = Math.max(queries[v], meter.queries);
    }
    if (result.errors?.length) {
      identical = false;
      throw new Error(`${q.name} on ${v}: ${result.errors[0]!.message}`);
    }
    if (outputs[v] === undefined) {
      outputs[v] = JSON.stringify(result.data);
      if (outputs.unguarded !== undefined && outputs[v] !== outputs.unguarded) identical = false;
    }
  };
  for (const v of variants) for (let i = 0; i < plan.warmup; i++) await once(v);
  for (let r = 0; r < plan.rounds; r++)
    for (const v of variants) for (let i = 0; i < plan.perRound; i++) await once(v, true);
  const { fields, objects } = countFields(JSON.parse(outputs.unguarded ?? 'null'));
  return {
    name: q.name,
    description: q.description,
    fields,
    objects,
    perVariant: {
      unguarded: dist(samples.unguarded),
      guarded: dist(samples.guarded),
      plainShield: dist(samples.plainShield),
    },
    storeMs: {
      unguarded: dist(storeMs.unguarded),
      guarded: dist(storeMs.guarded),
      plainShield: dist(storeMs.plainShield),
    },
    restMs: {
      unguarded: dist(restMs.unguarded),
      guarded: dist(restMs.guarded),
      plainShield: dist(restMs.plainShield),
    },
    queries,
    identical,
  };
}

export interface BreakdownRow {
  step: string;
  /** µs */
  us: Dist;
  /** Store queries per run. */
  queries: number;
  /** µs with a store query in flight, per run. */
  storeUs: Dist;
}

/**
 * One `check` request, piece by piece, in sequence (no concurrency): each step's cost in µs, with the
 * gateway's dependencies built as it builds them (in-process cache on, its default) and without the
 * cache, so the HTTP figures can be read against them.
 */
export async function breakdown(
  deps: { cached: ContextDeps; uncached: ContextDeps },
  meter: StoreMeter,
  input: {
    token: string;
    hsToken: string;
    hsKey: Uint8Array;
    esKey: CryptoKey;
    orgId: string;
    check: { userId: string; permission: string; locationId: string };
  },
  n: number,
): Promise<BreakdownRow[]> {
  const schemas = { guarded: buildSchema().schema, unguarded: buildUnguardedSchema() };
  const document = parse(
    'query Check($input: CheckInput!) { check(input: $input) { allowed outcome version } }',
  );
  const verifyOptions = {
    issuer: 'rolegate',
    audience: 'rolegate',
    clockTolerance: 5,
    requiredClaims: ['sub', 'exp'],
  };
  const authorization = `Bearer ${input.token}`;
  const ctx = (d: ContextDeps) => () => buildContext(d, { authorization });
  const steps: { step: string; fn: () => Promise<unknown> }[] = [
    {
      step: 'jose `jwtVerify`, ES256 (production: public key)',
      fn: () => jwtVerify(input.token, input.esKey, { ...verifyOptions, algorithms: ['ES256'] }),
    },
    {
      step: 'jose `jwtVerify`, HS256 (development secret)',
      fn: () => jwtVerify(input.hsToken, input.hsKey, { ...verifyOptions, algorithms: ['HS256'] }),
    },
    {
      step: '`Authenticator.authenticate`, cache on (the token verified once, then kept)',
      fn: () => deps.cached.authenticator.authenticate(authorization),
    },
    {
      step: '`OrgStates.load`, cache on',
      fn: () => deps.cached.orgStates.load(input.orgId),
    },
    {
      step: '`OrgStates.load`, cache off',
      fn: () => deps.uncached.orgStates.load(input.orgId),
    },
    { step: '`buildContext`, cache on', fn: ctx(deps.cached) },
    { step: '`buildContext`, cache off', fn: ctx(deps.uncached) },
  ];
  const rows: BreakdownRow[] = [];
  for (const s of steps) {
    for (let i = 0; i < Math.min(200, n); i++) await s.fn();
    const us: number[] = [];
    const storeUs: number[] = [];
    for (let i = 0; i < n; i++) {
      meter.reset();
      const t0 = performance.now();
      await s.fn();
      us.push((performance.now() - t0) * 1000);
      storeUs.push(meter.ms * 1000);
    }
    rows.push({ step: s.step, us: dist(us), queries: meter.queries, storeUs: dist(storeUs) });
  }
  const executions = [
    ['guarded', 'cache on', deps.cached],
    ['unguarded', 'cache on', deps.cached],
    ['guarded', 'cache off', deps.uncached],
    ['unguarded', 'cache off', deps.uncached],
  ] as const;
  for (const [v, label, d] of executions) {
    const us: number[] = [];
    const storeUs: number[] = [];
    for (let i = 0; i < n + 200; i++) {
      const contextValue = await buildContext(d, { authorization });
      meter.reset();
      const t0 = performance.now();
      const result = await execute({
        schema: schemas[v],
        document,
        variableValues: { input: input.check },
        contextValue,
      });
      if (result.errors?.length) throw new Error(`check (${v}): ${result.errors[0]!.message}`);
      if (i >= 200) {
        us.push((performance.now() - t0) * 1000);
        storeUs.push(meter.ms * 1000);
      }
    }
    rows.push({
      step: `\`execute\` of \`check\` on the ${v} schema, ${label} (context ready)`,
      us: dist(us),
      queries: meter.queries,
      storeUs: dist(storeUs),
    });
  }
  return rows;
}
