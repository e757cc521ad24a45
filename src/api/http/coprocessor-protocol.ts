import { z } from 'zod';
import type { OperationBody } from './coprocessor-policies';

/**
 * The two routers' coprocessor protocols (version 1), as far as `@policy` needs them. Apollo Router
 * calls at the `SupergraphRequest` stage with `context.entries` (docs: apollographql.com/docs/graphos/
 * routing/customization/coprocessor/reference; code: apollo-router/src/services/external.rs, 2.13);
 * Hive Router at `graphql.analysis` with a flat `context` (the-guild.dev/graphql/hive/docs/router/
 * customizations/coprocessors/stages-and-protocol). Unknown properties are let through: routers add
 * fields, and an answer never echoes what it did not read.
 */

/** Apollo Router 2.x's key, and the 1.x name a 2.x router still sends with `context: true` (deprecated). */
export const APOLLO_POLICIES_KEYS = [
  'apollo::authorization::required_policies',
  'apollo_authorization::policies::required',
] as const;
export const APOLLO_CLAIMS_KEYS = [
  'apollo::authentication::jwt_claims',
  'apollo_authentication::JWT::claims',
] as const;
export const HIVE_POLICIES_KEY = 'hive::authorization::required_policies';

export const APOLLO_STAGE = 'SupergraphRequest';
export const HIVE_STAGE = 'graphql.analysis';

/** A policy map: policy name → null (the routers send null; a value already set is decided again). */
const policies = z.record(z.string(), z.unknown());
/** Header name → values (lowercase names, an array each; a lone string is accepted too). */
const headers = z.record(z.string(), z.union([z.array(z.string()), z.string()]));
const body = z.looseObject({
  query: z.string().nullish(),
  operationName: z.string().nullish(),
  variables: z.record(z.string(), z.unknown()).nullish(),
});
const envelope = z.looseObject({ version: z.unknown(), stage: z.unknown() });

const apolloRequest = z.looseObject({
  version: z.literal(1),
  stage: z.literal(APOLLO_STAGE),
  // Always "continue" from the router; anything else is not a request at this stage.
  control: z.literal('continue').optional(),
  id: z.string().max(256).optional(),
  headers: headers.optional(),
  body: body.optional(),
  context: z.looseObject({ entries: z.record(z.string(), z.unknown()) }).optional(),
});
const hiveRequest = z.looseObject({
  version: z.literal(1),
  stage: z.literal(HIVE_STAGE),
  id: z.string().max(256).optional(),
  headers: headers.optional(),
  body: body.optional(),
  context: z.record(z.string(), z.unknown()).optional(),
});

/** A request read: which protocol, the policies under each key received, the credentials, the operation. */
export interface CoprocessorRequest {
  protocol: 'apollo' | 'hive';
  /** What an Apollo answer echoes. */
  echo: { version: 1; stage: string; id?: string };
  /** Policy names under each key received; empty: no key, nothing to decide. */
  policies: Map<string, string[]>;
  /** The `Authorization` header, when exactly one was sent. */
  authorization: string | undefined;
  /** Several `Authorization` values: refused as a malformed header. */
  authorizationConflict: boolean;
  /** The router's verified JWT claims (Apollo only), trusted only when configured. */
  claims: unknown;
  operation: OperationBody | undefined;
}

/** A request that is not one of the protocols': HTTP 400 with this message. */
export class ProtocolError extends Error {
  override name = 'ProtocolError';
}

