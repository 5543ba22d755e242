/**
 * Replays the committed history of every order-saga path (test/replay/histories/*.json,
 * recorded by test/replay/record-histories.ts) against the current workflow code. A change that
 * would break sagas already running in production (a reordered, added or removed command
 * without patching) fails here. Needs no server: replay runs in the worker alone.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Worker, type WorkflowBundleOption } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { installQuietRuntime } from '../support/timeskip/env';
import { historyFromJSON, type History } from '../support/timeskip/history-json';
import { SCENARIO_NAMES } from '../support/timeskip/scenarios';
import { cachedPlainBundle } from '../support/workflow-bundles';

jest.setTimeout(60_000);

const HISTORIES_DIR = path.resolve(__dirname, '../replay/histories');
const CHANGED_WORKFLOW = require.resolve('../replay/fixtures/reordered-order-saga');

/** Every recorded history: one per saga path, plus any other committed there. */
const recorded = fs.existsSync(HISTORIES_DIR)
  ? fs
      .readdirSync(HISTORIES_DIR)
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.slice(0, -'.json'.length))
  : [];
const names = [...new Set([...SCENARIO_NAMES, ...recorded])].sort();

function loadHistory(name: string): History {
  return historyFromJSON(JSON.parse(fs.readFileSync(path.join(HISTORIES_DIR, `${name}.json`), 'utf8')));
}

let current: WorkflowBundleOption;
let changed: WorkflowBundleOption;

beforeAll(async () => {
  installQuietRuntime();
  [current, changed] = await Promise.all([cachedPlainBundle(require.resolve('../../workflows')), cachedPlainBundle(CHANGED_WORKFLOW)]);
});

describe('order saga replay', () => {
  test('a history is recorded for every saga path', () => {
    const missing = SCENARIO_NAMES.filter((name) => !recorded.includes(name));
    expect(missing).toEqual([]);
  });

  test.each(names)('%s replays against the current workflow code', async (name) => {
    const history = loadHistory(name);
    expect(history.events?.length).toBeGreaterThan(2);
    await expect(Worker.runReplayHistory({ workflowBundle: current, replayName: name }, history, name)).resolves.toBeUndefined();
  });

  test('replay does fail when the workflow changed incompatibly (the check is live)', async () => {
    const history = loadHistory('confirmed-window-closed');
    await expect(
      Worker.runReplayHistory({ workflowBundle: changed, replayName: 'changed' }, history, 'confirmed-window-closed'),
    ).rejects.toBeInstanceOf(DeterminismViolationError);
  });
});
