/**
 * Fault injection for failure tests. Production code calls `faults.hit(point)` at the
 * places where a crash or an error matters (just before and just after a commit); the
 * default injector does nothing. Tests pass their own, or set FAULT_INJECTION (refused
 * when NODE_ENV=production) for the app processes they start.
 */

export type FaultPoint =
  | 'api.order.beforeCommit'
  | 'api.order.afterCommit'
  | 'inventory.reserve.afterCommit'
  | 'inventory.commit.afterCommit'
  | 'inventory.release.beforeCommit'
  | 'inventory.release.afterCommit'
  | 'payment.charge.beforeCommit'
  | 'payment.charge.afterCommit'
  | 'payment.refund.beforeCommit'
  | 'payment.refund.afterCommit'
  | 'relay.afterPublish'
  | 'consumer.beforeEffect'
  | 'consumer.afterEffect';

export interface Faults {
  hit(point: FaultPoint, orderId: string): Promise<void>;
}

export const noFaults: Faults = { hit: async () => undefined };

/** An error thrown by an injected fault (retryable: it is a transient failure). */
export class InjectedFault extends Error {
  override name = 'InjectedFault';
}

export interface FaultRule {
  point: FaultPoint;
  /** fail: throw; exit: kill this process at once (as SIGKILL would); delay: wait delayMs. */
  action: 'fail' | 'exit' | 'delay';
  /** How many hits trigger the rule (default: every hit). */
  times?: number;
  delayMs?: number;
  /** Only this order (default: any order). */
  orderId?: string;
}

/** A switchable injector: rules can be added and cleared while workers run. */
export class FaultPlan implements Faults {
  private rules: (FaultRule & { remaining: number })[] = [];
  readonly hits: { point: FaultPoint; orderId: string }[] = [];

  constructor(rules: FaultRule[] = []) {
    rules.forEach((r) => this.add(r));
  }

  add(rule: FaultRule): this {
    this.rules.push({ ...rule, remaining: rule.times ?? Number.POSITIVE_INFINITY });
    return this;
  }

  clear(): void {
    this.rules = [];
  }

  async hit(point: FaultPoint, orderId: string): Promise<void> {
    const rule = this.rules.find((r) => r.point === point && r.remaining > 0 && (!r.orderId || r.orderId === orderId));
    if (!rule) return;
    rule.remaining -= 1;
    this.hits.push({ point, orderId });
    if (rule.action === 'exit') process.kill(process.pid, 'SIGKILL');
    if (rule.action === 'delay') await new Promise((r) => setTimeout(r, rule.delayMs ?? 1000));
    if (rule.action === 'fail') throw new InjectedFault(`injected fault at ${point} for order ${orderId}`);
  }
}

/** Reads FAULT_INJECTION (a JSON array of FaultRule); only ever active under NODE_ENV=test. */
export function faultsFromEnv(env: Record<string, string | undefined>, nodeEnv: string): Faults {
  const raw = env.FAULT_INJECTION?.trim();
  if (!raw) return noFaults;
  if (nodeEnv !== 'test') throw new Error(`FAULT_INJECTION: refused unless NODE_ENV=test (it is "${nodeEnv}"); faults can kill this process`);
  let rules: FaultRule[];
  try {
    rules = JSON.parse(raw) as FaultRule[];
  } catch {
    throw new Error('FAULT_INJECTION: not valid JSON');
  }
  if (!Array.isArray(rules)) throw new Error('FAULT_INJECTION: expected a JSON array of rules');
  return new FaultPlan(rules);
}
