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
