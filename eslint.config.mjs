import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * jest's ways to run only some tests or none: `describe.only`, `it.skip`, `test.todo`, `test.failing`,
 * `test.concurrent.only`, their `.each` forms, and the prefixed globals `fit`, `fdescribe`, `xit`,
 * `xtest`, `xdescribe`. A member expression is flagged wherever it appears, so `cond ? it : it.skip` is too.
 */
const FOCUSED_OR_SKIPPED = [
  {
    selector:
      'MemberExpression[object.name=/^(describe|it|test)$/][property.name=/^(only|skip|todo|failing)$/]',
    message: 'No focused, skipped or todo tests: every test runs in CI (remove .only/.skip/.todo/.failing).',
  },
  {
    selector:
      'MemberExpression[object.property.name="concurrent"][property.name=/^(only|skip|todo|failing)$/]',
    message: 'No focused, skipped or todo tests: every test runs in CI (remove .only/.skip/.todo/.failing).',
  },
  {
    selector:
      ':matches(CallExpression[callee.name=/^(fit|fdescribe|xit|xtest|xdescribe)$/], MemberExpression[object.name=/^(fit|fdescribe|xit|xtest|xdescribe)$/])',
    message:
      'No focused or skipped tests: use it/test/describe (fit, fdescribe, xit, xtest and xdescribe skip others or themselves).',
  },
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', 'coverage/**', 'examples/*/dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.js'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { require: 'readonly', module: 'writable', process: 'readonly', __dirname: 'readonly' },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // Black-box tests read GraphQL responses whose shape the query decides.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      // Every test runs every time: no focused, skipped or placeholder tests (.ci/run also fails on any
      // test jest reports as skipped, pending or todo). test/ci/lint.test.ts feeds this rule each form.
      'no-restricted-syntax': ['error', ...FOCUSED_OR_SKIPPED],
    },
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
);
