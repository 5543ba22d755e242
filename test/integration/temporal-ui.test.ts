/**
 * The developer stack's Temporal Web UI is read-only: the dev server runs headless and the
 * ui-server next to it (scripts/stack/temporal-ui.ts) has every write action off. Proven on a
 * second dev-mode Temporal with its own stack directory and ports (the stack's own code starts
 * it), so the shared stack is neither needed nor restarted.
 */
import crypto from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { VERSIONS } from '../../scripts/stack/component';
import { startSideTemporal, type SideTemporal } from '../../scripts/stack/side-temporal';
import { writableActions } from '../../scripts/stack/temporal-ui';
import { testConfig } from '../setup/test-config';

let side: SideTemporal;
let ui: string;

beforeAll(async () => {
  side = await startSideTemporal(testConfig(), 'sqlite', 'ui_test');
  ui = `http://${side.cfg.temporal.host}:${side.cfg.stack.temporal.uiPort}`;
}, 240_000);

afterAll(async () => {
  await side?.stop();
});

test("when the developer stack's Web UI is asked for its settings, then every write action is disabled", async () => {
  const res = await fetch(`${ui}/api/v1/settings`);
  expect(res.status).toBe(200);
  const settings = (await res.json()) as Record<string, unknown>;
  expect(settings).toMatchObject({
    Version: VERSIONS.temporalUi,
    DisableWriteActions: true,
    WorkflowTerminateDisabled: true,
    WorkflowCancelDisabled: true,
    WorkflowSignalDisabled: true,
    WorkflowUpdateDisabled: true,
    WorkflowResetDisabled: true,
    BatchActionsDisabled: true,
    StartWorkflowDisabled: true,
    ActivityCommandsDisabled: true,
  });
  expect(writableActions(settings)).toEqual([]);
});

test("when a running workflow is terminated or cancelled through the Web UI's API, then the UI server refuses and the workflow keeps running", async () => {
  const { address, namespace } = side.cfg.temporal;
  const connection = await Connection.connect({ address });
  try {
    const client = new Client({ connection, namespace });
    const workflowId = `ui-read-only-${crypto.randomUUID()}`;
    // No worker polls this queue: the run just waits, which is all a terminate needs.
    const handle = await client.workflow.start('noSuchWorkflow', { taskQueue: `ui-${crypto.randomUUID()}`, workflowId });
    const base = `${ui}/api/v1/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
    // An Authorization header is what the UI's own calls skip the CSRF check with; auth is off, so any value passes.
    const post = (action: string) =>
      fetch(`${base}/${action}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer ui-test' },
        body: JSON.stringify({ reason: 'clicked in the Web UI' }),
      });
    expect((await post('terminate')).status).toBe(405);
    expect((await post('cancel')).status).toBe(405);
    // Reads still work through the same API.
    const described = await fetch(base);
    expect(described.status).toBe(200);
    expect((await handle.describe()).status.name).toBe('RUNNING');
    await handle.terminate('test cleanup');
  } finally {
    await connection.close();
  }
});
