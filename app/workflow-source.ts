/**
 * The workflow code the orders worker runs: always one webpack bundle of workflows/ with the
 * workflow interceptors in it. Production builds it ahead (`npm run build` writes
 * dist/workflow-bundle.js and its traced twin) and the worker only loads the file; run from
 * source (`npm start`), the worker bundles workflows/ as it starts, which takes seconds of CPU.
 *
 * Tracing changes the bundle (OpenTelemetry's workflow interceptors are compiled in), so there
 * are two: the one a worker loads follows whether this process traces.
 */
import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode, Runtime, type WorkflowBundleOption } from '@temporalio/worker';
import type { Config } from '../lib/config';
import type { Tracing } from '../lib/tracing';

const OTEL_WORKFLOW_INTERCEPTORS = '@temporalio/interceptors-opentelemetry/lib/workflow-interceptors';

/** This module compiled to JavaScript: the process runs from dist/, next to its bundles. */
const COMPILED = path.extname(__filename) === '.js';

export interface WorkflowSourceDeps {
  cfg: Config;
  tracing?: Tracing;
  /** A bundle the caller made (tests that run another workflows/); used as it is. */
  workflowBundle?: WorkflowBundleOption;
}

/** File name of the prebuilt bundle for a worker that traces or not. */
export function workflowBundleFile(traced: boolean): string {
  return traced ? 'workflow-bundle.traced.js' : 'workflow-bundle.js';
}

/** The workflow interceptor modules compiled into a bundle (order id on log lines, saga metrics; spans if traced). */
function interceptorModules(traced: boolean): string[] {
  return [require.resolve('../workflows/interceptors'), ...(traced ? [require.resolve(OTEL_WORKFLOW_INTERCEPTORS)] : [])];
}

/** The orders worker's `workflowBundle`: the caller's, a prebuilt file, or workflows/ bundled now. */
export async function workflowBundle(deps: WorkflowSourceDeps): Promise<WorkflowBundleOption> {
  if (deps.workflowBundle) return deps.workflowBundle;
  const traced = deps.tracing?.enabled ?? false;
  const dir = deps.cfg.workers.workflowBundleDir ?? (COMPILED ? path.resolve(__dirname, '..') : undefined);
  if (!dir) return bundleWorkflows(traced, Runtime.instance().logger);
  const codePath = path.join(dir, workflowBundleFile(traced));
  if (!fs.existsSync(codePath)) {
    const origin = deps.cfg.workers.workflowBundleDir ? 'WORKFLOW_BUNDLE_DIR' : 'the compiled app';
    throw new Error(`no workflow bundle at ${codePath} (from ${origin}): run \`npm run build\``);
  }
  return { codePath };
}

type BundleLogger = NonNullable<Parameters<typeof bundleWorkflowCode>[0]['logger']>;

/** Bundles workflows/ (its source, or its compiled JavaScript when this runs from dist/). */
async function bundleWorkflows(traced: boolean, logger?: BundleLogger): Promise<{ code: string }> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../workflows'),
    workflowInterceptorModules: interceptorModules(traced),
    ...(logger ? { logger } : {}),
  });
  return { code };
}

/**
 * Writes both bundles into `dir` (created if missing), each through a temporary file and a
 * rename, so a worker or a concurrent build never reads half a bundle.
 */
export async function writeWorkflowBundles(dir: string, logger?: BundleLogger): Promise<string[]> {
  fs.mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  for (const traced of [false, true]) {
    const { code } = await bundleWorkflows(traced, logger);
    const file = path.join(dir, workflowBundleFile(traced));
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, code);
    fs.renameSync(tmp, file);
    written.push(file);
  }
  return written;
}
