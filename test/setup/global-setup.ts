/**
 * Brings the real stack up (idempotent; fast when already up), creates and migrates the
 * test database. Skipped when only unit tests were selected.
 */
import type { Config } from '@jest/types';
import { migrate } from '../../lib/migrate';
import { ensureDatabase } from '../../scripts/stack/postgres';
import { formatStatus, up } from '../../scripts/stack/stack';
import { testConfig } from './test-config';

export default async function globalSetup(globalConfig: Config.GlobalConfig): Promise<void> {
  const selected = globalConfig.selectProjects ?? [];
  if (selected.length > 0 && selected.every((p) => p === 'unit')) return;
  const cfg = testConfig();
  const started = Date.now();
  const rows = await up(cfg);
  await ensureDatabase(cfg, cfg.database.database);
  await migrate(cfg.database.url);
  process.stderr.write(
    `\n[test] stack ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n${formatStatus(rows)}\n`,
  );
}
