/**
 * Links to one trace in a trace UI, for pages and messages that show a trace id (the console's
 * order page, scripts/trace.ts). The template is TRACE_URL_TEMPLATE, or Zipkin's UI when the
 * process exports to Zipkin (lib/config.ts); without either there is no link.
 */
import { config } from './config';

const TRACE_ID = /^[0-9a-f]{32}$/;

/** The UI address of a trace, or undefined when no trace UI is configured or the id is not a W3C trace id. */
export function traceUrl(traceId: string, template: string | undefined = config().otel.traceUrlTemplate): string | undefined {
  if (!template || !TRACE_ID.test(traceId) || /^0+$/.test(traceId)) return undefined;
  return template.replaceAll('{traceId}', traceId);
}
