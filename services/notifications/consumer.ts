/**
 * Customer notifications, written the way a third party consumes the stream: it knows only
 * the envelope JSON of the event catalogue (docs/events.md) (nothing is imported from the producer's code), reads only
 * the fields it needs and ignores the rest (a tolerant reader), ignores event types it has no
 * use for, and dead-letters a major schema version it does not know rather than guess.
 *
 * Its effect is an outbox of emails (the notifications table), which a mailer would send;
 * one per (event, template), so a message is queued once even beside processed_events.
 */
import type { Tx } from '../../lib/sql';
import type { EventHandler } from '../platform/messaging/consumer';
import { isUuid, parseJson } from '../platform/messaging/envelope';
import { UnsupportedSchemaVersionError, ValidationError } from '../platform/messaging/errors';
import { orderLogFields } from '../orders/contract';

export const NOTIFICATIONS_CONSUMER = 'notifications';
/** The major envelope version this reader understands. */
export const SUPPORTED_MAJOR_VERSION = 1;

/** The event types this consumer acts on (its own copy of the published names). */
const TYPES = {
  OrderCreated: 'OrderCreated',
  OrderConfirmed: 'OrderConfirmed',
  OrderRejected: 'OrderRejected',
  OrderCompensated: 'OrderCompensated',
  PaymentRefunded: 'PaymentRefunded',
} as const;
const HANDLED = new Set<string>(Object.values(TYPES));

export const TEMPLATES = {
  confirmed: 'ORDER_CONFIRMED',
  rejected: 'ORDER_REJECTED',
  cancelled: 'ORDER_CANCELLED',
  refunded: 'ORDER_REFUNDED',
} as const;

export interface NotificationEvent {
  eventId: string;
  aggregateId: string;
  type: string;
  payload: Record<string, unknown>;
}

