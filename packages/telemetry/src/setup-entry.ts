// What a service needs for its own telemetry, without the OpenTelemetry SDK in its bundle's static
// imports: `setupTelemetry` loads the SDK only when export is on. Static imports: zod and
// `@opentelemetry/api` only.
export { setupTelemetry, type Telemetry, type TelemetryOptions } from './setup.js';
export {
  otlpEnvSchema,
  parseOtlpHeaders,
  readTelemetryEnv,
  type TelemetrySettings,
  ATTR_DEPLOYMENT_ENVIRONMENT,
  type OtlpTarget,
  type ServiceIdentity,
} from './otlp-config.js';
export { traceIdFor, jobSpanIdFor, attemptSpanIdFor } from './ids.js';
