/**
 * OpenTelemetry tracing of one app process: one trace per order, from POST /orders through
 * the Temporal workflow and its activities to the relay's publish and each consumer's
 * processing of the events.
 *
 * Exporters and sampling come from the standard OpenTelemetry variables, read by sdk-node
 * itself (OTEL_TRACES_EXPORTER=otlp|zipkin|console, OTEL_EXPORTER_OTLP_*, OTEL_EXPORTER_ZIPKIN_*,
 * OTEL_TRACES_SAMPLER[_ARG], OTEL_BSP_*); lib/config.ts validates them and decides whether
 * tracing is on at all (an OTLP endpoint alone implies `otlp`; nothing set means off). In
 * tests OTEL_TRACES_FILE adds a file exporter. Off means no SDK at all: no tracer provider,
 * no exporter, no instrumentation patches; the OTel API stays the no-op it is by default, and
 * callers that would build spans ask tracingEnabled() first. It must be started before
 * express and http are loaded (app/main.ts does).
 *
 * The Temporal workflow sandbox runs its own OTel SDK (@temporalio/interceptors-opentelemetry,
 * built on SDK 1.x) and hands finished spans to the worker through a sink; workflowSinks()
 * turns them into spans of this process's SDK (2.x). Both sides share the global
 * @opentelemetry/api (1.9) propagation, so trace context crosses every boundary as W3C
 * traceparent: Temporal headers, outbox rows, Kafka headers.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createTraceState, trace, type SpanContext, type Tracer } from '@opentelemetry/api';
import { ExportResultCode, hrTimeToMilliseconds, type ExportResult } from '@opentelemetry/core';
import { ExpressInstrumentation, ExpressLayerType } from '@opentelemetry/instrumentation-express';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
// sdk-node's own reading of OTEL_TRACES_EXPORTER (and the OTLP protocol, OTEL_BSP_*): the same
// processors it would build, which the workflow sinks below must reach too. Not in its public
// index; test/unit/tracing-exporters.test.ts pins what it builds for each setting.
import { getSpanProcessorsFromEnv } from '@opentelemetry/sdk-node/build/src/utils';
import { SimpleSpanProcessor, type ReadableSpan, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { OpenTelemetrySinks, SerializableSpan } from '@temporalio/interceptors-opentelemetry/lib/workflow/definitions';
import type { InjectedSinks } from '@temporalio/worker';
import type { WorkflowInfo } from '@temporalio/workflow';
import type { Config } from './config';

export const TRACER_NAME = 'order-saga';

export interface Tracing {
  readonly enabled: boolean;
  /** Worker sinks that export the workflow sandbox's spans through this process's SDK. */
  workflowSinks(): InjectedSinks<OpenTelemetrySinks>;
  /** Flushes and stops the SDK (no-op when off). */
  shutdown(): Promise<void>;
}

let enabled = false;

/** True once startTracing turned tracing on in this process. Cheap; ask it before building spans. */
export function tracingEnabled(): boolean {
  return enabled;
}

/** This process's tracer (the no-op tracer while tracing is off). */
export function tracer(): Tracer {
  return trace.getTracer(TRACER_NAME);
}

export const TRACING_OFF: Tracing = {
  enabled: false,
  workflowSinks: () => {
    throw new Error('tracing is off: no workflow span sinks');
  },
  shutdown: async () => undefined,
};

/** Paths that are polled, not used: never traced. */
const UNTRACED_PATHS = ['/metrics', '/healthz', '/readyz'];

/** Starts the SDK for `service` if configuration asks for tracing; otherwise returns TRACING_OFF. */
export function startTracing(service: string, settings: Config['otel']): Tracing {
  if (settings.exporters.length === 0 && !settings.tracesFile) return TRACING_OFF;
  const processors: SpanProcessor[] = settings.exporters.length > 0 ? exportProcessors() : [];
  // Spans are written as they end: a test SIGKILLs processes and reads the file.
  if (settings.tracesFile) processors.push(new SimpleSpanProcessor(new FileSpanExporter(settings.tracesFile)));
  const resource = resourceFromAttributes({ 'service.name': service, 'service.namespace': 'order-saga', 'process.pid': process.pid });
  const sdk = new NodeSDK({
    resource,
    autoDetectResources: false,
    spanProcessors: processors,
    // Traces only: metrics are prom-client's, logs are pino's. (Unset, these default to OTLP.)
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (req) => UNTRACED_PATHS.some((p) => req.url === p || req.url?.startsWith(`${p}?`)),
        // Outgoing HTTP here is only the OTLP exporter and readiness probes: not part of an order.
        ignoreOutgoingRequestHook: () => true,
      }),
      // Route handlers and routers only: a span per middleware (auth, body parser...) is noise.
      new ExpressInstrumentation({ ignoreLayersType: [ExpressLayerType.MIDDLEWARE] }),
    ],
  });
  sdk.start();
  enabled = true;
  return {
    enabled: true,
    workflowSinks: () => workflowSpanSinks(processors, resource),
    async shutdown() {
      enabled = false;
      await sdk.shutdown().catch(() => undefined);
    },
  };
}

