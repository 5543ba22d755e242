/** Tests run against the same local stack as `npm start`, but in their own database. */
import { loadConfig, type Config } from '../../lib/config';
import { loadStackConfig, type StackConfig } from '../../scripts/stack/config';

export function testDatabaseUrl(cfg: Config): string {
  if (cfg.database.database.endsWith('_test')) return cfg.database.url;
  const url = new URL(cfg.database.url);
  url.pathname = `/${cfg.database.database}_test`;
  return url.toString();
}

/** The configuration every integration test sees (the stack's too: global setup brings it up). */
export function testConfig(): StackConfig {
  const base = loadConfig();
  return loadStackConfig({ ...process.env, NODE_ENV: 'test', DATABASE_URL: testDatabaseUrl(base) });
}
