import { z } from 'zod';

// The configuration half of the OpenTelemetry setup: zod only, no OpenTelemetry package, so a
// service reads and validates its OTLP settings without loading the SDK.

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

/** A service's telemetry settings (`setupTelemetry`'s options) from its environment. */
export interface TelemetrySettings extends ServiceIdentity {
  /** Undefined: export is off. */
  otlp: OtlpTarget | undefined;
  metricIntervalMs: number;
}

const telemetryEnvSchema = z.object({
  OTEL_SERVICE_NAME: z.string().trim().min(1).optional(),
  SERVICE_VERSION: z.string().trim().min(1).default('0.0.0'),
  DEPLOYMENT_ENVIRONMENT: z.string().trim().min(1).default('development'),
  OTEL_SDK_DISABLED: z.enum(['true', 'false']).default('false'),
  OTEL_METRIC_EXPORT_INTERVAL: z.coerce.number().int().min(100).max(3_600_000).default(15_000),
});

/**
 * The standard variables of a service's own telemetry: `OTEL_EXPORTER_OTLP_ENDPOINT` (unset: off)
 * and `_HEADERS` / `_TIMEOUT`, Dash0's `DASH0_AUTH_TOKEN` / `DASH0_DATASET`, `OTEL_SERVICE_NAME`
 * (default `serviceName`), `SERVICE_VERSION`, `DEPLOYMENT_ENVIRONMENT`, `OTEL_SDK_DISABLED`,
 * `OTEL_METRIC_EXPORT_INTERVAL` (ms). Problems name the variable, never its value (headers hold
 * tokens); the caller reports them with its own.
 */
export function readTelemetryEnv(
  env: Record<string, string | undefined>,
  serviceName: string,
): { settings: TelemetrySettings; problems: [] } | { settings: undefined; problems: string[] } {
  const present = Object.fromEntries(
    Object.entries(env).filter(([, v]) => v !== undefined && v !== ''),
  );
  const base = telemetryEnvSchema.safeParse(present);
  const otlp = otlpEnvSchema.safeParse(present);
  const problems = [base, otlp].flatMap((result) =>
    result.success
      ? []
      : result.error.issues.map((issue) => `${issue.path.join('.')} ${issue.message}`),
  );
  if (!base.success || !otlp.success) return { settings: undefined, problems };
  return {
    settings: {
      serviceName: base.data.OTEL_SERVICE_NAME ?? serviceName,
      serviceVersion: base.data.SERVICE_VERSION,
      environment: base.data.DEPLOYMENT_ENVIRONMENT,
      otlp: base.data.OTEL_SDK_DISABLED === 'true' ? undefined : otlp.data,
      metricIntervalMs: base.data.OTEL_METRIC_EXPORT_INTERVAL,
    },
    problems: [],
  };
}
