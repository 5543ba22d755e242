/**
 * Fault injection for failure tests. Production code calls `faults.hit(point)` at the
 * places where a crash or an error matters (just before and just after a commit); the
 * default injector does nothing. Tests pass their own, or set FAULT_INJECTION (accepted
 * only when NODE_ENV=test) for the app processes they start.
 */
import { z } from 'zod';

export const FAULT_POINTS = [
  'api.order.beforeCommit',
  'api.order.afterCommit',
  'inventory.reserve.beforeCommit',
  'inventory.reserve.afterCommit',
  'inventory.commit.afterCommit',
  'inventory.release.beforeCommit',
  'inventory.release.afterCommit',
  'payment.charge.beforeCommit',
  'payment.charge.afterCommit',
  'payment.refund.beforeCommit',
  'payment.refund.afterCommit',
  'relay.afterPublish',
  'consumer.beforeEffect',
  'consumer.afterEffect',
] as const;

export type FaultPoint = (typeof FAULT_POINTS)[number];

export interface Faults {
  hit(point: FaultPoint, orderId: string): Promise<void>;
}

export const noFaults: Faults = { hit: async () => undefined };

/** An error thrown by an injected fault (retryable: it is a transient failure). */
export class InjectedFault extends Error {
  override name = 'InjectedFault';
}

/** The rules FAULT_INJECTION holds (a JSON array), checked by lib/config.ts at start-up. */
export const FaultRules = z.array(
  z.strictObject({
    point: z.enum(FAULT_POINTS),
    /** fail: throw; exit: kill this process at once (as SIGKILL would); delay: wait delayMs. */
    action: z.enum(['fail', 'exit', 'delay']),
    /** How many hits trigger the rule (default: every hit). */
    times: z.int().min(1).optional(),
    delayMs: z.int().min(0).optional(),
    /** Only this order (default: any order). */
    orderId: z.string().optional(),
  }),
  { error: 'expected a JSON array of rules' },
);

export type FaultRule = z.infer<typeof FaultRules>[number];

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

/** The injector for the configured rules (cfg.faultInjection); none means no faults. */
export function faultsFrom(rules: FaultRule[] | undefined): Faults {
  return rules?.length ? new FaultPlan(rules) : noFaults;
}
