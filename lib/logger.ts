/**
 * Structured JSON logs (pino). Every line carries level, time, service and pid; secrets are
 * redacted by path wherever they appear in a logged object. Two things are added to every
 * line without the caller passing them:
 *
 * - the fields of the current log context (withLogContext: requestId in the API, orderId,
 *   workflowId, activity and attempt in activities), kept in AsyncLocalStorage;
 * - traceId and spanId of the active OpenTelemetry span, when tracing is on (with tracing
 *   off the OTel API answers "no span" at once).
 *
 * Fields the caller passes win over both.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { trace } from '@opentelemetry/api';
import pino, { type Logger } from 'pino';

export type { Logger };

const REDACT = [
  'authorization',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  'apiKey',
  '*.apiKey',
  'key',
  '*.key',
  'password',
  '*.password',
  'secret',
  '*.secret',
  'connectionString',
  '*.connectionString',
  'databaseUrl',
  '*.databaseUrl',
];

/** Fields that every line logged inside the context carries. */
export type LogContext = Record<string, string | number | undefined>;

const contextStore = new AsyncLocalStorage<LogContext>();

/** Runs `fn` with `fields` added to the current log context (nested contexts add up). */
export function withLogContext<T>(fields: LogContext, fn: () => T): T {
  const outer = contextStore.getStore();
  return contextStore.run(outer ? { ...outer, ...fields } : fields, fn);
}

/** The trace id of a W3C traceparent header value, if it is one. */
export function traceIdOf(traceparent: string | null | undefined): string | undefined {
  if (!traceparent) return undefined;
  const m = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/.exec(traceparent);
  return m?.[1];
}

function mixin(): Record<string, unknown> {
  const fields = contextStore.getStore();
  const span = trace.getActiveSpan();
  if (!span) return fields ? { ...fields } : {};
  const { traceId, spanId } = span.spanContext();
  return { ...fields, traceId, spanId };
}

/** A JSON logger to stdout, or to `destination` (tests read what was logged). `level` is cfg.logLevel in app processes. */
export function createLogger(service: string, level: string, destination?: pino.DestinationStream): Logger {
  const options = {
    level,
    base: { service, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
    redact: { paths: REDACT, censor: '[redacted]' },
    mixin,
  };
  return destination ? pino(options, destination) : pino(options);
}
