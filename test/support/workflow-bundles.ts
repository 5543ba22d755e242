/**
 * The workflow bundles for a test run, built once (jest's global setup) instead of by webpack
 * in every test file that starts a worker. Cached in the system's temp directory under a hash
 * of what goes into them, so a run after no workflow change builds nothing.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { workflowBundleFile, writeWorkflowBundles } from '../../app/workflow-source';
import { repoRoot } from '../../lib/config';

/** What a bundle is built from: the workflows, the contracts they import, the bundler's module and the locked SDK. */
const INPUTS = ['workflows', 'services', 'app/workflow-source.ts', 'package-lock.json'];

function files(entry: string): string[] {
  const full = path.join(repoRoot, entry);
  if (!fs.statSync(full).isDirectory()) return [full];
  return fs
    .readdirSync(full, { recursive: true, encoding: 'utf8' })
    .map((f) => path.join(full, f))
    .filter((f) => fs.statSync(f).isFile())
    .sort();
}

/** Hash of every input file's path and content. */
export function workflowInputsHash(): string {
  const hash = crypto.createHash('sha256');
  for (const file of INPUTS.flatMap(files)) hash.update(path.relative(repoRoot, file)).update('\0').update(fs.readFileSync(file));
  return hash.digest('hex').slice(0, 16);
}

/** A directory holding both bundles of the current workflow code (built now if not cached); for WORKFLOW_BUNDLE_DIR. */
export async function cachedWorkflowBundles(
  root = path.join(os.tmpdir(), 'order-saga-workflow-bundles'),
): Promise<{ dir: string; built: boolean }> {
  const dir = path.join(root, workflowInputsHash());
  const present = [false, true].every((traced) => fs.existsSync(path.join(dir, workflowBundleFile(traced))));
  if (!present) await writeWorkflowBundles(dir, quietLogger);
  return { dir, built: !present };
}

/**
 * A bundle of `workflowsPath` alone (no interceptors: what the time-skipping and replay tests
 * run), cached like the app's bundles under the hash of the inputs plus that file's directory, so the test
 * files that need one stop running webpack on every run. Returns the bundle's path for
 * `workflowBundle: { codePath }`.
 */
export async function cachedPlainBundle(
  workflowsPath: string,
  root = path.join(os.tmpdir(), 'order-saga-workflow-bundles'),
): Promise<{ codePath: string }> {
  const own = crypto.createHash('sha256').update(workflowsPath);
  for (const f of files(path.relative(repoRoot, path.dirname(workflowsPath)))) own.update('\0').update(f).update(fs.readFileSync(f));
  const file = path.join(root, workflowInputsHash(), `plain-${own.digest('hex').slice(0, 16)}.js`);
  if (!fs.existsSync(file)) {
    const { code } = await bundleWorkflowCode({ workflowsPath, logger: quietLogger });
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, code);
    fs.renameSync(tmp, file);
  }
  return { codePath: file };
}

const quietLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string) => console.warn(message),
  error: (message: string) => console.error(message),
};
