/** Tests run against the same local stack as `npm start`, but in their own database. */
import { loadConfig, type Config } from '../../lib/config';
import { loadStackConfig, type StackConfig } from '../../scripts/stack/config';

export function testDatabaseUrl(cfg: Config): string {
  if (cfg.database.database.endsWith('_test')) return cfg.database.url;
  const url = new URL(cfg.database.url);
  url.pathname = `/${cfg.database.database}_test`;
  return url.toString();
}

const withTestDatabase = (url: string): string => {
  const u = new URL(url);
  if (!u.pathname.endsWith('_test')) u.pathname = `${u.pathname}_test`;
  return u.toString();
};

/**
 * The environment that points a test process at the test database. The developer stack
 * derives every login's URL from DATABASE_URL; the secure stack's URLs come from files
 * (`*_FILE`, each with its role's password) naming the app database, so there each of the
 * four becomes its `_test` URL and the file variables go (null: unset).
 */
export function testDatabaseEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string | null> {
  const cfg = loadConfig(env);
  if (!env.DATABASE_URL_FILE) return { DATABASE_URL: testDatabaseUrl(cfg) };
  const logins = {
    DATABASE_URL: cfg.database.url,
    DATABASE_OWNER_URL: cfg.databaseOwner.url,
    DATABASE_READER_URL: cfg.databaseReader.url,
    RECONCILER_DATABASE_URL: cfg.reconciler.database.url,
  };
  return Object.fromEntries(
    Object.entries(logins).flatMap(([name, url]) => [
      [name, withTestDatabase(url)],
      [`${name}_FILE`, null],
    ]),
  );
}

/** `env` with `changes` applied (null unsets). */
export function withEnv(env: NodeJS.ProcessEnv, changes: Record<string, string | null>): NodeJS.ProcessEnv {
  const next = { ...env };
  for (const [k, v] of Object.entries(changes)) {
    if (v === null) delete next[k];
    else next[k] = v;
  }
  return next;
}

/** The configuration every integration test sees (the stack's too: global setup brings it up). */
export function testConfig(): StackConfig {
  return loadStackConfig(withEnv({ ...process.env, NODE_ENV: 'test' }, testDatabaseEnv()));
}
