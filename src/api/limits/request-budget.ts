/**
 * What one request may ask for, counted over its root fields (aliases each count) before any of them
 * runs. Errors never say these numbers.
 */

/** At most this many decisions per request, over every decision field and alias. */
export const MAX_DECISIONS = 1_000;

/**
 * Decisions a root field of Query makes: a number, or one per item of a list argument (however the
 * list is written: a literal or a variable).
 */
export const DECISION_FIELDS: Readonly<Record<string, number | { itemsOf: string }>> = {
  check: 1,
  explain: 1,
  capabilities: 1,
  // Its work grows with the user's own assignments, not with the organization (at most a few ms).
  viewerRules: 1,
  checks: { itemsOf: 'inputs' },
  // Each entity is a root lookup with its guard (Federation's `_entities`).
  _entities: { itemsOf: 'representations' },
};

/**
 * Root fields that may read many rows for one page whatever `first` is (a common permission's
 * candidates, a large subtree, users at a location): at most MAX_EXPENSIVE of them per request. whoCan
 * and whereCan start from candidates (src/decisions/scans.ts); this stays as a second line of defence.
 */
export const EXPENSIVE_FIELDS: ReadonlySet<string> = new Set([
  'whoCan',
  'whereCan',
  'users',
  'approvalRequests',
]);
export const MAX_EXPENSIVE = 2;
