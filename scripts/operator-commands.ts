/**
 * The operator commands of the runbook (docs/operations/runbook.md), declared once: the
 * runbook's command blocks are rendered from here (`npm run config:docs`), and the CLI tests
 * (test/integration/cli-*.test.ts) run these argument lists against the real server.
 * Placeholders `<orderId>` and `<customerId>` are filled in by `fill`.
 */

/** One command: what it is for (a comment line above it in the runbook) and its arguments. */
export interface OperatorCommand {
  purpose?: string;
  args: readonly string[];
}

const COMPENSATE_INPUT = '{"reason":"customer returned the goods"}';

/** The pinned temporal CLI (`npm run -s temporal -- ARGS`). */
export const TEMPORAL_COMMANDS = {
  listNeedsAttention: { args: ['workflow', 'list', '--query', 'OrderStatus="NEEDS_ATTENTION"'] },
  queryStatus: { args: ['workflow', 'query', '--workflow-id', 'order-<orderId>', '--type', 'status'] },
  compensate: {
    purpose: 'manual compensation: refund + restock a CONFIRMED order, or retry a NEEDS_ATTENTION one',
    args: ['workflow', 'signal', '--workflow-id', 'order-<orderId>', '--name', 'compensate', '--input', COMPENSATE_INPUT],
  },
  requestCancel: {
    purpose: "cancel before confirmation, answered with the saga's decision (refused once CONFIRMED)",
    args: [
      'workflow',
      'update',
      'execute',
      '--workflow-id',
      'order-<orderId>',
      '--name',
      'requestCancel',
      '--input',
      '{"reason":"customer request"}',
    ],
  },
} satisfies Record<string, OperatorCommand>;

/** tctl 1.13.1 (`npm run -s tctl -- ARGS`, or the binary with `--address` and `--ns`). */
export const TCTL_COMMANDS = {
  listNeedsAttention: { args: ['workflow', 'list', '--query', 'OrderStatus="NEEDS_ATTENTION"'] },
  listCompensatedOfCustomer: { args: ['workflow', 'list', '--query', 'OrderStatus="COMPENSATED" AND CustomerId="<customerId>"'] },
  queryStatus: { args: ['workflow', 'query', '--workflow_id', 'order-<orderId>', '--query_type', 'status'] },
  compensate: {
    purpose: 'manual compensation: refund + restock a CONFIRMED order, or retry a NEEDS_ATTENTION one',
    args: ['workflow', 'signal', '--workflow_id', 'order-<orderId>', '--name', 'compensate', '--input', COMPENSATE_INPUT],
  },
} satisfies Record<string, OperatorCommand>;

/** The placeholders of a command replaced by real ids. */
export function fill(command: OperatorCommand, ids: { orderId: string; customerId?: string }): string[] {
  return command.args.map((a) => a.replaceAll('<orderId>', ids.orderId).replaceAll('<customerId>', ids.customerId ?? '<customerId>'));
}

/** Quotes a word as a POSIX shell needs it; placeholders like order-<orderId> stay as written. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./<>-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** A bash block of the commands, each after `prefix` (e.g. `npm run -s tctl --`). */
export function renderCommands(prefix: string, commands: Record<string, OperatorCommand>): string {
  const lines = Object.values(commands).flatMap((c) => [
    ...(c.purpose ? [`# ${c.purpose}`] : []),
    `${prefix} ${c.args.map(shellWord).join(' ')}`,
  ]);
  return ['```bash', ...lines, '```'].join('\n');
}
