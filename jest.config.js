// Projects are named for what they need: unit nothing; timeskip Java (Temporal's time-skipping
// test server, fetched through Maven); integration and e2e the real stack, which
// test/setup/global-setup.ts brings up (idempotently) before any of them runs.
const transform = { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }] };
const stack = { setupFiles: ['<rootDir>/test/setup/env.ts'] };

/** @type {import('jest').Config} */
module.exports = {
  transform,
  // Global only: jest ignores testTimeout inside `projects`. Integration tests poll with their
  // own deadlines; this is the backstop.
  testTimeout: 120000,
  globalSetup: '<rootDir>/test/setup/global-setup.ts',
  globalTeardown: '<rootDir>/test/setup/global-teardown.ts',
  projects: [
    { displayName: 'unit', transform, testMatch: ['<rootDir>/test/unit/**/*.test.ts'], testEnvironment: 'node' },
    { displayName: 'timeskip', transform, testMatch: ['<rootDir>/test/timeskip/**/*.test.ts'], testEnvironment: 'node' },
    { displayName: 'integration', transform, testMatch: ['<rootDir>/test/integration/**/*.test.ts'], testEnvironment: 'node', ...stack },
    { displayName: 'e2e', transform, testMatch: ['<rootDir>/test/e2e/**/*.test.ts'], testEnvironment: 'node', ...stack },
  ],
};
