/**
 * Commands on a placed order: a customer's cancel and an operator's manual compensation.
 * Both are signals to the order's saga (signal-with-start, so a lost start cannot lose
 * them); the saga decides what happens.
 */
import type { Client } from '@temporalio/client';
import type { Config } from '../../lib/config';
import type { Db } from '../../lib/db';
import { DomainError } from '../../lib/errors';
import { NOT_CANCELLABLE, ORDER_ERRORS, SIGNALS, type OrderStatus } from './contract';
import { SagaClosedError, signalSaga } from './saga-starter';

export interface CommandDeps {
  db: Db;
  cfg: Config;
  temporal: Client;
}

export interface Accepted {
  orderId: string;
  status: OrderStatus;
  accepted: true;
}

/** Asks the saga to cancel an order that is not yet confirmed. */
export async function requestCancel(deps: CommandDeps, order: { orderId: string; status: OrderStatus }, reason: string): Promise<Accepted> {
  const { orderId, status } = order;
  if (NOT_CANCELLABLE.includes(status)) {
    throw new DomainError(ORDER_ERRORS.ORDER_NOT_CANCELLABLE, `order ${orderId} is ${status}`, { details: { orderStatus: status } });
  }
  try {
    await signalSaga(deps.temporal, deps.cfg, deps.db, orderId, SIGNALS.cancel, { reason });
  } catch (err) {
    if (err instanceof SagaClosedError) throw new DomainError(ORDER_ERRORS.ORDER_NOT_CANCELLABLE, err.message, { cause: err });
    throw err;
  }
  return { orderId, status, accepted: true };
}

/** Asks the saga to refund and restock a CONFIRMED order, or to retry a NEEDS_ATTENTION one. */
export async function requestCompensation(deps: CommandDeps, orderId: string, reason: string): Promise<Accepted> {
  const order = await deps.db.order.findUnique({ where: { id: orderId }, select: { status: true } });
  if (!order) throw new DomainError('NOT_FOUND', `no order "${orderId}"`);
  const status = order.status as OrderStatus;
  if (status !== 'CONFIRMED' && status !== 'NEEDS_ATTENTION') {
    const why = `order ${orderId} is ${status}; only CONFIRMED or NEEDS_ATTENTION orders take manual compensation`;
    throw new DomainError(ORDER_ERRORS.ORDER_NOT_COMPENSABLE, why, { details: { orderStatus: status } });
  }
  try {
    await signalSaga(deps.temporal, deps.cfg, deps.db, orderId, SIGNALS.compensate, { reason });
  } catch (err) {
    if (err instanceof SagaClosedError) {
      throw new DomainError(ORDER_ERRORS.COMPENSATION_WINDOW_CLOSED, `${err.message}; its compensation window is over`, { cause: err });
    }
    throw err;
  }
  return { orderId, status, accepted: true };
}