/** Reads a coprocessor request; throws ProtocolError naming what is wrong. */
export function readRequest(payload: unknown): CoprocessorRequest {
  const head = envelope.safeParse(payload);
  if (!head.success) throw new ProtocolError('expected a JSON object: a router coprocessor request');
  const { version, stage } = head.data;
  if (version !== 1)
    throw new ProtocolError(`unsupported coprocessor protocol version ${shown(version)}: expected 1`);
  if (stage === APOLLO_STAGE) {
    const r = apolloRequest.safeParse(payload);
    if (!r.success) throw new ProtocolError(problem('Apollo Router SupergraphRequest', r.error));
    const entries = r.data.context?.entries ?? {};
    return {
      protocol: 'apollo',
      echo: { version: 1, stage: APOLLO_STAGE, ...(r.data.id !== undefined ? { id: r.data.id } : {}) },
      policies: policiesUnder(entries, APOLLO_POLICIES_KEYS),
      ...credentials(r.data.headers),
      claims: APOLLO_CLAIMS_KEYS.map((k) => entries[k]).find((c) => c !== undefined),
      operation: r.data.body,
    };
  }
  if (stage === HIVE_STAGE) {
    const r = hiveRequest.safeParse(payload);
    if (!r.success) throw new ProtocolError(problem('Hive Router graphql.analysis', r.error));
    return {
      protocol: 'hive',
      echo: { version: 1, stage: HIVE_STAGE },
      policies: policiesUnder(r.data.context ?? {}, [HIVE_POLICIES_KEY]),
      ...credentials(r.data.headers),
      // Hive Router's context has no claims (only jwt_scopes and jwt_status): the header decides.
      claims: undefined,
      operation: r.data.body,
    };
  }
  throw new ProtocolError(
    `unsupported stage ${shown(stage)}: call the coprocessor at Apollo Router's supergraph request stage ("${APOLLO_STAGE}") or Hive Router's "${HIVE_STAGE}"`,
  );
}

function policiesUnder(context: Record<string, unknown>, keys: readonly string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const key of keys) {
    if (context[key] === undefined) continue;
    const map = policies.safeParse(context[key]);
    if (!map.success) throw new ProtocolError(`context "${key}" must be a map of policy names`);
    out.set(key, Object.keys(map.data));
  }
  return out;
}

function credentials(h: z.infer<typeof headers> | undefined) {
  const values = Object.entries(h ?? {})
    .filter(([name]) => name.toLowerCase() === 'authorization')
    .flatMap(([, v]) => (Array.isArray(v) ? v : [v]));
  return {
    authorization: values.length === 1 ? values[0] : undefined,
    authorizationConflict: values.length > 1,
  };
}

function problem(what: string, error: z.ZodError): string {
  const issue = error.issues[0]!;
  const at = issue.path.length ? issue.path.map(String).join('.') : 'the request';
  return `not a valid ${what} request: ${at}: ${issue.message}`;
}

/** A value for a message: short scalars only, never a whole object. */
function shown(value: unknown): string {
  const text = JSON.stringify(value);
  return value !== null && typeof value === 'object'
    ? 'an object'
    : text === undefined
      ? '(none)'
      : text.length <= 60
        ? text
        : `${text.slice(0, 57)}…`;
}

/** Why a request is not decided: its credentials (401) or the store and cache (503). */
export interface Fault {
  status: 401 | 503;
  code: 'UNAUTHENTICATED' | 'TOKEN_EXPIRED' | 'UNAVAILABLE';
  message: string;
}

/** The answer to `request`: every policy true or false under the keys received, or a break. */
export function answer(
  request: CoprocessorRequest,
  outcome: { decided: Map<string, boolean> } | { fault: Fault } | 'continue',
): Record<string, unknown> {
  const head =
    request.protocol === 'apollo'
      ? { ...request.echo, control: 'continue' }
      : { version: 1, control: 'continue' };
  if (outcome === 'continue') return head;
  if ('fault' in outcome) {
    const { status, code, message } = outcome.fault;
    return { ...head, control: { break: status }, body: { errors: [{ message, extensions: { code } }] } };
  }
  const context: Record<string, Record<string, boolean>> = {};
  for (const [key, names] of request.policies)
    // Only `true` grants, and every name gets a boolean: nothing is left null (which denies too).
    context[key] = Object.fromEntries(names.map((n) => [n, outcome.decided.get(n) === true]));
  return { ...head, context: request.protocol === 'apollo' ? { entries: context } : context };
}
