/**
 * Per-request observability: the request id (X-Request-Id, accepted or made) in the log
 * context of everything the request logs, one access log line, and the HTTP metrics, all
 * labelled with the express route template (`/orders/:id`, never a raw id) so that their
 * cardinality stays bounded.
 */
import crypto from 'node:crypto';
import { trace } from '@opentelemetry/api';
import type { NextFunction, Request, Response } from 'express';
import type { Registry } from 'prom-client';
import { withLogContext, type Logger } from '../lib/logger';
import { counter, exemplarOf, histogram, observeLatency } from '../lib/metrics';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** Paths about one order (for the access log's orderId). */
const ORDER_PATH = /^(?:\/admin)?\/orders\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?:\/|$)/i;

export const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function httpMetrics(registry: Registry) {
  const labels = ['method', 'route', 'status'] as const;
  return {
    requests: counter(registry, 'http_requests_total', 'HTTP requests answered, by method, route template and status.', labels),
    duration: histogram(
      registry,
      'http_request_duration_seconds',
      'HTTP request latency, by method, route template and status.',
      HTTP_BUCKETS,
      labels,
      { exemplars: true },
    ),
    errors: counter(
      registry,
      'http_request_errors_total',
      'HTTP requests answered with a 5xx status, by method, route template and status.',
      labels,
    ),
  };
}

export type HttpMetrics = ReturnType<typeof httpMetrics>;

/** Accepts a sane X-Request-Id or makes one; every log line of the request carries it. */
export function requestId(req: Request, res: Response, next: NextFunction): void {
  const given = req.headers['x-request-id'];
  const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : crypto.randomUUID();
  res.locals.requestId = id;
  res.setHeader('X-Request-Id', id);
  withLogContext({ requestId: id }, next);
}

/** The route template that answered, e.g. `/orders/:id`, or `unmatched` if none did. */
export function routeOf(req: Request): string {
  const path = (req.route as { path?: unknown } | undefined)?.path;
  return typeof path === 'string' ? path : 'unmatched';
}

/** Access log line and HTTP metrics, written when the response has been sent. */
export function observeRequests(log: Logger, metrics?: HttpMetrics) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const started = process.hrtime.bigint();
    // Captured now: the span is no longer the active one when 'finish' fires.
    const span = trace.getActiveSpan();
    const traceId = span?.spanContext().traceId;
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = routeOf(req);
      const labels = { method: req.method, route, status: String(res.statusCode) };
      metrics?.requests.inc(labels);
      if (metrics) observeLatency(metrics.duration, labels, seconds, exemplarOf(span));
      if (res.statusCode >= 500) metrics?.errors.inc(labels);
      const path = req.originalUrl.split('?')[0] ?? '';
      const orderId = ORDER_PATH.exec(path)?.[1]?.toLowerCase();
      log.info(
        {
          requestId: res.locals.requestId,
          traceId,
          orderId,
          method: req.method,
          route,
          path,
          status: res.statusCode,
          ms: Math.round(seconds * 10_000) / 10,
        },
        'request',
      );
    });
    next();
  };
}
