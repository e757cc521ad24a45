import type { IMiddleware } from 'graphql-middleware';
import type { Deadline } from './deadline';

/** A request context that carries its deadline (the gateway's always does: see context.ts). */
export interface WithDeadline {
  deadline?: Deadline;
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
