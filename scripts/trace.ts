/**
 * Prints one order's trace as a tree, from the spans the app processes wrote to
 * OTEL_TRACES_FILE (the file exporter, for machines without a trace UI such as Jaeger):
 *
 *   OTEL_TRACES_FILE=.stack/traces.jsonl npm start        # then place an order
 *   npx tsx scripts/trace.ts <orderId> [--file .stack/traces.jsonl]
 */
import path from 'node:path';
import { readSpanLines, type SpanLine } from '../lib/tracing';

function main(argv: string[]): number {
  const orderId = argv.find((a) => !a.startsWith('--'));
  const i = argv.indexOf('--file');
  const file = path.resolve(i >= 0 ? argv[i + 1]! : (process.env.OTEL_TRACES_FILE ?? '.stack/traces.jsonl'));
  if (!orderId) {
    console.error('usage: npx tsx scripts/trace.ts <orderId> [--file traces.jsonl]');
    return 2;
  }
  const spans = readSpanLines(file);
  const mine = spans.find((s) => s.attributes['order.id'] === orderId || s.attributes.temporalWorkflowId === `order-${orderId}`);
  if (!mine) {
    console.error(`no span of order ${orderId} in ${file}`);
    return 1;
  }
  const trace = spans.filter((s) => s.traceId === mine.traceId);
  const ids = new Set(trace.map((s) => s.spanId));
  const children = new Map<string | null, SpanLine[]>();
  for (const s of trace) {
    const parent = s.parentSpanId && ids.has(s.parentSpanId) ? s.parentSpanId : null;
    children.set(parent, [...(children.get(parent) ?? []), s]);
  }
  const t0 = Math.min(...trace.map((s) => s.startMs));
  console.log(`trace ${mine.traceId}: ${trace.length} spans, order ${orderId}`);
  const print = (s: SpanLine, depth: number) => {
    const detail = [s.attributes['event.type'], s.attributes['messaging.consumer.group.name']].filter(Boolean).join(' ');
    const at = `+${(s.startMs - t0).toFixed(0)} ms`.padStart(10);
    const took = `${(s.endMs - s.startMs).toFixed(1)} ms`.padStart(10);
    console.log(
      `${at} ${took}  ${'  '.repeat(depth)}${s.name}  [${s.service}]${detail ? `  ${detail}` : ''}${s.status === 2 ? '  ERROR' : ''}`,
    );
    for (const c of (children.get(s.spanId) ?? []).sort((a, b) => a.startMs - b.startMs)) print(c, depth + 1);
  };
  for (const root of (children.get(null) ?? []).sort((a, b) => a.startMs - b.startMs)) print(root, 0);
  return 0;
}

process.exit(main(process.argv.slice(2)));
