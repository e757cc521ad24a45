#!/usr/bin/env node
// Reads jest's --json results (the file given) and ends with the line ".ci/run" reports: "N passed, N failed".
//
// Failed counts jest's failed tests, suites that failed to run (a syntax error or a failing hook fails a
// suite with no failed test in it), and every test that did not run: skipped (`it.skip`, `describe.skip`,
// or left out by an `.only`), pending or todo. Those are named first, one a line, so CI fails on them and
// says where they are; the lint rule in eslint.config.mjs keeps them out of the code in the first place.
// Exits 1 when anything failed or nothing passed, 0 otherwise.
'use strict';

const fs = require('node:fs');
const path = require('node:path');

const RAN = new Set(['passed', 'failed']);

/** The summary of jest's results: tests that passed, failures, and what did not run (as lines). */
function summarize(results, root = process.cwd()) {
  const notRun = [];
  let brokenSuites = 0;
  for (const suite of results.testResults ?? []) {
    const assertions = suite.assertionResults ?? [];
    if (suite.status === 'failed' && assertions.every((a) => a.status !== 'failed')) brokenSuites++;
    for (const a of assertions) {
      if (!RAN.has(a.status)) notRun.push(`${a.status}: ${path.relative(root, suite.name)} › ${a.fullName}`);
    }
  }
  // jest's own counts, in case a test it counts is missing from the per-suite lists.
  const unnamed = Math.max(0, (results.numPendingTests ?? 0) + (results.numTodoTests ?? 0) - notRun.length);
  if (unnamed > 0) notRun.push(`${unnamed} more pending or todo test(s) that jest did not name`);
  const passed = results.numPassedTests ?? 0;
  const failed = (results.numFailedTests ?? 0) + brokenSuites + notRun.length;
  return { passed, failed, brokenSuites, notRun };
}

if (require.main === module) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: node .ci/jest-summary.js <jest --json results file>\n');
    process.exit(2);
  }
  const { passed, failed, brokenSuites, notRun } = summarize(JSON.parse(fs.readFileSync(file, 'utf8')));
  const out = (line) => process.stdout.write(`${line}\n`);
  if (brokenSuites > 0) out(`${brokenSuites} test suite(s) failed to run (see jest's output above)`);
  if (notRun.length > 0) {
    out(`${notRun.length} test(s) did not run; CI runs every test (no skip, only or todo):`);
    for (const line of notRun) out(`  ${line}`);
  }
  out(`${passed} passed, ${failed} failed`);
  process.exit(failed > 0 || passed === 0 ? 1 : 0);
}

module.exports = { summarize };
