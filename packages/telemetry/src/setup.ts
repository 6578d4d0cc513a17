import {
  metrics,
  propagation,
  trace,
  type Attributes,
  type Meter,
  type Tracer,
} from '@opentelemetry/api';
import {
  ATTR_DEPLOYMENT_ENVIRONMENT,
  type OtlpTarget,
  type ServiceIdentity,
} from './otlp-config.js';

export interface TelemetryOptions extends ServiceIdentity {
  /** Undefined: export is off, tracers and meters are `@opentelemetry/api`'s no-ops. */
  otlp: OtlpTarget | undefined;
  /** How often metrics are exported. Default 15 s. */
  metricIntervalMs?: number;
  /** Register as the global providers (`@opentelemetry/api`'s `trace`/`metrics`). Default true. */
  global?: boolean;
}

export interface Telemetry {
  /** True when spans and metrics are exported. */
  readonly enabled: boolean;
  /** `service.name`, `service.version`, `deployment.environment.name`. */
  readonly resourceAttributes: Attributes;
  tracer(name: string): Tracer;
  meter(name: string): Meter;
  /** Pushes what is buffered now (for tests and before exiting). */
  flush(): Promise<void>;
  /** Flushes and stops the exporters. */
  shutdown(): Promise<void>;
}

/**
 * One call per service: its own spans and metrics to OTLP/HTTP (protobuf), with the resource
 * attributes `service.name`, `service.version` and `deployment.environment.name`.
 *
 * With `otlp` undefined (no `OTEL_EXPORTER_OTLP_ENDPOINT`) nothing of the SDK is loaded: the
 * tracers and meters are the API's no-ops. The SDK's packages are imported dynamically, so an app
 * bundle (npm packages external) reaches for them only when export is on; the app must still list
 * them in its own `dependencies` (see this package's README).
 */
export async function setupTelemetry(options: TelemetryOptions): Promise<Telemetry> {
  const resourceAttributes: Attributes = {
    'service.name': options.serviceName,
    'service.version': options.serviceVersion,
    [ATTR_DEPLOYMENT_ENVIRONMENT]: options.environment,
  };
  if (!options.otlp) {
    return {
      enabled: false,
      resourceAttributes,
      tracer: (name) => trace.getTracer(name),
      meter: (name) => metrics.getMeter(name),
      flush: () => Promise.resolve(),
      shutdown: () => Promise.resolve(),
    };
  }
  const target = options.otlp;
  const [core, traceSdk, metricSdk, traceOtlp, metricOtlp, resources] = await Promise.all([
    import('@opentelemetry/core'),
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/sdk-metrics'),
    import('@opentelemetry/exporter-trace-otlp-proto'),
    import('@opentelemetry/exporter-metrics-otlp-proto'),
    import('@opentelemetry/resources'),
  ]);
  const resource = resources.resourceFromAttributes(resourceAttributes);
  const tracerProvider = new traceSdk.BasicTracerProvider({
    resource,
    spanProcessors: [
      new traceSdk.BatchSpanProcessor(
        new traceOtlp.OTLPTraceExporter({
          url: `${target.endpoint}/v1/traces`,
          headers: target.headers,
          timeoutMillis: target.timeoutMs,
        }),
      ),
    ],
  });
  const meterProvider = new metricSdk.MeterProvider({
    resource,
    readers: [
      new metricSdk.PeriodicExportingMetricReader({
        exporter: new metricOtlp.OTLPMetricExporter({
          url: `${target.endpoint}/v1/metrics`,
          headers: target.headers,
          timeoutMillis: target.timeoutMs,
        }),
        exportIntervalMillis: options.metricIntervalMs ?? 15_000,
        exportTimeoutMillis: Math.min(options.metricIntervalMs ?? 15_000, target.timeoutMs),
      }),
    ],
  });
  if (options.global !== false) {
    trace.setGlobalTracerProvider(tracerProvider);
    metrics.setGlobalMeterProvider(meterProvider);
    // W3C `traceparent`: a caller's trace continues in this service's spans.
    propagation.setGlobalPropagator(new core.W3CTraceContextPropagator());
  }
  return {
    enabled: true,
    resourceAttributes,
    tracer: (name) => tracerProvider.getTracer(name),
    meter: (name) => meterProvider.getMeter(name),
    flush: async () => {
      await Promise.all([tracerProvider.forceFlush(), meterProvider.forceFlush()]);
    },
    shutdown: async () => {
      await Promise.all([tracerProvider.shutdown(), meterProvider.shutdown()]);
    },
  };
}
