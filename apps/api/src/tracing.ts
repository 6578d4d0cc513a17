import {
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  type Meter,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import type { FastifyInstance, FastifyRequest } from 'fastify';

/** The API's own telemetry (from `@jobgate/telemetry/setup`), installed only when it is exported. */
export interface ApiTelemetry {
  tracer: Tracer;
  meter: Meter;
}

/**
 * One SERVER span per HTTP request (`POST /api/jobs`, named by route; a caller's W3C
 * `traceparent` makes it a child of the caller's span) and the `http.server.request.duration`
 * histogram, as OpenTelemetry's HTTP semantic conventions name them.
 */
export function installTracing(app: FastifyInstance, telemetry: ApiTelemetry): void {
  const spans = new WeakMap<FastifyRequest, Span>();
  const duration = telemetry.meter.createHistogram('http.server.request.duration', {
    unit: 's',
    description: 'Duration of HTTP server requests',
  });
  app.addHook('onRequest', (request, _reply, done) => {
    const parent = propagation.extract(ROOT_CONTEXT, request.headers);
    spans.set(
      request,
      telemetry.tracer.startSpan(
        request.method,
        {
          kind: SpanKind.SERVER,
          attributes: {
            'http.request.method': request.method,
            'url.path': request.url.split('?')[0] ?? '',
            'url.scheme': 'http',
          },
        },
        parent,
      ),
    );
    done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url;
    const status = reply.statusCode;
    const span = spans.get(request);
    if (span) {
      if (route) span.updateName(`${request.method} ${route}`);
      span.setAttributes({
        ...(route ? { 'http.route': route } : {}),
        'http.response.status_code': status,
      });
      // Server spans are errors on 5xx only (a 4xx is the client's mistake).
      if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: String(status) });
      span.end();
      spans.delete(request);
    }
    duration.record(reply.elapsedTime / 1_000, {
      'http.request.method': request.method,
      ...(route ? { 'http.route': route } : {}),
      'http.response.status_code': status,
    });
    done();
  });
}
