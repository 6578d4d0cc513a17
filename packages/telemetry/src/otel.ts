import { metrics, trace, type Meter, type Tracer } from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { z } from 'zod';

/** Not yet in the stable semantic conventions export. */
export const ATTR_DEPLOYMENT_ENVIRONMENT = 'deployment.environment.name';

/**
 * Where OTLP goes, from configuration. `endpoint` is the OTLP/HTTP base URL (the exporters append
 * `/v1/traces` and `/v1/metrics`), as with `OTEL_EXPORTER_OTLP_ENDPOINT`.
 */
export interface OtlpTarget {
  endpoint: string;
  headers: Record<string, string>;
  timeoutMs: number;
}

/**
 * `OTEL_EXPORTER_OTLP_HEADERS` format: `k1=v1,k2=v2` (values URL-encoded). The error names the
 * malformed pair's position, never its value (it usually holds a token).
 */
export function parseOtlpHeaders(value: string | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  if (!value?.trim()) return headers;
  value.split(',').forEach((pair, index) => {
    const at = pair.indexOf('=');
    const key = at > 0 ? pair.slice(0, at).trim() : '';
    if (!key) throw new Error(`OTEL_EXPORTER_OTLP_HEADERS: pair ${index + 1} is not key=value`);
    headers[key.toLowerCase()] = decodeURIComponent(pair.slice(at + 1).trim());
  });
  return headers;
}

/**
 * The shared OTLP part of a service's config: endpoint + headers, plus Dash0's own variables as a
 * shorthand (`DASH0_AUTH_TOKEN` -> `Authorization: Bearer`, `DASH0_DATASET` -> `Dash0-Dataset`).
 * No endpoint means export is off.
 */
export const otlpEnvSchema = z
  .object({
    OTEL_EXPORTER_OTLP_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
    OTEL_EXPORTER_OTLP_HEADERS: z.string().optional(),
    OTEL_EXPORTER_OTLP_TIMEOUT: z.coerce.number().int().positive().default(10_000),
    DASH0_AUTH_TOKEN: z.string().min(1).optional(),
    DASH0_DATASET: z.string().min(1).optional(),
  })
  .transform((env, ctx): OtlpTarget | undefined => {
    if (!env.OTEL_EXPORTER_OTLP_ENDPOINT) return undefined;
    let headers: Record<string, string>;
    try {
      headers = parseOtlpHeaders(env.OTEL_EXPORTER_OTLP_HEADERS);
    } catch (error) {
      ctx.addIssue({
        code: 'custom',
        message: (error as Error).message,
        path: ['OTEL_EXPORTER_OTLP_HEADERS'],
      });
      return z.NEVER;
    }
    if (env.DASH0_AUTH_TOKEN) headers.authorization = `Bearer ${env.DASH0_AUTH_TOKEN}`;
    if (env.DASH0_DATASET) headers['dash0-dataset'] = env.DASH0_DATASET;
    return {
      endpoint: env.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, ''),
      headers,
      timeoutMs: env.OTEL_EXPORTER_OTLP_TIMEOUT,
    };
  });

export interface ServiceIdentity {
  serviceName: string;
  serviceVersion: string;
  environment: string;
}

export function serviceResource(identity: ServiceIdentity): Resource {
  return resourceFromAttributes({
    [ATTR_SERVICE_NAME]: identity.serviceName,
    [ATTR_SERVICE_VERSION]: identity.serviceVersion,
    [ATTR_DEPLOYMENT_ENVIRONMENT]: identity.environment,
  });
}

export function traceExporter(target: OtlpTarget): OTLPTraceExporter {
  return new OTLPTraceExporter({
    url: `${target.endpoint}/v1/traces`,
    headers: target.headers,
    timeoutMillis: target.timeoutMs,
  });
}

export function metricExporter(target: OtlpTarget): OTLPMetricExporter {
  return new OTLPMetricExporter({
    url: `${target.endpoint}/v1/metrics`,
    headers: target.headers,
    timeoutMillis: target.timeoutMs,
  });
}

export interface TelemetryOptions extends ServiceIdentity {
  /** Undefined: tracers and meters are no-ops, nothing is exported. */
  otlp: OtlpTarget | undefined;
  /** How often metrics are exported. Default 15 s. */
  metricIntervalMs?: number;
  /** Register as the global providers (`@opentelemetry/api`'s `trace`/`metrics`). Default true. */
  global?: boolean;
}

export interface Telemetry {
  resource: Resource;
  tracer(name: string): Tracer;
  meter(name: string): Meter;
  /** Pushes what is buffered now (for tests and before exiting). */
  flush(): Promise<void>;
  /** Flushes and stops the exporters. */
  shutdown(): Promise<void>;
}

/**
 * One call per service: its own spans and metrics to OTLP/HTTP (protobuf) with the resource
 * attributes `service.name`, `service.version` and `deployment.environment.name`.
 */
export function setupTelemetry(options: TelemetryOptions): Telemetry {
  const resource = serviceResource(options);
  if (!options.otlp) {
    return {
      resource,
      tracer: (name) => trace.getTracerProvider().getTracer(name),
      meter: (name) => metrics.getMeterProvider().getMeter(name),
      flush: () => Promise.resolve(),
      shutdown: () => Promise.resolve(),
    };
  }
  const tracerProvider = new BasicTracerProvider({
    resource,
    spanProcessors: [new BatchSpanProcessor(traceExporter(options.otlp))],
  });
  const meterProvider = new MeterProvider({
    resource,
    readers: [
      new PeriodicExportingMetricReader({
        exporter: metricExporter(options.otlp),
        exportIntervalMillis: options.metricIntervalMs ?? 15_000,
      }),
    ],
  });
  if (options.global !== false) {
    trace.setGlobalTracerProvider(tracerProvider);
    metrics.setGlobalMeterProvider(meterProvider);
  }
  return {
    resource,
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
