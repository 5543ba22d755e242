/**
 * npm run test:secure: the secure stack's tests (test/e2e/secure-mode.test.ts), which the
 * default `npm test` skips. The secure stack runs beside the developer stack, on its own
 * directory and ports (each overridable by its variable); jest's global setup brings it up
 * (`up --secure`, idempotent) and migrates its test database.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from '../lib/config';

/** The secure stack's own directory and ports: never the developer stack's defaults. */
export const SECURE_STACK_DEFAULTS: Record<string, string> = {
  STACK_DIR: '.stack-secure',
  DATABASE_URL: 'postgresql://order_saga:order_saga@127.0.0.1:56432/order_saga_secure',
  TEMPORAL_ADDRESS: '127.0.0.1:7433',
  TEMPORAL_HTTP_PORT: '7443',
  TEMPORAL_METRICS_PORT: '7444',
  TEMPORAL_UI_PORT: '8433',
  KAFKA_BROKERS: '127.0.0.1:19092',
  KAFKA_CONTROLLER_PORT: '19093',
  IDENTITY_PORT: '4560',
  API_PORT: '3300',
  METRICS_PORT_BASE: '9700',
};

const env: NodeJS.ProcessEnv = { ...process.env, SECURE_STACK: '1' };
for (const [name, value] of Object.entries(SECURE_STACK_DEFAULTS)) {
  if (!env[name]?.trim() && !env[`${name}_FILE`]?.trim()) env[name] = value;
}
const jest = path.join(repoRoot, 'node_modules', '.bin', 'jest');
const result = spawnSync(jest, ['test/e2e/secure-mode.test.ts', '--runInBand', ...process.argv.slice(2)], {
  cwd: repoRoot,
  env,
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
