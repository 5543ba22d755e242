/** npm run migrate: create the role and database if needed, then apply pending migrations. */
import { exitOnConfigError, loadConfig } from '../lib/config';
import { migrate } from '../lib/migrate';
import { ensureDatabase } from './stack/postgres';

async function main(): Promise<void> {
  let cfg;
  try {
    cfg = loadConfig();
  } catch (err) {
    exitOnConfigError(err);
  }
  await ensureDatabase(cfg, cfg.database.database);
  const applied = await migrate(cfg.databaseOwner.url);
  console.log(applied.length ? `applied ${applied.join(', ')}` : 'database is up to date');
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
