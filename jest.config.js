// Unit tests need nothing running. Integration and end-to-end tests talk to the real stack,
// which test/setup/global-setup.ts brings up (idempotently) before any of them runs.
const transform = { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }] };

/** @type {import('jest').Config} */
module.exports = {
  transform,
  // Global only: jest ignores testTimeout inside `projects`. Integration tests poll with their
  // own deadlines; this is the backstop.
  testTimeout: 120000,
  globalSetup: '<rootDir>/test/setup/global-setup.ts',
  globalTeardown: '<rootDir>/test/setup/global-teardown.ts',
  projects: [
    {
      displayName: 'unit',
      transform,
      testMatch: ['<rootDir>/test/unit/**/*.test.ts'],
      testEnvironment: 'node',
    },
    {
      displayName: 'integration',
      transform,
      testMatch: ['<rootDir>/test/integration/**/*.test.ts', '<rootDir>/test/e2e/**/*.test.ts'],
      testEnvironment: 'node',
      setupFiles: ['<rootDir>/test/setup/env.ts'],
    },
  ],
};
