const os = require('node:os');

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // swc strips types only; `npm run typecheck` (tsc) is what checks them.
  transform: { '^.+\\.[tj]s$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }] },
  // jose ships ES modules only: Node 20.19+ loads them with require(), jest's module system does not.
  transformIgnorePatterns: ['/node_modules/(?!jose/)'],
  // `rolegate/subgraph` from source, as tsconfig.json's `paths` does for tsc and tsx.
  moduleNameMapper: { '^rolegate/subgraph$': '<rootDir>/src/subgraph/index.ts' },
  testTimeout: 60_000,
  // At least two test files at a time. jest's default is one fewer than the CPUs, which on the 2-core CI
  // machine is one: every file ran in turn, and the CPUs sat idle while a file waited on npm, Chromium,
  // a child process or PostgreSQL. The files are written to share the test run's PostgreSQL and Redis
  // (each in its own organizations; outbox workers in a database of their own, test/support/stores.ts).
  maxWorkers: Math.max(2, os.availableParallelism() - 1),
  // The longest files first (test/support/sequencer.js), so that no worker ends the run alone.
  testSequencer: '<rootDir>/test/support/sequencer.js',
  // Tests stop the servers and processes they start in afterAll; this makes sure a failed test that
  // left a connection open can never keep the run (and CI) from ending.
  forceExit: true,
  // A real PostgreSQL for the store and API tests: DATABASE_URL, or a throwaway server started here.
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
};
