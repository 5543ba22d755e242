// Runs in each integration test worker before its test file: point it at the test database.
import { loadConfig } from '../../lib/config';
import { testDatabaseUrl } from './test-config';

process.env.NODE_ENV = 'test';
process.env.DATABASE_URL = testDatabaseUrl(loadConfig());

// The SDK logs every worker state change at INFO; tests only want errors (business failures are logged as WARN by the SDK).
import { DefaultLogger, Runtime } from '@temporalio/worker';
Runtime.install({ logger: new DefaultLogger('ERROR') });
