/**
 * Brings the real stack up (idempotent; fast when already up; with the authorization server), creates and migrates the
 * test database (SECURE_STACK=1: the secure stack, docs/security.md), and builds the workflow bundles once for the run (WORKFLOW_BUNDLE_DIR, which
 * every test process and the role processes it spawns inherit). Skipped when only unit tests
 * were selected.
 */
import fs from 'node:fs';
import { migrate } from '../../lib/migrate';
import { Jaeger } from '../../scripts/stack/jaeger';
import { aptInstall } from '../../scripts/stack/proc';
import { Prometheus } from '../../scripts/stack/prometheus';
import { Zipkin } from '../../scripts/stack/zipkin';
import { ensureDatabase } from '../../scripts/stack/postgres';
import { loadStackConfig } from '../../scripts/stack/config';
import { enterSecureMode } from '../../scripts/stack/secure';
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

/** The browser the page tests drive (Debian's chromium: browser downloads fail here). */
export const CHROMIUM = '/usr/bin/chromium';

/**
 * What some test files start for themselves (their own trace backends, Prometheus, a browser),
 * installed here, where no test timeout runs: on a fresh machine the Jaeger build alone takes
 * minutes. Each install is a no-op once cached.
 */
async function installTestTools(cfg: ReturnType<typeof testConfig>): Promise<void> {
  const started = Date.now();
  if (!fs.existsSync(CHROMIUM)) await aptInstall(['chromium'], 'the console tests drive a real browser');
  for (const tool of [new Prometheus(cfg), new Zipkin(cfg), new Jaeger(cfg)]) await tool.install();
  const s = (Date.now() - started) / 1000;
  if (s > 1) process.stderr.write(`[test] test tools (chromium, Prometheus, Zipkin, Jaeger) installed in ${s.toFixed(1)} s\n`);
}

export default async function globalSetup(): Promise<void> {
  const selected = selectedProjects(process.argv);
  if (selected.length > 0 && selected.every((p) => STANDALONE.includes(p))) return;
  if (onlyStandaloneFiles(process.argv)) return;
  // SECURE_STACK=1 (npm run test:secure): the secure stack; its credentials' environment is
  // set on this process, which the test workers and the role processes they spawn inherit.
  const secure = process.env.SECURE_STACK === '1';
  if (secure) await enterSecureMode(loadStackConfig());
  const cfg = testConfig();
  const started = Date.now();
  // The authorization server too: the identity tests get tokens from it (a cheap Node process).
  const rows = await up(cfg, { withIdentity: !secure });
  await ensureDatabase(cfg, cfg.database.database);
  await migrate(cfg.databaseOwner.url);
  process.stderr.write(`\n[test] stack ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n${formatStatus(rows)}\n`);
  await installTestTools(cfg);
  const bundling = Date.now();
  const bundles = await cachedWorkflowBundles();
  process.env.WORKFLOW_BUNDLE_DIR = bundles.dir;
  const how = bundles.built ? `built in ${((Date.now() - bundling) / 1000).toFixed(1)} s` : 'cached';
  process.stderr.write(`[test] workflow bundles ${how}: ${bundles.dir}\n`);
}
