/**
 * Temporal's time-skipping test server (part of the Java SDK), for workflow unit tests.
 * The SDK's own download of it fails here, so its jars come from Maven Central (cached outside
 * the repo, keyed by version) and a small wrapper script in the cache runs them. Give the
 * wrapper to @temporalio/testing as an `existing-path` executable:
 *
 *   TestWorkflowEnvironment.createTimeSkipping({
 *     server: { executable: { type: 'existing-path', path: await ensureTestServer(cfg) } },
 *   });
 *
 * The SDK runs it as `<wrapper> <port> [extraArgs...]`; the server itself takes
 * `<port> [--enable-time-skipping]` (without the flag, time skipping starts locked and the
 * SDK unlocks it while a test awaits a workflow result or calls env.sleep()).
 *
 * `npx tsx scripts/stack/test-server.ts` installs it and prints the wrapper's path.
 */
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../../lib/config';
import { loadStackConfig, type StackConfig } from './config';
import { aptInstall, log, onPath, run } from './proc';

/** Newest io.temporal:temporal-test-server that resolves on Maven Central (checked 2026-11). */
export const TEST_SERVER_VERSION = '1.39.0';
export const TEST_SERVER_MAIN_CLASS = 'io.temporal.testserver.TestServer';

/** JVM flags tuned for a fast start: the SDK gives the server 5 s to answer. */
const JVM_FLAGS = [
  '-Xshare:auto',
  '-XX:+UseSerialGC',
  '-XX:TieredStopAtLevel=1',
  '-Xms64m',
  '-Xmx512m',
  '-Djava.awt.headless=true',
  '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
  '-Dorg.slf4j.simpleLogger.logFile=System.err',
];

export function testServerDir(cfg: StackConfig): string {
  return path.join(cfg.stack.cacheDir, `temporal-test-server-${TEST_SERVER_VERSION}`);
}

function libDir(cfg: StackConfig): string {
  return path.join(testServerDir(cfg), 'libs');
}

function wrapperPath(cfg: StackConfig): string {
  return path.join(testServerDir(cfg), 'temporal-test-server');
}

const isComplete = (dir: string): boolean => fs.existsSync(path.join(dir, '.complete'));

/** Copies the test server's runtime classpath from Maven Central into the cache, once per version. */
async function install(cfg: StackConfig): Promise<void> {
  const target = libDir(cfg);
  if (isComplete(target)) return;
  if (!(await onPath('java')) || !(await onPath('mvn'))) {
    await aptInstall(['openjdk-17-jre-headless', 'maven'], "Temporal's test server needs Java and Maven");
  }
  log(`fetching Temporal test server ${TEST_SERVER_VERSION} from Maven Central (first time only)`);
  const dir = testServerDir(cfg);
  fs.mkdirSync(dir, { recursive: true });
  // Scratch inside the same directory, so the final rename never crosses file systems and a
  // half-finished download is never taken for a complete one.
  const scratch = fs.mkdtempSync(path.join(dir, 'libs.tmp-'));
  try {
    await run('mvn', [
      '-q',
      '-B',
      '-f',
      path.join(repoRoot, 'scripts', 'stack', 'test-server-pom.xml'),
      `-Dtest-server.version=${TEST_SERVER_VERSION}`,
      'dependency:copy-dependencies',
      '-DincludeScope=runtime',
      `-DoutputDirectory=${scratch}`,
    ]);
    fs.writeFileSync(path.join(scratch, '.complete'), `${TEST_SERVER_VERSION}\n`);
    if (!isComplete(target)) {
      fs.rmSync(target, { recursive: true, force: true });
      try {
        fs.renameSync(scratch, target);
      } catch (err) {
        // Another process (a parallel test file) finished first: use its copy.
        if (!isComplete(target)) throw err;
      }
    }
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

function wrapperScript(cfg: StackConfig): string {
  return [
    '#!/bin/sh',
    `# Temporal's time-skipping test server ${TEST_SERVER_VERSION}, written by scripts/stack/test-server.ts.`,
    '# Usage: temporal-test-server <port> [--enable-time-skipping]',
    '# TEMPORAL_TEST_SERVER_JAVA_OPTS adds JVM flags; JAVA picks the java binary.',
    `exec "\${JAVA:-java}" ${JVM_FLAGS.join(' ')} $TEMPORAL_TEST_SERVER_JAVA_OPTS \\`,
    `  -cp ${shellQuote(`${libDir(cfg)}/*`)} ${TEST_SERVER_MAIN_CLASS} "$@"`,
    '',
  ].join('\n');
}

/** Installs the test server if needed and returns the path of an executable that starts it. */
export async function ensureTestServer(cfg: StackConfig): Promise<string> {
  await install(cfg);
  const wrapper = wrapperPath(cfg);
  const script = wrapperScript(cfg);
  let current: string | undefined;
  try {
    current = fs.readFileSync(wrapper, 'utf8');
  } catch {
    current = undefined;
  }
  if (current !== script) {
    const tmp = `${wrapper}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, script, { mode: 0o755 });
    fs.renameSync(tmp, wrapper);
  }
  fs.chmodSync(wrapper, 0o755);
  return wrapper;
}

if (require.main === module) {
  ensureTestServer(loadStackConfig()).then(
    (wrapper) => process.stdout.write(`${wrapper}\n`),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
