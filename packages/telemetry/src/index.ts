export * from './events-entry.js';
export {
  setupTelemetry,
  serviceResource,
  traceExporter,
  metricExporter,
  parseOtlpHeaders,
  otlpEnvSchema,
  ATTR_DEPLOYMENT_ENVIRONMENT,
  type Telemetry,
  type TelemetryOptions,
  type OtlpTarget,
  type ServiceIdentity,
} from './otel.js';
