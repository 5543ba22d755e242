/**
 * Traces in real trace backends, as `npm run stack -- up --with-tracing` runs them: Zipkin
 * (the UI) and Jaeger (an OTLP receiver with a query API), started once for this file on
 * ports of their own. All seven app processes export to both at once through the standard
 * variables (OTEL_TRACES_EXPORTER=zipkin,otlp), one order is placed over HTTP, and each
 * backend's own API must hold one trace of it with spans from the API, the three workers, the
 * relay and both consumers, every parent link resolvable. A browser then shows the trace in
 * Zipkin's UI (docs/screenshots/zipkin-trace.png), and a real Prometheus scraping the API's
 * OpenMetrics /metrics keeps the order's trace id as an exemplar of the latency histogram.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { repoRoot } from '../../lib/config';
import { loadStackConfig } from '../../scripts/stack/config';
import { Jaeger } from '../../scripts/stack/jaeger';
import { spawnDaemon, stopPid } from '../../scripts/stack/proc';
import { upOne } from '../../scripts/stack/stack';
import { Zipkin } from '../../scripts/stack/zipkin';
import { createApiKey } from '../../services/access/api-keys';
import {
  callRole,
  createPipelineEnv,
  freePort,
  killAllRoles,
  metricValue,
  spawnRole,
  type PipelineEnv,
  type RoleProcess,
} from '../support/processes';
import { eventually } from '../support/wait';

const ROLES = ['worker-orders', 'worker-payments', 'worker-inventory', 'relay', 'consumer-audit', 'consumer-notifications', 'api'] as const;
const SCREENSHOT = path.join(repoRoot, 'docs', 'screenshots', 'zipkin-trace.png');

let pipeline: PipelineEnv;
let zipkin: Zipkin;
let jaeger: Jaeger;
let dir: string;
const roles: Record<string, RoleProcess> = {};
let orderId: string;
let traceId: string;
let events: number;

/** One span as either backend reports it. */
interface Span {
  spanId: string;
  parentId?: string;
  name: string;
  service: string;
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'order-saga-tracing-'));
  const cfg = loadStackConfig();
  zipkin = new Zipkin(cfg, { dir: path.join(dir, 'zipkin'), port: await freePort() });
  const [otlpHttpPort, otlpGrpcPort, queryPort, queryGrpcPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  jaeger = new Jaeger(cfg, { dir: path.join(dir, 'jaeger'), ports: { otlpHttpPort, otlpGrpcPort, queryPort, queryGrpcPort } });
  [pipeline] = await Promise.all([createPipelineEnv('tracing'), upOne(zipkin), upOne(jaeger)]);
  const env = pipeline.env;
  const adminKey = `bootstrap-${crypto.randomBytes(24).toString('base64url')}`;
  const roleEnv = {
    ...env,
    ADMIN_API_KEY: adminKey,
    OTEL_TRACES_EXPORTER: 'zipkin,otlp',
    OTEL_EXPORTER_ZIPKIN_ENDPOINT: zipkin.spansUrl,
    OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpHttpUrl,
    OTEL_BSP_SCHEDULE_DELAY: '300',
    SAGA_COMPENSATION_WINDOW_MS: '1000',
    TEMPORAL_TASK_QUEUE_PREFIX: `trc-${crypto.randomUUID().slice(0, 8)}-`,
    API_PORT: String(await freePort()),
  };
  for (const p of await Promise.all(ROLES.map((r) => spawnRole(r, { env: roleEnv })))) roles[p.role] = p;
  const api = roles.api!;
  const sku = `TRC-${crypto.randomUUID().slice(0, 8)}`;
  expect(
    (await callRole(api, 'POST', '/admin/products', adminKey, { sku, name: 'Lamp', unitPriceMinor: 4_000, currency: 'EUR', addStock: 5 }))
      .status,
  ).toBe(201);
  expect(
    (await callRole(api, 'POST', '/admin/accounts', adminKey, { customerId: 'trc-rich', currency: 'EUR', depositMinor: 100_000 })).status,
  ).toBe(201);
  const clientKey = (await createApiKey(pipeline.db, 'trc-client', 'client', ['trc-rich'])).key;
  const placed = await callRole(api, 'POST', '/orders', clientKey, { customerId: 'trc-rich', items: [{ sku, quantity: 1 }] });
  expect(placed.status).toBe(202);
  orderId = placed.body.orderId as string;
  await eventually(async () => (await callRole(api, 'GET', `/orders/${orderId}`, clientKey)).body.status === 'CONFIRMED', {
    timeoutMs: 60_000,
    what: `order ${orderId} to be confirmed`,
  });
  const outbox = await pipeline.db.outboxEvent.findMany({ where: { aggregateId: orderId } });
  events = outbox.length;
  traceId = outbox[0]!.traceparent!.split('-')[1]!;
  await eventually(
    async () => {
      const [audit, notifications] = await Promise.all([roles['consumer-audit']!.metrics(), roles['consumer-notifications']!.metrics()]);
      return (
        metricValue(audit, 'consumer_events_processed_total') >= events &&
        metricValue(notifications, 'consumer_events_processed_total') >= events
      );
    },
    { timeoutMs: 60_000, what: 'both consumers to apply every event' },
  );
}, 240_000);

