import { SpanKind, SpanStatusCode, type Meter, type Tracer } from '@opentelemetry/api';
import type { DeliveryRecord, EndpointRecord } from './types.js';

/** The service's own telemetry (from `@jobgate/telemetry/setup`), given only when it is exported. */
export interface WebhookTelemetry {
  tracer: Tracer;
  meter: Meter;
}

export interface AttemptEnd {
  status: number | null;
  error: string | null;
  outcome: string;
}

/**
 * One CLIENT span per delivery attempt (`webhook <event type>`), with the delivery, endpoint,
 * customer and job ids, the receiver's host (never the URL: its path or query may carry a
 * customer's token), the response status and the outcome (error status unless delivered); plus
 * the histogram `jobgate.webhook.attempt.duration` (s) by outcome.
 */
export function deliveryTracing(
  telemetry: WebhookTelemetry,
): (d: DeliveryRecord, endpoint: EndpointRecord) => (end: AttemptEnd) => void {
  const duration = telemetry.meter.createHistogram('jobgate.webhook.attempt.duration', {
    unit: 's',
    description: 'One webhook delivery attempt, request to response (or error)',
  });
  return (d, endpoint) => {
    let host = '';
    try {
      host = new URL(endpoint.url).hostname;
    } catch {
      // A stored URL that does not parse: the attempt fails on its own; no host attribute.
    }
    const span = telemetry.tracer.startSpan(`webhook ${d.event_type}`, {
      kind: SpanKind.CLIENT,
      attributes: {
        'webhook.delivery.id': d.id,
        'webhook.endpoint.id': endpoint.id,
        'webhook.event.type': d.event_type,
        'webhook.attempt': d.attempts,
        'customer.id': d.customer_id,
        ...(d.job_id ? { 'job.id': d.job_id } : {}),
        ...(host ? { 'server.address': host } : {}),
        'http.request.method': 'POST',
      },
    });
    const started = performance.now();
    return (end) => {
      if (end.status !== null) span.setAttribute('http.response.status_code', end.status);
      span.setAttribute('webhook.outcome', end.outcome);
      if (end.outcome !== 'succeeded') {
        span.setStatus({
          code: SpanStatusCode.ERROR,
          message: end.status !== null ? `HTTP ${String(end.status)}` : (end.error ?? end.outcome),
        });
      }
      span.end();
      duration.record((performance.now() - started) / 1_000, { 'webhook.outcome': end.outcome });
    };
  };
}
