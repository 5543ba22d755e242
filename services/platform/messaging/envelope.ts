/**
 * The wire format of the event stream (see the event catalogue, docs/events.md): the Kafka key is the aggregate (order)
 * id, so one order's events share a partition and keep their order; the value is a JSON
 * envelope; a few envelope fields are repeated as headers so that routers and tools can
 * filter without parsing the value.
 */
import type { IHeaders, Message } from 'kafkajs';
import { ValidationError } from './errors';

/** Header names carried by every event message. */
export const HEADERS = {
  eventId: 'eventId',
  type: 'type',
  sequence: 'sequence',
  schemaVersion: 'schemaVersion',
  traceparent: 'traceparent',
} as const;

export interface Envelope {
  eventId: string;
  type: string;
  aggregateType: string;
  aggregateId: string;
  /** Per aggregate, gapless, from 1. */
  sequence: number;
  /** ISO-8601, millisecond precision. */
  occurredAt: string;
  schemaVersion: number;
  traceparent: string | null;
  payload: Record<string, unknown>;
}

/** An outbox row as the relay reads it. */
export interface OutboxRow {
  id: string;
  eventId: string;
  type: string;
  aggregateType: string;
  aggregateId: string;
  sequence: number;
  schemaVersion: number;
  traceparent: string | null;
  payload: Record<string, unknown>;
  occurredAt: Date;
}

export function toEnvelope(row: OutboxRow): Envelope {
  return {
    eventId: row.eventId,
    type: row.type,
    aggregateType: row.aggregateType,
    aggregateId: row.aggregateId,
    sequence: row.sequence,
    occurredAt: row.occurredAt.toISOString(),
    schemaVersion: row.schemaVersion,
    traceparent: row.traceparent,
    payload: row.payload,
  };
}

export function toMessage(row: OutboxRow): Message {
  const headers: IHeaders = {
    [HEADERS.eventId]: row.eventId,
    [HEADERS.type]: row.type,
    [HEADERS.sequence]: String(row.sequence),
    [HEADERS.schemaVersion]: String(row.schemaVersion),
  };
  if (row.traceparent) headers[HEADERS.traceparent] = row.traceparent;
  return { key: row.aggregateId, value: JSON.stringify(toEnvelope(row)), headers };
}

/**
 * The message with its own trace context in the traceparent header (the relay's publish span,
 * a child of the change's); the envelope keeps the change's traceparent.
 */
export function withTraceparent(message: Message, traceparent: string | null): Message {
  if (!traceparent) return message;
  return { ...message, headers: { ...message.headers, [HEADERS.traceparent]: traceparent } };
}

/** Header values as strings (kafkajs hands them over as Buffers). */
export function headerStrings(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value === undefined) continue;
    const first = Array.isArray(value) ? value[value.length - 1] : value;
    if (first !== undefined) out[name] = Buffer.isBuffer(first) ? first.toString('utf8') : String(first);
  }
  return out;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parses the value bytes as JSON; a ValidationError (never retried) if they are not. */
export function parseJson(value: Buffer | null): unknown {
  if (!value || value.length === 0) throw new ValidationError('message has no value');
  try {
    return JSON.parse(value.toString('utf8'));
  } catch {
    throw new ValidationError('message value is not JSON');
  }
}

/**
 * The strict reader, for consumers inside this system: every envelope field must be present
 * and well-typed. Unknown types and versions are the caller's decision, not checked here.
 */
export function parseEnvelope(value: Buffer | null): Envelope {
  const v = parseJson(value);
  if (!isObject(v)) throw new ValidationError('envelope is not a JSON object');
  const problems: string[] = [];
  for (const k of ['type', 'aggregateType', 'aggregateId', 'occurredAt']) {
    if (typeof v[k] !== 'string' || v[k] === '') problems.push(`${k} must be a non-empty string`);
  }
  for (const k of ['sequence', 'schemaVersion']) {
    if (!Number.isSafeInteger(v[k]) || (v[k] as number) < 1) problems.push(`${k} must be an integer >= 1`);
  }
  if (typeof v.eventId !== 'string' || !UUID.test(v.eventId)) problems.push('eventId must be a UUID');
  if (typeof v.occurredAt === 'string' && Number.isNaN(Date.parse(v.occurredAt))) problems.push('occurredAt must be an ISO-8601 time');
  if (v.traceparent !== null && v.traceparent !== undefined && typeof v.traceparent !== 'string')
    problems.push('traceparent must be a string or null');
  if (!isObject(v.payload)) problems.push('payload must be a JSON object');
  if (problems.length > 0) throw new ValidationError(`invalid envelope: ${problems.join('; ')}`);
  return {
    eventId: v.eventId as string,
    type: v.type as string,
    aggregateType: v.aggregateType as string,
    aggregateId: v.aggregateId as string,
    sequence: v.sequence as number,
    occurredAt: v.occurredAt as string,
    schemaVersion: v.schemaVersion as number,
    traceparent: (v.traceparent as string | null | undefined) ?? null,
    payload: v.payload as Record<string, unknown>,
  };
}

export function isUuid(s: unknown): s is string {
  return typeof s === 'string' && UUID.test(s);
}
