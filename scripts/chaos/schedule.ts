/**
 * The seeded fault schedule: SIGKILLs of app instances (every process type at least once)
 * and restarts of the servers, at fixed offsets into the run. Same seed, same schedule.
 */
import type { Role } from '../../app/processes';
import { ALL_ROLES } from './fleet';
import { shuffle, type Rng } from './prng';
import type { ServerKind } from './servers';

export type PlannedFault =
  | { kind: 'kill'; atMs: number; role: Role; index: number; downMs: number }
  | { kind: 'restart'; atMs: number; server: ServerKind; downMs: number };

export interface ScheduleOptions {
  durationMs: number;
  instances: number;
  /** App-instance kills; at least one per process type. */
  kills: number;
  servers: readonly ServerKind[];
  /** Restarts of each server kind. */
  restartsPerServer: number;
}

export function planFaults(rng: Rng, o: ScheduleOptions): PlannedFault[] {
  const roles = shuffle(rng, [...ALL_ROLES]);
  while (roles.length < o.kills) roles.push(rng.pick(ALL_ROLES));
  const kills: PlannedFault[] = roles.map((role) => ({
    kind: 'kill',
    atMs: Math.round(o.durationMs * (0.05 + 0.8 * rng.next())),
    role,
    index: rng.int(0, o.instances - 1),
    downMs: rng.int(200, 3000),
  }));
  // Server restarts in evenly spaced slots (one at a time), in a seeded order.
  const servers = shuffle(
    rng,
    o.servers.flatMap((s) => Array.from({ length: o.restartsPerServer }, () => s)),
  );
  const slot = (o.durationMs * 0.7) / Math.max(servers.length, 1);
  const restarts: PlannedFault[] = servers.map((server, i) => ({
    kind: 'restart',
    atMs: Math.round(o.durationMs * 0.1 + slot * i + slot * 0.3 * rng.next()),
    server,
    downMs: rng.int(1000, 5000),
  }));
  return [...kills, ...restarts].sort((a, b) => a.atMs - b.atMs);
}
