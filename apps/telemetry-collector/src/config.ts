import { hostname } from 'node:os';
import {
  eventFilterSchema,
  otlpEnvSchema,
  splitList,
  type EventFilter,
  type OtlpTarget,
} from '@jobgate/telemetry';
import { ConfigError, presentEnv, problemsOf, wholeNumber } from '@jobgate/core/config';
import { z } from 'zod';

/** The collector's whole configuration, read once from the environment by `loadConfig`. */
export interface CollectorConfig {
  port: number;
  host: string;
  redisUrl: string;
  namespace: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Undefined: `TELEMETRY_DISABLED=1` or no endpoint: the collector does not run (health says so). */
  otlp: OtlpTarget | undefined;
  serviceVersion: string;
  environment: string;
  group: string;
  consumer: string;
  batchSize: number;
  exportBatchSize: number;
  exportConcurrency: number;
  /** The OTLP exporter (protobuf serialization and HTTP) on a thread of its own. */
  exportThread: boolean;
  blockMs: number;
  claimIdleMs: number;
  claimIntervalMs: number;
  maxOpenSpans: number;
  maxSpanAgeMs: number;
  sweepIntervalMs: number;
  settleMs: number;
  doneTtlSeconds: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  startFrom: '0' | '$';
  metricIntervalMs: number;
  filter: EventFilter;
}

/** Thrown by `loadConfig`: every bad variable at once, never a value. */
export { ConfigError };

const name = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9_.:-]{1,64}$/, {
    message: 'must be 1-64 characters of letters, digits, _ . : -',
  });

const schema = z.object({
  PORT: wholeNumber(0, 65_535).default(4319),
  HOST: z.string().trim().min(1, { message: 'must not be empty' }).default('0.0.0.0'),
  REDIS_URL: z
    .string({ message: 'is required, e.g. redis://127.0.0.1:6380' })
    .trim()
    .refine((value) => /^rediss?:\/\/[^\s]+$/.test(value) && URL.canParse(value), {
      message: 'must be a redis:// or rediss:// URL',
    }),
  QUEUE_NAMESPACE: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, {
      message: 'must be 1-64 characters of letters, digits, _ . -',
    })
    .default('jq'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  TELEMETRY_DISABLED: z.enum(['0', '1', 'true', 'false']).default('0'),
  SERVICE_VERSION: z.string().trim().min(1).default('0.0.0'),
  DEPLOYMENT_ENVIRONMENT: z.string().trim().min(1).default('development'),
  TELEMETRY_GROUP: name.default('telemetry-collector'),
  TELEMETRY_CONSUMER: name.optional(),
  TELEMETRY_BATCH_SIZE: wholeNumber(1, 10_000).default(1_000),
  TELEMETRY_EXPORT_BATCH_SIZE: wholeNumber(1, 10_000).default(512),
  TELEMETRY_EXPORT_CONCURRENCY: wholeNumber(1, 64).default(1),
  TELEMETRY_EXPORT_THREAD: z.enum(['0', '1', 'true', 'false']).default('1'),
  TELEMETRY_BLOCK_MS: wholeNumber(10, 60_000).default(1_000),
  TELEMETRY_CLAIM_IDLE_MS: wholeNumber(1_000, 86_400_000).default(60_000),
  TELEMETRY_CLAIM_INTERVAL_MS: wholeNumber(100, 3_600_000).default(15_000),
  TELEMETRY_MAX_OPEN_SPANS: wholeNumber(1, 10_000_000).default(200_000),
  TELEMETRY_MAX_SPAN_AGE_MS: wholeNumber(1_000, 30 * 86_400_000).default(86_400_000),
  TELEMETRY_SWEEP_INTERVAL_MS: wholeNumber(50, 600_000).default(1_000),
  TELEMETRY_SETTLE_MS: wholeNumber(0, 600_000).default(5_000),
  TELEMETRY_DONE_TTL_SECONDS: wholeNumber(60, 30 * 86_400).default(86_400),
  TELEMETRY_BACKOFF_BASE_MS: wholeNumber(10, 60_000).default(500),
  TELEMETRY_BACKOFF_MAX_MS: wholeNumber(100, 600_000).default(30_000),
  TELEMETRY_START_FROM: z.enum(['all', 'new']).default('all'),
  TELEMETRY_METRIC_INTERVAL_MS: wholeNumber(100, 3_600_000).default(15_000),
  TELEMETRY_EVENT_TYPES: z.string().optional(),
  TELEMETRY_CUSTOMERS: z.string().optional(),
  TELEMETRY_EXCLUDE_CUSTOMERS: z.string().optional(),
});

