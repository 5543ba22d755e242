/**
 * The app processes `npm start` runs, as its supervisor records them in the stack directory
 * (`app-processes.json`: written once every process is ready and again after each restart,
 * removed on a clean stop). `npm run stack -- status` reads it to list them next to the
 * servers, `npm run stack -- logs <role>` to find their logs.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ComponentStatus } from './component';
import { isAlive } from './proc';

export interface AppProcess {
  /** `role`, or `role#i` for an instance of a scaled role. */
  name: string;
  role: string;
  /** What the role does (app/processes.ts). */
  description: string;
  pid: number;
  /** Where it serves requests, if it does (the API). */
  url?: string;
  metricsUrl: string;
  logFile: string;
}

export interface AppState {
  /** The `npm start` process: while it lives, its children are meant to run. */
  supervisorPid: number;
  startedAt: string;
  processes: AppProcess[];
}

export const APP_STATE_FILE = 'app-processes.json';

export const appStatePath = (stackDir: string): string => path.join(stackDir, APP_STATE_FILE);

/** Where `npm start` writes the log of one instance: `<stack>/logs/<role>.log`, `<role>-<i>.log` when scaled. */
export const roleLogFile = (stackDir: string, role: string, instance?: number): string =>
  path.join(stackDir, 'logs', instance === undefined ? `${role}.log` : `${role}-${instance}.log`);

/** Writes the state whole (a reader never sees half a file). */
export function writeAppState(stackDir: string, state: AppState): void {
  const file = appStatePath(stackDir);
  const partial = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(partial, `${JSON.stringify(state, null, 2)}\n`);
  fs.renameSync(partial, file);
}

/** Removes the state if the supervisor `supervisorPid` wrote it (a second `npm start`'s is not ours to remove). */
export function removeAppState(stackDir: string, supervisorPid: number): void {
  try {
    if (readAppState(stackDir)?.supervisorPid !== supervisorPid) return;
  } catch {
    // unreadable: ours to replace
  }
  fs.rmSync(appStatePath(stackDir), { force: true });
}

const isText = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
const isPid = (v: unknown): v is number => Number.isInteger(v) && (v as number) > 0;

/** The state from the file's text; throws, naming what is wrong, on anything else. */
export function parseAppState(text: string): AppState {
  const raw = JSON.parse(text) as Partial<AppState> | null;
  if (!raw || !isPid(raw.supervisorPid) || !isText(raw.startedAt) || !Array.isArray(raw.processes)) {
    throw new Error('not an app state: supervisorPid, startedAt and processes are required');
  }
  for (const p of raw.processes as Partial<AppProcess>[]) {
    const ok = isText(p.name) && isText(p.role) && isPid(p.pid) && isText(p.metricsUrl) && isText(p.logFile);
    if (!ok || (p.url !== undefined && !isText(p.url))) throw new Error(`not an app process: ${JSON.stringify(p)}`);
  }
  return raw as AppState;
}

/** The recorded state, or undefined when none is (`npm start` is not running). Throws when the file is unreadable. */
export function readAppState(stackDir: string): AppState | undefined {
  let text: string;
  try {
    text = fs.readFileSync(appStatePath(stackDir), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    return parseAppState(text);
  } catch (err) {
    throw new Error(`${appStatePath(stackDir)}: ${(err as Error).message}`);
  }
}

/** Where a process says it is ready: the API's /healthz, any other role's /metrics. */
export const readinessUrl = (p: AppProcess): string => (p.url ? `${p.url}/healthz` : p.metricsUrl);

/** Resolves when the URL answers 2xx, else throws. */
export type Probe = (url: string) => Promise<void>;

const httpProbe: Probe = async (url) => {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  await res.body?.cancel();
  if (!res.ok) throw new Error(`answered ${res.status}`);
};

/** No app row fails `status`'s exit code when `npm start` is not running: the stack serves tests and other clones too. */
const notRunning = (why = ''): ComponentStatus => ({ name: 'app', tool: true, up: false, error: `not running (npm start)${why}` });

/** One row per recorded process: its pid lives and its readiness URL answers. */
export async function appStatus(state: AppState | undefined, probe: Probe = httpProbe): Promise<ComponentStatus[]> {
  if (!state) return [notRunning()];
  if (!isAlive(state.supervisorPid)) return [notRunning(`; its supervisor, pid ${state.supervisorPid}, exited without a clean stop`)];
  return Promise.all(
    state.processes.map(async (p): Promise<ComponentStatus> => {
      if (!isAlive(p.pid)) return { name: p.name, up: false, error: `pid ${p.pid} is gone (log ${p.logFile})` };
      try {
        await probe(readinessUrl(p));
      } catch (err) {
        return { name: p.name, up: false, pid: p.pid, error: `${readinessUrl(p)}: ${(err as Error).message} (log ${p.logFile})` };
      }
      const extra = [p.url ? `metrics ${p.metricsUrl}` : '', `log ${p.logFile}`].filter(Boolean).join('  ');
      return { name: p.name, up: true, pid: p.pid, health: { version: p.description, endpoint: p.url ?? p.metricsUrl, extra } };
    }),
  );
}

/** The recorded processes `name` picks: one by its name (`relay#1`), or every instance of a role (`relay`). */
export function appProcessesNamed(state: AppState | undefined, name: string): AppProcess[] {
  return (state?.processes ?? []).filter((p) => p.name === name || p.role === name);
}
