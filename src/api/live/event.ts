import type { Context } from '../context';

const DECIDED_AT = Symbol('rolegate.live.decidedAt');

/**
 * A subscription's event, marked with the context it was decided at (a `fresh()` context): the
 * transport then resolves the event's fields in that same context, at the same version, instead of
 * authenticating once more for a context of its own. Returns `payload`.
 */
export function decidedAt<T extends object>(payload: T, context: Context): T {
  Object.defineProperty(payload, DECIDED_AT, { value: context, enumerable: false });
  return payload;
}

/** The context an event was marked with by `decidedAt`; undefined when it was not. */
export function contextOfEvent(payload: unknown): Context | undefined {
  return typeof payload === 'object' && payload !== null
    ? ((payload as { [DECIDED_AT]?: Context })[DECIDED_AT] ?? undefined)
    : undefined;
}
