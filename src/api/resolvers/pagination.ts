import { isUuid } from '../../store';
import { badInput } from '../errors';

/** Page sizes: `first` defaults to 50; more than the maximum is refused, never silently cut. */
const DEFAULT_PAGE = 50;
const MAX_PAGE = 500;

export function pageSize(first: number | null | undefined): number {
  if (first == null) return DEFAULT_PAGE;
  if (!Number.isInteger(first) || first < 1) throw badInput('first must be a positive number');
  if (first > MAX_PAGE)
    throw badInput('first is larger than a page may be: ask for fewer and follow endCursor');
  return first;
}

/** A connection from one item more than asked for: that extra item says whether a next page exists. */
export function connection<T>(items: T[], first: number, cursorOf: (item: T) => string) {
  const page = items.slice(0, first);
  return {
    edges: page.map((node) => ({ cursor: cursorOf(node), node })),
    pageInfo: {
      hasNextPage: items.length > first,
      endCursor: page.length ? cursorOf(page[page.length - 1]!) : null,
    },
  };
}

/**
 * The audit log's cursor (an entry's `seq`): 0, the start, when there is none. Anything that is not a
 * sequence number this log can hold is the client's mistake, never a store error.
 */
export function seqCursor(after: string | null | undefined): number {
  if (after == null) return 0;
  const seq = /^\d{1,16}$/.test(after) ? Number(after) : NaN;
  if (!Number.isSafeInteger(seq)) throw badInput('after is not a cursor of this list: use an endCursor');
  return seq;
}

/**
 * An id cursor (users, locations, whoCan, whereCan): null, the start, when there is none. A cursor that
 * is not an id is refused, rather than read as "from the start" (which repeats pages silently).
 */
export function idCursor(after: string | null | undefined): string | null {
  if (after == null) return null;
  if (!isUuid(after)) throw badInput('after is not a cursor of this list: use an endCursor');
  return after.toLowerCase();
}
