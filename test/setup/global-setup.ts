/**
 * Brings the real stack up (idempotent; fast when already up; with the authorization server), creates and migrates the
 * test database, and builds the workflow bundles once for the run (WORKFLOW_BUNDLE_DIR, which
 * every test process and the role processes it spawns inherit). Skipped when only unit tests
 * were selected.
 */
import { migrate } from '../../lib/migrate';
import { ensureDatabase } from '../../scripts/stack/postgres';
import { formatStatus, up } from '../../scripts/stack/stack';
import { cachedWorkflowBundles } from '../support/workflow-bundles';
import { testConfig } from './test-config';

const PROJECTS = ['unit', 'timeskip', 'integration', 'e2e'];
/** Projects that need no stack. */
const STANDALONE = ['unit', 'timeskip'];

/** The projects named after --selectProjects on the jest command line, if any. */
function selectedProjects(argv: string[]): string[] {
  const i = argv.indexOf('--selectProjects');
  if (i < 0) return [];
  const names: string[] = [];
  for (const arg of argv.slice(i + 1)) {
    if (!PROJECTS.includes(arg)) break;
    names.push(arg);
  }
  return names;
}

/** The test files named on the command line (`npx jest test/unit/x.test.ts`), if any. */
function namedTestFiles(argv: string[]): string[] {
  return argv.slice(2).filter((arg) => !arg.startsWith('-') && /\.test\.tsx?$/.test(arg));
}

/** True when every named file lives in a project that needs no stack. */
function onlyStandaloneFiles(argv: string[]): boolean {
  const files = namedTestFiles(argv);
  return files.length > 0 && files.every((f) => STANDALONE.some((p) => f.includes(`test/${p}/`)));
}

export default async function globalSetup(): Promise<void> {
  const selected = selectedProjects(process.argv);
  if (selected.length > 0 && selected.every((p) => STANDALONE.includes(p))) return;
  if (onlyStandaloneFiles(process.argv)) return;
  const cfg = testConfig();
  const started = Date.now();
  // The authorization server too: the identity tests get tokens from it (a cheap Node process).
  const rows = await up(cfg, { withIdentity: true });
  await ensureDatabase(cfg, cfg.database.database);
  await migrate(cfg.databaseOwner.url);
  process.stderr.write(`\n[test] stack ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n${formatStatus(rows)}\n`);
  const bundling = Date.now();
  const bundles = await cachedWorkflowBundles();
  process.env.WORKFLOW_BUNDLE_DIR = bundles.dir;
  const how = bundles.built ? `built in ${((Date.now() - bundling) / 1000).toFixed(1)} s` : 'cached';
  process.stderr.write(`[test] workflow bundles ${how}: ${bundles.dir}\n`);
}