/** Every problem at once, each naming its variable (never a secret's value). */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): CollectorConfig {
  const present = presentEnv(env);
  const parsed = schema.safeParse(present);
  const otlp = otlpEnvSchema.safeParse(present);
  const problems = [
    ...(parsed.success ? [] : problemsOf(parsed.error)),
    ...(otlp.success ? [] : problemsOf(otlp.error)),
  ];
  if (!parsed.success || !otlp.success) throw new ConfigError(problems);
  const c = parsed.data;
  const filter = eventFilterSchema.safeParse({
    types: splitList(c.TELEMETRY_EVENT_TYPES),
    customers: splitList(c.TELEMETRY_CUSTOMERS),
    excludeCustomers: splitList(c.TELEMETRY_EXCLUDE_CUSTOMERS),
  });
  if (!filter.success) {
    const variable = {
      types: 'TELEMETRY_EVENT_TYPES',
      customers: 'TELEMETRY_CUSTOMERS',
      excludeCustomers: 'TELEMETRY_EXCLUDE_CUSTOMERS',
    };
    throw new ConfigError(
      filter.error.issues.map(
        (issue) =>
          `${variable[issue.path[0] as keyof typeof variable] ?? 'filter'} ${issue.message}`,
      ),
    );
  }
  const disabled = c.TELEMETRY_DISABLED === '1' || c.TELEMETRY_DISABLED === 'true';
  if (!disabled && !otlp.data)
    throw new ConfigError([
      'OTEL_EXPORTER_OTLP_ENDPOINT is required, e.g. https://ingress.eu-west-1.aws.dash0.com (or TELEMETRY_DISABLED=1)',
    ]);
  if (c.TELEMETRY_BACKOFF_MAX_MS < c.TELEMETRY_BACKOFF_BASE_MS)
    throw new ConfigError(['TELEMETRY_BACKOFF_MAX_MS must be at least TELEMETRY_BACKOFF_BASE_MS']);
  return {
    port: c.PORT,
    host: c.HOST,
    redisUrl: c.REDIS_URL,
    namespace: c.QUEUE_NAMESPACE,
    logLevel: c.LOG_LEVEL,
    otlp: disabled ? undefined : otlp.data,
    serviceVersion: c.SERVICE_VERSION,
    environment: c.DEPLOYMENT_ENVIRONMENT,
    group: c.TELEMETRY_GROUP,
    consumer: c.TELEMETRY_CONSUMER ?? `${hostname()}-${process.pid}`,
    batchSize: c.TELEMETRY_BATCH_SIZE,
    exportBatchSize: c.TELEMETRY_EXPORT_BATCH_SIZE,
    exportConcurrency: c.TELEMETRY_EXPORT_CONCURRENCY,
    exportThread: c.TELEMETRY_EXPORT_THREAD === '1' || c.TELEMETRY_EXPORT_THREAD === 'true',
    blockMs: c.TELEMETRY_BLOCK_MS,
    claimIdleMs: c.TELEMETRY_CLAIM_IDLE_MS,
    claimIntervalMs: c.TELEMETRY_CLAIM_INTERVAL_MS,
    maxOpenSpans: c.TELEMETRY_MAX_OPEN_SPANS,
    maxSpanAgeMs: c.TELEMETRY_MAX_SPAN_AGE_MS,
    sweepIntervalMs: c.TELEMETRY_SWEEP_INTERVAL_MS,
    settleMs: c.TELEMETRY_SETTLE_MS,
    doneTtlSeconds: c.TELEMETRY_DONE_TTL_SECONDS,
    backoffBaseMs: c.TELEMETRY_BACKOFF_BASE_MS,
    backoffMaxMs: c.TELEMETRY_BACKOFF_MAX_MS,
    startFrom: c.TELEMETRY_START_FROM === 'all' ? '0' : '$',
    metricIntervalMs: c.TELEMETRY_METRIC_INTERVAL_MS,
    filter: filter.data,
  };
}
