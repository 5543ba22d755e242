/**
 * Two (or more) instances of every app process, as an orchestrator runs them: each its own
 * child process with its own API and metrics ports. The chaos schedule SIGKILLs and
 * restarts them; an instance that exits by itself is restarted too (with backoff), as a
 * Deployment would, and counted.
 */
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../../lib/config';
import { instanceEnv, instanceMetricsBase } from '../../app/instances';
import { ROLES, type Role } from '../../app/processes';
import { tail } from '../stack/proc';

const READY_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 20_000;
export interface FleetOptions {
  /** Environment of every instance (database, brokers, topics, task-queue prefix...). */
  env: Record<string, string>;
  instances: number;
  apiPort: number;
  metricsPortBase: number;
  logDir: string;
}

interface Instance {
  role: Role;
  index: number;
  child?: ChildProcess;
  /** Set while the schedule holds it down (killed, not yet restarted). */
  held: boolean;
  unplannedExits: number;
  startFailures: number;
  /** Bumped by every kill and restart: a start loop of an older generation gives up. */
  generation: number;
}

export const ALL_ROLES = Object.keys(ROLES) as Role[];

export class Fleet {
  private readonly instances: Instance[];
  private stopping = false;

  constructor(private readonly opts: FleetOptions) {
    fs.mkdirSync(opts.logDir, { recursive: true });
    this.instances = ALL_ROLES.flatMap((role) =>
      Array.from({ length: opts.instances }, (_, index) => ({
        role,
        index,
        held: false,
        unplannedExits: 0,
        startFailures: 0,
        generation: 0,
      })),
    );
  }

  apiUrls(): string[] {
    return Array.from({ length: this.opts.instances }, (_, i) => `http://127.0.0.1:${this.opts.apiPort + i}`);
  }

  /** Metrics URL of each instance (for the report and for probes). */
  metricsUrl(role: Role, index: number): string {
    return `http://127.0.0.1:${this.metricsBase(index) + ROLES[role].metricsOffset}/metrics`;
  }

  async startAll(): Promise<void> {
    await Promise.all(this.instances.map((i) => this.spawnUntilReady(i)));
  }

  /** SIGKILL, and keep it down until `restart`. */
  async kill(role: Role, index: number): Promise<void> {
    const inst = this.find(role, index);
    inst.held = true;
    inst.generation += 1;
    const child = inst.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  async restart(role: Role, index: number): Promise<void> {
    const inst = this.find(role, index);
    inst.held = false;
    inst.generation += 1;
    await this.spawnUntilReady(inst);
  }

  isHeld(role: Role, index: number): boolean {
    return this.find(role, index).held;
  }

  unplannedExits(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const i of this.instances) if (i.unplannedExits) out[i.role] = (out[i.role] ?? 0) + i.unplannedExits;
    return out;
  }

  startFailures(): number {
    return this.instances.reduce((n, i) => n + i.startFailures, 0);
  }

  async stopAll(): Promise<void> {
    this.stopping = true;
    await Promise.all(
      this.instances.map(async (inst) => {
        const child = inst.child;
        if (!child || child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
        await exited;
        clearTimeout(timer);
      }),
    );
  }

  private find(role: Role, index: number): Instance {
    const inst = this.instances.find((i) => i.role === role && i.index === index);
    if (!inst) throw new Error(`no instance ${role}#${index}`);
    return inst;
  }

  private metricsBase(index: number): number {
    return instanceMetricsBase(this.opts.metricsPortBase, index);
  }

  private logFile(inst: Instance): string {
    return path.join(this.opts.logDir, `${inst.role}-${inst.index}.log`);
  }

  /** Starts the instance; while a server is down a start can fail: retry with backoff, like a crash loop. */
  private async spawnUntilReady(inst: Instance): Promise<void> {
    const generation = inst.generation;
    for (let attempt = 0; ; attempt += 1) {
      if (this.stopping || inst.held || inst.generation !== generation) return;
      try {
        await this.spawn(inst);
        return;
      } catch (err) {
        inst.startFailures += 1;
        if (attempt >= 30) throw err;
        await new Promise((r) => setTimeout(r, Math.min(500 * 2 ** attempt, 5000)));
      }
    }
  }

  private spawn(inst: Instance): Promise<void> {
    const logFile = this.logFile(inst);
    const out = fs.openSync(logFile, 'a');
    const env = {
      ...process.env,
      ...this.opts.env,
      ...instanceEnv(
        {
          apiPort: this.opts.apiPort,
          metricsPortBase: this.opts.metricsPortBase,
          kafkaClientId: this.opts.env.KAFKA_CLIENT_ID ?? 'order-saga',
        },
        inst.index,
      ),
    };
    const child = fork(path.join(repoRoot, 'app', 'main.ts'), [inst.role], {
      cwd: repoRoot,
      env,
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', out, out, 'ipc'],
    });
    fs.closeSync(out);
    inst.child = child;
    return new Promise((resolve, reject) => {
      let ready = false;
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`${inst.role}#${inst.index} not ready after ${READY_TIMEOUT_MS} ms`));
      }, READY_TIMEOUT_MS);
      child.on('message', (msg: { type?: string }) => {
        if (msg?.type !== 'ready') return;
        ready = true;
        clearTimeout(timer);
        resolve();
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        if (!ready) {
          reject(new Error(`${inst.role}#${inst.index} exited during start (${signal ?? code})\n${tail(logFile, 10)}`));
          return;
        }
        if (this.stopping || inst.held || inst.child !== child) return;
        // Not the schedule's doing: the process died by itself. Restart it, and count it.
        inst.unplannedExits += 1;
        inst.generation += 1;
        void this.spawnUntilReady(inst).catch(() => undefined);
      });
    });
  }
}
