/**
 * What lib/tracing.ts's exportProcessors() builds for each setting of the standard variables:
 * sdk-node's own reading, reached through a module outside its public index, so an upgrade
 * that moves or changes it fails here rather than in a trace backend.
 */
import { ZipkinExporter } from '@opentelemetry/exporter-zipkin';
import { OTLPTraceExporter as OtlpProto } from '@opentelemetry/exporter-trace-otlp-proto';
import { ConsoleSpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { exportProcessors } from '../../lib/tracing';

const VARIABLES = ['OTEL_TRACES_EXPORTER', 'OTEL_EXPORTER_OTLP_PROTOCOL', 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL'];

function withEnv<T>(env: Record<string, string>, fn: () => T): T {
  const saved = Object.fromEntries(VARIABLES.map((k) => [k, process.env[k]]));
  VARIABLES.forEach((k) => delete process.env[k]);
  Object.assign(process.env, env);
  try {
    return fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** The exporter class name behind each processor (batch or simple). */
function exportersOf(processors: SpanProcessor[]): string[] {
  return processors.map((p) => (p as unknown as { _exporter: { constructor: { name: string } } })._exporter.constructor.name);
}

describe('exporters built from OTEL_TRACES_EXPORTER, as sdk-node reads it', () => {
  it('unset: OTLP over HTTP/protobuf (an OTLP endpoint alone implies otlp)', () => {
    const processors = withEnv({}, exportProcessors);
    expect(exportersOf(processors)).toEqual([OtlpProto.name]);
    void Promise.all(processors.map((p) => p.shutdown()));
  });

  it('zipkin,console: one of each, in order', () => {
    const processors = withEnv({ OTEL_TRACES_EXPORTER: 'zipkin,console' }, exportProcessors);
    expect(exportersOf(processors)).toEqual([ZipkinExporter.name, ConsoleSpanExporter.name]);
    void Promise.all(processors.map((p) => p.shutdown()));
  });

  it('otlp with OTEL_EXPORTER_OTLP_PROTOCOL=grpc: the gRPC exporter', () => {
    const processors = withEnv({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, exportProcessors);
    const [exporter] = processors.map((p) => (p as unknown as { _exporter: object })._exporter);
    expect(exporter).not.toBeInstanceOf(OtlpProto);
    expect(exportersOf(processors)).toEqual(['OTLPTraceExporter']);
    void Promise.all(processors.map((p) => p.shutdown()));
  });
});