/**
 * The batch processors sdk-node builds from the environment. An OTLP endpoint alone implies
 * `otlp` (lib/config.ts), which is also sdk-node's reading of an unset OTEL_TRACES_EXPORTER.
 */
export function exportProcessors(): SpanProcessor[] {
  return getSpanProcessorsFromEnv(undefined) as SpanProcessor[];
}

// ---------------------------------------------------------------- workflow spans

function workflowSpanSinks(processors: SpanProcessor[], resource: Resource): InjectedSinks<OpenTelemetrySinks> {
  return {
    exporter: {
      export: {
        fn: (info: WorkflowInfo, spans: SerializableSpan[]) => {
          for (const s of spans) {
            const span = fromWorkflowSpan(s, info, resource);
            processors.forEach((p) => p.onEnd(span));
          }
        },
      },
    },
  };
}

/** A span serialised by the workflow sandbox's SDK 1.x, as a ReadableSpan of SDK 2.x. */
export function fromWorkflowSpan(
  s: SerializableSpan,
  info: Pick<WorkflowInfo, 'workflowId' | 'runId' | 'workflowType'>,
  resource: Resource,
): ReadableSpan {
  const { traceState, ...context } = s.spanContext;
  const spanContext: SpanContext = { ...context, traceState: traceState ? createTraceState(traceState) : undefined };
  return {
    name: s.name,
    kind: s.kind,
    spanContext: () => spanContext,
    parentSpanContext: s.parentSpanId ? { traceId: context.traceId, spanId: s.parentSpanId, traceFlags: context.traceFlags } : undefined,
    startTime: s.startTime,
    endTime: s.endTime,
    status: s.status,
    attributes: {
      ...s.attributes,
      temporalWorkflowId: info.workflowId,
      temporalRunId: info.runId,
      temporalWorkflowType: info.workflowType,
    },
    links: s.links,
    events: s.events,
    duration: s.duration,
    ended: s.ended,
    resource,
    instrumentationScope: s.instrumentationLibrary ?? { name: '@temporalio/interceptor-workflow' },
    droppedAttributesCount: s.droppedAttributesCount,
    droppedEventsCount: s.droppedEventsCount,
    droppedLinksCount: s.droppedLinksCount,
  };
}

// ---------------------------------------------------------------- the test-only file exporter

/** One finished span as a line of OTEL_TRACES_FILE. */
export interface SpanLine {
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  name: string;
  kind: number;
  service: string;
  startMs: number;
  endMs: number;
  status: number;
  attributes: Record<string, unknown>;
}

export function toSpanLine(span: ReadableSpan): SpanLine {
  const ctx = span.spanContext();
  return {
    traceId: ctx.traceId,
    spanId: ctx.spanId,
    parentSpanId: span.parentSpanContext?.spanId ?? null,
    name: span.name,
    kind: span.kind,
    service: String(span.resource.attributes['service.name'] ?? ''),
    startMs: hrTimeToMilliseconds(span.startTime),
    endMs: hrTimeToMilliseconds(span.endTime),
    status: span.status.code,
    attributes: { ...span.attributes },
  };
}

/**
 * Appends finished spans as JSON lines. Several processes may share the file: each export
 * is one append (O_APPEND), so lines never interleave.
 */
export class FileSpanExporter implements SpanExporter {
  constructor(private readonly file: string) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
  }

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    try {
      fs.appendFileSync(this.file, spans.map((s) => `${JSON.stringify(toSpanLine(s))}\n`).join(''));
      done({ code: ExportResultCode.SUCCESS });
    } catch (err) {
      done({ code: ExportResultCode.FAILED, error: err as Error });
    }
  }

  async shutdown(): Promise<void> {}
}

/** Reads a traces file written by FileSpanExporter. */
export function readSpanLines(file: string): SpanLine[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as SpanLine);
}
