/** The pieces of observability that need no server: naming, counting and conversion rules. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Request } from 'express';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { Registry } from 'prom-client';
import { routeOf } from '../../api/observability';
import { promNameOf, TemporalMetricsBridge } from '../../app/temporal-runtime';
import { ConfigError, loadConfig } from '../../lib/config';
import { traceIdOf } from '../../lib/logger';
import { traceUrl } from '../../lib/trace-links';
import { FileSpanExporter, fromWorkflowSpan, readSpanLines, toSpanLine } from '../../lib/tracing';
import { recordTransition, sagaMetrics } from '../../services/orders/metrics';
import type { AppliedTransition } from '../../services/orders/transitions';

describe('configuration of tracing', () => {
  it('is off unless an exporter, an OTLP endpoint or a traces file is set', () => {
    expect(loadConfig({}).otel).toMatchObject({ exporters: [], endpoint: undefined, tracesFile: undefined, traceUrlTemplate: undefined });
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }).otel).toMatchObject({
      exporters: ['otlp'],
      endpoint: 'http://127.0.0.1:4318',
    });
    expect(loadConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/v1/traces' }).otel.exporters).toEqual(['otlp']);
  });

  it('takes the exporters OTEL_TRACES_EXPORTER names, and none or OTEL_SDK_DISABLED for off', () => {
    expect(loadConfig({ OTEL_TRACES_EXPORTER: 'zipkin,otlp' }).otel.exporters).toEqual(['zipkin', 'otlp']);
    expect(loadConfig({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }).otel.exporters).toEqual([]);
    expect(loadConfig({ OTEL_TRACES_EXPORTER: 'console', OTEL_SDK_DISABLED: 'true' }).otel.exporters).toEqual([]);
    expect(() => loadConfig({ OTEL_TRACES_EXPORTER: 'zipkn' })).toThrow(/OTEL_TRACES_EXPORTER/);
    expect(() => loadConfig({ OTEL_TRACES_EXPORTER: 'none,otlp' })).toThrow(/OTEL_TRACES_EXPORTER.*none/);
  });

  it('validates the sampler and its ratio', () => {
    expect(loadConfig({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' }).otel).toMatchObject({
      sampler: 'parentbased_traceidratio',
      samplerArg: 0.1,
    });
    expect(() => loadConfig({ OTEL_TRACES_SAMPLER_ARG: '1.5' })).toThrow(/OTEL_TRACES_SAMPLER_ARG/);
    expect(() => loadConfig({ OTEL_TRACES_SAMPLER: 'ratio' })).toThrow(/OTEL_TRACES_SAMPLER/);
  });

  it("links traces to Zipkin's UI when exporting there, or to TRACE_URL_TEMPLATE", () => {
    expect(
      loadConfig({ OTEL_TRACES_EXPORTER: 'zipkin', OTEL_EXPORTER_ZIPKIN_ENDPOINT: 'http://127.0.0.1:9511/api/v2/spans' }).otel,
    ).toMatchObject({
      traceUrlTemplate: 'http://127.0.0.1:9511/zipkin/traces/{traceId}',
    });
    const jaeger = 'http://127.0.0.1:16686/trace/{traceId}';
    expect(loadConfig({ OTEL_TRACES_EXPORTER: 'zipkin', TRACE_URL_TEMPLATE: jaeger }).otel.traceUrlTemplate).toBe(jaeger);
    expect(() => loadConfig({ TRACE_URL_TEMPLATE: 'http://127.0.0.1:16686/trace/' })).toThrow(/TRACE_URL_TEMPLATE.*\{traceId\}/);
  });

  it('refuses the test-only traces file in production, naming the variable', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', OTEL_TRACES_FILE: '/tmp/x.jsonl' })).toThrow(ConfigError);
    expect(() => loadConfig({ NODE_ENV: 'production', OTEL_TRACES_FILE: '/tmp/x.jsonl' })).toThrow(/OTEL_TRACES_FILE/);
    expect(loadConfig({ NODE_ENV: 'test', OTEL_TRACES_FILE: '/tmp/x.jsonl' }).otel.tracesFile).toBe('/tmp/x.jsonl');
  });

  it('reads the trace id of a traceparent, and nothing of anything else', () => {
    expect(traceIdOf('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01')).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(traceIdOf('garbage')).toBeUndefined();
    expect(traceIdOf(null)).toBeUndefined();
  });
});

describe('workflow spans', () => {
  const serialized = {
    name: 'RunWorkflow:orderSaga',
    kind: 0,
    spanContext: { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 1 },
    parentSpanId: 'c'.repeat(16),
    startTime: [1, 0] as [number, number],
    endTime: [2, 500_000_000] as [number, number],
    status: { code: 1 },
    attributes: { x: 1 },
    links: [],
    events: [],
    duration: [1, 500_000_000] as [number, number],
    ended: true,
    droppedAttributesCount: 0,
    droppedLinksCount: 0,
    droppedEventsCount: 0,
    instrumentationLibrary: { name: '@temporalio/interceptor-workflow' },
  };

  it('become SDK 2.x spans with their parent and workflow attributes, and a file line', () => {
    const span = fromWorkflowSpan(
      serialized,
      { workflowId: 'order-1', runId: 'r', workflowType: 'orderSaga' },
      resourceFromAttributes({ 'service.name': 'worker-orders' }),
    );
    expect(span.parentSpanContext).toEqual({ traceId: 'a'.repeat(32), spanId: 'c'.repeat(16), traceFlags: 1 });
    expect(span.instrumentationScope.name).toBe('@temporalio/interceptor-workflow');
    const line = toSpanLine(span);
    expect(line).toMatchObject({
      traceId: 'a'.repeat(32),
      spanId: 'b'.repeat(16),
      parentSpanId: 'c'.repeat(16),
      service: 'worker-orders',
      startMs: 1000,
      endMs: 2500,
    });
    expect(line.attributes).toMatchObject({ x: 1, temporalWorkflowId: 'order-1', temporalWorkflowType: 'orderSaga' });

    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'spans-')), 'spans.jsonl');
    const exporter = new FileSpanExporter(file);
    const results: number[] = [];
    exporter.export([span, span], (r) => results.push(r.code));
    expect(results).toEqual([0]);
    expect(readSpanLines(file)).toEqual([line, line]);
  });
});

describe('Temporal SDK metrics bridge', () => {
  it('names counters *_total and latency histograms *_seconds', () => {
    expect(promNameOf('temporal_request', 'counter')).toBe('temporal_request_total');
    expect(promNameOf('temporal_activity_execution_latency', 'histogram')).toBe('temporal_activity_execution_latency_seconds');
    expect(promNameOf('temporal_num_pollers', 'gauge')).toBe('temporal_num_pollers');
  });

  it('replays counter deltas, gauge values and histogram observations; unknown attributes are dropped', async () => {
    const registry = new Registry();
    const bridge = new TemporalMetricsBridge(registry);
    const counterMetric = { name: 'temporal_request', kind: 'counter' as const, valueType: 'int' as const };
    bridge.apply({ metric: counterMetric, value: 2, attributes: { operation: 'Poll', unknown_attr: 'x' } });
    bridge.apply({ metric: counterMetric, value: 3, attributes: { operation: 'Poll' } });
    bridge.apply({
      metric: { name: 'temporal_num_pollers', kind: 'gauge', valueType: 'int' },
      value: 5,
      attributes: { poller_type: 'workflow_task' },
    });
    bridge.apply({
      metric: { name: 'temporal_num_pollers', kind: 'gauge', valueType: 'int' },
      value: 4,
      attributes: { poller_type: 'workflow_task' },
    });
    bridge.apply({ metric: { name: 'temporal_brand_new', kind: 'histogram', unit: 's', valueType: 'float' }, value: 0.2, attributes: {} });
    const text = await registry.metrics();
    expect(text).toContain('temporal_request_total{operation="Poll"} 5');
    expect(text).toContain('temporal_num_pollers{poller_type="workflow_task"} 4');
    expect(text).toContain('temporal_brand_new_count 1');
    expect(text).not.toContain('unknown_attr');
  });
});

describe('saga metrics from status changes', () => {
  const base: AppliedTransition = {
    orderId: 'o',
    from: 'PAYMENT_CAPTURED',
    to: 'CONFIRMED',
    step: 's',
    failureReason: null,
    createdAt: new Date(Date.now() - 2000),
    eventId: 'e',
  };

  it('counts outcomes with their reason and duration, compensations once, NEEDS_ATTENTION', async () => {
    const registry = new Registry();
    const m = sagaMetrics(registry);
    recordTransition(m, base);
    recordTransition(m, { ...base, from: 'INVENTORY_RESERVED', to: 'COMPENSATING', failureReason: 'INSUFFICIENT_FUNDS' });
    recordTransition(m, { ...base, from: 'COMPENSATING', to: 'NEEDS_ATTENTION', failureReason: 'INSUFFICIENT_FUNDS' });
    // The operator's retry continues the same compensation: not a second one.
    recordTransition(m, { ...base, from: 'NEEDS_ATTENTION', to: 'COMPENSATING', failureReason: 'INSUFFICIENT_FUNDS' });
    recordTransition(m, { ...base, from: 'COMPENSATING', to: 'COMPENSATED', failureReason: 'INSUFFICIENT_FUNDS' });
    recordTransition(m, { ...base, from: 'PENDING', to: 'INVENTORY_RESERVED' });
    const text = await registry.metrics();
    expect(text).toContain('saga_finished_total{status="CONFIRMED",reason="none"} 1');
    expect(text).toContain('saga_finished_total{status="COMPENSATED",reason="INSUFFICIENT_FUNDS"} 1');
    expect(text).toContain('saga_compensations_total{reason="INSUFFICIENT_FUNDS"} 1');
    expect(text).toContain('saga_needs_attention_total 1');
    expect(text).toContain('saga_duration_seconds_count{status="CONFIRMED"} 1');
    expect(text).toMatch(/saga_duration_seconds_sum\{status="CONFIRMED"\} (1\.9|2)/);
  });
});

describe('HTTP route label', () => {
  const req = (route?: string) => ({ route: route === undefined ? undefined : { path: route } }) as unknown as Request;

  it('is the route template, never the raw path', () => {
    expect(routeOf(req('/orders/:id'))).toBe('/orders/:id');
    expect(routeOf(req('/healthz'))).toBe('/healthz');
    expect(routeOf(req())).toBe('unmatched');
  });
});

describe('links to a trace', () => {
  const template = 'http://127.0.0.1:9411/zipkin/traces/{traceId}';
  it('fills the template with a W3C trace id', () => {
    expect(traceUrl('0af7651916cd43dd8448eb211c80319c', template)).toBe(
      'http://127.0.0.1:9411/zipkin/traces/0af7651916cd43dd8448eb211c80319c',
    );
  });
  it('gives no link without a template, for an invalid id, or for the all-zero id', () => {
    expect(traceUrl('0af7651916cd43dd8448eb211c80319c', undefined)).toBeUndefined();
    expect(traceUrl('../admin', template)).toBeUndefined();
    expect(traceUrl('0'.repeat(32), template)).toBeUndefined();
  });
});
