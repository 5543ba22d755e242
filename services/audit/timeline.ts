/** Reading the audit projection: an order's timeline (GET /orders/:id/timeline) and its anomalies. */
import type { Db } from '../../lib/db';
import type { AnomalyKind } from './projector';

export interface TimelineEntry {
  eventId: string;
  sequence: number;
  type: string;
  /** ISO-8601, as in the event envelope. */
  occurredAt: string;
  payload: unknown;
}

/** The order's events as the audit projector recorded them, by sequence; empty if none (yet). */
export async function getTimeline(db: Db, orderId: string): Promise<TimelineEntry[]> {
  const rows = await db.auditTimelineEntry.findMany({
    where: { aggregateId: orderId },
    orderBy: { sequence: 'asc' },
    select: { eventId: true, sequence: true, type: true, occurredAt: true, payload: true },
  });
  return rows.map((r) => ({ ...r, occurredAt: r.occurredAt.toISOString() }));
}

export interface Anomaly {
  kind: AnomalyKind;
  eventId: string;
  sequence: number;
  expectedSequence: number;
  detectedAt: string;
}

export async function getAnomalies(db: Db, orderId: string): Promise<Anomaly[]> {
  const rows = await db.auditAnomaly.findMany({ where: { aggregateId: orderId }, orderBy: { id: 'asc' } });
  return rows.map((r) => ({
    kind: r.kind as AnomalyKind,
    eventId: r.eventId,
    sequence: r.sequence,
    expectedSequence: r.expectedSequence,
    detectedAt: r.detectedAt.toISOString(),
  }));
}
