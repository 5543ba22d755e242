/** Tests run against the same local stack as `npm start`, but in their own database. */
import { loadConfig, type Config } from '../../lib/config';

export function testDatabaseUrl(cfg: Config): string {
  if (cfg.database.database.endsWith('_test')) return cfg.database.url;
  const url = new URL(cfg.database.url);
  url.pathname = `/${cfg.database.database}_test`;
  return url.toString();
}

/** The configuration every integration test sees. */
export function testConfig(): Config {
  const base = loadConfig();
  return loadConfig({ ...process.env, NODE_ENV: 'test', DATABASE_URL: testDatabaseUrl(base) });
}
