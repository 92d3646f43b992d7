/** @type {import('jest').Config} */
const transform = {
  '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } }],
  // ESM-only packages (jose 6): Node loads them with require(esm), jest's own loader cannot, so they are compiled too.
  '/node_modules/jose/.+\\.js$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }],
};
const transformIgnorePatterns = ['/node_modules/(?!jose/)'];

module.exports = {
  projects: [
    {
      // Plain functions (domain/, config, pure helpers): no infrastructure, runs in seconds.
      displayName: 'unit',
      testEnvironment: 'node',
      roots: ['<rootDir>/test/unit'],
      testMatch: ['**/*.test.ts'],
      transform,
      transformIgnorePatterns,
      // A unit test that reaches for the stack fails at once instead of hanging without it.
      moduleNameMapper: { '/harness/(stack|database|global-setup|global-teardown)$': '<rootDir>/test/unit/no-stack.js' },
    },
    {
      // Everything else talks to real PostgreSQL, Temporal, SES, KMS and S3, started once per run (test/harness/).
      displayName: 'integration',
      testEnvironment: 'node',
      roots: ['<rootDir>/test'],
      testMatch: ['**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/unit/'],
      transform,
      transformIgnorePatterns,
      globalSetup: '<rootDir>/test/harness/global-setup.ts',
      // The contract test: every API response a test receives is checked against /openapi.json.
      setupFiles: ['<rootDir>/test/harness/contract-setup.ts'],
      // pg's connections take one query at a time: a test file whose code overlapped two fails.
      setupFilesAfterEnv: ['<rootDir>/test/harness/pg-query-order.ts'],
      globalTeardown: '<rootDir>/test/harness/global-teardown.ts',
    },
  ],
  // Jest reads the timeout from the top level only, not per project.
  testTimeout: 60_000,
  maxWorkers: 2,
  verbose: true,
  reporters: ['default', '<rootDir>/test/harness/summary-reporter.js'],
};
