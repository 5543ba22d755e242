/**
 * Writes the orders worker's workflow bundles (plain and traced) next to the compiled app,
 * so workers load them instead of running webpack at every start. Part of `npm run build`:
 *   node dist/scripts/build-workflow-bundle.js [dir]   (default: dist/)
 */
import path from 'node:path';
import { writeWorkflowBundles } from '../app/workflow-source';
import { repoRoot } from '../lib/config';

const quiet = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: console.warn,
  error: console.error,
};

async function main(): Promise<void> {
  const started = Date.now();
  const dir = path.resolve(process.argv[2] ?? path.join(repoRoot, 'dist'));
  const files = await writeWorkflowBundles(dir, quiet);
  console.log(
    `workflow bundles in ${((Date.now() - started) / 1000).toFixed(1)} s: ${files.map((f) => path.relative(process.cwd(), f)).join(', ')}`,
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
