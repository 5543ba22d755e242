// Runs in each integration test worker before its test file: point it at the test database.
import { testDatabaseEnv } from './test-config';

process.env.NODE_ENV = 'test';
for (const [k, v] of Object.entries(testDatabaseEnv())) {
  if (v === null) delete process.env[k];
  else process.env[k] = v;
}

// The SDK logs every worker state change at INFO; tests only want errors (business failures are logged as WARN by the SDK).
import { DefaultLogger, Runtime } from '@temporalio/worker';
Runtime.install({ logger: new DefaultLogger('ERROR') });

// Every test file shares one database, and some leave orders mid-saga on purpose (a start that
// never came, a killed worker): under the default bound they would refuse the next file's orders.
// The bound is tested with bounds of its own (test/integration/backpressure.test.ts).
process.env.ORDERS_MAX_IN_FLIGHT ??= '100000';
// A fixed bound in tests: the adaptive one follows the machine's load, which the tests' parallel sagas make.
process.env.ORDERS_IN_FLIGHT_TARGET_MS ??= '0';
