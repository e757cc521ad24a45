/**
 * What keeps CI honest, fed the input it is there to catch: the lint rule against focused, skipped and
 * todo tests (eslint.config.mjs), and the summary of jest's results that fails CI on any test that did not
 * run (.ci/jest-summary.js, the last step of .ci/run).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ESLint } from 'eslint';

const ROOT = path.resolve(__dirname, '..', '..');

describe('the lint rule: no focused, skipped or todo tests', () => {
  const eslint = new ESLint({ cwd: ROOT });
  /** The rule's findings on a test file's text (no file is written: lintText takes the path it would have). */
  const findings = async (code: string, filePath = 'test/example.test.ts') => {
    const [result] = await eslint.lintText(code, { filePath: path.join(ROOT, filePath) });
    return (result?.messages ?? [])
      .filter((m) => m.ruleId === 'no-restricted-syntax')
      .map((m) => `${m.line}:${m.column}`);
  };

  test.each([
    'describe.only',
    'describe.skip',
    'it.only',
    'it.skip',
    'test.only',
    'test.skip',
    'test.failing',
    'it.skip.each([1])',
    'test.only.each([1])',
    'describe.skip.each([1])',
    'test.concurrent.only',
    'test.concurrent.skip',
    'fit',
    'fdescribe',
    'xit',
    'xtest',
    'xdescribe',
    'xit.each([1])',
  ])('%s is an error', async (call) => {
    expect(await findings(`${call}('a', () => {});\n`)).toEqual(['1:1']);
  });

  it('test.todo and a conditional skip are errors too', async () => {
    expect(await findings("test.todo('later');\n")).toEqual(['1:1']);
    expect(await findings("const maybe = process.env.X ? it : it.skip;\nmaybe('a', () => {});\n")).toEqual([
      '1:36',
    ]);
  });

  it('plain tests, tables and look-alike names pass', async () => {
    const code = [
      "describe('a', () => {",
      "  it('b', () => {});",
      "  test.each([1])('c %s', () => {});",
      "  test.concurrent('d', async () => {});",
      '});',
      'const fitsScope = (x: number) => x;',
      'fitsScope(1);',
      '',
    ].join('\n');
    expect(await findings(code)).toEqual([]);
  });

  it('applies to the tests, not to the sources', async () => {
    expect(await findings("it.skip('a', () => {});\n", 'src/example.ts')).toEqual([]);
  });
});

describe('.ci/jest-summary.js: the last line of CI, from jest --json', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rolegate-summary-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const suite = (name: string, status: string, assertions: [string, string][]) => ({
    name: path.join(ROOT, 'test', name),
    status,
    assertionResults: assertions.map(([fullName, s]) => ({ fullName, status: s })),
  });
  /** Runs the script as .ci/run does: its output and exit code. */
  const run = (results: object): { lines: string[]; code: number } => {
    const file = path.join(dir, 'results.json');
    writeFileSync(file, JSON.stringify(results));
    try {
      const out = execFileSync(process.execPath, ['.ci/jest-summary.js', file], {
        cwd: ROOT,
        encoding: 'utf8',
      });
      return { lines: out.trimEnd().split('\n'), code: 0 };
    } catch (error) {
      const e = error as { stdout: string; status: number };
      return { lines: e.stdout.trimEnd().split('\n'), code: e.status };
    }
  };

  it('passes when every test ran and passed', () => {
    const results = {
      numPassedTests: 2,
      numFailedTests: 0,
      numPendingTests: 0,
      numTodoTests: 0,
      testResults: [
        suite('a.test.ts', 'passed', [
          ['a one', 'passed'],
          ['a two', 'passed'],
        ]),
      ],
    };
    expect(run(results)).toEqual({ lines: ['2 passed, 0 failed'], code: 0 });
  });

  it('fails on skipped, pending and todo tests, and names them', () => {
    const results = {
      numPassedTests: 1,
      numFailedTests: 0,
      numPendingTests: 2,
      numTodoTests: 1,
      testResults: [
        suite('a.test.ts', 'passed', [
          ['a one', 'passed'],
          ['a skipped', 'pending'],
          ['a later', 'todo'],
        ]),
        suite('b.test.ts', 'skipped', [['b all', 'pending']]),
      ],
    };
    expect(run(results)).toEqual({
      lines: [
        '3 test(s) did not run; CI runs every test (no skip, only or todo):',
        '  pending: test/a.test.ts › a skipped',
        '  todo: test/a.test.ts › a later',
        '  pending: test/b.test.ts › b all',
        '1 passed, 3 failed',
      ],
      code: 1,
    });
  });

  it('counts a suite that failed to run, and fails when nothing passed', () => {
    const broken = {
      numPassedTests: 3,
      numFailedTests: 0,
      numPendingTests: 0,
      numTodoTests: 0,
      testResults: [suite('a.test.ts', 'passed', [['a', 'passed']]), suite('b.test.ts', 'failed', [])],
    };
    expect(run(broken)).toEqual({
      lines: ["1 test suite(s) failed to run (see jest's output above)", '3 passed, 1 failed'],
      code: 1,
    });
    const empty = { numPassedTests: 0, numFailedTests: 0, testResults: [] };
    expect(run(empty)).toEqual({ lines: ['0 passed, 0 failed'], code: 1 });
  });

  it("trusts jest's counts when a pending test is missing from the lists", () => {
    const results = {
      numPassedTests: 1,
      numFailedTests: 0,
      numPendingTests: 1,
      numTodoTests: 0,
      testResults: [suite('a.test.ts', 'passed', [['a', 'passed']])],
    };
    expect(run(results).lines.slice(-2)).toEqual([
      '  1 more pending or todo test(s) that jest did not name',
      '1 passed, 1 failed',
    ]);
  });
});
