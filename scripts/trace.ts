/**
 * Prints one order's trace as a tree, read from wherever the spans went:
 *
 *   npx tsx scripts/trace.ts <orderId | traceId> [--file traces.jsonl] [--zipkin URL] [--jaeger URL]
 *
 * - `--file` (or OTEL_TRACES_FILE): the file exporter's JSON lines (tests only);
 * - otherwise the stack's trace backends, asked through their own APIs: Zipkin
 *   (`--zipkin`, default the stack's ZIPKIN_PORT) and Jaeger's query API (`--jaeger`,
 *   default JAEGER_QUERY_PORT), the first that answers.
 * When none has spans it says why: tracing off, the file missing, no backend answering.
 */
import fs from 'node:fs';
import path from 'node:path';
import { exitOnConfigError } from '../lib/config';
import { readSpanLines, type SpanLine } from '../lib/tracing';
import { traceUrl } from '../lib/trace-links';
import { loadStackConfig, type StackConfig } from './stack/config';

const TRACE_ID = /^[0-9a-f]{32}$/;
const LOOKBACK_MS = 7 * 24 * 3600_000;

/** A source of spans: finds the trace of an order (or a trace id) and reads all of its spans. */
interface Source {
  describe: string;
  /** Throws when the source cannot be asked at all (file missing, server down). */
  spans(key: string): Promise<SpanLine[]>;
}

const isOfOrder = (s: SpanLine, orderId: string) =>
  s.attributes['order.id'] === orderId || s.attributes.temporalWorkflowId === `order-${orderId}`;

function fileSource(file: string): Source {
  return {
    describe: `the traces file ${file}`,
    async spans(key) {
      if (!fs.existsSync(file)) {
        throw new Error(`no traces file at ${file}: app processes write it only when started with OTEL_TRACES_FILE=${file} (tests only)`);
      }
      const all = readSpanLines(file);
      const traceId = TRACE_ID.test(key) ? key : all.find((s) => isOfOrder(s, key))?.traceId;
      return all.filter((s) => s.traceId === traceId);
    },
  };
}

async function getJson<T>(url: string): Promise<T | undefined> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) }).catch((err: Error) => {
    throw new Error(`does not answer (${err.message}); \`npm run stack -- status\` shows whether it runs`);
  });
  if (res.status === 404) return undefined;
  if (!res.ok) throw new Error(`${url} answered ${res.status}`);
  return (await res.json()) as T;
}

interface ZipkinSpan {
  traceId: string;
  id: string;
  parentId?: string;
  name?: string;
  kind?: string;
  timestamp?: number;
  duration?: number;
  localEndpoint?: { serviceName?: string };
  tags?: Record<string, string>;
}

function zipkinSource(base: string): Source {
  const line = (s: ZipkinSpan): SpanLine => ({
    traceId: s.traceId,
    spanId: s.id,
    parentSpanId: s.parentId ?? null,
    name: s.name ?? '',
    kind: 0,
    service: s.localEndpoint?.serviceName ?? '',
    startMs: (s.timestamp ?? 0) / 1000,
    endMs: ((s.timestamp ?? 0) + (s.duration ?? 0)) / 1000,
    status: s.tags?.error !== undefined ? 2 : 0,
    attributes: s.tags ?? {},
  });
  return {
    describe: `Zipkin at ${base}`,
    async spans(key) {
      if (TRACE_ID.test(key)) return ((await getJson<ZipkinSpan[]>(`${base}/api/v2/trace/${key}`)) ?? []).map(line);
      const query = new URLSearchParams({ annotationQuery: `temporalWorkflowId=order-${key}`, lookback: String(LOOKBACK_MS), limit: '1' });
      const traces = (await getJson<ZipkinSpan[][]>(`${base}/api/v2/traces?${query}`)) ?? [];
      const traceId = traces[0]?.[0]?.traceId;
      return traceId ? ((await getJson<ZipkinSpan[]>(`${base}/api/v2/trace/${traceId}`)) ?? []).map(line) : [];
    },
  };
}

interface JaegerTrace {
  traceID: string;
  spans: {
    spanID: string;
    operationName: string;
    processID: string;
    startTime: number;
    duration: number;
    references?: { refType: string; spanID: string }[];
    tags?: { key: string; value: unknown }[];
  }[];
  processes: Record<string, { serviceName: string }>;
}

