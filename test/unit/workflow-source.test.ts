/** Which workflow code the orders worker loads (app/workflow-source.ts), without running webpack. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { workflowBundle, workflowBundleFile } from '../../app/workflow-source';
import { loadConfig } from '../../lib/config';
import { TRACING_OFF, type Tracing } from '../../lib/tracing';

const TRACING_ON: Tracing = { ...TRACING_OFF, enabled: true };

describe("the orders worker's workflow bundle", () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'workflow-source-'));
    for (const traced of [false, true]) fs.writeFileSync(path.join(dir, workflowBundleFile(traced)), '// bundle');
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test.each([
    ['off', 'workflow-bundle.js'],
    ['on', 'workflow-bundle.traced.js'],
  ])('with WORKFLOW_BUNDLE_DIR and tracing %s, is the prebuilt file %s', async (tracing, file) => {
    const cfg = loadConfig({ WORKFLOW_BUNDLE_DIR: dir });
    await expect(workflowBundle({ cfg, tracing: tracing === 'on' ? TRACING_ON : TRACING_OFF })).resolves.toEqual({
      codePath: path.join(dir, file),
    });
  });

  test("is the caller's own bundle when it passes one, whatever is configured", async () => {
    const own = { code: '// own' };
    await expect(workflowBundle({ cfg: loadConfig({ WORKFLOW_BUNDLE_DIR: dir }), workflowBundle: own })).resolves.toBe(own);
  });

  test('refuses a WORKFLOW_BUNDLE_DIR without the bundle, naming the variable, instead of bundling at start', async () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'workflow-source-empty-'));
    try {
      await expect(workflowBundle({ cfg: loadConfig({ WORKFLOW_BUNDLE_DIR: empty }) })).rejects.toThrow(
        `no workflow bundle at ${path.join(empty, 'workflow-bundle.js')} (from WORKFLOW_BUNDLE_DIR)`,
      );
    } finally {
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });
});
