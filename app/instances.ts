/**
 * Several instances of one role on one host (`npm start -- --scale`, the chaos fleet): what
 * each instance gets so that none collides with another. Instance i serves metrics on
 * METRICS_PORT_BASE + i * METRICS_STRIDE + the role's offset, the API on API_PORT + i, and
 * talks to Kafka under its own client id.
 */
import type { Role } from './processes';

/** Metrics ports of instance i are METRICS_PORT_BASE + i * stride + the role's offset. */
export const METRICS_STRIDE = 20;
/** Most instances of one role `--scale` starts (the stride leaves room for this many). */
export const MAX_INSTANCES = 8;

export interface InstanceBase {
  apiPort: number;
  metricsPortBase: number;
  kafkaClientId: string;
}

/** METRICS_PORT_BASE of instance `index`. */
export function instanceMetricsBase(metricsPortBase: number, index: number): number {
  return metricsPortBase + index * METRICS_STRIDE;
}

/** The environment that sets instance `index` apart from its siblings. */
export function instanceEnv(base: InstanceBase, index: number): Record<string, string> {
  return {
    API_PORT: String(base.apiPort + index),
    METRICS_PORT_BASE: String(instanceMetricsBase(base.metricsPortBase, index)),
    KAFKA_CLIENT_ID: `${base.kafkaClientId}-${index}`,
  };
}

/** A bad `--scale` value; the message says what is wrong. */
export class ScaleSpecError extends Error {
  override name = 'ScaleSpecError';
}

/**
 * Parses `role=N[,role=N...]` (e.g. `worker-payments=2,relay=2`) strictly: every role must
 * be one of `roles`, named once, with 1 <= N <= MAX_INSTANCES. Roles not named keep 1.
 */
export function parseScale(spec: string, roles: readonly Role[]): Partial<Record<Role, number>> {
  const out: Partial<Record<Role, number>> = {};
  if (!spec.trim()) throw new ScaleSpecError('--scale needs role=N[,role=N...], e.g. worker-payments=2,relay=2');
  for (const part of spec.split(',')) {
    const m = /^\s*([a-z][a-z-]*)=(\d+)\s*$/.exec(part);
    if (!m) throw new ScaleSpecError(`--scale: "${part}" is not role=N (e.g. relay=2)`);
    const [, name, count] = m as unknown as [string, string, string];
    if (!(roles as readonly string[]).includes(name))
      throw new ScaleSpecError(`--scale: unknown role "${name}" (roles: ${roles.join(', ')})`);
    const role = name as Role;
    if (role in out) throw new ScaleSpecError(`--scale: ${role} is named twice`);
    const n = Number(count);
    if (n < 1 || n > MAX_INSTANCES) throw new ScaleSpecError(`--scale: ${role}=${count} is out of range (1..${MAX_INSTANCES})`);
    out[role] = n;
  }
  return out;
}

/**
 * The `--scale` value of a command line that takes nothing else (`--scale x` or
 * `--scale=x`), if given. Any other argument is an error rather than silently ignored.
 */
export function scaleArg(argv: readonly string[]): string | undefined {
  const [first, second, ...rest] = argv;
  if (first === undefined) return undefined;
  let value: string | undefined;
  if (first === '--scale') value = second;
  else if (first.startsWith('--scale=') && second === undefined) value = first.slice('--scale='.length);
  else throw new ScaleSpecError(`unknown argument "${first}" (usage: --scale role=N[,role=N...])`);
  if (value === undefined || value.startsWith('--')) throw new ScaleSpecError('--scale needs a value, e.g. --scale relay=2');
  if (rest.length) throw new ScaleSpecError(`unknown argument "${rest[0]}" (usage: --scale role=N[,role=N...])`);
  return value;
}