afterAll(async () => {
  await killAllRoles();
  await Promise.all([zipkin?.stop(), jaeger?.stop()]);
  await pipeline?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

async function zipkinSpans(): Promise<Span[]> {
  const res = await fetch(`${zipkin.url}/zipkin/api/v2/trace/${traceId}`);
  if (res.status === 404) return [];
  const body = (await res.json()) as { id: string; parentId?: string; name?: string; localEndpoint?: { serviceName?: string } }[];
  return body.map((s) => ({ spanId: s.id, parentId: s.parentId, name: s.name ?? '', service: s.localEndpoint?.serviceName ?? '' }));
}

async function jaegerSpans(): Promise<Span[]> {
  const res = await fetch(`${jaeger.queryUrl}/api/traces/${traceId}`);
  if (res.status === 404) return [];
  const body = (await res.json()) as {
    data?: {
      spans: { spanID: string; operationName: string; processID: string; references?: { refType: string; spanID: string }[] }[];
      processes: Record<string, { serviceName: string }>;
    }[];
  };
  const trace = body.data?.[0];
  if (!trace) return [];
  return trace.spans.map((s) => ({
    spanId: s.spanID,
    parentId: s.references?.find((r) => r.refType === 'CHILD_OF')?.spanID,
    name: s.operationName,
    service: trace.processes[s.processID]?.serviceName ?? '',
  }));
}

/** Waits until the backend holds the whole trace: the workflow run and every event processed by both consumers. */
function wholeTrace(read: () => Promise<Span[]>, backend: string): Promise<Span[]> {
  return eventually(
    async () => {
      const spans = await read();
      const processed = spans.filter((s) => s.name.toLowerCase().startsWith('process ')).length;
      return processed >= events * 2 && spans.some((s) => s.name.toLowerCase() === 'runworkflow:ordersaga') ? spans : undefined;
    },
    { timeoutMs: 30_000, what: `${backend} to hold the trace of order ${orderId}` },
  );
}

function expectOneConnectedTrace(spans: Span[]): void {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  expect(spans.filter((s) => !s.parentId).map((s) => [s.service, s.name.toLowerCase()])).toEqual([['api', 'post /orders']]);
  expect(spans.filter((s) => s.parentId && !byId.has(s.parentId)).map((s) => s.name)).toEqual([]);
  expect([...new Set(spans.map((s) => s.service))].sort()).toEqual([...ROLES].sort());
  const root = (s: Span): Span => (s.parentId ? root(byId.get(s.parentId)!) : s);
  expect(new Set(spans.map((s) => root(s).spanId)).size).toBe(1);
  const names = (service: string) => spans.filter((s) => s.service === service).map((s) => s.name.toLowerCase());
  expect(names('worker-orders')).toContain('runworkflow:ordersaga');
  expect(names('worker-payments')).toContain('runactivity:chargepayment');
  expect(names('worker-inventory')).toContain('runactivity:reserveinventory');
  expect(names('relay').filter((n) => n.startsWith('publish ')).length).toBe(events);
  for (const consumer of ['consumer-audit', 'consumer-notifications'])
    expect({ consumer, processed: names(consumer).filter((n) => n.startsWith('process ')).length }).toEqual({
      consumer,
      processed: events,
    });
}

test("Zipkin's own API holds one trace of the order, from every process, every parent resolvable", async () => {
  expectOneConnectedTrace(await wholeTrace(zipkinSpans, 'Zipkin'));
});

test("the OTLP path: Jaeger's query API holds the same trace, span for span", async () => {
  const spans = await wholeTrace(jaegerSpans, 'Jaeger');
  expectOneConnectedTrace(spans);
  const fromZipkin = await zipkinSpans();
  expect(spans.map((s) => s.spanId).sort()).toEqual(fromZipkin.map((s) => s.spanId).sort());
});

test("Zipkin's UI shows the trace of the order (screenshot for docs/observability.md)", async () => {
  await wholeTrace(zipkinSpans, 'Zipkin');
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(`${zipkin.url}/zipkin/traces/${traceId}`);
    // The span tree lists every process by name once rendered.
    for (const service of ['consumer-notifications', 'worker-payments']) await page.getByText(service).first().waitFor({ timeout: 20_000 });
    fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT });
  } finally {
    await browser.close();
  }
  expect(fs.statSync(SCREENSHOT).size).toBeGreaterThan(20_000);
});

test("a real Prometheus scrapes the API's OpenMetrics and keeps the order's trace id as a latency exemplar", async () => {
  const port = await freePort();
  const promDir = path.join(dir, 'prometheus');
  fs.mkdirSync(promDir, { recursive: true });
  const target = new URL(roles.api!.metricsUrl).host;
  fs.writeFileSync(
    path.join(promDir, 'prometheus.yml'),
    `global: { scrape_interval: 1s }\nscrape_configs: [{ job_name: api, static_configs: [{ targets: ['${target}'] }] }]\n`,
  );
  const pid = spawnDaemon(
    'prometheus',
    [
      `--config.file=${path.join(promDir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(promDir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--enable-feature=exemplar-storage',
    ],
    { logFile: path.join(promDir, 'prometheus.log'), pidFile: path.join(promDir, 'prometheus.pid') },
  );
  try {
    const base = `http://127.0.0.1:${port}/api/v1`;
    const now = Math.floor(Date.now() / 1000);
    const exemplars = await eventually(
      async () => {
        const q = new URLSearchParams({
          query: 'http_request_duration_seconds_bucket{route="/orders"}',
          start: String(now - 600),
          end: String(now + 600),
        });
        const body = (await (await fetch(`${base}/query_exemplars?${q}`)).json()) as {
          data?: { exemplars: { labels: Record<string, string> }[] }[];
        };
        const found = (body.data ?? []).flatMap((series) => series.exemplars.map((e) => e.labels.trace_id));
        return found.length > 0 ? found : undefined;
      },
      { timeoutMs: 20_000, what: 'Prometheus to store an exemplar of POST /orders' },
    );
    expect(exemplars).toContain(traceId);
    const up = (await (await fetch(`${base}/query?query=up`)).json()) as { data: { result: { value: [number, string] }[] } };
    expect(up.data.result.map((r) => r.value[1])).toEqual(['1']);
  } finally {
    await stopPid(pid);
  }
});
