// Projects are named for what they need: unit nothing; timeskip Java (Temporal's time-skipping
// test server, fetched through Maven); integration and e2e the real stack, which
// test/setup/global-setup.ts brings up (idempotently) before any of them runs.
// jose ships ES modules only: compiled to CommonJS like our own files (Node 20's jest cannot require(esm)).
// .tsx: the console's pages (api/console), JSX rendered to strings by preact's automatic runtime.
const transform = {
  '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }],
  '^.+\\.tsx$': [
    '@swc/jest',
    {
      jsc: {
        target: 'es2022',
        parser: { syntax: 'typescript', tsx: true },
        transform: { react: { runtime: 'automatic', importSource: 'preact' } },
      },
    },
  ],
  '/node_modules/jose/.+\\.js$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }],
};
const transformIgnorePatterns = ['/node_modules/(?!jose/)'];
const stack = { setupFiles: ['<rootDir>/test/setup/env.ts'], transformIgnorePatterns };

/** @type {import('jest').Config} */
module.exports = {
  transform,
  // Global only: jest ignores testTimeout inside `projects`. Integration tests poll with their
  // own deadlines; this is the backstop.
  testTimeout: 120000,
  // Two test files at a time, although the machine has two cores (jest's default would be one):
  // the stack's files mostly wait on the servers. Files that stop a server start their own
  // (test/support/kafka-broker.ts), and each file scopes its assertions to its own rows.
  maxWorkers: 2,
  globalSetup: '<rootDir>/test/setup/global-setup.ts',
  globalTeardown: '<rootDir>/test/setup/global-teardown.ts',
  projects: [
    { displayName: 'unit', transform, transformIgnorePatterns, testMatch: ['<rootDir>/test/unit/**/*.test.ts'], testEnvironment: 'node' },
    {
      displayName: 'timeskip',
      transform,
      transformIgnorePatterns,
      testMatch: ['<rootDir>/test/timeskip/**/*.test.ts'],
      testEnvironment: 'node',
    },
    { displayName: 'integration', transform, testMatch: ['<rootDir>/test/integration/**/*.test.ts'], testEnvironment: 'node', ...stack },
    { displayName: 'e2e', transform, testMatch: ['<rootDir>/test/e2e/**/*.test.ts'], testEnvironment: 'node', ...stack },
  ],
};
