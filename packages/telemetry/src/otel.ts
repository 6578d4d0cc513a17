import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import {
  ATTR_DEPLOYMENT_ENVIRONMENT,
  type OtlpTarget,
  type ServiceIdentity,
} from './otlp-config.js';

// The SDK's parts, imported statically: for the telemetry collector, which builds its spans
// itself. Services use `setupTelemetry` (`./setup.ts`), which loads the SDK only when exporting.

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
