/**
 * Dead-letter operations from the command line:
 *
 *   npx tsx scripts/dlq.ts list [--limit N] [--offset N] [--json]
 *   npx tsx scripts/dlq.ts show <id>
 *   npx tsx scripts/dlq.ts replay <id>
 *
 *   npx tsx scripts/dlq.ts --help
 *
 * Uses the same configuration (DATABASE_URL, KAFKA_BROKERS) as the app processes. A replay is
 * recorded in the operator audit log (actor kind `cli`: the operating-system user and host).
 */
import os from 'node:os';
import { config, exitOnConfigError, type Config } from '../lib/config';
import { closeDb, createDb, type Db } from '../lib/db';
import { DomainError } from '../lib/errors';
import { createLogger } from '../lib/logger';
import { getDeadLetter, listDeadLetters, replayDeadLetter, type DeadLetterSummary } from '../services/platform/dlq/dead-letters';
import { AUDIT_ACTIONS, recordAudit } from '../services/platform/audit-log/audit-log';
import { createKafka } from '../services/platform/messaging/kafka';

const USAGE = `usage: npm run dlq -- <command>
  list [--limit N] [--offset N] [--json]   dead letters, newest first
  show <id>                                one dead letter with its error and value
  replay <id>                              send it back to its source topic (recorded in the audit log)
  --help                                   this text
configuration: DATABASE_URL, KAFKA_BROKERS (docs/configuration.md)`;

function option(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const value = Number(args[i + 1]);
  if (!Number.isSafeInteger(value) || value < 0) throw new UsageError(`${name} needs a non-negative integer`);
  return value;
}

class UsageError extends Error {}

function line(d: DeadLetterSummary): string {
  const where = `${d.sourceTopic}[${d.sourcePartition}]@${d.sourceOffset}`;
  const replays = d.replayCount > 0 ? `  replayed ${d.replayCount}x, last ${d.replayedAt}` : '';
  return [
    `#${d.id}  ${d.deadLetteredAt}  group ${d.consumerGroup}  ${where}`,
    `    event ${d.eventType ?? '?'} ${d.eventId ?? '?'}  key ${d.messageKey ?? '-'}`,
    `    ${d.errorClass}: ${d.errorMessage}`,
    `    ${d.attempts} attempt(s), ${d.retryable ? 'retries exhausted' : 'not retryable'}, first ${d.firstFailedAt}, last ${d.lastFailedAt}${replays}`,
  ].join('\n');
}

async function list(db: Db, args: string[]): Promise<void> {
  const { total, items } = await listDeadLetters(db, { limit: option(args, '--limit', 20), offset: option(args, '--offset', 0) });
  if (args.includes('--json')) {
    console.log(JSON.stringify({ total, items }, null, 2));
    return;
  }
  console.log(`${total} dead letter(s)${items.length < total ? `, showing ${items.length}` : ''}`);
  for (const d of items) console.log(line(d));
}

async function show(db: Db, id: string): Promise<void> {
  const d = await getDeadLetter(db, id);
  if (!d) throw new UsageError(`dead letter ${id} does not exist`);
  console.log(JSON.stringify(d, null, 2));
}

async function replay(cfg: Config, db: Db, id: string): Promise<void> {
  const kafka = createKafka(cfg, 'dlq-cli', createLogger('dlq-cli', 'warn'));
  const who = `${os.userInfo().username}@${os.hostname()}`;
  const d = await replayDeadLetter(db, kafka, id, (tx, letter) =>
    recordAudit(tx, {
      actor: { kind: 'cli', id: who, name: who },
      action: AUDIT_ACTIONS.deadLetterReplay,
      subject: { kind: 'dead_letter', id: letter.id },
      outcome: 'done',
      detail: { via: 'npm run dlq', eventId: letter.eventId, sourceTopic: letter.sourceTopic },
    }).then(() => undefined),
  );
  console.log(`replayed #${d.id} (${d.eventType ?? '?'} ${d.eventId ?? '?'}) to ${d.sourceTopic}; replay count ${d.replayCount}`);
}

async function main(args: string[]): Promise<void> {
  if (args[0] === '--help' || args[0] === '-h' || args[0] === 'help') {
    console.log(USAGE);
    return;
  }
  let cfg: Config;
  try {
    cfg = config();
  } catch (err) {
    exitOnConfigError(err);
  }
  const [command, id] = args;
  if (!command || !['list', 'show', 'replay'].includes(command) || (command !== 'list' && !id)) throw new UsageError(USAGE);
  const db = createDb(cfg.database.url, 2);
  try {
    if (command === 'list') await list(db, args.slice(1));
    else if (command === 'show') await show(db, id!);
    else await replay(cfg, db, id!);
  } finally {
    await closeDb(db);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(err instanceof UsageError || DomainError.is(err, 'NOT_FOUND') ? err.message : err);
  process.exit(err instanceof UsageError ? 2 : 1);
});
