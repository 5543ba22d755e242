/**
 * The production build: `npm run build` compiles the app to dist/ and writes the workflow
 * bundles; each role then runs as plain `node dist/app/main.js <role>` (NODE_ENV=production,
 * no TypeScript loader), the orders worker loading the prebuilt bundle instead of running
 * webpack. What the image's runtime stage installs (`npm ci --omit=dev`) is checked against
 * package-lock.json: installing it here would take minutes.
 */
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { loadConfig, repoRoot } from '../../lib/config';
import { createTemporalClient } from '../../lib/temporal';
import { ORDER_WORKFLOW_TYPE, orderWorkflowId, type OrderSagaInput, type SagaState } from '../../services/orders/contract';
import { ordersTaskQueue } from '../../services/orders/task-queues';
import { workflowBundleFile } from '../../app/workflow-source';
import { freePort, killAllRoles, spawnRole, type RoleProcess } from '../support/processes';
import { eventually } from '../support/wait';

const DIST = path.join(repoRoot, 'dist');
const BUILD_TIMEOUT_MS = 300_000;

let buildSeconds = 0;

beforeAll(() => {
  const started = Date.now();
  const build = spawnSync('npm', ['run', '-s', 'build'], { cwd: repoRoot, encoding: 'utf8', timeout: BUILD_TIMEOUT_MS });
  buildSeconds = (Date.now() - started) / 1000;
  if (build.status !== 0) throw new Error(`npm run build failed (${build.status ?? build.signal}):\n${build.stdout}\n${build.stderr}`);
  process.stderr.write(`[production-build] npm run build took ${buildSeconds.toFixed(1)} s\n`);
}, BUILD_TIMEOUT_MS + 10_000);

afterAll(() => killAllRoles());

/** The command line and environment of a running process, as the kernel has them. */
function processOf(pid: number): { argv: string[]; env: Record<string, string> } {
  const split = (file: string) => fs.readFileSync(`/proc/${pid}/${file}`, 'utf8').split('\0').filter(Boolean);
  const env = Object.fromEntries(split('environ').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  return { argv: split('cmdline'), env };
}

/** Runs plain node on dist/app/main.js, in production mode, with nothing TypeScript loaded. */
function expectCompiled(role: RoleProcess): void {
  const { argv, env } = processOf(role.pid);
  expect({ argv: argv.slice(1), NODE_ENV: env.NODE_ENV }).toEqual({
    argv: [path.join(DIST, 'app', 'main.js'), role.role],
    NODE_ENV: 'production',
  });
  expect([...argv, env.NODE_OPTIONS ?? ''].filter((a) => /tsx|ts-node|swc/.test(a))).toEqual([]);
}

test('npm run build writes the compiled entry points and both workflow bundles', () => {
  for (const file of [
    'app/main.js',
    'scripts/migrate.js',
    'scripts/seed.js',
    'scripts/reconcile.js',
    'scripts/dlq.js',
    workflowBundleFile(false),
    workflowBundleFile(true),
  ]) {
    expect({ file, exists: fs.existsSync(path.join(DIST, file)) }).toEqual({ file, exists: true });
  }
});

test('dist/ requires only packages that `npm ci --omit=dev` installs', () => {
  const lock = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean }>;
  };
  const compiled = (fs.readdirSync(DIST, { recursive: true, encoding: 'utf8' }) as string[]).filter(
    (f) => f.endsWith('.js') && !path.basename(f).startsWith('workflow-bundle'),
  );
  const required = new Set<string>();
  for (const file of compiled) {
    for (const [, spec] of fs.readFileSync(path.join(DIST, file), 'utf8').matchAll(/\brequire\("([^".][^"]*)"\)/g)) {
      if (spec!.startsWith('node:')) continue;
      const parts = spec!.split('/');
      required.add(spec!.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!);
    }
  }
  expect(required.size).toBeGreaterThan(5);
  const devOnly = [...required].filter((name) => !lock.packages[`node_modules/${name}`] || lock.packages[`node_modules/${name}`]!.dev);
  expect(devOnly).toEqual([]);
});

test('the api runs from dist/ in production mode without tsx, is ready, and exits 0 on SIGTERM', async () => {
  const api = await spawnRole('api', { compiled: true, env: { NODE_ENV: 'production', API_PORT: String(await freePort()) } });
  expectCompiled(api);
  const ready = await eventually(
    async () => {
      const res = await fetch(`${api.url}/readyz`);
      return res.status === 200 && ((await res.json()) as { status: string });
    },
    { timeoutMs: 30_000, what: `${api.url}/readyz to answer 200` },
  );
  expect(ready.status).toBe('ok');
  await expect(api.kill('SIGTERM')).resolves.toEqual({ code: 0, signal: null });
});

describe('the orders worker from dist/', () => {
  let client: Client;
  beforeAll(async () => {
    client = await createTemporalClient(loadConfig());
  });
  afterAll(() => client.connection.close());

  test("runs the saga from dist/'s prebuilt bundle: it answers a query on a workflow it hosts, then exits 0 on SIGTERM", async () => {
    const prefix = `build-${crypto.randomUUID().slice(0, 8)}-`;
    const worker = await spawnRole('worker-orders', {
      compiled: true,
      env: { NODE_ENV: 'production', TEMPORAL_TASK_QUEUE_PREFIX: prefix },
    });
    expectCompiled(worker);
    const orderId = crypto.randomUUID();
    // No such order and no payments or inventory worker: the saga gets nowhere, but answering
    // a query means the worker evaluated the bundle's workflow code.
    const input: OrderSagaInput = {
      orderId,
      customerId: crypto.randomUUID(),
      currency: 'EUR',
      totalMinor: 100,
      items: [],
      options: { taskQueuePrefix: prefix },
    };
    const handle = await client.workflow.start(ORDER_WORKFLOW_TYPE, {
      workflowId: orderWorkflowId(orderId),
      taskQueue: ordersTaskQueue(prefix),
      args: [input],
    });
    try {
      const state = await eventually(() => handle.query<SagaState>('status'), { timeoutMs: 30_000, what: 'the status query' });
      expect(state.orderId).toBe(orderId);
    } finally {
      await handle.terminate('test over').catch((err: unknown) => {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
      });
    }
    await expect(worker.kill('SIGTERM')).resolves.toEqual({ code: 0, signal: null });
  });

  test('refuses to start when WORKFLOW_BUNDLE_DIR names a directory without the bundles (no silent webpack)', async () => {
    const empty = fs.mkdtempSync(path.join(DIST, '.no-bundles-'));
    try {
      await expect(
        spawnRole('worker-orders', { compiled: true, env: { NODE_ENV: 'production', WORKFLOW_BUNDLE_DIR: empty }, readyTimeoutMs: 30_000 }),
      ).rejects.toThrow(/no workflow bundle at .*\(from WORKFLOW_BUNDLE_DIR\)/);
    } finally {
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });
});
