import type { IMiddleware } from 'graphql-middleware';
import { Deadline } from './deadline';

/** A request context that carries its deadline (the gateway's always does). */
export interface WithDeadline {
  deadline?: Deadline;
}

/**
 * The context with a deadline: the one it already has (when the context builder made one), else a new
 * one of `timeoutMs` that started at `startedAt` (performance.now() when the request was taken up).
 */
export function withDeadline<C extends object>(
  context: C,
  timeoutMs: number,
  startedAt: number,
): C & { deadline: Deadline } {
  const own = (context as WithDeadline).deadline;
  if (own instanceof Deadline) return context as C & { deadline: Deadline };
  // Started when the request was taken up, not now: authentication counts against it.
  const deadline = new Deadline(timeoutMs, { startedAt });
  return Object.assign(context, { deadline });
}

/**
 * Root fields answer at the deadline. A query field still running then is answered REQUEST_TIMEOUT at
 * once (its work stops at its next `deadline.check()`). A mutation field is never cut short (a write
 * that commits must not be reported as stopped); one that has not started by the deadline is not
 * started.
 */
export function deadlineMiddleware<C extends object>(): IMiddleware<unknown, C> {
  return {
    Query: async (resolve, parent, args, ctx, info) => {
      const deadline = (ctx as WithDeadline | undefined)?.deadline;
      if (!deadline) return resolve(parent, args, ctx, info);
      deadline.check();
      return deadline.race(Promise.resolve(resolve(parent, args, ctx, info)));
    },
    Mutation: async (resolve, parent, args, ctx, info) => {
      (ctx as WithDeadline | undefined)?.deadline?.check();
      return resolve(parent, args, ctx, info);
    },
  };
}
