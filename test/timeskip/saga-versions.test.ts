/**
 * The saga's version check (workflows/versions.ts) on the time-skipping test server: a new run
 * follows the newest version and records one patch marker, the newest; a run recorded under an
 * older list keeps its version when replayed by code with a longer list.
 */
import crypto from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, type WorkflowBundleOption } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { defineVersions, SAGA_VERSIONS, sagaVersions } from '../../workflows/versions';
import { startTimeSkippingEnv } from '../support/timeskip/env';
import { cachedPlainBundle } from '../support/workflow-bundles';
import type { History } from '../support/timeskip/history-json';
import type { VersionedResult } from './fixtures/versioned';

jest.setTimeout(60_000);

const LISTS = ['baseline', 'v2', 'v3'] as const;
type List = (typeof LISTS)[number];

let env: TestWorkflowEnvironment;
const bundles = {} as Record<List, WorkflowBundleOption>;

beforeAll(async () => {
  const built = await Promise.all([
    startTimeSkippingEnv(),
    ...LISTS.map((l) => cachedPlainBundle(require.resolve(`./fixtures/versioned-${l}`))),
  ]);
  env = built[0];
  LISTS.forEach((l, i) => (bundles[l] = built[i + 1] as WorkflowBundleOption));
}, 300_000);

afterAll(async () => {
  await env?.teardown();
});

/** Runs the fixture workflow under one version list; its result and its history. */
async function runUnder(list: List): Promise<{ result: VersionedResult; history: History }> {
  const taskQueue = `versions-${crypto.randomUUID()}`;
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: bundles[list] });
  return worker.runUntil(async () => {
    const handle = await env.client.workflow.start('versionedWorkflow', { taskQueue, workflowId: taskQueue });
    const result = (await handle.result()) as VersionedResult;
    return { result, history: await handle.fetchHistory() };
  });
}

/** The patch ids of the run's patch markers, in order. */
function patchMarkers(history: History): string[] {
  return (history.events ?? []).flatMap((e) => {
    const data = e.markerRecordedEventAttributes?.details?.['patch-data']?.payloads?.[0]?.data;
    return data ? [(JSON.parse(Buffer.from(data).toString('utf8')) as { id: string }).id] : [];
  });
}

const replay = (list: List, history: History) => Worker.runReplayHistory({ workflowBundle: bundles[list] }, history, `replay-${list}`);

describe('saga versions: one ordered list, one "at least" check', () => {
  test('a new run follows the newest version, is at least every version, and records one marker: the newest', async () => {
    const { result, history } = await runUnder('v3');
    expect(result).toEqual({ version: 'v3', atLeast: { base: true, v2: true, v3: true } });
    expect(patchMarkers(history)).toEqual(['v3']);
  });

  test('the baseline needs no marker; a run of it is at least the baseline only', async () => {
    const { result, history } = await runUnder('baseline');
    expect(result).toEqual({ version: 'base', atLeast: { base: true } });
    expect(patchMarkers(history)).toEqual([]);
  });

  test('a run recorded under an older list keeps its version when newer code replays it', async () => {
    const base = await runUnder('baseline');
    const v2 = await runUnder('v2');
    expect(v2.result).toEqual({ version: 'v2', atLeast: { base: true, v2: true } });
    // Had the old run taken the v2 branch on replay, it would schedule a timer its history lacks.
    await expect(replay('v2', base.history)).resolves.toBeUndefined();
    await expect(replay('v3', base.history)).resolves.toBeUndefined();
    await expect(replay('v3', v2.history)).resolves.toBeUndefined();
  });

  test('the check is live: a v2 history does not replay as a baseline run (its timer is unexpected)', async () => {
    const v2 = await runUnder('v2');
    await expect(replay('baseline', v2.history)).rejects.toBeInstanceOf(DeterminismViolationError);
  });
});

describe('a run version from its recorded markers (TemporalChangeVersion)', () => {
  const list = defineVersions(['base', 'v2', 'v3'] as const);
  test.each([
    [[], 'base'],
    [['v2'], 'v2'],
    [['v3'], 'v3'],
    [['v2', 'v3'], 'v3'],
    [['some-other-patch'], 'base'],
  ])('markers %j -> %s', (markers, version) => {
    expect(list.ofChangeVersions(markers).version).toBe(version);
  });

  test('the saga itself is at its baseline: a run without markers', () => {
    expect(sagaVersions.ofChangeVersions([]).version).toBe(SAGA_VERSIONS[0]);
    expect(sagaVersions.ofChangeVersions([]).atLeast(SAGA_VERSIONS[0])).toBe(true);
  });
});