function jaegerSource(base: string): Source {
  const lines = (t: JaegerTrace): SpanLine[] =>
    t.spans.map((s) => {
      const attributes = Object.fromEntries((s.tags ?? []).map((tag) => [tag.key, tag.value]));
      return {
        traceId: t.traceID,
        spanId: s.spanID,
        parentSpanId: s.references?.find((r) => r.refType === 'CHILD_OF')?.spanID ?? null,
        name: s.operationName,
        kind: 0,
        service: t.processes[s.processID]?.serviceName ?? '',
        startMs: s.startTime / 1000,
        endMs: (s.startTime + s.duration) / 1000,
        status: attributes.error === true || attributes['otel.status_code'] === 'ERROR' ? 2 : 0,
        attributes,
      };
    });
  return {
    describe: `Jaeger at ${base}`,
    async spans(key) {
      if (TRACE_ID.test(key)) return (await getJson<{ data: JaegerTrace[] }>(`${base}/api/traces/${key}`))?.data.flatMap(lines) ?? [];
      const query = new URLSearchParams({
        service: 'worker-orders',
        tags: JSON.stringify({ temporalWorkflowId: `order-${key}` }),
        lookback: '7d',
        limit: '1',
      });
      const found = (await getJson<{ data: JaegerTrace[] }>(`${base}/api/traces?${query}`))?.data[0];
      if (!found) return [];
      return (await getJson<{ data: JaegerTrace[] }>(`${base}/api/traces/${found.traceID}`))?.data.flatMap(lines) ?? [];
    },
  };
}

function sourcesFrom(argv: string[], cfg: StackConfig): Source[] {
  const flag = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const file = flag('--file') ?? process.env.OTEL_TRACES_FILE;
  if (file) return [fileSource(path.resolve(file))];
  const zipkin = flag('--zipkin') ?? `http://127.0.0.1:${cfg.stack.zipkin.port}`;
  const jaeger = flag('--jaeger') ?? `http://127.0.0.1:${cfg.stack.jaeger.queryPort}`;
  return [zipkinSource(`${zipkin.replace(/\/+$/, '').replace(/\/zipkin$/, '')}/zipkin`), jaegerSource(jaeger.replace(/\/+$/, ''))];
}

function printTree(trace: SpanLine[], key: string): void {
  const ids = new Set(trace.map((s) => s.spanId));
  const children = new Map<string | null, SpanLine[]>();
  for (const s of trace) {
    const parent = s.parentSpanId && ids.has(s.parentSpanId) ? s.parentSpanId : null;
    children.set(parent, [...(children.get(parent) ?? []), s]);
  }
  const t0 = Math.min(...trace.map((s) => s.startMs));
  console.log(`trace ${trace[0]!.traceId}: ${trace.length} spans, ${TRACE_ID.test(key) ? 'trace' : 'order'} ${key}`);
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
}

async function main(argv: string[]): Promise<number> {
  const key = argv.find((a, i) => !a.startsWith('--') && !argv[i - 1]?.startsWith('--'));
  if (!key) {
    console.error('usage: npx tsx scripts/trace.ts <orderId | traceId> [--file traces.jsonl] [--zipkin URL] [--jaeger URL]');
    return 2;
  }
  let cfg: StackConfig;
  try {
    cfg = loadStackConfig();
  } catch (err) {
    exitOnConfigError(err);
  }
  const problems: string[] = [];
  for (const source of sourcesFrom(argv, cfg)) {
    let spans: SpanLine[];
    try {
      spans = await source.spans(key);
    } catch (err) {
      problems.push(`${source.describe}: ${(err as Error).message}`);
      continue;
    }
    if (spans.length === 0) {
      problems.push(`${source.describe}: no span of ${key}`);
      continue;
    }
    const mine = spans.filter((s) => s.traceId === spans[0]!.traceId);
    printTree(mine, key);
    const link = traceUrl(mine[0]!.traceId, cfg.otel.traceUrlTemplate);
    if (link) console.log(`\n${link}`);
    return 0;
  }
  const off = cfg.otel.exporters.length === 0 && !cfg.otel.tracesFile;
  console.error(
    [
      `no trace of ${key} found:`,
      ...problems.map((p) => `  - ${p}`),
      off
        ? 'This shell sets no exporter (OTEL_TRACES_EXPORTER, an OTLP endpoint, OTEL_TRACES_FILE); if no backend above answers either,\n' +
          'tracing is off. To trace orders:\n' +
          '  npm run stack -- up --with-tracing   # Zipkin (UI) and Jaeger (OTLP)\n' +
          '  npm start                            # restart: the app processes then export to them'
        : `Tracing is configured here (${cfg.otel.exporters.join(',') || 'file'}); the order may be unsampled (OTEL_TRACES_SAMPLER_ARG) or older than the backend keeps.`,
    ].join('\n'),
  );
  return 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