/** An event refers to an order whose OrderCreated this consumer has not seen: retried, then dead-lettered. */
export class UnknownOrderError extends Error {
  override name = 'UnknownOrderError';
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function decodeNotificationEvent(value: Buffer | null): NotificationEvent {
  const v = parseJson(value);
  if (!isObject(v)) throw new ValidationError('event is not a JSON object');
  if (!isUuid(v.eventId)) throw new ValidationError('eventId must be a UUID');
  if (typeof v.type !== 'string') throw new ValidationError('type must be a string');
  const payload = isObject(v.payload) ? v.payload : {};
  const aggregateId = typeof payload.orderId === 'string' ? payload.orderId : v.aggregateId;
  if (typeof aggregateId !== 'string' || aggregateId === '') throw new ValidationError('no order id (payload.orderId or aggregateId)');
  const event = { eventId: v.eventId, aggregateId, type: v.type, payload };
  // An unknown type is ignored whatever its version; a known one must be in a version we read.
  if (!HANDLED.has(v.type)) return event;
  if (typeof v.schemaVersion !== 'number') throw new ValidationError('schemaVersion must be a number');
  const major = Math.trunc(v.schemaVersion);
  if (major !== SUPPORTED_MAJOR_VERSION) throw new UnsupportedSchemaVersionError(v.type, major);
  return event;
}

function text(payload: Record<string, unknown>, field: string): string {
  const value = payload[field];
  if (typeof value !== 'string' || value === '') throw new ValidationError(`payload.${field} must be a non-empty string`);
  return value;
}

function integer(payload: Record<string, unknown>, field: string): number {
  const value = payload[field];
  if (!Number.isSafeInteger(value)) throw new ValidationError(`payload.${field} must be an integer`);
  return value as number;
}

/** Minor units as the customer reads money: 12345 EUR -> "€123.45", 500 JPY -> "¥500". */
export function formatMoney(minor: number, currency: string): string {
  try {
    const fmt = new Intl.NumberFormat('en', { style: 'currency', currency });
    return fmt.format(minor / 10 ** (fmt.resolvedOptions().maximumFractionDigits ?? 2));
  } catch {
    return `${minor} (minor units) ${currency}`;
  }
}

interface Contact {
  customerId: string;
  currency: string;
  totalMinor: number;
}

async function contactOf(tx: Tx, orderId: string): Promise<Contact> {
  const [order] = await tx.rows<{ customer_id: string; currency: string; total_minor: bigint }>`
    SELECT customer_id, currency, total_minor FROM notification_orders WHERE order_id = ${orderId}::text`;
  if (!order) throw new UnknownOrderError(`order ${orderId}: its OrderCreated has not been seen`);
  return { customerId: order.customer_id, currency: order.currency, totalMinor: Number(order.total_minor) };
}

interface Email {
  template: string;
  customerId: string;
  subject: string;
  body: string;
}

async function enqueue(tx: Tx, e: NotificationEvent, email: Email): Promise<void> {
  await tx.exec`
    INSERT INTO notifications (event_id, order_id, customer_id, channel, template, subject, body)
    VALUES (${e.eventId}::uuid, ${e.aggregateId}::text, ${email.customerId}::text, 'EMAIL', ${email.template}::text,
            ${email.subject}::text, ${email.body}::text)
    ON CONFLICT DO NOTHING`;
}

function reasonOf(payload: Record<string, unknown>): string {
  return typeof payload.failureReason === 'string' ? payload.failureReason.toLowerCase().replace(/_/g, ' ') : 'unspecified';
}

async function onOrderCreated(tx: Tx, e: NotificationEvent): Promise<void> {
  const customerId = text(e.payload, 'customerId');
  const currency = text(e.payload, 'currency');
  const totalMinor = String(integer(e.payload, 'totalMinor'));
  await tx.exec`
    INSERT INTO notification_orders (order_id, customer_id, currency, total_minor)
    VALUES (${e.aggregateId}::text, ${customerId}::text, ${currency}::text, ${totalMinor}::bigint)
    ON CONFLICT (order_id) DO UPDATE SET customer_id = EXCLUDED.customer_id, currency = EXCLUDED.currency, total_minor = EXCLUDED.total_minor`;
}

async function emailFor(tx: Tx, e: NotificationEvent): Promise<Email | null> {
  const order = e.aggregateId;
  switch (e.type) {
    case TYPES.OrderConfirmed: {
      const c = await contactOf(tx, order);
      const total = formatMoney(c.totalMinor, c.currency);
      return {
        template: TEMPLATES.confirmed,
        customerId: c.customerId,
        subject: `Your order ${order} is confirmed`,
        body: `Thank you! We have charged ${total} and your order is on its way.`,
      };
    }
    case TYPES.OrderRejected: {
      const c = await contactOf(tx, order);
      return {
        template: TEMPLATES.rejected,
        customerId: c.customerId,
        subject: `We could not accept your order ${order}`,
        body: `Reason: ${reasonOf(e.payload)}. You have not been charged.`,
      };
    }
    case TYPES.OrderCompensated: {
      const c = await contactOf(tx, order);
      return {
        template: TEMPLATES.cancelled,
        customerId: c.customerId,
        subject: `Your order ${order} is cancelled`,
        body: `Reason: ${reasonOf(e.payload)}.`,
      };
    }
    case TYPES.PaymentRefunded: {
      const amount = formatMoney(integer(e.payload, 'amountMinor'), text(e.payload, 'currency'));
      return {
        template: TEMPLATES.refunded,
        customerId: text(e.payload, 'customerId'),
        subject: `Your refund for order ${order}`,
        body: `We have refunded ${amount} to your account.`,
      };
    }
    default:
      return null;
  }
}

export function createNotificationsHandler(): EventHandler<NotificationEvent> {
  return {
    name: NOTIFICATIONS_CONSUMER,
    logFields: (e) => orderLogFields(e.aggregateId),
    decode: (value) => decodeNotificationEvent(value),
    async apply(tx, event) {
      if (event.type === TYPES.OrderCreated) return onOrderCreated(tx, event);
      const email = await emailFor(tx, event);
      if (email) await enqueue(tx, event, email);
    },
  };
}
