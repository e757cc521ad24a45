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
  // One test file at a time (jest's default on the 2-core CI machine: one fewer worker than CPUs). Two
  // at once cut the run by a third, but starved test/cache/replicas.test.ts: three replicas, PostgreSQL
  // and Redis beside another file refused 1 to 3 writes in 10,000 (UNAVAILABLE: a step of the write ran
  // past its timeout on a starved CPU), which its healthy-conditions assertion rightly counts as a
  // failure. `npm test -- --maxWorkers=2` runs faster where that does not matter.
  // The longest files first (test/support/sequencer.js), so that no worker ends the run alone.
  testSequencer: '<rootDir>/test/support/sequencer.js',
  // Tests stop the servers and processes they start in afterAll; this makes sure a failed test that
  // left a connection open can never keep the run (and CI) from ending.
  forceExit: true,
  // A real PostgreSQL for the store and API tests: DATABASE_URL, or a throwaway server started here.
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
};
