const path = require('node:path');
const Sequencer = require('@jest/test-sequencer').default;

/**
 * Seconds each slow file took in a full CI run on the 2-core CI machine (jest --json of 2026-11-29,
 * before the ci-speed changes), rounded: only files of 20 s or more.
 */
const SLOW = {
  'test/cache/replicas.test.ts': 358,
  'test/admin/no-escalation.test.ts': 118,
  'test/deploy/image.test.ts': 59,
  'test/api/limits.test.ts': 47,
  'test/api/subscriptions.test.ts': 44,
  'test/cli/store-commands.test.ts': 41,
  'test/api/decisions.test.ts': 38,
  'test/admin/jrni.table.test.ts': 34,
  'test/import/api.test.ts': 34,
  'test/cli/import.test.ts': 29,
  'test/admin/junto.table.test.ts': 29,
  'test/cli/gateway-commands.test.ts': 28,
};

const ROOT = path.resolve(__dirname, '..', '..');
const known = (test) => SLOW[path.relative(ROOT, test.path).split(path.sep).join('/')];

/**
 * Longest files first, so that no worker is left running one long file after the others have run
 * out of work. jest does this by itself from the durations it keeps in its cache, but CI starts with
 * no cache, and jest then orders by file size: replicas.test.ts, short and 6 minutes long, came last.
 * Here the files of SLOW come first, longest first; the others follow in jest's own order (failed
 * first, then by the cached duration, else by size).
 */
class LongestFirst extends Sequencer {
  sort(tests) {
    const ordered = super.sort(tests);
    const slow = ordered.filter((t) => known(t) !== undefined).sort((a, b) => known(b) - known(a));
    return [...slow, ...ordered.filter((t) => known(t) === undefined)];
  }
}

module.exports = LongestFirst;
