// Runs in each integration test worker before its test file: point it at the test database.
import { loadConfig } from '../../lib/config';
import { testDatabaseUrl } from './test-config';

process.env.NODE_ENV = 'test';
process.env.DATABASE_URL = testDatabaseUrl(loadConfig());

// The SDK logs every worker state change at INFO; tests only want errors (business failures are logged as WARN by the SDK).
import { DefaultLogger, Runtime } from '@temporalio/worker';
Runtime.install({ logger: new DefaultLogger('ERROR') });

// Every test file shares one database, and some leave orders mid-saga on purpose (a start that
// never came, a killed worker): under the default bound they would refuse the next file's orders.
// The bound is tested with bounds of its own (test/integration/backpressure.test.ts).
process.env.ORDERS_MAX_IN_FLIGHT ??= '100000';
