/**
 * What `npm start` adds to the environment of the app processes it runs when the stack's
 * trace backends answer: the standard OpenTelemetry variables pointing at them, so that
 * `npm run stack -- up --with-tracing` then `npm start` traces every order with no setting.
 * Variables the user set themselves win: any of them, and nothing is added.
 */
import type { Env } from '../../lib/env-vars';
import type { StackConfig } from './config';
import { Jaeger } from './jaeger';
import { Zipkin } from './zipkin';

/** Set by the user, these decide tracing; the stack then adds nothing. */
const USER_CHOICES = ['OTEL_TRACES_EXPORTER', 'OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'OTEL_SDK_DISABLED'];

const answers = (c: { health(): Promise<unknown> }) =>
  c.health().then(
    () => true,
    () => false,
  );

export async function tracingEnv(cfg: StackConfig, env: Env = process.env): Promise<Record<string, string>> {
  if (USER_CHOICES.some((name) => env[name]?.trim())) return {};
  const zipkin = new Zipkin(cfg);
  const jaeger = new Jaeger(cfg);
  const [zipkinUp, jaegerUp] = await Promise.all([answers(zipkin), answers(jaeger)]);
  const out: Record<string, string> = {};
  const exporters: string[] = [];
  if (zipkinUp) {
    exporters.push('zipkin');
    out.OTEL_EXPORTER_ZIPKIN_ENDPOINT = zipkin.spansUrl;
  }
  if (jaegerUp) {
    exporters.push('otlp');
    out.OTEL_EXPORTER_OTLP_ENDPOINT = jaeger.otlpHttpUrl;
    out.OTEL_EXPORTER_OTLP_PROTOCOL = 'http/protobuf';
    // Without Zipkin, links go to Jaeger's API (this build's UI is a placeholder page).
    if (!zipkinUp && !env.TRACE_URL_TEMPLATE?.trim()) out.TRACE_URL_TEMPLATE = `${jaeger.queryUrl}/api/traces/{traceId}`;
  }
  if (exporters.length > 0) out.OTEL_TRACES_EXPORTER = exporters.join(',');
  return out;
}
