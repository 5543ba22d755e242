/**
 * Writes what STATUS_ALLOWS (services/orders/contract.ts) generates: docs/order-status-rules.md,
 * and, given a migration name, a migration that replaces the guard trigger's function.
 *
 *   npx tsx scripts/status-rules.ts                      # docs/order-status-rules.md
 *   npx tsx scripts/status-rules.ts <yyyymmddhhmmss_name> # and prisma/migrations/<name>/migration.sql
 *
 * test/unit/status-rules.test.ts fails until both are regenerated after a change.
 */
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../lib/config';
import { guardTriggerSql, statusRulesMarkdown } from '../services/orders/status-rules';

const HEADER = `-- The guard trigger's function, generated from STATUS_ALLOWS (services/orders/contract.ts) by
-- scripts/status-rules.ts; test/unit/status-rules.test.ts checks that the newest such migration
-- is what the declaration generates.
`;

export function guardMigration(): string {
  return `${HEADER}${guardTriggerSql()}`;
}

function main(migration?: string): void {
  fs.writeFileSync(path.join(repoRoot, 'docs', 'order-status-rules.md'), statusRulesMarkdown());
  if (migration) {
    const dir = path.join(repoRoot, 'prisma', 'migrations', migration);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'migration.sql'), guardMigration());
  }
}

if (require.main === module) main(process.argv[2]);
