/**
 * Records a history of every order-saga path for the replay tests.
 *
 *   npx tsx test/replay/record-histories.ts [name ...]
 *
 * Runs each scenario of test/support/timeskip/scenarios.ts (all, or the named ones) on
 * Temporal's time-skipping test server with fake activities, and writes its event history to
 * test/replay/histories/<name>.json. Re-record after a deliberate, versioned change to the
 * workflow; never to make a failing replay pass. See test/replay/README.md.
 */
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../../lib/config';
import { sagaWorkflowBundle, startTimeSkippingEnv } from '../support/timeskip/env';
import { historyToJSON } from '../support/timeskip/history-json';
import { SCENARIOS } from '../support/timeskip/scenarios';

export const HISTORIES_DIR = path.join(repoRoot, 'test', 'replay', 'histories');

/** A fixed order id per scenario, so re-recorded files differ only where the run did. */
function orderIdFor(index: number): string {
  return `00000000-0000-4000-8000-${String(index + 1).padStart(12, '0')}`;
}

async function main(names: string[]): Promise<void> {
  const unknown = names.filter((n) => !SCENARIOS.some((s) => s.name === n));
  if (unknown.length > 0) {
    throw new Error(`unknown scenario(s) ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  }
  const chosen = SCENARIOS.map((scenario, index) => ({ scenario, index })).filter(
    ({ scenario }) => names.length === 0 || names.includes(scenario.name),
  );
  fs.mkdirSync(HISTORIES_DIR, { recursive: true });
  const [env] = await Promise.all([startTimeSkippingEnv(), sagaWorkflowBundle()]);
  try {
    for (const { scenario, index } of chosen) {
      const handle = await scenario.run(env, orderIdFor(index));
      const { status } = await handle.describe();
      if (status.name === 'RUNNING') throw new Error(`${scenario.name}: the saga is still running`);
      const history = await handle.fetchHistory();
      const file = path.join(HISTORIES_DIR, `${scenario.name}.json`);
      fs.writeFileSync(file, `${historyToJSON(history)}\n`);
      process.stdout.write(`${scenario.name}: ${status.name}, ${history.events?.length ?? 0} events -> ${path.relative(repoRoot, file)}\n`);
    }
  } finally {
    await env.teardown();
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
